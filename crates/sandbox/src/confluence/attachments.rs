//! Attachments: v2 reads and delete; v1 multipart upload (`X-Atlassian-Token: no-check` or
//! `nocheck` required, POST refuses a duplicate file name with 400, PUT creates or adds a version
//! by name, POST `.../{attachmentId}/data` adds a version to that attachment), v1 list, and
//! downloads through both link kinds (v1 `_links.download`, v2 `downloadLink`).

use super::render::ts;
use super::OnContent;
use crate::api_error::{json_response, ApiError};
use crate::cost::{one_object, Cost};
use crate::guard::Ctx;
use crate::pagination::{paginate, sort_items, SortKey};
use crate::params::{Id, IdAndName, Ids2, Params};
use crate::state::model::{Attachment, ContentKind, Status};
use crate::state::site::SiteData;
use axum::extract::Multipart;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Value};

/// The v2 `downloadLink`, fetched as `{api base}/wiki` + the link; the file name is one
/// percent-encoded path segment (a `../` in it stays inside the name).
fn download_path(a: &Attachment) -> String {
    let segment: String = url::form_urlencoded::byte_serialize(a.title.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!(
        "/download/attachments/{}/{segment}?version={}&api=v2",
        a.container_id, a.version
    )
}

/// 404 naming an attachment by its v2 id (`att123`).
fn missing_attachment(id: u64) -> ApiError {
    ApiError::missing("attachment", format!("att{id}"))
}

pub fn attachment_v2(data: &SiteData, a: &Attachment) -> Value {
    let container_field = match data.contents.get(&a.container_id).map(|c| c.kind) {
        Some(ContentKind::BlogPost) => "blogPostId",
        _ => "pageId",
    };
    json!({
        "id": format!("att{}", a.id),
        "status": a.status.as_str(),
        "title": a.title,
        "createdAt": ts(a.created_at),
        container_field: a.container_id.to_string(),
        "mediaType": a.media_type,
        "mediaTypeDescription": a.media_type,
        "comment": a.comment,
        "fileId": a.file_id,
        "fileSize": a.data.len(),
        "webuiLink": format!("/pages/viewpageattachments.action?pageId={}&preview={}", a.container_id, a.title),
        "downloadLink": download_path(a),
        "version": {"createdAt": ts(a.version_at), "message": a.comment, "number": a.version, "minorEdit": a.minor_edit, "authorId": a.author_id},
        "_links": {"webui": format!("/pages/viewpageattachments.action?pageId={}", a.container_id), "download": download_path(a)},
    })
}

pub fn attachment_v1(a: &Attachment, base: &str) -> Value {
    json!({
        "id": format!("att{}", a.id),
        "type": "attachment",
        "status": a.status.as_str(),
        "title": a.title,
        "version": {"number": a.version, "when": ts(a.version_at), "by": {"type": "known", "accountId": a.author_id}, "minorEdit": a.minor_edit},
        "container": {"id": a.container_id.to_string()},
        "metadata": {"mediaType": a.media_type, "comment": a.comment},
        "extensions": {"mediaType": a.media_type, "fileSize": a.data.len(), "comment": a.comment, "fileId": a.file_id},
        "_links": {"download": format!("/rest/api/content/{}/child/attachment/att{}/download", a.container_id, a.id),
                   "self": format!("{base}/rest/api/content/att{}", a.id)},
    })
}

fn list_where(
    ctx: &Ctx,
    p: &Params,
    keep: impl Fn(&Attachment) -> bool,
) -> Result<Response, ApiError> {
    let req = ctx.page_req(p, 50, 250)?;
    let st = super::request::statuses(p, &[Status::Current])?;
    let media = p.get("mediaType");
    let name = p.get("filename");
    let sort = p.get("sort").unwrap_or("created-date");
    let (desc, field) = sort.strip_prefix('-').map_or((false, sort), |f| (true, f));
    let key: fn(&Attachment) -> SortKey = match field {
        "created-date" => |a| SortKey::Int(a.created_at.timestamp_millis()),
        "modified-date" => |a| SortKey::Int(a.version_at.timestamp_millis()),
        _ => {
            return Err(ApiError::invalid_param(format!(
                "Query parameter `sort` has unsupported value `{sort}`"
            )))
        }
    };
    let data = ctx.site.data.read();
    let mut items: Vec<_> = data
        .attachments
        .values()
        .filter(|a| st.contains(&a.status) && keep(a))
        .filter(|a| media.is_none_or(|m| a.media_type == m) && name.is_none_or(|n| a.title == n))
        .map(|a| (key(a), a.id, a))
        .collect();
    sort_items(&mut items, desc);
    let (page, next) = paginate(items, desc, &req);
    let results = page.into_iter().map(|a| attachment_v2(&data, a)).collect();
    Ok(ctx.list_page(p, req.limit, results, next))
}

pub async fn list(Extension(ctx): Extension<Ctx>, p: Params) -> Result<Response, ApiError> {
    list_where(&ctx, &p, |_| true)
}

fn of_container(ctx: &Ctx, id: u64, p: &Params, kind: ContentKind) -> Result<Response, ApiError> {
    super::request::find(
        &ctx.site.data.read(),
        id,
        kind,
        &[Status::Current, Status::Archived],
    )?;
    list_where(ctx, p, |a| a.container_id == id)
}

pub async fn on_content<K: OnContent>(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    of_container(&ctx, id, &p, K::KIND)
}

pub async fn get(Extension(ctx): Extension<Ctx>, Id(id): Id) -> Result<Response, ApiError> {
    let data = ctx.site.data.read();
    let a = data
        .attachments
        .get(&id)
        .filter(|a| a.status == Status::Current)
        .ok_or_else(|| missing_attachment(id))?;
    let out = super::render::with_base(attachment_v2(&data, a), &ctx.site.wiki_base());
    Ok(one_object(&out))
}

/// DELETE: to the trash; `purge=true` removes a trashed attachment.
pub async fn delete(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    let mut data = ctx.site.data.write();
    let a = data
        .attachments
        .get_mut(&id)
        .ok_or_else(|| missing_attachment(id))?;
    match (a.status, p.flag("purge")) {
        (Status::Current, false) => a.status = Status::Trashed,
        (Status::Trashed, true) => {
            data.attachments.remove(&id);
        }
        (Status::Current, true) => {
            return Err(ApiError::bad_request(
                "Only a trashed attachment can be purged: delete it without purge first",
            ))
        }
        _ => return Err(missing_attachment(id)),
    }
    ctx.site.reindex(&data, id, ctx.index_visible_at());
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// One uploaded file from the multipart body.
struct Upload {
    name: String,
    media_type: String,
    data: Vec<u8>,
    comment: String,
    minor_edit: bool,
}

impl Attachment {
    /// Replaces the file with an upload as the next version.
    fn new_version(&mut self, f: Upload, author_id: &str, now: chrono::DateTime<chrono::Utc>) {
        self.version += 1;
        self.version_at = now;
        self.title = f.name;
        self.data = f.data;
        self.media_type = f.media_type;
        self.comment = f.comment;
        self.minor_edit = f.minor_edit;
        self.author_id = author_id.to_string();
    }
}

async fn read_upload(mut mp: Multipart) -> Result<Vec<Upload>, ApiError> {
    let mut files = Vec::new();
    let mut comments = Vec::new();
    let mut minor_edit = false;
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("Multipart body is not valid: {e}")))?
    {
        match field.name() {
            Some("file") => {
                let name = field.file_name().unwrap_or("").to_string();
                if name.is_empty() {
                    return Err(ApiError::bad_request("The `file` part needs a file name"));
                }
                let media_type = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let data = field.bytes().await.map_err(|e| {
                    ApiError::bad_request(format!("Cannot read the `file` part: {e}"))
                })?;
                files.push(Upload {
                    name,
                    media_type,
                    data: data.to_vec(),
                    comment: String::new(),
                    minor_edit: false,
                });
            }
            Some("comment") => comments.push(field.text().await.unwrap_or_default()),
            Some("minorEdit") => {
                minor_edit = field
                    .text()
                    .await
                    .is_ok_and(|t| t.trim().eq_ignore_ascii_case("true"))
            }
            _ => {}
        }
    }
    if files.is_empty() {
        return Err(ApiError::bad_request(
            "No file in the request: send the file in a multipart part named `file`",
        ));
    }
    for (f, c) in files.iter_mut().zip(comments) {
        f.comment = c;
    }
    for f in &mut files {
        f.minor_edit = minor_edit;
    }
    Ok(files)
}

