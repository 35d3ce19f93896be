//! The API gateway in front of every Confluence route: bearer token, site, scopes, quota and
//! burst limit before the handler; error shape, quota charge and rate-limit headers after it.

use crate::api_error::{gateway, json_response, ApiError, SCOPE_MISMATCH};
use crate::cost::Cost;
use crate::pagination::{list_response, next_link, Cursor, PageReq};
use crate::params::Params;
use crate::ratelimit::Admission;
use crate::route_spec::{Api, RouteSpec};
use crate::state::auth::Grant;
use crate::state::site::Site;
use crate::state::Shared;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// What a Confluence handler knows about the call.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub shared: Shared,
    pub site: Arc<Site>,
    pub grant: Arc<Grant>,
    pub now: DateTime<Utc>,
    /// Request path without `/ex/confluence/{cloudid}`, e.g. `/wiki/api/v2/pages`.
    pub rel_path: String,
}

impl Ctx {
    /// `limit` and `cursor` of a list request; in realistic mode the page is sometimes shorter.
    pub fn page_req(&self, p: &Params, default: usize, max: usize) -> Result<PageReq, ApiError> {
        let mut req = PageReq::from_params(p, default, max)?;
        req.take = self.shared.realism.page_size(req.limit);
        Ok(req)
    }

    /// When a write made now becomes searchable.
    pub fn index_visible_at(&self) -> DateTime<Utc> {
        self.now + self.shared.search_lag()
    }

    /// A v2 list response costing one point per object, with a `next` link (this request's
    /// path and parameters at `cursor`) when more remain.
    pub fn list_page<T: serde::Serialize>(
        &self,
        p: &Params,
        limit: usize,
        results: Vec<T>,
        cursor: Option<Cursor>,
    ) -> Response {
        let next = cursor.map(|c| next_link(&self.rel_path, p, limit, &c));
        list_response(results, next, &self.site.wiki_base(), 1)
    }
}

/// Resolves the bearer token of a request to its grant, or the gateway's 401.
pub fn bearer_grant(
    shared: &Shared,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Result<Arc<Grant>, Box<Response>> {
    let unauthorized = || Box::new(gateway(StatusCode::UNAUTHORIZED, "Unauthorized"));
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .ok_or_else(unauthorized)?;
    if let Some(g) = shared.auth.read().cached_grant(token, now) {
        return Ok(g);
    }
    shared
        .auth
        .write()
        .check_access(token, now)
        .map_err(|_| unauthorized())
}

pub async fn guard(
    State((shared, spec)): State<(Shared, Arc<RouteSpec>)>,
    mut req: Request,
    next: Next,
) -> Response {
    let now = shared.clock.now();
    let grant = match bearer_grant(&shared, req.headers(), now) {
        Ok(g) => g,
        Err(resp) => return *resp,
    };
    let cloudid = req.uri().path().split('/').nth(3).unwrap_or("");
    let site = match shared.site(cloudid) {
        Some(site) if grant.sites.iter().any(|s| s == cloudid) => site,
        _ => return gateway(StatusCode::UNAUTHORIZED, "Unauthorized"),
    };
    if !spec.scopes.satisfied_by(&grant.scopes) {
        return gateway(StatusCode::UNAUTHORIZED, SCOPE_MISMATCH);
    }
    match shared.quota.admit(&grant.client_id, now) {
        Admission::Ok => {}
        why => {
            let mut resp = gateway(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded");
            shared.quota.rejection_headers(resp.headers_mut(), why, now);
            return resp;
        }
    }
    let is_read = req.method() == Method::GET;
    let path = req.uri().path();
    let rel_path = path
        .match_indices('/')
        .nth(3)
        .map_or("", |(i, _)| &path[i..])
        .to_string();
    req.extensions_mut().insert(Ctx {
        rel_path,
        shared: shared.clone(),
        site,
        grant: grant.clone(),
        now,
    });
    let mut resp = next.run(req).await;
    if let Some(err) = resp.extensions_mut().remove::<crate::api_error::ApiError>() {
        let body = match spec.api {
            Api::V2 => err.v2_body(shared.realism.status_as_string()),
            Api::V1 => err.v1_body(),
        };
        resp = json_response(err.status, &body);
    }
    let points = match (is_read, resp.extensions().get::<Cost>()) {
        (true, Some(c)) => 1 + c.0,
        _ => 1,
    };
    if !is_read && resp.status().is_success() {
        shared.touch();
    }
    let remaining = shared.quota.charge(&grant.client_id, points, now);
    shared.quota.headers(resp.headers_mut(), remaining, now);
    resp
}
