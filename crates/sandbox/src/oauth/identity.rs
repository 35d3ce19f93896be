//! `GET /oauth/token/accessible-resources` and `GET /me` on api.atlassian.com.

use crate::api_error::{gateway, json_response, SCOPE_MISMATCH};
use crate::guard::bearer_grant;
use crate::state::Shared;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

pub async fn accessible_resources(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let now = shared.clock.now();
    let grant = match bearer_grant(&shared, &headers, now) {
        Ok(g) => g,
        Err(r) => return *r,
    };
    let mut scopes: Vec<&str> = grant
        .scope_list
        .iter()
        .map(String::as_str)
        .filter(|s| *s != "offline_access" && *s != "read:me" && *s != "read:account")
        .collect();
    scopes.sort_unstable();
    let sites: Vec<_> = shared
        .site_infos()
        .into_iter()
        .filter(|s| grant.sites.contains(&s.cloudid))
        .map(|s| {
            json!({
                "id": s.cloudid,
                "url": s.url,
                "name": s.name,
                "scopes": scopes,
                "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/site.png",
            })
        })
        .collect();
    json_response(StatusCode::OK, &json!(sites))
}

pub async fn me(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let now = shared.clock.now();
    let grant = match bearer_grant(&shared, &headers, now) {
        Ok(g) => g,
        Err(r) => return *r,
    };
    if !grant.scopes.has("read:me") {
        return gateway(StatusCode::UNAUTHORIZED, SCOPE_MISMATCH);
    }
    let Some(user) = shared.user(&grant.account_id) else {
        return gateway(StatusCode::UNAUTHORIZED, "Unauthorized");
    };
    json_response(
        StatusCode::OK,
        &json!({
            "account_type": "atlassian",
            "account_id": user.account_id,
            "email": user.email,
            "name": user.display_name,
            "picture": "https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/default.png",
            "account_status": "active",
            "nickname": user.display_name.split_whitespace().next().unwrap_or(""),
            "zoneinfo": user.time_zone,
            "locale": "en-US",
            "extended_profile": {},
        }),
    )
}
