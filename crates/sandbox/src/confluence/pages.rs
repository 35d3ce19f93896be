//! Pages and blog posts (v2): list, get (with body formats and old versions), create, update
//! (version + 1 or the real 409), delete to trash and purge, versions, space listings.

use super::render::{
    body_format, body_in, content_out, content_v2, label_v2, ts, version_v2, with_base,
};
use super::request::{
    find, list_statuses, requested_version, same_title, statuses, IdIn, VersionIn,
};
use super::OnContent;
use crate::api_error::{json_response, ApiError};
use crate::cost::one_object;
use crate::guard::Ctx;
use crate::pagination::{paginate, sort_items, Cursor, SortKey};
use crate::params::{Id, Ids2, JsonBody, Params};
use crate::state::model::{Content, ContentKind, Status};
use crate::state::site::{ContentUpdate, NewContent, SiteData};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};

const LISTED: &[Status] = &[Status::Current, Status::Archived];

#[derive(Clone, Copy, PartialEq, Eq)]
enum SortField {
    Id,
    Created,
    Modified,
    Title,
}

fn sort_of(p: &Params) -> Result<(SortField, bool), ApiError> {
    let s = p.get("sort").unwrap_or("id");
    let (desc, name) = match s.strip_prefix('-') {
        Some(n) => (true, n),
        None => (false, s),
    };
    let f = match name {
        "id" => SortField::Id,
        "created-date" => SortField::Created,
        "modified-date" => SortField::Modified,
        "title" => SortField::Title,
        _ => {
            return Err(ApiError::invalid_param(format!(
                "Query parameter `sort` has unsupported value `{s}`: expected id, created-date, modified-date or title, with - for descending"
            )))
        }
    };
    Ok((f, desc))
}

fn key_of(c: &Content, f: SortField) -> SortKey {
    match f {
        SortField::Id => SortKey::None,
        SortField::Created => SortKey::Int(c.created_at.timestamp_millis()),
        SortField::Modified => SortKey::Int(c.current().created_at.timestamp_millis()),
        SortField::Title => SortKey::Str(c.title().to_string()),
    }
}

/// Lists content matching `keep`, sorted and paged as the request asks.
/// `spaces` (when not empty) restricts the scan to those spaces through the space index.
fn list_filtered(
    ctx: &Ctx,
    p: &Params,
    spaces: &[u64],
    keep: impl Fn(&Content) -> bool,
) -> Result<Response, ApiError> {
    let req = ctx.page_req(p, 25, 250)?;
    let (field, desc) = sort_of(p)?;
    let format = body_format(p, true)?;
    let guard = ctx.site.data.read();
    let data: &SiteData = &guard;
    let in_spaces = (!spaces.is_empty()).then(|| data.content_in_spaces(spaces));
    let get = |i: &u64| data.contents.get(i);
    // Index-backed orders stream from the cursor; others (title, or dates within spaces) sort.
    let streamed: Option<Box<dyn Iterator<Item = &Content>>> = match (field, &in_spaces) {
        (SortField::Id, Some(ids)) => {
            let after = req.cursor.as_ref().map(|c| c.id);
            Some(match (desc, after) {
                (false, a) => Box::new(ids.range(a.map_or(0, |a| a + 1)..).filter_map(get)),
                (true, Some(a)) => Box::new(ids.range(..a).rev().filter_map(get)),
                (true, None) => Box::new(ids.iter().rev().filter_map(get)),
            })
        }
        (SortField::Id, None) => {
            let after = req.cursor.as_ref().map(|c| c.id);
            Some(match (desc, after) {
                (false, Some(a)) => Box::new(data.contents.range(a + 1..).map(|(_, c)| c)),
                (false, None) => Box::new(data.contents.values()),
                (true, Some(a)) => Box::new(data.contents.range(..a).rev().map(|(_, c)| c)),
                (true, None) => Box::new(data.contents.values().rev()),
            })
        }
        (SortField::Created | SortField::Modified, None) => {
            let after = match &req.cursor {
                None => None,
                Some(Cursor { key: SortKey::Int(k), id }) => Some((*k, *id)),
                Some(_) => return Err(ApiError::invalid_param(
                    "Query parameter `cursor` belongs to another sort order: start again without a cursor",
                )),
            };
            let ids = data.ids_by_time(field == SortField::Modified, desc, after);
            Some(Box::new(ids.filter_map(|i| data.contents.get(&i))))
        }
        _ => None,
    };
    let (page, next) = match streamed {
        Some(iter) => {
            let mut items: Vec<&Content> = iter.filter(|c| keep(c)).take(req.take + 1).collect();
            let more = items.len() > req.take;
            items.truncate(req.take);
            let next = if more {
                items.last().map(|c| Cursor {
                    key: key_of(c, field),
                    id: c.id,
                })
            } else {
                None
            };
            (items, next)
        }
        None => {
            let source: Box<dyn Iterator<Item = &Content>> = match &in_spaces {
                Some(ids) => Box::new(ids.iter().filter_map(get)),
                None => Box::new(data.contents.values()),
            };
            let mut all: Vec<(SortKey, u64, &Content)> = source
                .filter(|c| keep(c))
                .map(|c| (key_of(c, field), c.id, c))
                .collect();
            sort_items(&mut all, desc);
            paginate(all, desc, &req)
        }
    };
    let results = page
        .iter()
        .map(|c| content_out(data, c, c.current(), format.as_deref()))
        .collect();
    Ok(ctx.list_page(p, req.limit, results, next))
}

