//! `GET /api/v1/connections`: the data folder's connections, their health, granted scopes and
//! the poll triggers each one paused until it is reconnected.
//! Never a token: [`ConnectionSummary`] has no field that could hold one. The process that
//! opens the connection store (the CLI) gives a [`ConnectionList`]; this crate does not open it.

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::body::{ApiQuery, Nothing};
use super::connection_admin::ConnectionAdmin;
use super::{ApiError, ApiState};

/// Why the connections could not be listed (the connection store's error, kept as the source).
pub type ConnectionListError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The connections of a data folder, as the API shows them (and manages them: see
/// [`ConnectionAdmin`]).
#[async_trait]
pub trait ConnectionList: ConnectionAdmin + Send + Sync {
    /// Every connection, by name.
    async fn list(&self) -> Result<Vec<ConnectionSummary>, ConnectionListError>;
}

/// A connection's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    Healthy,
    /// Refreshing its token fails for now; weft tries again.
    RefreshFailing,
    /// Only a new consent (`weft connect`) helps; its triggers are paused.
    NeedsReconnect,
}

/// One connection, without its tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionSummary {
    pub name: String,
    pub provider: String,
    pub site_url: String,
    pub site_name: String,
    pub status: ConnectionState,
    /// What went wrong, when it is not healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Since when it is not healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    pub granted_scopes: Vec<String>,
}

/// A fixed list: tests and benchmarks.
#[async_trait]
impl ConnectionList for Vec<ConnectionSummary> {
    async fn list(&self) -> Result<Vec<ConnectionSummary>, ConnectionListError> {
        Ok(self.clone())
    }
}

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new().route("/api/v1/connections", get(list))
}

async fn list(
    State(state): State<Arc<ApiState>>,
    ApiQuery(Nothing {}): ApiQuery<Nothing>,
) -> Result<Json<Value>, ApiError> {
    let connections = state.connections.list().await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "connections_unavailable",
            weft_action::http_errors::describe_error_chain(e.as_ref()),
        )
    })?;
    let mut paused = state.polls.paused_by_connection();
    let connections: Vec<Value> = connections
        .into_iter()
        .map(|connection| {
            let workflows = paused.remove(&connection.name).unwrap_or_default();
            let mut shown = json!(connection);
            shown["paused_triggers"] = json!(workflows);
            shown
        })
        .collect();
    Ok(Json(json!({ "connections": connections })))
}
