//! Spaces (v2): list with filters, get, create (201, with a home page).

use super::render::{space_v2, with_base};
use crate::api_error::{json_response, ApiError};
use crate::cost::one_object;
use crate::guard::Ctx;
use crate::pagination::{paginate, sort_items, SortKey};
use crate::params::{Id, JsonBody, Params};
use crate::state::model::Space;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use serde_json::Value;

fn description_format(p: &Params) -> Result<Option<&str>, ApiError> {
    match p.get("description-format") {
        None => Ok(None),
        Some(f @ ("plain" | "view")) => Ok(Some(f)),
        Some(f) => Err(ApiError::invalid_param(format!(
            "Query parameter `description-format` must be plain or view, got `{f}`"
        ))),
    }
}

pub async fn list(Extension(ctx): Extension<Ctx>, p: Params) -> Result<Response, ApiError> {
    let req = ctx.page_req(&p, 25, 250)?;
    let ids = p.ids("ids")?;
    let keys = p.all("keys");
    let kind = p.get("type");
    let status = p.get("status");
    let labels = p.all("labels");
    let fmt = description_format(&p)?;
    let sort = p.get("sort").unwrap_or("id");
    let (desc, field) = sort.strip_prefix('-').map_or((false, sort), |f| (true, f));
    let key_of: fn(&Space) -> SortKey = match field {
        "id" => |_| SortKey::None,
        "key" => |s| SortKey::Str(s.key.clone()),
        "name" => |s| SortKey::Str(s.name.clone()),
        _ => {
            return Err(ApiError::invalid_param(format!(
                "Query parameter `sort` has unsupported value `{sort}`: expected id, key or name"
            )))
        }
    };
    let data = ctx.site.data.read();
    let mut items: Vec<_> = data
        .spaces
        .values()
        .filter(|s| ids.is_empty() || ids.contains(&s.id))
        .filter(|s| keys.is_empty() || keys.iter().any(|k| k.eq_ignore_ascii_case(&s.key)))
        .filter(|s| kind.is_none_or(|k| s.kind == k))
        .filter(|s| status.is_none_or(|st| s.status == st))
        // Space labels are not modelled: a label filter matches nothing.
        .filter(|_| labels.is_empty())
        .map(|s| (key_of(s), s.id, s))
        .collect();
    sort_items(&mut items, desc);
    let (page, next) = paginate(items, desc, &req);
    let results: Vec<Value> = page.into_iter().map(|s| space_v2(s, fmt)).collect();
    Ok(ctx.list_page(&p, req.limit, results, next))
}

pub async fn get(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    let fmt = description_format(&p)?;
    let data = ctx.site.data.read();
    let s = data
        .spaces
        .get(&id)
        .ok_or_else(|| ApiError::missing("space", id))?;
    Ok(one_object(&with_base(
        space_v2(s, fmt),
        &ctx.site.wiki_base(),
    )))
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum DescriptionIn {
    Text(String),
    Body { value: String },
}

#[derive(Deserialize)]
pub struct CreateIn {
    name: Option<String>,
    key: Option<String>,
    description: Option<DescriptionIn>,
}

pub async fn create(
    Extension(ctx): Extension<Ctx>,
    JsonBody(input): JsonBody<CreateIn>,
) -> Result<Response, ApiError> {
    let name = input
        .name
        .ok_or_else(|| ApiError::bad_request("name is required"))?;
    let key = input
        .key
        .ok_or_else(|| ApiError::bad_request("key is required"))?;
    let description = match input.description {
        None => String::new(),
        Some(DescriptionIn::Text(t)) | Some(DescriptionIn::Body { value: t }) => t,
    };
    let mut data = ctx.site.data.write();
    let id = data.create_space(&key, &name, &description, &ctx.grant.account_id, ctx.now)?;
    let space = data
        .spaces
        .get(&id)
        .ok_or_else(|| ApiError::missing("space", id))?;
    for searchable in std::iter::once(id).chain(space.homepage_id) {
        ctx.site.reindex(&data, searchable, ctx.index_visible_at());
    }
    Ok(json_response(
        StatusCode::CREATED,
        &with_base(space_v2(space, Some("plain")), &ctx.site.wiki_base()),
    ))
}