pub async fn list<K: OnContent>(
    Extension(ctx): Extension<Ctx>,
    p: Params,
) -> Result<Response, ApiError> {
    let kind = K::KIND;
    let st = list_statuses(&p, LISTED)?;
    let ids = p.ids("id")?;
    let spaces = p.ids("space-id")?;
    let title = p.get("title").map(str::to_string);
    list_filtered(&ctx, &p, &spaces, |c| {
        c.kind == kind
            && st.contains(&c.status)
            && (ids.is_empty() || ids.contains(&c.id))
            && (spaces.is_empty() || spaces.contains(&c.space_id))
            && title.as_deref().is_none_or(|t| same_title(c.title(), t))
    })
}

/// `/spaces/{id}/pages` (`depth=root|all`) and `/spaces/{id}/blogposts`.
pub async fn in_space<K: OnContent>(
    Extension(ctx): Extension<Ctx>,
    Id(space): Id,
    p: Params,
) -> Result<Response, ApiError> {
    let kind = K::KIND;
    if !ctx.site.data.read().spaces.contains_key(&space) {
        return Err(ApiError::missing("space", space));
    }
    let st = list_statuses(&p, LISTED)?;
    let root_only = match p.get("depth") {
        None | Some("all") => false,
        Some("root") => true,
        Some(d) => {
            return Err(ApiError::invalid_param(format!(
                "Query parameter `depth` must be root or all, got `{d}`"
            )))
        }
    };
    let title = p.get("title").map(str::to_string);
    list_filtered(&ctx, &p, &[space], |c| {
        c.kind == kind
            && c.space_id == space
            && st.contains(&c.status)
            && (!root_only || c.parent_id.is_none())
            && title.as_deref().is_none_or(|t| same_title(c.title(), t))
    })
}

fn small_list(results: Vec<Value>, self_link: String) -> Value {
    json!({"results": results, "meta": {"hasMore": false, "cursor": ""}, "_links": {"self": self_link}})
}

