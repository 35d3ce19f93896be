//! CQL search (v1 `/search` and `/content/search`) over the lagging index. Matching reads the
//! index (what Confluence's search sees ~20 s late); rendering reads the current content.

pub mod cql;

use crate::api_error::{json_response, ApiError};
use crate::confluence::render::{content_v1, ts, webui};
use crate::cost::Cost;
use crate::guard::Ctx;
use crate::pagination::{paginate, sort_items, Cursor, SortKey};
use crate::params::Params;
use crate::state::search_index::SearchDoc;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};
use std::sync::Arc;

fn cql_error(cql: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("Could not parse cql : {cql} ({why})"))
}

struct Hits {
    docs: Vec<Arc<SearchDoc>>,
    next: Option<Cursor>,
    total: usize,
    limit: usize,
    cql: String,
    expand: Vec<String>,
}

/// Runs the query: validate, match against the visible index, order, page.
fn run(ctx: &Ctx, p: &Params) -> Result<Hits, ApiError> {
    let cql = p
        .get("cql")
        .ok_or_else(|| ApiError::bad_request("The cql query parameter is required"))?
        .to_string();
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
    let (docs, next) = paginate(hits, desc, &req);
    Ok(Hits {
        docs,
        next,
        total,
        limit: req.limit,
        cql,
        expand,
    })
}

/// v1 next link, relative to `_links.context` (`/wiki`) as Confluence returns it.
fn next_link(path: &str, p: &Params, hits: &Hits) -> Option<String> {
    let c = hits.next.as_ref()?;
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    ser.append_pair("next", "true");
    ser.append_pair("cursor", &c.encode());
    ser.append_pair("limit", &hits.limit.to_string());
    for (k, v) in &p.0 {
        if !matches!(k.as_str(), "cursor" | "limit" | "next" | "prev") {
            ser.append_pair(k, v);
        }
    }
    Some(format!("{path}?{}", ser.finish()))
}

fn respond(ctx: &Ctx, mut body: Value, next: Option<String>, n: usize) -> Response {
    let base = ctx.site.wiki_base();
    body["_links"] = json!({"base": base, "context": "/wiki"});
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
    resp.extensions_mut().insert(Cost(n as u64));
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
        .filter_map(|d| data.contents.get(&d.id).map(|c| (d, c)))
        .map(|(d, c)| {
            let space = data.spaces.get(&c.space_id);
            let excerpt: String = if with_excerpt { d.text_lower.chars().take(200).collect() } else { String::new() };
            json!({
                "content": content_v1(&data, c, &expand, &base),
                "title": c.title(),
                "excerpt": excerpt,
                "url": webui(&data, c),
                "resultGlobalContainer": {"title": space.map_or("", |s| s.name.as_str()),
                                           "displayUrl": format!("/spaces/{}", space.map_or("", |s| s.key.as_str()))},
                "breadcrumbs": [],
                "entityType": "content",
                "iconCssClass": format!("aui-icon content-type-{}", c.kind.type_name()),
                "lastModified": ts(c.current().created_at),
                "friendlyLastModified": c.current().created_at.format("%b %d, %Y").to_string(),
                "score": 0.0,
            })
        })
        .collect();
    let n = results.len();
    let next = next_link("/rest/api/search", &p, &hits);
    let body = json!({"results": results, "start": 0, "limit": hits.limit, "size": n, "totalSize": hits.total,
                      "cqlQuery": hits.cql, "searchDuration": 1});
    Ok(respond(&ctx, body, next, n))
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
    let results: Vec<Value> = hits
        .docs
        .iter()
        .filter_map(|d| data.contents.get(&d.id))
        .map(|c| content_v1(&data, c, &expand, &base))
        .collect();
    let n = results.len();
    let next = next_link("/rest/api/content/search", &p, &hits);
    let body = json!({"results": results, "start": 0, "limit": hits.limit, "size": n});
    Ok(respond(&ctx, body, next, n))
}
