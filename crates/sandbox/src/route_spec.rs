//! What the gateway knows of one served endpoint: its API, path, the query parameters its
//! handler reads and the scopes it needs. The route table (`routes`) lists them; the gateway
//! (`guard`) checks requests against them.

use crate::scopes::ScopeReq;

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
        format!(
            "/ex/confluence/{{cloudid}}{}{}",
            self.api.prefix(),
            self.path
        )
    }
}