pub async fn get<K: OnContent>(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    let kind = K::KIND;
    let mut allowed = statuses(&p, LISTED)?;
    if p.flag("get-draft") {
        allowed.push(Status::Draft);
    }
    let format = body_format(&p, false)?;
    let data = ctx.site.data.read();
    let c = find(&data, id, kind, &allowed)?;
    let v = requested_version(&c.versions, &p)?;
    let mut out = content_v2(&data, c, v, format.as_deref());
    let api = &ctx.rel_path;
    if p.flag("include-labels") {
        let labels = c
            .labels
            .iter()
            .filter_map(|l| data.labels.get(l))
            .map(label_v2)
            .collect();
        out["labels"] = small_list(labels, format!("{api}/labels"));
    }
    if p.flag("include-properties") {
        let props = data
            .properties
            .values()
            .filter(|pr| pr.content_id == id)
            .map(super::properties::property_v2)
            .collect();
        out["properties"] = small_list(props, format!("{api}/properties"));
    }
    if p.flag("include-versions") {
        let versions = c.versions.iter().rev().take(50).map(version_v2).collect();
        out["versions"] = small_list(versions, format!("{api}/versions"));
    }
    Ok(one_object(&with_base(out, &ctx.site.wiki_base())))
}

#[derive(Deserialize)]
pub struct BodyIn {
    representation: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateIn {
    space_id: Option<IdIn>,
    status: Option<String>,
    title: Option<String>,
    parent_id: Option<IdIn>,
    body: Option<BodyIn>,
}

fn write_status(s: Option<&str>) -> Result<Status, ApiError> {
    match s.unwrap_or("current") {
        "current" => Ok(Status::Current),
        "draft" => Ok(Status::Draft),
        other => Err(ApiError::bad_request(format!(
            "status `{other}` cannot be written: use current or draft"
        ))),
    }
}

fn stored_body(b: Option<&BodyIn>) -> Result<Option<crate::state::model::Body>, ApiError> {
    b.map(|b| super::render::store_body(&b.representation, &b.value))
        .transpose()
}

/// Renders content after a write, with its body in the stored representation.
fn written(ctx: &Ctx, data: &SiteData, id: u64, status: StatusCode) -> Result<Response, ApiError> {
    let c = data
        .contents
        .get(&id)
        .ok_or_else(|| ApiError::missing("content", id))?;
    let rep = c.current().body.representation.clone();
    let out = content_v2(data, c, c.current(), Some(&rep));
    Ok(json_response(
        status,
        &with_base(out, &ctx.site.wiki_base()),
    ))
}

pub async fn create<K: OnContent>(
    Extension(ctx): Extension<Ctx>,
    JsonBody(input): JsonBody<CreateIn>,
) -> Result<Response, ApiError> {
    let kind = K::KIND;
    let space_id = input
        .space_id
        .as_ref()
        .ok_or_else(|| ApiError::bad_request("spaceId is required"))?
        .get("spaceId")?;
    let status = write_status(input.status.as_deref())?;
    let body = stored_body(input.body.as_ref())?
        .unwrap_or_else(|| crate::state::model::Body::storage(String::new()));
    let parent_id = input
        .parent_id
        .as_ref()
        .map(|p| p.get("parentId"))
        .transpose()?;
    let mut data = ctx.site.data.write();
    let id = data.create_content(
        NewContent {
            kind,
            space_id,
            parent_id,
            title: input.title.unwrap_or_default(),
            body,
            status,
            author_id: ctx.grant.account_id.clone(),
        },
        ctx.now,
    )?;
    super::tasks::sync_tasks(&mut data, id, &ctx.grant.account_id, ctx.now);
    ctx.site.reindex(&data, id, ctx.index_visible_at());
    written(&ctx, &data, id, StatusCode::OK)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateIn {
    id: Option<IdIn>,
    status: Option<String>,
    title: Option<String>,
    body: Option<BodyIn>,
    version: Option<VersionIn>,
    parent_id: Option<IdIn>,
}

pub async fn update<K: OnContent>(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    JsonBody(input): JsonBody<UpdateIn>,
) -> Result<Response, ApiError> {
    let kind = K::KIND;
    if let Some(given) = &input.id {
        if given.get("id")? != id {
            return Err(ApiError::bad_request(format!(
                "Body id does not match the id {id} in the path"
            )));
        }
    }
    let version = VersionIn::required_number(input.version.as_ref())?;
    let status = write_status(input.status.as_deref())?;
    let title = input
        .title
        .clone()
        .ok_or_else(|| ApiError::bad_request("title is required"))?;
    let body = stored_body(input.body.as_ref())?;
    let parent_id = input
        .parent_id
        .as_ref()
        .map(|p| p.get("parentId"))
        .transpose()?;
    let mut data = ctx.site.data.write();
    find(
        &data,
        id,
        kind,
        &[Status::Current, Status::Draft, Status::Archived],
    )?;
    let (message, minor_edit) = input
        .version
        .map(|v| (v.message, v.minor_edit))
        .unwrap_or_default();
    data.update_content(
        id,
        ContentUpdate {
            title,
            body,
            status,
            version,
            message,
            minor_edit,
            parent_id,
            author_id: ctx.grant.account_id.clone(),
        },
        ctx.now,
    )?;
    super::tasks::sync_tasks(&mut data, id, &ctx.grant.account_id, ctx.now);
    ctx.site.reindex(&data, id, ctx.index_visible_at());
    // A move changes the ancestors of the whole subtree.
    for (d, _) in data.descendants(id, u32::MAX) {
        ctx.site.reindex(&data, d, ctx.index_visible_at());
    }
    written(&ctx, &data, id, StatusCode::OK)
}

pub async fn delete<K: OnContent>(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    let kind = K::KIND;
    let mut data = ctx.site.data.write();
    find(
        &data,
        id,
        kind,
        &[
            Status::Current,
            Status::Draft,
            Status::Archived,
            Status::Trashed,
        ],
    )?;
    // Its comments and attachments leave search with it (purge removes them from the data).
    let dependents = data.dependents(id);
    data.delete_content(id, p.flag("purge"))?;
    for i in std::iter::once(id).chain(dependents) {
        ctx.site.reindex(&data, i, ctx.index_visible_at());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn versions<K: OnContent>(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    let kind = K::KIND;
    let req = ctx.page_req(&p, 25, 250)?;
    let format = body_format(&p, true)?;
    let desc = match p.get("sort").unwrap_or("-modified-date") {
        "-modified-date" => true,
        "modified-date" => false,
        s => {
            return Err(ApiError::invalid_param(format!(
                "Query parameter `sort` must be modified-date or -modified-date, got `{s}`"
            )))
        }
    };
    let data = ctx.site.data.read();
    let c = find(&data, id, kind, LISTED)?;
    let mut items: Vec<_> = c
        .versions
        .iter()
        .map(|v| (SortKey::Int(v.number as i64), v.number as u64, v))
        .collect();
    sort_items(&mut items, desc);
    let (page, next) = paginate(items, desc, &req);
    let entity = if kind == ContentKind::Page {
        "page"
    } else {
        "blogpost"
    };
    let results = page
        .iter()
        .map(|v| {
            let mut out = version_v2(v);
            let mut e = json!({"id": c.id.to_string(), "title": v.title});
            if let Some(f) = &format {
                e["body"] = json!({ f.as_str(): body_in(&v.body, f) });
            }
            out[entity] = e;
            out
        })
        .collect();
    Ok(ctx.list_page(&p, req.limit, results, next))
}

pub async fn version<K: OnContent>(
    Extension(ctx): Extension<Ctx>,
    Ids2(id, n): Ids2,
) -> Result<Response, ApiError> {
    let kind = K::KIND;
    let data = ctx.site.data.read();
    let c = find(&data, id, kind, LISTED)?;
    let v = c
        .versions
        .iter()
        .find(|v| v.number as u64 == n)
        .ok_or_else(|| ApiError::missing("version", n))?;
    let mut out = json!({
        "number": v.number,
        "authorId": v.author_id,
        "message": v.message,
        "createdAt": ts(v.created_at),
        "minorEdit": v.minor_edit,
        "contentTypeModified": false,
        "collaborators": [v.author_id],
    });
    if v.number > 1 {
        out["prevVersion"] = json!(v.number - 1);
    }
    if v.number < c.current().number {
        out["nextVersion"] = json!(v.number + 1);
    }
    Ok(one_object(&out))
}
