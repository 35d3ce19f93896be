//! `GET /readyz` (open, for load balancers and service managers) and `GET /metrics` (behind
//! the API token when there is one: workflow and connection names are in it).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::{ApiError, ApiState};
use crate::metrics;

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new().route("/readyz", get(readyz))
}

pub(super) fn guarded_routes() -> Router<Arc<ApiState>> {
    Router::new().route("/metrics", get(metrics))
}

/// Ready once the workflows are loaded and their triggers run; not while stopping.
async fn readyz(State(state): State<Arc<ApiState>>) -> Result<impl IntoResponse, ApiError> {
    if state.dispatcher.is_stopping() || !state.ready.load(Ordering::Acquire) {
        let starting = !state.dispatcher.is_stopping();
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            if starting { "starting" } else { "stopping" },
            if starting {
                "the daemon is starting its triggers"
            } else {
                "the daemon is stopping: it takes no new runs"
            },
        ));
    }
    Ok(Json(json!({
        "status": "ready",
        "workflows": state.dispatcher.workflows().len(),
        "runs_going": state.dispatcher.runs_going(),
    })))
}

async fn metrics(State(state): State<Arc<ApiState>>) -> impl IntoResponse {
    let paused = state
        .polls
        .paused_by_connection()
        .into_iter()
        .map(|(connection, workflows)| (connection, workflows.len()));
    let text = state
        .dispatcher
        .metrics()
        .encode(state.dispatcher.waiting(), paused);
    ([(CONTENT_TYPE, metrics::CONTENT_TYPE)], text)
}