fn check_xsrf(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers
        .get("x-atlassian-token")
        .and_then(|v| v.to_str().ok())
    {
        // Clients send both spellings and Confluence takes both.
        Some(v) if v.eq_ignore_ascii_case("no-check") || v.eq_ignore_ascii_case("nocheck") => {
            Ok(())
        }
        _ => Err(ApiError::forbidden(
            "XSRF check failed: send the header X-Atlassian-Token: no-check",
        )),
    }
}

/// Shared by POST (create only) and PUT (create or new version by file name).
async fn upload(
    ctx: Ctx,
    id: u64,
    headers: HeaderMap,
    mp: Multipart,
    upsert: bool,
) -> Result<Response, ApiError> {
    check_xsrf(&headers)?;
    let files = read_upload(mp).await?;
    let mut data = ctx.site.data.write();
    super::request::v1_content(&data, id)?;
    let existing = |data: &SiteData, name: &str| {
        data.attachments
            .values()
            .find(|a| a.container_id == id && a.title == name && a.status == Status::Current)
            .map(|a| a.id)
    };
    if !upsert {
        if let Some(f) = files.iter().find(|f| existing(&data, &f.name).is_some()) {
            return Err(ApiError::bad_request(format!(
                "Cannot add a new attachment with same file name as an existing attachment: {}",
                f.name
            )));
        }
    }
    let mut out = Vec::new();
    for f in files {
        let att_id = match existing(&data, &f.name) {
            Some(aid) => {
                data.attachments
                    .get_mut(&aid)
                    .ok_or_else(|| missing_attachment(aid))?
                    .new_version(f, &ctx.grant.account_id, ctx.now);
                aid
            }
            None => {
                let aid = data.next_id();
                let file_id = format!("{:08x}-{:04x}-4000-8000-{:012x}", aid, aid % 0xffff, aid);
                data.attachments.insert(
                    aid,
                    Attachment {
                        id: aid,
                        container_id: id,
                        title: f.name,
                        media_type: f.media_type,
                        comment: f.comment,
                        file_id,
                        status: Status::Current,
                        created_at: ctx.now,
                        version: 1,
                        version_at: ctx.now,
                        author_id: ctx.grant.account_id.clone(),
                        minor_edit: f.minor_edit,
                        data: f.data,
                    },
                );
                aid
            }
        };
        ctx.site.reindex(&data, att_id, ctx.index_visible_at());
        if let Some(a) = data.attachments.get(&att_id) {
            out.push(attachment_v1(a, &ctx.site.wiki_base()));
        }
    }
    let n = out.len();
    Ok(json_response(
        StatusCode::OK,
        &json!({"results": out, "size": n, "_links": {"base": ctx.site.wiki_base(), "context": "/wiki"}}),
    ))
}

