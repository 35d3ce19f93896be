//! CQL search (v1 `/search` and `/content/search`) over the lagging index of pages, blog posts,
//! comments, attachments and spaces. Matching reads the index (what Confluence's search sees
//! ~20 s late); rendering reads the current objects. `start` alone is ignored, as by Confluence:
//! walk with the cursor of `_links.next` (which also carries `start=`, the next offset).

pub mod cql;

use crate::api_error::{json_response, ApiError};
use crate::confluence::attachments::attachment_v1;
use crate::confluence::render::{comment_v1, content_v1, space_v1, ts, user_v1, webui};
use crate::cost::Cost;
use crate::guard::Ctx;
use crate::pagination::{offset_of, paginate, sort_items, Cursor, SortKey};
use crate::params::Params;
use crate::state::model::{Content, User};
use crate::state::search_index::{DocType, SearchDoc};
use crate::state::site::SiteData;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::Extension;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::sync::Arc;

fn cql_error(cql: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("Could not parse cql : {cql} ({why})"))
}

struct Hits {
    docs: Vec<Arc<SearchDoc>>,
    next: Option<Cursor>,
    /// Offset of this page in the whole result.
    start: usize,
    total: usize,
    limit: usize,
    cql: String,
    expand: Vec<String>,
}

/// The `cql` parameter, parsed and checked, with what evaluating it needs.
fn query(ctx: &Ctx, p: &Params) -> Result<(String, cql::Query, cql::EvalCtx), ApiError> {
    let cql = p
        .get("cql")
        .ok_or_else(|| ApiError::bad_request("The cql query parameter is required"))?
        .to_string();
    let q = cql::parse(&cql).map_err(|e| cql_error(&cql, &e))?;
    let account = ctx.grant.account_id.clone();
    let tz = ctx
        .shared
        .user(&account)
        .and_then(|u| u.time_zone.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    let ectx = cql::EvalCtx {
        now: ctx.now,
        tz,
        current_user: account,
    };
    cql::check(&q, &ectx).map_err(|e| cql_error(&cql, &e))?;
    Ok((cql, q, ectx))
}

/// Runs the query: validate, match against the visible index, order, page.
fn run(ctx: &Ctx, p: &Params) -> Result<Hits, ApiError> {
    let expand: Vec<String> = p.all("expand").into_iter().map(str::to_string).collect();
    let max = if expand
        .iter()
        .any(|e| e.starts_with("body") || e.starts_with("content.body"))
    {
        50
    } else {
        250
    };
    let req = ctx.page_req(p, 25, max)?;
    let (cql, q, ectx) = query(ctx, p)?;
    let (field, desc) = q
        .order
        .first()
        .cloned()
        .unwrap_or(("lastmodified".into(), true));
    let mut hits: Vec<(SortKey, u64, Arc<SearchDoc>)> = {
        let mut index = ctx.site.index.lock();
        index
            .visible(ctx.now)
            .values()
            .filter(|d| cql::matches(&q, d, &ectx))
            .map(|d| {
                let key = match field.as_str() {
                    "created" => SortKey::Int(d.created.timestamp_millis()),
                    "title" => SortKey::Str(d.title.clone()),
                    "id" => SortKey::None,
                    _ => SortKey::Int(d.lastmodified.timestamp_millis()),
                };
                (key, d.id, d.clone())
            })
            .collect()
    };
    let total = hits.len();
    sort_items(&mut hits, desc);
    let start = offset_of(&hits, desc, req.cursor.as_ref());
    let (docs, next) = paginate(hits, desc, &req);
    Ok(Hits {
        docs,
        next,
        start,
        total,
        limit: req.limit,
        cql,
        expand,
    })
}

/// v1 next link, relative to `_links.context` (`/wiki`) as Confluence returns it: the cursor,
/// and `start` with the offset of the next page.
fn next_link(path: &str, p: &Params, hits: &Hits, n: usize) -> Option<String> {
    let c = hits.next.as_ref()?;
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    ser.append_pair("next", "true");
    ser.append_pair("cursor", &c.encode());
    ser.append_pair("limit", &hits.limit.to_string());
    ser.append_pair("start", &(hits.start + n).to_string());
    for (k, v) in &p.0 {
        if !matches!(k.as_str(), "cursor" | "limit" | "next" | "prev" | "start") {
            ser.append_pair(k, v);
        }
    }
    Some(format!("{path}?{}", ser.finish()))
}

/// `_links.self`: the request's own URL on the site.
fn self_link(ctx: &Ctx, path: &str, p: &Params) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    ser.extend_pairs(p.0.iter());
    format!("{}{path}?{}", ctx.site.wiki_base(), ser.finish())
}

