//! The admin operations over HTTP under `/__sandbox/`.

use super::{Admin, NewPage};
use crate::error::SandboxError;
use crate::faults::FaultRule;
use crate::state::auth::RegisteredApp;
use crate::state::model::User;
use crate::state::Shared;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/__sandbox/app", get(builtin_app))
        .route("/__sandbox/apps", get(list_apps).post(register_app))
        .route("/__sandbox/clock", get(clock))
        .route("/__sandbox/clock/advance", post(advance))
        .route("/__sandbox/requests", get(requests).delete(clear_requests))
        .route(
            "/__sandbox/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/__sandbox/tokens", post(tokens))
        .route("/__sandbox/revoke", post(revoke))
        .route("/__sandbox/sites", get(sites).post(add_site))
        .route("/__sandbox/users", get(users).post(add_user))
        .route("/__sandbox/spaces", post(create_space))
        .route("/__sandbox/pages", post(create_page))
        .route("/__sandbox/seed/pages", post(seed_pages))
        .route("/__sandbox/settings", post(settings))
        .route("/__sandbox/quota", get(quota))
        .route("/__sandbox/quota/reset", post(reset_quota))
        .route("/__sandbox/save", post(save))
        .with_state(shared)
}

fn admin_of(shared: Shared) -> Admin {
    Admin::new(shared)
}

