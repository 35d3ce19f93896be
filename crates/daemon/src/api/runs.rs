//! Runs: start one (`POST /api/v1/workflows/{name}/runs`), list them with filters and a
//! cursor, read one with its attempts, cancel one, replay one, retry a failed one from its
//! failed step. What is shown comes from the
//! run history, which holds values with secrets already redacted.

use std::sync::Arc;
use std::time::Duration;
use weft_action::text::echo;

use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;
use weft_engine::exec::{resolve_inputs, ResumeRequest};
use weft_engine::store::{RunRecord, RunStatus};

use super::body::{self, ApiPath, ApiQuery, JsonBody, Nothing};
use super::{ApiError, ApiState};
use crate::dispatch::{Cancelling, RunEnded, Submission, SubmitError, Submitted, TriggerKind};
use crate::gate::DropReason;
use crate::retry::{self, Retried, RetryError};

/// The longest `?wait=` a request may hold its connection for.
const MAX_WAIT: Duration = Duration::from_secs(300);
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 500;
/// Runs read from the history for one page of a filtered listing at most: a filter that
/// matches little answers a short page (with a cursor) instead of reading the whole history.
const SCAN_BUDGET: usize = 5000;
const SCAN_BATCH: usize = 250;
const DEFAULT_ATTEMPTS: usize = 100;
const MAX_ATTEMPTS: usize = 1000;

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/api/v1/workflows/{name}/runs", post(start))
        .route("/api/v1/runs", get(list))
        .route("/api/v1/runs/{id}", get(show))
        .route("/api/v1/runs/{id}/cancel", post(cancel))
        .route("/api/v1/runs/{id}/replay", post(replay))
        .route("/api/v1/runs/{id}/retry", post(retry))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    /// An object of input names to values; checked here so that another JSON value gets a
    /// message that says so.
    #[serde(default)]
    inputs: Option<Value>,
}

impl StartBody {
    fn inputs(self) -> Result<Map<String, Value>, ApiError> {
        match self.inputs {
            None => Ok(Map::new()),
            Some(Value::Object(inputs)) => Ok(inputs),
            Some(other) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_json",
                format!(
                    "`inputs` must be a JSON object of input names to values, not {}",
                    body::json_kind(&other)
                ),
            )),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitQuery {
    /// How long to wait for the run's end before answering, e.g. `30s`.
    wait: Option<String>,
}

impl WaitQuery {
    fn duration(&self) -> Result<Option<Duration>, ApiError> {
        self.wait
            .as_deref()
            .map(|text| body::duration("wait", text, MAX_WAIT))
            .transpose()
    }
}

async fn start(
    State(state): State<Arc<ApiState>>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(query): ApiQuery<WaitQuery>,
    JsonBody(body): JsonBody<StartBody>,
) -> Result<Response, ApiError> {
    let wait = query.duration()?;
    let submission = Submission {
        inputs: body.inputs()?,
        ..Submission::new(
            TriggerKind::Api,
            json!({ "kind": TriggerKind::Api.as_str() }),
        )
    };
    submit(&state, &name, submission, wait, None).await
}

async fn replay(
    State(state): State<Arc<ApiState>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<WaitQuery>,
    JsonBody(Nothing {}): JsonBody<Nothing>,
) -> Result<Response, ApiError> {
    let id = body::run_id(&id)?;
    let wait = query.duration()?;
    let run = stored_run(&state, &id).await?.ok_or_else(|| no_run(&id))?;
    if run.truncated.iter().any(|t| t.field == "inputs") {
        return Err(ApiError::conflict(
            "inputs_not_recorded",
            format!("run {id}'s inputs were too large to record whole: it cannot be replayed"),
        ));
    }
    let Value::Object(inputs) = run.inputs else {
        return Err(ApiError::conflict(
            "inputs_not_recorded",
            format!("run {id} has no recorded inputs object: it cannot be replayed"),
        ));
    };
    // A masked secret would be replayed as the mask, not the secret.
    if inputs.values().any(retry::holds_redacted) {
        return Err(ApiError::conflict(
            "inputs_redacted",
            format!(
                "run {id}'s recorded inputs hold redacted secrets: start a new run with the inputs instead"
            ),
        ));
    }
    let submission = Submission {
        inputs,
        ..Submission::new(TriggerKind::Api, run.trigger)
    };
    submit(&state, &run.workflow, submission, wait, Some(&id)).await
}

/// Submits a run of `workflow` and answers: `201` once it started or waits at its gate, the
/// outcome (`200`) when it ends within `wait`, else `202`.
async fn submit(
    state: &ApiState,
    workflow: &str,
    submission: Submission,
    wait: Option<Duration>,
    replay_of: Option<&str>,
) -> Result<Response, ApiError> {
    let dispatcher = &state.dispatcher;
    let entry = dispatcher
        .workflows()
        .get(workflow)
        .ok_or_else(|| submit_error(SubmitError::UnknownWorkflow(workflow.to_string())))?;
    // Checked here so that bad inputs are a 400 and leave no failed run in the history.
    if let Err(problems) = resolve_inputs(&entry.workflow.inputs, &submission.inputs) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_inputs",
            problems.join("; "),
        ));
    }
    // Subscribed before submitting: a run that ends at once is not missed.
    let ended = wait.map(|wait| (wait, dispatcher.subscribe()));
    let submitted = dispatcher
        .submit(workflow, submission)
        .map_err(submit_error)?;
    let status = match &submitted {
        Submitted::Started { .. } => "running",
        Submitted::Queued { .. } => "queued",
        Submitted::Dropped { reason, .. } => return Err(not_started(*reason)),
    };
    let of = replay_of.map(|id| ("replay_of", id));
    Ok(answer(state, workflow, submitted.run_id(), status, ended, of).await)
}

