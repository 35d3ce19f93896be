//! Content properties (v2) of pages and blog posts: list, create (409 on a duplicate key), get,
//! update (version + 1 or 409), delete.

use super::render::ts;
use super::request::{find, VersionIn};
use super::OnContent;
use crate::api_error::{json_response, ApiError};
use crate::cost::one_object;
use crate::guard::Ctx;
use crate::pagination::{paginate, sort_items, SortKey};
use crate::params::{Id, Ids2, JsonBody, Params};
use crate::state::model::{ContentKind, Property, Status};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn property_v2(p: &Property) -> Value {
    json!({
        "id": p.id.to_string(),
        "key": p.key,
        "value": p.value,
        "version": {"createdAt": ts(p.version_at), "message": p.version_message, "number": p.version,
                    "minorEdit": false, "authorId": p.author_id},
    })
}

const OPEN: &[Status] = &[Status::Current, Status::Archived, Status::Draft];

fn list(ctx: &Ctx, id: u64, p: &Params, kind: ContentKind) -> Result<Response, ApiError> {
    let req = ctx.page_req(p, 25, 250)?;
    let key = p.get("key");
    let sort = p.get("sort").unwrap_or("key");
    let (desc, field) = sort.strip_prefix('-').map_or((false, sort), |f| (true, f));
    let keyf: fn(&Property) -> SortKey = match field {
        "key" => |p| SortKey::Str(p.key.clone()),
        "id" => |_| SortKey::None,
        _ => {
            return Err(ApiError::invalid_param(format!(
                "Query parameter `sort` has unsupported value `{sort}`: expected key or id"
            )))
        }
    };
    let data = ctx.site.data.read();
    find(&data, id, kind, OPEN)?;
    let mut items: Vec<_> = data
        .properties
        .values()
        .filter(|pr| pr.content_id == id && key.is_none_or(|k| pr.key == k))
        .map(|pr| (keyf(pr), pr.id, pr))
        .collect();
    sort_items(&mut items, desc);
    let (page, next) = paginate(items, desc, &req);
    let results = page.into_iter().map(property_v2).collect();
    Ok(ctx.list_page(p, req.limit, results, next))
}

pub async fn list_for<K: OnContent>(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    list(&ctx, id, &p, K::KIND)
}

#[derive(Deserialize)]
pub struct CreateIn {
    key: Option<String>,
    value: Option<Value>,
}

fn create(ctx: &Ctx, id: u64, input: CreateIn, kind: ContentKind) -> Result<Response, ApiError> {
    let key = input
        .key
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::bad_request("key is required"))?;
    if key.len() > 255 {
        return Err(ApiError::bad_request("key must be at most 255 characters"));
    }
    let value = input.value.unwrap_or(Value::Null);
    let mut data = ctx.site.data.write();
    find(&data, id, kind, OPEN)?;
    if data
        .properties
        .values()
        .any(|p| p.content_id == id && p.key == key)
    {
        return Err(ApiError::conflict(format!("Cannot create property with key `{key}`: a property with this key already exists on content {id}")));
    }
    let pid = data.next_id();
    let prop = Property {
        id: pid,
        content_id: id,
        key,
        value,
        version: 1,
        version_at: ctx.now,
        version_message: String::new(),
        author_id: ctx.grant.account_id.clone(),
    };
    let out = property_v2(&prop);
    data.properties.insert(pid, prop);
    Ok(json_response(StatusCode::OK, &out))
}

pub async fn create_for<K: OnContent>(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    JsonBody(input): JsonBody<CreateIn>,
) -> Result<Response, ApiError> {
    create(&ctx, id, input, K::KIND)
}

fn get(ctx: &Ctx, id: u64, pid: u64, kind: ContentKind) -> Result<Response, ApiError> {
    let data = ctx.site.data.read();
    find(&data, id, kind, OPEN)?;
    let prop = data
        .properties
        .get(&pid)
        .filter(|p| p.content_id == id)
        .ok_or_else(|| ApiError::missing("content property", pid))?;
    Ok(one_object(&property_v2(prop)))
}

pub async fn get_for<K: OnContent>(
    Extension(ctx): Extension<Ctx>,
    Ids2(id, pid): Ids2,
) -> Result<Response, ApiError> {
    get(&ctx, id, pid, K::KIND)
}

#[derive(Deserialize)]
pub struct UpdateIn {
    key: Option<String>,
    value: Option<Value>,
    version: Option<VersionIn>,
}

fn update(
    ctx: &Ctx,
    id: u64,
    pid: u64,
    input: UpdateIn,
    kind: ContentKind,
) -> Result<Response, ApiError> {
    let number = VersionIn::required_number(input.version.as_ref())?;
    let mut data = ctx.site.data.write();
    find(&data, id, kind, OPEN)?;
    let prop = data
        .properties
        .get_mut(&pid)
        .filter(|p| p.content_id == id)
        .ok_or_else(|| ApiError::missing("content property", pid))?;
    if number != prop.version + 1 {
        return Err(ApiError::conflict(format!(
            "Version must be incremented when updating a property. Current Version: [{}]. Provided version: [{number}]",
            prop.version
        )));
    }
    if let Some(k) = input.key.filter(|k| *k != prop.key) {
        return Err(ApiError::bad_request(format!(
            "The key of a property cannot change (was `{}`, got `{k}`)",
            prop.key
        )));
    }
    prop.value = input.value.unwrap_or(Value::Null);
    prop.version = number;
    prop.version_at = ctx.now;
    prop.version_message = input.version.map(|v| v.message).unwrap_or_default();
    prop.author_id = ctx.grant.account_id.clone();
    Ok(json_response(StatusCode::OK, &property_v2(prop)))
}

pub async fn update_for<K: OnContent>(
    Extension(ctx): Extension<Ctx>,
    Ids2(id, pid): Ids2,
    JsonBody(input): JsonBody<UpdateIn>,
) -> Result<Response, ApiError> {
    update(&ctx, id, pid, input, K::KIND)
}

fn delete(ctx: &Ctx, id: u64, pid: u64, kind: ContentKind) -> Result<Response, ApiError> {
    let mut data = ctx.site.data.write();
    find(&data, id, kind, OPEN)?;
    match data.properties.get(&pid) {
        Some(p) if p.content_id == id => {
            data.properties.remove(&pid);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(ApiError::missing("content property", pid)),
    }
}

pub async fn delete_for<K: OnContent>(
    Extension(ctx): Extension<Ctx>,
    Ids2(id, pid): Ids2,
) -> Result<Response, ApiError> {
    delete(&ctx, id, pid, K::KIND)
}