pub async fn v1_create(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    headers: HeaderMap,
    mp: Multipart,
) -> Result<Response, ApiError> {
    upload(ctx, id, headers, mp, false).await
}

pub async fn v1_upsert(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    headers: HeaderMap,
    mp: Multipart,
) -> Result<Response, ApiError> {
    upload(ctx, id, headers, mp, true).await
}

/// v1 GET `/content/{id}/child/attachment` (offset paging with `start`).
pub async fn v1_list(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    let start = p.num::<usize>("start")?.unwrap_or(0);
    let limit = p.num::<usize>("limit")?.unwrap_or(50).clamp(1, 200);
    let name = p.get("filename");
    let media = p.get("mediaType");
    let data = ctx.site.data.read();
    if !data
        .contents
        .get(&id)
        .is_some_and(|c| c.status == Status::Current)
    {
        return Err(ApiError::missing("content", id));
    }
    let all: Vec<&Attachment> = data
        .attachments
        .values()
        .filter(|a| a.container_id == id && a.status == Status::Current)
        .filter(|a| name.is_none_or(|n| a.title == n) && media.is_none_or(|m| a.media_type == m))
        .collect();
    let results: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|a| attachment_v1(a, &ctx.site.wiki_base()))
        .collect();
    let size = results.len();
    let mut links = json!({"base": ctx.site.wiki_base(), "context": "/wiki"});
    if start + size < all.len() {
        links["next"] = json!(format!(
            "/rest/api/content/{id}/child/attachment?limit={limit}&start={}",
            start + size
        ));
    }
    let mut resp = json_response(
        StatusCode::OK,
        &json!({"results": results, "start": start, "limit": limit, "size": size, "_links": links}),
    );
    resp.extensions_mut().insert(Cost(size as u64));
    Ok(resp)
}

