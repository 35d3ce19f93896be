//! `POST /hooks/{workflow}`: a webhook starts a run of a workflow with a `webhook` trigger.
//!
//! The request is checked before anything is recorded: the workflow exists, has a webhook
//! trigger and is not paused; the body is at most [`MAX_BODY_BYTES`](super::MAX_BODY_BYTES); it is signed
//! (`X-Weft-Signature: sha256=<hex HMAC-SHA256 of the raw body>`) or carries the bearer token,
//! both compared in constant time with the daemon's secret; it is JSON. Then an
//! `Idempotency-Key` is recorded with the run's id and synced (group commit) before the run is
//! submitted, so a repeat answers with the first run, also after a restart.

use std::collections::HashMap;
use std::sync::Arc;
use weft_action::text::echo;

use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{json, Map, Value};
use subtle::ConstantTimeEq;
use weft_engine::exec::new_run_id;
use weft_engine::store::RequestKeyRecord;
use weft_engine::workflow::{TriggerPlan, WebhookPlan};

use super::body::body_error;
use super::{access, ApiError, ApiState, MAX_BODY_BYTES};
use crate::dispatch::{Submission, SubmitError, Submitted, TriggerKind};
use crate::signature;

pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// Longest `Idempotency-Key` taken (a UUID is 36).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 200;

/// What the webhook endpoint needs besides the dispatcher and the trigger store (where
/// `Idempotency-Key`s are recorded).
pub struct Hooks {
    /// The daemon's `secrets.*`, which hold the webhook secrets.
    pub secrets: Arc<HashMap<String, String>>,
}

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/hooks/{workflow}", post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

async fn receive(
    State(state): State<Arc<ApiState>>,
    Path(workflow): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // Callers here are not authenticated yet: the answers before the signature is checked
    // tell them nothing about the daemon's workflows or secrets (the log tells the operator).
    let no_webhook = || ApiError::not_found(format!("no webhook at /hooks/{}", echo(&workflow)));
    let entry = state
        .dispatcher
        .workflows()
        .get(&workflow)
        .ok_or_else(no_webhook)?;
    let TriggerPlan::Webhook(plan) = &entry.workflow.trigger else {
        return Err(no_webhook());
    };
    let hooks = &state.hooks;
    let secret = hooks.secrets.get(plan.secret()).ok_or_else(|| {
        tracing::error!(
            workflow = %workflow,
            "a webhook request is refused: the daemon has no secret `{}` to check it with; set WEFT_SECRET_{} and restart it",
            plan.secret(),
            plan.secret().to_ascii_uppercase()
        );
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_configured",
            "this webhook cannot check requests yet: its secret is not set on the daemon",
        )
    })?;
    let body = body.map_err(body_error)?;
    authenticate(plan, secret.as_bytes(), &headers, &body)?;
    if entry.paused() {
        return Err(paused(&workflow));
    }
    let body: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            format!("the body is not JSON: {e}"),
        )
    })?;
    let key = idempotency_key(&headers)?;
    let trigger = json!({
        "kind": TriggerKind::Webhook.as_str(),
        "body": body,
        "headers": exposed_headers(&headers),
        "idempotency_key": key,
        "received_at": Utc::now().to_rfc3339(),
    });
    let run_id = new_run_id();
    if let Some(key) = &key {
        // Stored as its SHA-256: a sender may put anything in the header, a secret too.
        let record = RequestKeyRecord {
            workflow: workflow.clone(),
            key: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes())),
            run_id: run_id.clone(),
            recorded_at: Utc::now(),
        };
        let first = state
            .triggers
            .record_request_key(&record)
            .await
            .map_err(|e| store_failed(e.with_causes()))?;
        // The first request's record is on disk before its answer; a repeat waits for the
        // same, in case it came while the first was syncing.
        // The store's group commit makes requests that come together share one sync.
        state
            .dispatcher
            .engine()
            .store
            .flush()
            .await
            .map_err(|e| store_failed(e.with_causes()))?;
        if let Some(first) = first {
            let answer = json!({ "run_id": first.run_id, "workflow": workflow, "repeat": true });
            return Ok((StatusCode::OK, Json(answer)).into_response());
        }
    }
    let submission = Submission {
        run_id: Some(run_id),
        // The body may repeat the secret; no step needs to read it for it to be masked.
        masked: vec![secret.to_string()],
        ..Submission::new(TriggerKind::Webhook, trigger)
    };
    let submitted = match state.dispatcher.submit(&workflow, submission) {
        Ok(Submitted::Started { run_id }) => Ok((run_id, "started")),
        Ok(Submitted::Queued { run_id, .. }) => Ok((run_id, "queued")),
        Ok(Submitted::Dropped { reason, .. }) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "dropped",
            format!("the run is not started: {}", reason.describe()),
        )),
        Err(SubmitError::UnknownWorkflow(_)) => Err(ApiError::not_found(format!(
            "no workflow named `{workflow}`"
        ))),
        Err(SubmitError::Paused(_)) => Err(paused(&workflow)),
        Err(SubmitError::Stopping) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the daemon is stopping: send the request again later",
        )),
    };
    let (run_id, status) = match submitted {
        Ok(started) => started,
        Err(refused) => {
            if let Some(key) = &key {
                // Nothing started: a repeat of this request may start the run.
                if let Err(e) = state.triggers.forget_request_key(&workflow, key).await {
                    tracing::error!(
                        workflow = %workflow,
                        "the Idempotency-Key of a refused request could not be forgotten: {}",
                        e.with_causes()
                    );
                }
            }
            return Err(refused);
        }
    };
    let answer = json!({ "run_id": run_id, "workflow": workflow, "status": status });
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