/// A v1 search answer with its `_links` and `Link` header, costing `points` beyond the call.
fn respond(
    ctx: &Ctx,
    mut body: Value,
    self_link: String,
    next: Option<String>,
    points: usize,
) -> Response {
    let base = ctx.site.wiki_base();
    body["_links"] = json!({"base": base, "context": "/wiki", "self": self_link});
    if let Some(nx) = &next {
        body["_links"]["next"] = json!(nx);
    }
    let mut resp = json_response(StatusCode::OK, &body);
    if let Some(nx) = next {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "</wiki{nx}>; rel=\"next\", <{base}>; rel=\"base\""
        )) {
            resp.headers_mut().insert("link", v);
        }
    }
    resp.extensions_mut().insert(Cost(points as u64));
    resp
}

/// GET v1 `/search`: results wrap the content with title, excerpt, url, container.
pub async fn search(Extension(ctx): Extension<Ctx>, p: Params) -> Result<Response, ApiError> {
    let hits = run(&ctx, &p)?;
    // `expand` on /search applies to the content inside each result (`content.body.storage` or `body.storage`).
    let expand: Vec<&str> = hits
        .expand
        .iter()
        .map(|e| e.strip_prefix("content.").unwrap_or(e))
        .collect();
    let with_excerpt = p.get("excerpt").is_none_or(|e| e != "none");
    let base = ctx.site.wiki_base();
    let data = ctx.site.data.read();
    let results: Vec<Value> = hits
        .docs
        .iter()
        .filter_map(|d| {
            let (mut out, url) = match d.kind {
                DocType::Space => {
                    let s = data.spaces.get(&d.id)?;
                    (
                        json!({"space": space_v1(s, &base), "entityType": "space"}),
                        format!("/spaces/{}", s.key),
                    )
                }
                _ => {
                    let (content, url) = content_of(&data, d, &expand, &base)?;
                    (json!({"content": content, "entityType": "content"}), url)
                }
            };
            let excerpt: String = if with_excerpt {
                weft_text::first_chars(&d.text_lower, 200).to_string()
            } else {
                String::new()
            };
            let space = data.space_by_key(&d.space_key);
            let extra = json!({
                "title": d.title,
                "excerpt": excerpt,
                "url": url,
                "resultGlobalContainer": {"title": space.map_or("", |s| s.name.as_str()),
                                           "displayUrl": format!("/spaces/{}", d.space_key)},
                "breadcrumbs": [],
                "iconCssClass": format!("aui-icon content-type-{}", d.kind.type_name()),
                "lastModified": ts(d.lastmodified),
                "friendlyLastModified": d.lastmodified.format("%b %d, %Y").to_string(),
                "score": 0.0,
            });
            if let (Some(o), Value::Object(e)) = (out.as_object_mut(), extra) {
                o.extend(e);
            }
            Some(out)
        })
        .collect();
    let n = results.len();
    let path = "/rest/api/search";
    let next = next_link(path, &p, &hits, n);
    let total = ctx.shared.realism.estimate(hits.total);
    let body = json!({"results": results, "start": hits.start, "limit": hits.limit, "size": n, "totalSize": total,
                      "cqlQuery": hits.cql, "searchDuration": 1});
    Ok(respond(&ctx, body, self_link(&ctx, path, &p), next, n))
}

