//! Footer and inline comments (v2): list per page or blog post, list all, get, create (201),
//! update (version + 1 or 409), delete.

use super::render::{body_format, body_in, store_body, version_v2, with_base};
use super::request::{requested_version, statuses, IdIn, VersionIn};
use super::{OnComments, OnContent};
use crate::api_error::{json_response, ApiError};
use crate::cost::one_object;
use crate::guard::Ctx;
use crate::pagination::{paginate, sort_items, SortKey};
use crate::params::{Id, JsonBody, Params};
use crate::state::model::{Comment, CommentKind, ContentKind, InlineProps, Status, Version};
use crate::state::site::SiteData;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Map, Value};

fn render(data: &SiteData, c: &Comment, v: &Version, format: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id.to_string()));
    m.insert("status".into(), json!(c.status.as_str()));
    let container = data.contents.get(&c.container_id);
    m.insert(
        "title".into(),
        json!(format!("Re: {}", container.map_or("", |x| x.title()))),
    );
    let field = match container.map(|x| x.kind) {
        Some(ContentKind::BlogPost) => "blogPostId",
        _ => "pageId",
    };
    m.insert(field.into(), json!(c.container_id.to_string()));
    if let Some(p) = c.parent_comment_id {
        m.insert("parentCommentId".into(), json!(p.to_string()));
    }
    m.insert("version".into(), version_v2(v));
    m.insert(
        "body".into(),
        match format {
            Some(f) => json!({ f: body_in(&v.body, f) }),
            None => json!({}),
        },
    );
    if let Some(inline) = &c.inline {
        m.insert(
            "resolutionStatus".into(),
            json!(c.resolution_status.as_deref().unwrap_or("open")),
        );
        m.insert(
            "properties".into(),
            json!({"inlineMarkerRef": inline.marker_ref, "inlineOriginalSelection": inline.text_selection}),
        );
    }
    let webui = container
        .map(|x| {
            format!(
                "{}?focusedCommentId={}",
                super::render::webui(data, x),
                c.id
            )
        })
        .unwrap_or_default();
    m.insert("_links".into(), json!({"webui": webui}));
    Value::Object(m)
}

/// Sort key of a comment listing.
type KeyFn = fn(&Comment) -> SortKey;

fn sort_key(p: &Params) -> Result<(bool, KeyFn), ApiError> {
    let s = p.get("sort").unwrap_or("created-date");
    let (desc, f) = s.strip_prefix('-').map_or((false, s), |f| (true, f));
    let key: KeyFn = match f {
        "created-date" => |c| SortKey::Int(c.versions[0].created_at.timestamp_millis()),
        "modified-date" => |c| SortKey::Int(c.current().created_at.timestamp_millis()),
        _ => return Err(ApiError::invalid_param(format!("Query parameter `sort` has unsupported value `{s}`: expected created-date or modified-date"))),
    };
    Ok((desc, key))
}

fn list_where(
    ctx: &Ctx,
    p: &Params,
    keep: impl Fn(&Comment) -> bool,
) -> Result<Response, ApiError> {
    let req = ctx.page_req(p, 25, 250)?;
    let format = body_format(p, true)?;
    let st = statuses(p, &[Status::Current])?;
    let (desc, key) = sort_key(p)?;
    let data = ctx.site.data.read();
    let mut items: Vec<_> = data
        .comments
        .values()
        .filter(|c| st.contains(&c.status) && keep(c))
        .map(|c| (key(c), c.id, c))
        .collect();
    sort_items(&mut items, desc);
    let (page, next) = paginate(items, desc, &req);
    let results = page
        .into_iter()
        .map(|c| render(&data, c, c.current(), format.as_deref()))
        .collect();
    Ok(ctx.list_page(p, req.limit, results, next))
}

/// Root comments of one kind on a page or blog post.
fn of_container(
    ctx: &Ctx,
    id: u64,
    p: &Params,
    kind: CommentKind,
    container: ContentKind,
) -> Result<Response, ApiError> {
    {
        let data = ctx.site.data.read();
        super::request::find(&data, id, container, &[Status::Current, Status::Archived])?;
    }
    let resolution = p.all("resolution-status");
    list_where(ctx, p, |c| {
        c.kind == kind
            && c.container_id == id
            && c.parent_comment_id.is_none()
            && (resolution.is_empty()
                || resolution.contains(&c.resolution_status.as_deref().unwrap_or("open")))
    })
}