/// The bytes of an attachment; a `version` beyond the current one is a 404 (older versions
/// answer the current bytes: the sandbox keeps only those).
fn bytes_of(a: &Attachment, p: &Params) -> Result<Response, ApiError> {
    if p.num::<u32>("version")?
        .is_some_and(|v| v == 0 || v > a.version)
    {
        return Err(ApiError::missing(
            "attachment version",
            p.get("version").unwrap_or(""),
        ));
    }
    let mut resp = (StatusCode::OK, a.data.clone()).into_response();
    if let Ok(v) = HeaderValue::from_str(&a.media_type) {
        resp.headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, v);
    }
    resp.extensions_mut().insert(Cost(1));
    Ok(resp)
}

/// v1 `_links.download`: `/rest/api/content/{pageId}/child/attachment/{attachmentId}/download`.
pub async fn v1_download(
    Extension(ctx): Extension<Ctx>,
    Ids2(id, att): Ids2,
    p: Params,
) -> Result<Response, ApiError> {
    let data = ctx.site.data.read();
    let a = data
        .attachments
        .get(&att)
        .filter(|a| a.container_id == id && a.status == Status::Current)
        .ok_or_else(|| missing_attachment(att))?;
    bytes_of(a, &p)
}

/// v2 `downloadLink`: `/download/attachments/{pageId}/{file name}?version=N&api=v2` under
/// `{api base}/wiki`, through the gateway with the bearer token.
pub async fn download_by_name(
    Extension(ctx): Extension<Ctx>,
    IdAndName(id, name): IdAndName,
    p: Params,
) -> Result<Response, ApiError> {
    let data = ctx.site.data.read();
    let a = data
        .attachments
        .values()
        .find(|a| a.container_id == id && a.title == name && a.status == Status::Current)
        .ok_or_else(|| ApiError::missing("attachment", &name))?;
    bytes_of(a, &p)
}

/// v1 POST `/content/{id}/child/attachment/{attachmentId}/data`: a new version of that
/// attachment (the file name may change), with the optional `comment` and `minorEdit`.
pub async fn v1_new_version(
    Extension(ctx): Extension<Ctx>,
    Ids2(id, att): Ids2,
    headers: HeaderMap,
    mp: Multipart,
) -> Result<Response, ApiError> {
    check_xsrf(&headers)?;
    let mut files = read_upload(mp).await?;
    if files.len() != 1 {
        return Err(ApiError::bad_request(
            "Send exactly one file, in a multipart part named `file`",
        ));
    }
    let f = files.remove(0);
    let mut data = ctx.site.data.write();
    super::request::v1_content(&data, id)?;
    let a = data
        .attachments
        .get_mut(&att)
        .filter(|a| a.container_id == id && a.status == Status::Current)
        .ok_or_else(|| missing_attachment(att))?;
    a.new_version(f, &ctx.grant.account_id, ctx.now);
    let out = attachment_v1(a, &ctx.site.wiki_base());
    ctx.site.reindex(&data, att, ctx.index_visible_at());
    Ok(json_response(StatusCode::OK, &out))
}