/// `POST /api/v1/runs/{id}/retry`: a new run of a failed one, from its failed step.
async fn retry(
    State(state): State<Arc<ApiState>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<WaitQuery>,
    JsonBody(Nothing {}): JsonBody<Nothing>,
) -> Result<Response, ApiError> {
    let id = body::run_id(&id)?;
    let wait = query.duration()?;
    let failed = stored_run(&state, &id).await?.ok_or_else(|| no_run(&id))?;
    let dispatcher = &state.dispatcher;
    if dispatcher.is_stopping() {
        return Err(submit_error(SubmitError::Stopping));
    }
    let entry = dispatcher
        .workflows()
        .get(&failed.workflow)
        .ok_or_else(|| submit_error(SubmitError::UnknownWorkflow(failed.workflow.clone())))?;
    if entry.paused() {
        return Err(submit_error(SubmitError::Paused(failed.workflow.clone())));
    }
    let store = dispatcher.engine().store.as_ref();
    let retried = state
        .retries
        .retry_once(store, state.triggers.as_ref(), &entry.workflow, &failed)
        .await
        .map_err(|e| match e {
            RetryError::NotFailed { .. } => ApiError::conflict("not_failed", e.to_string()),
            RetryError::WorkflowChanged { .. } => {
                ApiError::conflict("workflow_changed", format!("{e}; replay it instead"))
            }
            RetryError::InputsNotRecorded { .. } => {
                ApiError::conflict("inputs_not_recorded", e.to_string())
            }
            RetryError::InputsRedacted { .. } => ApiError::conflict(
                "inputs_redacted",
                format!("{e}; start a new run with the inputs instead"),
            ),
            RetryError::Store(e) => ApiError::store(&e),
        })?;
    let run_id = match retried {
        Retried::New(run_id) => run_id,
        Retried::Existing(run_id) => return repeated_retry(&state, &id, &run_id).await,
    };
    let ended = wait.map(|wait| (wait, dispatcher.subscribe()));
    let request = ResumeRequest::new(run_id.clone());
    // Through the gate as any new run. Recorded already: if the daemon stops before it
    // starts, the next start resumes it; if its gate drops it, it is closed as cancelled.
    let submitted = dispatcher
        .submit_recorded(&failed.workflow, TriggerKind::Api, request)
        .map_err(submit_error)?;
    let status = match submitted {
        Submitted::Started { .. } => "running",
        Submitted::Queued { .. } => "queued",
        Submitted::Dropped { reason, .. } => {
            dispatcher
                .close_dropped(&run_id, reason)
                .await
                .map_err(|e| ApiError::store(&e))?;
            return Err(not_started(reason));
        }
    };
    let of = Some(("retry_of", id.as_str()));
    Ok(answer(&state, &failed.workflow, &run_id, status, ended, of).await)
}