/// The v1 content object of a page, blog post, comment or attachment, and its web UI link.
fn content_of(
    data: &SiteData,
    d: &SearchDoc,
    expand: &[&str],
    base: &str,
) -> Option<(Value, String)> {
    match d.kind {
        DocType::Page | DocType::BlogPost => {
            let c = data.contents.get(&d.id)?;
            Some((content_v1(data, c, expand, base), webui(data, c)))
        }
        DocType::Comment => {
            let cm = data.comments.get(&d.id)?;
            let on = data.contents.get(&cm.container_id)?;
            let url = format!("{}?focusedCommentId={}", webui(data, on), cm.id);
            let created = cm.versions.first()?;
            let mut comment = comment_v1(data, cm, on, expand, base);
            expand_history_and_space(
                &mut comment,
                data,
                on,
                expand,
                base,
                created.created_at,
                &created.author_id,
            );
            Some((comment, url))
        }
        DocType::Attachment => {
            let a = data.attachments.get(&d.id)?;
            let on = data.contents.get(&a.container_id)?;
            let url = format!(
                "/pages/viewpageattachments.action?pageId={}&preview={}",
                a.container_id, a.title
            );
            let mut attachment = attachment_v1(a, base);
            expand_history_and_space(
                &mut attachment,
                data,
                on,
                expand,
                base,
                a.created_at,
                &a.author_id,
            );
            Some((attachment, url))
        }
        DocType::Space => None,
    }
}

/// `history` (creation date and author) and `space` of a comment or an attachment when
/// `expand` asks for them, as Confluence expands them on any content.
fn expand_history_and_space(
    out: &mut Value,
    data: &SiteData,
    on: &Content,
    expand: &[&str],
    base: &str,
    created_at: DateTime<Utc>,
    created_by: &str,
) {
    if expand.iter().any(|e| e.starts_with("history")) {
        out["history"] = json!({"latest": true, "createdBy": {"type": "known", "accountId": created_by},
                                "createdDate": ts(created_at)});
    }
    if expand.iter().any(|e| e.starts_with("space")) {
        if let Some(space) = data.spaces.get(&on.space_id) {
            out["space"] = space_v1(space, base);
        }
    }
}

/// GET v1 `/content/search`: results are the content objects themselves.
pub async fn content_search(
    Extension(ctx): Extension<Ctx>,
    p: Params,
) -> Result<Response, ApiError> {
    let hits = run(&ctx, &p)?;
    let expand: Vec<&str> = hits.expand.iter().map(String::as_str).collect();
    let base = ctx.site.wiki_base();
    let data = ctx.site.data.read();
    // Spaces are not content: `/content/search` leaves them out.
    let results: Vec<Value> = hits
        .docs
        .iter()
        .filter_map(|d| content_of(&data, d, &expand, &base).map(|(c, _)| c))
        .collect();
    let n = results.len();
    let path = "/rest/api/content/search";
    let next = next_link(path, &p, &hits, n);
    let body = json!({"results": results, "start": hits.start, "limit": hits.limit, "size": n});
    Ok(respond(&ctx, body, self_link(&ctx, path, &p), next, n))
}

/// GET v1 `/search/user?cql=...`: users matching `type = user`, `user.fullname ~ "..."`,
/// `user.accountid = "..."`, paged by `start` and `limit` (v1 offsets).
pub async fn users(Extension(ctx): Extension<Ctx>, p: Params) -> Result<Response, ApiError> {
    let start = p.num::<usize>("start")?.unwrap_or(0);
    let limit = p.num::<usize>("limit")?.unwrap_or(25).clamp(1, 1000);
    let (cql, q, ectx) = query(&ctx, &p)?;
    let base = ctx.site.wiki_base();
    let users = ctx.shared.users.read();
    let found: Vec<&User> = users
        .iter()
        .filter(|u| u.has_access && cql::matches_user(&q, &u.account_id, &u.display_name, &ectx))
        .collect();
    let results: Vec<Value> = found
        .iter()
        .skip(start)
        .take(limit)
        .map(|u| {
            json!({"user": user_v1(u, &base), "title": u.display_name, "excerpt": "",
                   "url": format!("/people/{}", u.account_id), "entityType": "user",
                   "iconCssClass": "aui-icon content-type-profile", "breadcrumbs": [], "score": 0.0})
        })
        .collect();
    let n = results.len();
    let next = (start + n < found.len()).then(|| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        ser.append_pair("cql", &cql);
        ser.append_pair("start", &(start + n).to_string());
        ser.append_pair("limit", &limit.to_string());
        format!("/rest/api/search/user?{}", ser.finish())
    });
    let body = json!({"results": results, "start": start, "limit": limit, "size": n, "totalSize": found.len(),
                      "cqlQuery": cql, "searchDuration": 1});
    // Two points per user object, as Atlassian counts them.
    let self_link = self_link(&ctx, "/rest/api/search/user", &p);
    Ok(respond(&ctx, body, self_link, next, 2 * n))
}
