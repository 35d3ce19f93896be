//! The route table: every Confluence endpoint the sandbox serves, with the query parameters it
//! reads and the scopes the gateway checks (copied from `x-atlassian-oauth2-scopes` of the spec;
//! the fidelity tests compare this table with ../shared/spec).

use crate::confluence::users;
use crate::guard::guard;
use crate::scopes::ScopeReq;
use crate::state::Shared;
use axum::handler::Handler;
use axum::middleware::from_fn_with_state;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use std::sync::Arc;

/// Which Confluence API a route belongs to (decides the error shape and the path prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `/wiki/api/v2`
    V2,
    /// `/wiki/rest/api`
    V1,
}

impl Api {
    pub fn prefix(self) -> &'static str {
        match self {
            Api::V2 => "/wiki/api/v2",
            Api::V1 => "/wiki/rest/api",
        }
    }
}

/// One served endpoint.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: &'static str,
    pub api: Api,
    /// Path as written in the spec, relative to the API prefix (e.g. `/pages/{id}`).
    pub path: &'static str,
    /// Query parameters the handler reads.
    pub params: &'static [&'static str],
    pub scopes: ScopeReq,
    /// Endpoint newer than the spec snapshot (listed in the reference instead).
    pub newer_than_spec: bool,
}

impl RouteSpec {
    /// Full path as served, e.g. `/ex/confluence/{cloudid}/wiki/api/v2/pages/{id}`.
    pub fn full_path(&self) -> String {
        format!("/ex/confluence/{{cloudid}}{}{}", self.api.prefix(), self.path)
    }
}

struct Entry {
    spec: RouteSpec,
    handler: MethodRouter,
}

impl Entry {
    fn newer(mut self) -> Self {
        self.spec.newer_than_spec = true;
        self
    }
}

type Strs = &'static [&'static str];

fn ep<H, T>(method: &'static str, api: Api, path: &'static str, params: Strs, current: Strs, beta: Strs, h: H) -> Entry
where
    H: Handler<T, ()>,
    T: 'static,
{
    let filter = match method {
        "GET" => MethodFilter::GET,
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        _ => MethodFilter::DELETE,
    };
    Entry {
        spec: RouteSpec {
            method,
            api,
            path,
            params,
            scopes: ScopeReq { current, beta },
            newer_than_spec: false,
        },
        handler: on(filter, h),
    }
}

use Api::{V1, V2};

fn entries() -> Vec<Entry> {
    vec![
        // Users
        ep("GET", V1, "/user/current", &["expand"], &["read:confluence-user"], &["read:content-details:confluence"], users::current),
        ep("POST", V2, "/users-bulk", &[], &["read:user:confluence"], &[], users::bulk),
        ep("POST", V2, "/user/access/check-access-by-email", &[], &["read:configuration:confluence"], &[], users::check_access),
        ep("POST", V2, "/user/access/invite-by-email", &[], &["read:configuration:confluence"], &[], users::invite),
    ]
}

/// Every route the sandbox serves under `/ex/confluence/{cloudid}`.
pub fn served_routes() -> Vec<RouteSpec> {
    entries().into_iter().map(|e| e.spec).collect()
}

/// axum path: the cloud id, then spec parameter names replaced by positional ones (the spec
/// uses different names at the same position, e.g. `{id}` and `{page-id}`, which a router cannot mix).
fn axum_path(spec: &RouteSpec) -> String {
    let mut out = format!("/ex/confluence/{{cloudid}}{}", spec.api.prefix());
    let mut n = 0;
    for seg in spec.path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        if seg.starts_with('{') {
            out.push_str(&format!("{{p{n}}}"));
            n += 1;
        } else {
            out.push_str(seg);
        }
    }
    out
}

pub fn api_router(shared: Shared) -> Router {
    entries().into_iter().fold(Router::new(), |r, e| {
        let path = axum_path(&e.spec);
        let layer = from_fn_with_state((shared.clone(), Arc::new(e.spec)), guard);
        r.route(&path, e.handler.layer(layer))
    })
}