fn paused(workflow: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "paused",
        format!(
            "workflow `{}` is paused: resume it to take requests",
            echo(workflow)
        ),
    )
}

fn store_failed(causes: String) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "store_failed",
        format!("the request could not be recorded: {causes}"),
    )
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

/// The signature or the bearer token, as the workflow's trigger asks.
fn authenticate(
    plan: &WebhookPlan,
    secret: &[u8],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    match plan {
        WebhookPlan::Signature { .. } => {
            let header = headers.get(signature::HEADER).ok_or_else(|| {
                unauthorized("the request is not signed: send X-Weft-Signature: sha256=<hex of HMAC-SHA256(secret, body)>")
            })?;
            signature::verify(secret, body, header.as_bytes())
                .map_err(|e| unauthorized(&e.to_string()))
        }
        WebhookPlan::Bearer { .. } => {
            let token = access::bearer_token(headers)
                .ok_or_else(|| unauthorized("send Authorization: Bearer <token>"))?;
            if bool::from(token.ct_eq(secret)) {
                Ok(())
            } else {
                Err(unauthorized("the bearer token is not the right one"))
            }
        }
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(IDEMPOTENCY_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    // Two keys (a proxy adding its own): which delivery this is cannot be told.
    if values.next().is_some() {
        return Err(ApiError::bad_request(
            "the request has more than one Idempotency-Key header: send one",
        ));
    }
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY_LEN)
        .filter(|k| k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"
            ))
        })?;
    Ok(Some(key.to_string()))
}

/// Header name parts that may carry a credential: such headers are never exposed.
const HIDDEN_NAME_PARTS: &[&str] = &[
    "signature",
    "token",
    "secret",
    "key",
    "auth",
    "cookie",
    "password",
];

/// `trigger.headers`: `content-type`, `user-agent` and the `x-*` headers, except any whose
/// name suggests a credential (the signature among them). Lowercase names; a repeated header
/// keeps its first value.
fn exposed_headers(headers: &HeaderMap) -> Value {
    let mut out = Map::new();
    for (name, value) in headers {
        let name = name.as_str();
        let wanted = name == "content-type" || name == "user-agent" || name.starts_with("x-");
        if !wanted || HIDDEN_NAME_PARTS.iter().any(|part| name.contains(part)) {
            continue;
        }
        if let Ok(value) = value.to_str() {
            out.entry(name.to_string())
                .or_insert_with(|| Value::String(value.to_string()));
        }
    }
    Value::Object(out)
}
