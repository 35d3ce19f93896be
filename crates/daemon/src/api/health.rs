//! `GET /healthz`: the process answers.

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::ApiState;

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
