//! Labels: v2 reads (all labels, labels of content, content with a label) and v1 writes
//! (add with POST, remove by query or path), as Confluence splits them.

use super::render::{body_format, content_out, label_v1, label_v2};
use super::request::v1_content;
use super::OnContent;
use crate::api_error::{json_response, ApiError};
use crate::cost::Cost;
use crate::guard::Ctx;
use crate::pagination::{paginate, sort_items, SortKey};
use crate::params::{Id, IdAndName, JsonBody, Params};
use crate::state::model::{Content, ContentKind, Label, Status};
use crate::state::site::SiteData;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};

fn label_page(ctx: &Ctx, p: &Params, labels: Vec<&Label>) -> Result<Response, ApiError> {
    let req = ctx.page_req(p, 25, 250)?;
    let prefixes = p.all("prefix");
    let sort = p.get("sort").unwrap_or("id");
    let (desc, field) = sort.strip_prefix('-').map_or((false, sort), |f| (true, f));
    let key: fn(&Label) -> SortKey = match field {
        "id" => |_| SortKey::None,
        "name" => |l| SortKey::Str(l.name.clone()),
        _ => {
            return Err(ApiError::invalid_param(format!(
                "Query parameter `sort` has unsupported value `{sort}`: expected id or name"
            )))
        }
    };
    let mut items: Vec<_> = labels
        .into_iter()
        .filter(|l| prefixes.is_empty() || prefixes.contains(&l.prefix.as_str()))
        .map(|l| (key(l), l.id, l))
        .collect();
    sort_items(&mut items, desc);
    let (page, next) = paginate(items, desc, &req);
    let results = page.into_iter().map(label_v2).collect();
    Ok(ctx.list_page(p, req.limit, results, next))
}

pub async fn list(Extension(ctx): Extension<Ctx>, p: Params) -> Result<Response, ApiError> {
    let ids = p.ids("label-id")?;
    let data = ctx.site.data.read();
    let labels = data
        .labels
        .values()
        .filter(|l| ids.is_empty() || ids.contains(&l.id))
        .collect();
    label_page(&ctx, &p, labels)
}

fn of_content(ctx: &Ctx, id: u64, p: &Params, kind: ContentKind) -> Result<Response, ApiError> {
    let data = ctx.site.data.read();
    let c = super::request::find(&data, id, kind, &[Status::Current, Status::Archived])?;
    let labels = c.labels.iter().filter_map(|l| data.labels.get(l)).collect();
    label_page(ctx, p, labels)
}

pub async fn on_content<K: OnContent>(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    of_content(&ctx, id, &p, K::KIND)
}

fn with_label(ctx: &Ctx, label: u64, p: &Params, kind: ContentKind) -> Result<Response, ApiError> {
    let req = ctx.page_req(p, 25, 250)?;
    let format = body_format(p, true)?;
    let spaces = p.ids("space-id")?;
    let desc = match p.get("sort") {
        None | Some("id") => false,
        Some("-id") => true,
        Some(s) => {
            return Err(ApiError::invalid_param(format!(
                "Query parameter `sort` has unsupported value `{s}`"
            )))
        }
    };
    let data = ctx.site.data.read();
    if !data.labels.contains_key(&label) {
        return Err(ApiError::missing("label", label));
    }
    let mut items: Vec<(SortKey, u64, &Content)> = data
        .content_with_label(label, kind)
        .into_iter()
        .filter_map(|id| data.contents.get(&id))
        .filter(|c| spaces.is_empty() || spaces.contains(&c.space_id))
        .map(|c| (SortKey::None, c.id, c))
        .collect();
    sort_items(&mut items, desc);
    let (page, next) = paginate(items, desc, &req);
    let results = page
        .into_iter()
        .map(|c| content_out(&data, c, c.current(), format.as_deref()))
        .collect();
    Ok(ctx.list_page(p, req.limit, results, next))
}

pub async fn labelled<K: OnContent>(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    with_label(&ctx, id, &p, K::KIND)
}

fn v1_labels(data: &SiteData, c: &Content) -> Response {
    let results: Vec<Value> = c
        .labels
        .iter()
        .filter_map(|l| data.labels.get(l))
        .map(label_v1)
        .collect();
    let n = results.len();
    let mut resp = json_response(
        StatusCode::OK,
        &json!({"results": results, "start": 0, "limit": 200, "size": n, "_links": {}}),
    );
    resp.extensions_mut().insert(Cost(n as u64));
    resp
}

pub async fn v1_list(Extension(ctx): Extension<Ctx>, Id(id): Id) -> Result<Response, ApiError> {
    let data = ctx.site.data.read();
    Ok(v1_labels(&data, v1_content(&data, id)?))
}

#[derive(Deserialize)]
struct LabelIn {
    #[serde(default = "global")]
    prefix: String,
    name: String,
}

fn global() -> String {
    "global".into()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum LabelsIn {
    Many(Vec<LabelIn>),
    One(LabelIn),
}

/// v1 POST `/content/{id}/label`: body `[{"prefix":"global","name":"x"}]` (a single object works too).
pub async fn v1_add(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let labels = match serde_json::from_value::<LabelsIn>(body) {
        Ok(LabelsIn::Many(v)) => v,
        Ok(LabelsIn::One(l)) => vec![l],
        // Confluence's words for any body that is not a list of labels with names.
        Err(_) => return Err(ApiError::bad_request("Could not parse Labels")),
    };
    let mut data = ctx.site.data.write();
    v1_content(&data, id)?;
    for l in &labels {
        data.add_label(id, &l.prefix, &l.name)?;
    }
    ctx.site.reindex(&data, id, ctx.index_visible_at());
    let c = v1_content(&data, id)?;
    Ok(v1_labels(&data, c))
}

fn remove(ctx: &Ctx, id: u64, name: &str) -> Result<Response, ApiError> {
    let mut data = ctx.site.data.write();
    v1_content(&data, id)?;
    data.remove_label(id, name).map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("Label `{name}` is not on content {id}"),
        )
    })?;
    ctx.site.reindex(&data, id, ctx.index_visible_at());
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// v1 DELETE `/content/{id}/label?name=x`.
pub async fn v1_remove_query(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    let name = p
        .get("name")
        .ok_or_else(|| ApiError::bad_request("Query parameter `name` is required"))?;
    remove(&ctx, id, name)
}

/// v1 DELETE `/content/{id}/label/{label}`.
pub async fn v1_remove_path(
    Extension(ctx): Extension<Ctx>,
    IdAndName(id, name): IdAndName,
) -> Result<Response, ApiError> {
    remove(&ctx, id, &name)
}