/// The answer to a second request to retry `failed`: `200` with the retry made first, as it
/// stands now (`repeat: true`).
async fn repeated_retry(
    state: &ApiState,
    failed: &str,
    run_id: &str,
) -> Result<Response, ApiError> {
    let retry = stored_run(state, run_id)
        .await?
        .ok_or_else(|| no_run(run_id))?;
    let mut answer = summary(&retry);
    let dispatcher = &state.dispatcher;
    // Recorded `interrupted` until it starts: what it is doing is the dispatcher's to say.
    if dispatcher.is_going(run_id) {
        answer["status"] = json!("running");
    } else if dispatcher.is_waiting(run_id) {
        answer["status"] = json!("queued");
    }
    answer["retry_of"] = json!(failed);
    answer["repeat"] = json!(true);
    let location = format!("/api/v1/runs/{run_id}");
    Ok((StatusCode::OK, [(LOCATION, location)], Json(answer)).into_response())
}

/// The answer to a run started: `201`, or with a wait its outcome (`200`) when it ends in
/// time, else `202`. `of` names the run it repeats (`replay_of`, `retry_of`).
async fn answer(
    state: &ApiState,
    workflow: &str,
    run_id: &str,
    status: &str,
    ended: Option<(Duration, Receiver<RunEnded>)>,
    of: Option<(&str, &str)>,
) -> Response {
    let mut answer = json!({ "run_id": run_id, "workflow": workflow, "status": status });
    if let Some((field, original)) = of {
        answer[field] = json!(original);
    }
    let code = match ended {
        Some((wait, ended)) => {
            match tokio::time::timeout(wait, ended_run(state, ended, run_id)).await {
                Ok(Some(run)) => {
                    let mut outcome = summary(&run);
                    outcome["outputs"] = run.outputs.unwrap_or(Value::Null);
                    answer = merge(answer, outcome);
                    StatusCode::OK
                }
                Ok(None) | Err(_) => StatusCode::ACCEPTED,
            }
        }
        None => StatusCode::CREATED,
    };
    let location = format!("/api/v1/runs/{run_id}");
    (code, [(LOCATION, location)], Json(answer)).into_response()
}

fn merge(mut into: Value, from: Value) -> Value {
    if let (Value::Object(into), Value::Object(from)) = (&mut into, from) {
        into.extend(from);
    }
    into
}

/// The record of run `run_id` once it ended; `None` if that cannot be known (the daemon
/// stops, or the history cannot be read).
async fn ended_run(
    state: &ApiState,
    mut ended: Receiver<RunEnded>,
    run_id: &str,
) -> Option<RunRecord> {
    loop {
        match ended.recv().await {
            // A waiting run parked until its wake-up: it ends later.
            Ok(run) if run.run_id == run_id && run.status.is_finished() => break,
            Ok(_) => {}
            // Announcements were missed: the history says whether this one ended.
            Err(RecvError::Lagged(_)) => {
                let stored = stored_run(state, run_id).await.ok().flatten();
                if stored.is_some_and(|run| run.status.is_finished()) {
                    break;
                }
            }
            Err(RecvError::Closed) => return None,
        }
    }
    stored_run(state, run_id).await.ok().flatten()
}