fn fail(e: SandboxError) -> Response {
    let status = match e {
        SandboxError::UnknownSite(_) | SandboxError::UnknownApp(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    let message = crate::api_error::capped_message(e.to_string());
    (status, Json(json!({"error": message}))).into_response()
}

fn ok<T: serde::Serialize>(v: T) -> Response {
    Json(v).into_response()
}

async fn builtin_app(State(s): State<Shared>) -> Response {
    match s.builtin_app() {
        Some(app) => ok(app),
        None => fail(SandboxError::UnknownApp(
            crate::state::BUILTIN_CLIENT_ID.into(),
        )),
    }
}

async fn list_apps(State(s): State<Shared>) -> Response {
    ok(admin_of(s).apps())
}

async fn register_app(State(s): State<Shared>, Json(app): Json<RegisteredApp>) -> Response {
    match admin_of(s).register_app(app) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fail(e),
    }
}

async fn clock(State(s): State<Shared>) -> Response {
    ok(json!({"now": s.clock.now(), "offset_ms": s.clock.offset_ms()}))
}

#[derive(Deserialize)]
struct Advance {
    seconds: f64,
}

async fn advance(State(s): State<Shared>, Json(a): Json<Advance>) -> Response {
    if a.seconds.is_nan() || a.seconds < 0.0 {
        return fail(SandboxError::Invalid(
            "seconds must be a non-negative number: the clock only moves forward".into(),
        ));
    }
    let by = Duration::try_from_secs_f64(a.seconds).unwrap_or(Duration::MAX);
    match admin_of(s).try_advance_clock(by) {
        Ok(now) => ok(json!({"now": now})),
        Err(e) => fail(e),
    }
}

async fn requests(State(s): State<Shared>) -> Response {
    ok(s.log.all())
}

async fn clear_requests(State(s): State<Shared>) -> Response {
    s.log.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn list_faults(State(s): State<Shared>) -> Response {
    ok(s.faults.rules())
}

async fn add_fault(State(s): State<Shared>, Json(rule): Json<FaultRule>) -> Response {
    match admin_of(s).set_fault(rule) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fail(e),
    }
}

async fn clear_faults(State(s): State<Shared>) -> Response {
    s.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct TokensReq {
    client_id: String,
    scopes: Vec<String>,
    #[serde(default)]
    sites: Option<Vec<String>>,
}

async fn tokens(State(s): State<Shared>, Json(r): Json<TokensReq>) -> Response {
    let scopes: Vec<&str> = r.scopes.iter().map(String::as_str).collect();
    let sites: Option<Vec<&str>> = r
        .sites
        .as_ref()
        .map(|v| v.iter().map(String::as_str).collect());
    match admin_of(s).issue_tokens_for_tests(&r.client_id, &scopes, sites.as_deref()) {
        Ok(pair) => ok(pair),
        Err(e) => fail(e),
    }
}

#[derive(Deserialize)]
struct RevokeReq {
    client_id: String,
}

async fn revoke(State(s): State<Shared>, Json(r): Json<RevokeReq>) -> Response {
    ok(json!({"revoked_families": admin_of(s).revoke_grants(&r.client_id)}))
}

async fn sites(State(s): State<Shared>) -> Response {
    ok(s.site_infos())
}

#[derive(Deserialize)]
struct NewSite {
    name: String,
}

async fn add_site(State(s): State<Shared>, Json(r): Json<NewSite>) -> Response {
    match admin_of(s).add_site(&r.name) {
        Ok(info) => (StatusCode::CREATED, Json(info)).into_response(),
        Err(e) => fail(e),
    }
}

async fn users(State(s): State<Shared>) -> Response {
    ok(admin_of(s).users())
}

async fn add_user(State(s): State<Shared>, Json(u): Json<User>) -> Response {
    admin_of(s).add_user(u);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct SiteQuery {
    cloudid: Option<String>,
}

#[derive(Deserialize)]
struct NewSpace {
    key: String,
    name: String,
}

async fn create_space(
    State(s): State<Shared>,
    Query(q): Query<SiteQuery>,
    Json(r): Json<NewSpace>,
) -> Response {
    match admin_of(s).create_space(q.cloudid.as_deref(), &r.key, &r.name) {
        Ok(id) => (StatusCode::CREATED, Json(json!({"id": id.to_string()}))).into_response(),
        Err(e) => fail(e),
    }
}

async fn create_page(
    State(s): State<Shared>,
    Query(q): Query<SiteQuery>,
    Json(p): Json<NewPage>,
) -> Response {
    match admin_of(s).create_page(q.cloudid.as_deref(), p) {
        Ok(id) => (StatusCode::CREATED, Json(json!({"id": id.to_string()}))).into_response(),
        Err(e) => fail(e),
    }
}

#[derive(Deserialize)]
struct SeedPages {
    space_key: String,
    count: usize,
    #[serde(default)]
    parent_id: Option<u64>,
}

async fn seed_pages(
    State(s): State<Shared>,
    Query(q): Query<SiteQuery>,
    Json(r): Json<SeedPages>,
) -> Response {
    match admin_of(s).seed_pages(q.cloudid.as_deref(), &r.space_key, r.count, r.parent_id) {
        Ok(ids) => (
            StatusCode::CREATED,
            Json(json!({"count": ids.len(), "first_id": ids.first().map(|i| i.to_string())})),
        )
            .into_response(),
        Err(e) => fail(e),
    }
}

#[derive(Deserialize)]
struct Settings {
    auto_approve: Option<bool>,
    search_lag_ms: Option<u64>,
    quota_points_per_hour: Option<u64>,
    burst_per_second: Option<u32>,
}

async fn settings(State(s): State<Shared>, Json(r): Json<Settings>) -> Response {
    let admin = admin_of(s.clone());
    if let Some(a) = r.auto_approve {
        admin.set_auto_approve(a);
    }
    if let Some(ms) = r.search_lag_ms {
        admin.set_search_lag(Duration::from_millis(ms));
    }
    if r.quota_points_per_hour.is_some() || r.burst_per_second.is_some() {
        let points = r.quota_points_per_hour.unwrap_or_else(|| s.quota.limit());
        let burst = r.burst_per_second.unwrap_or(s.config.burst_per_second);
        admin.set_quota(points, burst);
    }
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct QuotaQuery {
    client_id: String,
}

async fn quota(State(s): State<Shared>, Query(q): Query<QuotaQuery>) -> Response {
    ok(json!({"limit": s.quota.limit(), "remaining": admin_of(s).quota_remaining(&q.client_id)}))
}

async fn reset_quota(State(s): State<Shared>) -> Response {
    s.quota.reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn save(State(s): State<Shared>) -> Response {
    match admin_of(s).save() {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fail(e),
    }
}