pub async fn on_content<K: OnContent, M: OnComments>(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    of_container(&ctx, id, &p, M::KIND, K::KIND)
}
/// The replies to a comment.
pub async fn children<M: OnComments>(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    {
        let data = ctx.site.data.read();
        data.comments
            .get(&id)
            .filter(|c| c.kind == M::KIND)
            .ok_or_else(|| ApiError::missing("comment", id))?;
    }
    list_where(&ctx, &p, |c| {
        c.kind == M::KIND && c.parent_comment_id == Some(id)
    })
}

pub async fn list<M: OnComments>(
    Extension(ctx): Extension<Ctx>,
    p: Params,
) -> Result<Response, ApiError> {
    list_where(&ctx, &p, |c| c.kind == M::KIND)
}

fn get(ctx: &Ctx, id: u64, p: &Params, kind: CommentKind) -> Result<Response, ApiError> {
    let format = body_format(p, false)?;
    let data = ctx.site.data.read();
    let c = data
        .comments
        .get(&id)
        .filter(|c| c.kind == kind)
        .ok_or_else(|| ApiError::missing("comment", id))?;
    let v = requested_version(&c.versions, p)?;
    Ok(one_object(&with_base(
        render(&data, c, v, format.as_deref()),
        &ctx.site.wiki_base(),
    )))
}

pub async fn get_for<M: OnComments>(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    get(&ctx, id, &p, M::KIND)
}

#[derive(Deserialize)]
pub struct BodyIn {
    representation: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InlinePropsIn {
    text_selection: String,
    #[serde(default)]
    text_selection_match_count: Option<u32>,
    #[serde(default)]
    text_selection_match_index: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateIn {
    page_id: Option<IdIn>,
    blog_post_id: Option<IdIn>,
    parent_comment_id: Option<IdIn>,
    body: Option<BodyIn>,
    inline_comment_properties: Option<InlinePropsIn>,
}

fn create(ctx: &Ctx, input: CreateIn, kind: CommentKind) -> Result<Response, ApiError> {
    let body = input
        .body
        .as_ref()
        .ok_or_else(|| ApiError::bad_request("body is required"))?;
    let body = store_body(&body.representation, &body.value)?;
    let mut data = ctx.site.data.write();
    let (container_id, parent) = match (
        &input.page_id,
        &input.blog_post_id,
        &input.parent_comment_id,
    ) {
        (_, _, Some(parent)) => {
            let pid = parent.get("parentCommentId")?;
            let pc = data
                .comments
                .get(&pid)
                .filter(|c| c.kind == kind)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "Parent comment {pid} does not exist or you cannot see it"
                    ))
                })?;
            (pc.container_id, Some(pid))
        }
        (Some(page), _, None) => (
            super::request::find(
                &data,
                page.get("pageId")?,
                ContentKind::Page,
                &[Status::Current],
            )?
            .id,
            None,
        ),
        (None, Some(b), None) => (
            super::request::find(
                &data,
                b.get("blogPostId")?,
                ContentKind::BlogPost,
                &[Status::Current],
            )?
            .id,
            None,
        ),
        (None, None, None) => {
            return Err(ApiError::bad_request(
                "One of pageId, blogPostId or parentCommentId is required",
            ))
        }
    };
    let inline = match (kind, parent, &input.inline_comment_properties) {
        (CommentKind::Inline, None, None) => {
            return Err(ApiError::bad_request(
                "inlineCommentProperties is required for a new inline comment",
            ))
        }
        (CommentKind::Inline, None, Some(props)) => {
            let text = data
                .contents
                .get(&container_id)
                .map(|c| c.current().body.value.clone())
                .unwrap_or_default();
            let found = text.matches(props.text_selection.as_str()).count() as u32;
            let index = props.text_selection_match_index.unwrap_or(0);
            if props.text_selection.is_empty() || found == 0 || index >= found {
                return Err(ApiError::bad_request(format!(
                    "Cannot find the text selection `{}` (match {index}) in the page body",
                    props.text_selection
                )));
            }
            Some(InlineProps {
                text_selection: props.text_selection.clone(),
                match_count: props.text_selection_match_count.unwrap_or(found),
                match_index: index,
                marker_ref: format!("{:032x}", data.next_id()),
            })
        }
        _ => None,
    };
    let id = data.next_id();
    let comment = Comment {
        id,
        kind,
        container_id,
        parent_comment_id: parent,
        status: Status::Current,
        versions: vec![Version::first(
            ctx.grant.account_id.clone(),
            ctx.now,
            String::new(),
            body,
        )],
        resolution_status: inline.as_ref().map(|_| "open".to_string()),
        inline,
    };
    let rep = comment.current().body.representation.clone();
    let out = render(&data, &comment, comment.current(), Some(&rep));
    data.comments.insert(id, comment);
    ctx.site.reindex(&data, id, ctx.index_visible_at());
    Ok(json_response(
        StatusCode::CREATED,
        &with_base(out, &ctx.site.wiki_base()),
    ))
}