fn not_started(reason: DropReason) -> ApiError {
    ApiError::conflict(
        "not_started",
        format!("the run was not started: {}", reason.describe()),
    )
}

fn submit_error(error: SubmitError) -> ApiError {
    let message = error.to_string();
    match error {
        SubmitError::UnknownWorkflow(_) => ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_workflow",
            format!("{message} is loaded by this daemon"),
        ),
        SubmitError::Paused(name) => ApiError::conflict(
            "paused",
            format!(
                "{message}: resume it with POST /api/v1/workflows/{}/resume",
                echo(&name)
            ),
        ),
        SubmitError::Stopping => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "stopping", message)
        }
    }
}

async fn stored_run(state: &ApiState, id: &str) -> Result<Option<RunRecord>, ApiError> {
    let store = &state.dispatcher.engine().store;
    let run = store.get_run(id).await.map_err(|e| ApiError::store(&e))?;
    // `get_run` also takes a unique prefix; here only the whole id names a run.
    Ok(run.filter(|run| run.id == id))
}

fn no_run(id: &str) -> ApiError {
    ApiError::not_found(format!("no run {id} in the run history"))
}

/// A run as listed: what it is and how it went, without inputs and outputs.
fn summary(run: &RunRecord) -> Value {
    json!({
        "run_id": run.id,
        "workflow": run.workflow,
        "status": run.status.as_str(),
        "trigger": run.trigger.get("kind").cloned().unwrap_or(Value::Null),
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "error": run.error,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    workflow: Option<String>,
    status: Option<String>,
    /// RFC 3339: runs asked for at or after this instant.
    since: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

struct Filter {
    workflow: Option<String>,
    status: Option<RunStatus>,
    since: Option<DateTime<Utc>>,
}

impl Filter {
    fn matches(&self, run: &RunRecord) -> bool {
        self.workflow.as_ref().is_none_or(|w| *w == run.workflow)
            && self.status.is_none_or(|s| s == run.status)
    }

    /// Runs are listed newest first: once one is older than `since`, so is every later one.
    fn is_past(&self, run: &RunRecord) -> bool {
        self.since.is_some_and(|since| asked_at(run) < since)
    }
}

/// When the run was asked for: the time in its id (a ULID), which orders the history; a run
/// that waited at its gate started later.
fn asked_at(run: &RunRecord) -> DateTime<Utc> {
    ulid::Ulid::from_string(&run.id)
        .ok()
        .map(|id| DateTime::<Utc>::from(id.datetime()))
        .unwrap_or(run.started_at)
}

async fn list(
    State(state): State<Arc<ApiState>>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!("limit: from 1 to {MAX_PAGE}"),
        ));
    }
    let status = query
        .status
        .map(|text| {
            serde_json::from_value::<RunStatus>(Value::String(text.clone())).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_query",
                    format!("status: `{}` is not a run status (running, waiting, succeeded, failed, cancelled, interrupted)", echo(&text)),
                )
            })
        })
        .transpose()?;
    let since = query
        .since
        .map(|text| {
            DateTime::parse_from_rfc3339(&text)
                .map(|at| at.with_timezone(&Utc))
                .map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "bad_query",
                        format!("since: {e} (an RFC 3339 instant such as 2026-03-29T01:00:00Z)"),
                    )
                })
        })
        .transpose()?;
    let cursor = query
        .cursor
        .map(|text| {
            body::run_id(&text).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_cursor",
                    "cursor: pass `next_cursor` of the previous page as it was given",
                )
            })
        })
        .transpose()?;
    let filter = Filter {
        workflow: query.workflow,
        status,
        since,
    };
    let (runs, next_cursor) = scan(&state, &filter, cursor, limit).await?;
    Ok(Json(json!({ "runs": runs, "next_cursor": next_cursor })))
}

