//! Content restrictions (v1 GET `/content/{id}/restriction`). The sandbox models no
//! restrictions: every page answers its `read` and `update` entries with no user or group, as an
//! unrestricted page does in Confluence.

use super::request::v1_content;
use crate::api_error::{json_response, ApiError};
use crate::cost::Cost;
use crate::guard::Ctx;
use crate::params::{Id, Params};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};

pub async fn of_content(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    let start = p.num::<usize>("start")?.unwrap_or(0);
    let limit = p.num::<usize>("limit")?.unwrap_or(100).clamp(1, 100);
    let base = ctx.site.wiki_base();
    let data = ctx.site.data.read();
    let c = v1_content(&data, id)?;
    let content = json!({"id": c.id.to_string(), "type": c.kind.type_name(), "status": c.status.as_str(), "title": c.title()});
    let empty = json!({"results": [], "start": 0, "limit": 200, "size": 0});
    let results: Vec<Value> = ["read", "update"]
        .iter()
        .skip(start)
        .take(limit)
        .map(|op| {
            json!({
                "operation": op,
                "restrictions": {"user": empty, "group": empty},
                "content": content,
                "_expandable": {},
                "_links": {"self": format!("{base}/rest/api/content/{id}/restriction/byOperation/{op}")},
            })
        })
        .collect();
    let n = results.len();
    let mut resp = json_response(
        StatusCode::OK,
        &json!({"results": results, "start": start, "limit": limit, "size": n,
                "restrictionsHash": format!("{id:x}"),
                "_links": {"base": base, "context": "/wiki", "self": format!("{base}/rest/api/content/{id}/restriction")}}),
    );
    resp.extensions_mut().insert(Cost(n as u64));
    Ok(resp)
}