pub async fn create_for<M: OnComments>(
    Extension(ctx): Extension<Ctx>,
    JsonBody(input): JsonBody<CreateIn>,
) -> Result<Response, ApiError> {
    create(&ctx, input, M::KIND)
}

#[derive(Deserialize)]
pub struct UpdateIn {
    version: Option<VersionIn>,
    body: Option<BodyIn>,
    resolved: Option<bool>,
}

fn update(ctx: &Ctx, id: u64, input: UpdateIn, kind: CommentKind) -> Result<Response, ApiError> {
    let number = VersionIn::required_number(input.version.as_ref())?;
    let body = input
        .body
        .as_ref()
        .map(|b| store_body(&b.representation, &b.value))
        .transpose()?;
    let mut data = ctx.site.data.write();
    let c = data
        .comments
        .get_mut(&id)
        .filter(|c| c.kind == kind)
        .ok_or_else(|| ApiError::missing("comment", id))?;
    let current = c.current().number;
    if number != current + 1 {
        return Err(ApiError::conflict(format!(
            "Version must be incremented when updating a comment. Current Version: [{current}]. Provided version: [{number}]"
        )));
    }
    let body = body.unwrap_or_else(|| c.current().body.clone());
    let (message, minor_edit) = input
        .version
        .map(|v| (v.message, v.minor_edit))
        .unwrap_or_default();
    c.versions.push(Version {
        number,
        message,
        minor_edit,
        author_id: ctx.grant.account_id.clone(),
        created_at: ctx.now,
        title: String::new(),
        body,
    });
    if let (Some(resolved), Some(_)) = (input.resolved, &c.inline) {
        c.resolution_status = Some(if resolved { "resolved" } else { "reopened" }.to_string());
    }
    let c = c.clone();
    ctx.site.reindex(&data, id, ctx.index_visible_at());
    let rep = c.current().body.representation.clone();
    Ok(json_response(
        StatusCode::OK,
        &with_base(
            render(&data, &c, c.current(), Some(&rep)),
            &ctx.site.wiki_base(),
        ),
    ))
}

pub async fn update_for<M: OnComments>(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    JsonBody(input): JsonBody<UpdateIn>,
) -> Result<Response, ApiError> {
    update(&ctx, id, input, M::KIND)
}

fn delete(ctx: &Ctx, id: u64, kind: CommentKind) -> Result<Response, ApiError> {
    let mut data = ctx.site.data.write();
    if !data.comments.get(&id).is_some_and(|c| c.kind == kind) {
        return Err(ApiError::missing("comment", id));
    }
    // Replies go with their parent.
    let gone: Vec<u64> = data
        .comments
        .values()
        .filter(|c| c.id == id || c.parent_comment_id == Some(id))
        .map(|c| c.id)
        .collect();
    for g in gone {
        data.comments.remove(&g);
        ctx.site.reindex(&data, g, ctx.index_visible_at());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn delete_for<M: OnComments>(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
) -> Result<Response, ApiError> {
    delete(&ctx, id, M::KIND)
}