/// One page of matching runs, newest first, and where the next page starts (`None` when the
/// history has no more).
async fn scan(
    state: &ApiState,
    filter: &Filter,
    mut before: Option<String>,
    limit: usize,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let store = &state.dispatcher.engine().store;
    let mut runs = Vec::new();
    let mut scanned = 0;
    while runs.len() < limit && scanned < SCAN_BUDGET {
        let batch = store
            .list_runs_before(before.as_deref(), SCAN_BATCH)
            .await
            .map_err(|e| ApiError::store(&e))?;
        let last_batch = batch.len() < SCAN_BATCH;
        for run in batch {
            if filter.is_past(&run) {
                return Ok((runs, None));
            }
            scanned += 1;
            before = Some(run.id.clone());
            if filter.matches(&run) {
                runs.push(summary(&run));
                if runs.len() == limit {
                    return Ok((runs, before));
                }
            }
        }
        if last_batch {
            return Ok((runs, None));
        }
    }
    Ok((runs, before))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShowQuery {
    attempt_offset: Option<usize>,
    attempt_limit: Option<usize>,
}

async fn show(
    State(state): State<Arc<ApiState>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ShowQuery>,
) -> Result<Json<Value>, ApiError> {
    let id = body::run_id(&id)?;
    let limit = query.attempt_limit.unwrap_or(DEFAULT_ATTEMPTS);
    if limit == 0 || limit > MAX_ATTEMPTS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!("attempt_limit: from 1 to {MAX_ATTEMPTS}"),
        ));
    }
    let offset = query.attempt_offset.unwrap_or(0);
    let Some(run) = stored_run(&state, &id).await? else {
        if state.dispatcher.is_waiting(&id) {
            return Ok(Json(json!({
                "run": { "id": id, "status": "queued" },
                "attempts": [],
                "attempts_total": 0,
            })));
        }
        return Err(no_run(&id));
    };
    let page = state
        .dispatcher
        .engine()
        .store
        .attempts_page(&id, None, offset, limit)
        .await
        .map_err(|e| ApiError::store(&e))?;
    Ok(Json(json!({
        "run": run,
        "attempts": page.attempts,
        "attempts_total": page.total,
    })))
}

async fn cancel(
    State(state): State<Arc<ApiState>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(Nothing {}): ApiQuery<Nothing>,
    JsonBody(Nothing {}): JsonBody<Nothing>,
) -> Result<Response, ApiError> {
    let id = body::run_id(&id)?;
    let cancelling = state
        .dispatcher
        .cancel_run(&id)
        .await
        .map_err(|e| ApiError::store(&e))?;
    match cancelling {
        Cancelling::Asked => {
            let answer = json!({ "run_id": id, "status": "cancelling" });
            return Ok((StatusCode::ACCEPTED, Json(answer)).into_response());
        }
        Cancelling::Cancelled => {
            let answer = json!({ "run_id": id, "status": "cancelled" });
            return Ok((StatusCode::OK, Json(answer)).into_response());
        }
        Cancelling::NotGoing => {}
    }
    match stored_run(&state, &id).await? {
        Some(run) => Err(ApiError::conflict(
            "not_going",
            format!(
                "run {id} is {} and not going in this daemon: there is nothing to cancel",
                run.status.as_str()
            ),
        )),
        None => Err(no_run(&id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Review: the refusal told to `POST /api/v1/workflows/{name}/resume`, the placeholder
    /// left in, instead of the workflow's own path.
    #[test]
    fn a_paused_refusal_names_the_resume_path_of_its_workflow() {
        let refused = submit_error(SubmitError::Paused("nightly".into()));
        assert_eq!((refused.status.as_u16(), refused.code), (409, "paused"));
        assert!(
            refused
                .message
                .ends_with("resume it with POST /api/v1/workflows/nightly/resume"),
            "{}",
            refused.message
        );
    }
}
