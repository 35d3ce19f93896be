//! The page tree: children, direct children, descendants (newer than the spec snapshot) and
//! ancestors.

use super::request::find;
use crate::api_error::{json_response, ApiError};
use crate::cost::Cost;
use crate::guard::Ctx;
use crate::pagination::{paginate, sort_items, SortKey};
use crate::params::{Id, Params};
use crate::state::model::{ContentKind, Status};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};

const VISIBLE: &[Status] = &[Status::Current, Status::Archived];

/// Lists the children of a page; `render` shapes each (ChildPage or the newer direct-children).
fn child_list(
    ctx: &Ctx,
    id: u64,
    p: &Params,
    render: fn(&crate::state::model::Content) -> Value,
) -> Result<Response, ApiError> {
    let req = ctx.page_req(p, 25, 250)?;
    let desc = match p.get("sort") {
        None | Some("child-position") => false,
        Some("-child-position") => true,
        Some(s) => {
            return Err(ApiError::invalid_param(format!(
                "Query parameter `sort` has unsupported value `{s}`"
            )))
        }
    };
    let data = ctx.site.data.read();
    find(&data, id, ContentKind::Page, VISIBLE)?;
    let mut items: Vec<_> = data
        .children_of(id)
        .iter()
        .filter_map(|c| data.contents.get(c))
        .filter(|c| VISIBLE.contains(&c.status))
        .map(|c| (SortKey::Int(c.position), c.id, c))
        .collect();
    sort_items(&mut items, desc);
    let (page, next) = paginate(items, desc, &req);
    let results = page.into_iter().map(render).collect();
    Ok(ctx.list_page(p, req.limit, results, next))
}

pub async fn children(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    child_list(&ctx, id, &p, |c| {
        json!({"id": c.id.to_string(), "status": c.status.as_str(), "title": c.title(),
               "spaceId": c.space_id.to_string(), "childPosition": c.position})
    })
}

pub async fn direct_children(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    child_list(&ctx, id, &p, |c| {
        json!({"id": c.id.to_string(), "status": c.status.as_str(), "title": c.title(), "type": "page",
               "spaceId": c.space_id.to_string(), "childPosition": c.position})
    })
}

/// Descendants depth first; `depth` 1..=5 (Confluence's limit), default 5.
pub async fn descendants(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    let req = ctx.page_req(&p, 25, 250)?;
    let depth = match p.num::<u32>("depth")? {
        None => 5,
        Some(d) if (1..=5).contains(&d) => d,
        Some(d) => {
            return Err(ApiError::invalid_param(format!(
                "Query parameter `depth` must be between 1 and 5, got {d}"
            )))
        }
    };
    let data = ctx.site.data.read();
    find(&data, id, ContentKind::Page, VISIBLE)?;
    let items: Vec<_> = data
        .descendants(id, depth)
        .into_iter()
        .enumerate()
        .filter_map(|(i, (d, lvl))| {
            data.contents
                .get(&d)
                .map(|c| (SortKey::Int(i as i64), c.id, (c, lvl)))
        })
        .filter(|(_, _, (c, _))| VISIBLE.contains(&c.status))
        .collect();
    let (page, next) = paginate(items, false, &req);
    let results = page
        .into_iter()
        .map(|(c, lvl)| {
            json!({"id": c.id.to_string(), "status": c.status.as_str(), "title": c.title(), "type": "page",
                   "parentId": c.parent_id.map(|p| p.to_string()), "depth": lvl, "childPosition": c.position})
        })
        .collect();
    Ok(ctx.list_page(&p, req.limit, results, next))
}

/// Ancestors top to bottom; with `limit`, the nearest ones (ask again from the highest for more).
pub async fn ancestors(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    let limit = match p.num::<usize>("limit")? {
        None => 25,
        Some(0) => {
            return Err(ApiError::invalid_param(
                "Query parameter `limit` must be at least 1",
            ))
        }
        Some(n) => n.min(250),
    };
    let data = ctx.site.data.read();
    find(&data, id, ContentKind::Page, VISIBLE)?;
    let all = data.ancestors(id);
    let start = all.len().saturating_sub(limit);
    let results: Vec<Value> = all[start..]
        .iter()
        .map(|a| json!({"id": a.to_string(), "type": "page"}))
        .collect();
    let n = results.len() as u64;
    let mut resp = json_response(
        StatusCode::OK,
        &json!({"results": results, "_links": {"base": ctx.site.wiki_base()}}),
    );
    resp.extensions_mut().insert(Cost(n));
    Ok(resp)
}
