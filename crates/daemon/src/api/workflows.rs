//! Workflows: list them, or show one, with their trigger, next fires (cron) or where each
//! polled connection stands (poll), and last run; pause and resume one. The paused flag is
//! kept in the trigger store, so a paused workflow stays paused after a restart.

use std::sync::Arc;
use weft_action::text::echo;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use weft_engine::workflow::{CompiledWorkflow, PollTargets, TriggerPlan, WebhookPlan};

use super::body::{ApiPath, ApiQuery, JsonBody, Nothing};
use super::{ApiError, ApiState};
use crate::scheduler::CRON_TRIGGER;
use crate::workflows::WorkflowEntry;

/// Next fires shown per cron trigger.
const NEXT_FIRES: usize = 3;

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/api/v1/workflows", get(list))
        .route("/api/v1/workflows/{name}", get(show))
        .route("/api/v1/workflows/{name}/pause", post(pause))
        .route("/api/v1/workflows/{name}/resume", post(resume))
}

async fn list(
    State(state): State<Arc<ApiState>>,
    ApiQuery(Nothing {}): ApiQuery<Nothing>,
) -> Result<Json<Value>, ApiError> {
    let now = chrono::Utc::now();
    let mut workflows = Vec::new();
    for entry in state.dispatcher.workflows().all() {
        workflows.push(shown(&state, &entry, now).await?);
    }
    Ok(Json(json!({ "workflows": workflows })))
}

async fn show(
    State(state): State<Arc<ApiState>>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(Nothing {}): ApiQuery<Nothing>,
) -> Result<Json<Value>, ApiError> {
    let entry = loaded(&state, &name)?;
    Ok(Json(shown(&state, &entry, chrono::Utc::now()).await?))
}

/// One workflow as the API shows it.
async fn shown(
    state: &ApiState,
    entry: &WorkflowEntry,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Value, ApiError> {
    let mut shown = json!({
        "name": entry.workflow.name,
        "description": entry.workflow.description,
        "trigger": trigger(&entry.workflow, now),
        "paused": entry.paused(),
        "last_run": last_run(state, entry).await?,
    });
    if let TriggerPlan::Poll(_) = entry.workflow.trigger {
        shown["polls"] = json!(state.polls.of_workflow(&entry.workflow.name));
    }
    if let Some(concurrency) = &entry.workflow.concurrency {
        shown["concurrency"] = json!({
            "limit": concurrency.limit.get(),
            "policy": concurrency.policy,
        });
    }
    Ok(shown)
}

/// The workflow of that name, or the API's answer that there is none.
fn loaded(state: &ApiState, name: &str) -> Result<Arc<WorkflowEntry>, ApiError> {
    state.dispatcher.workflows().get(name).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "unknown_workflow",
            format!(
                "no workflow named `{}` is loaded by this daemon",
                echo(name)
            ),
        )
    })
}

fn trigger(workflow: &CompiledWorkflow, now: chrono::DateTime<chrono::Utc>) -> Value {
    match &workflow.trigger {
        TriggerPlan::Manual => json!({ "kind": "manual" }),
        TriggerPlan::Cron(plan) => {
            let next: Vec<_> = plan
                .schedule
                .next_fires(plan.timezone, now, NEXT_FIRES)
                .into_iter()
                .map(|fire| fire.at)
                .collect();
            json!({
                "kind": "cron",
                "schedule": plan.expression,
                "timezone": plan.timezone.name(),
                "next_fires": next,
            })
        }
        TriggerPlan::Poll(plan) => json!({
            "kind": "poll",
            "source": plan.source,
            "interval_seconds": plan.interval.as_secs(),
            "connections": match &plan.connections {
                PollTargets::Named(names) => json!(names),
                PollTargets::All => json!("all"),
            },
        }),
        TriggerPlan::Webhook(plan) => json!({
            "kind": "webhook",
            "path": format!("/hooks/{}", workflow.name),
            "check": match plan {
                WebhookPlan::Signature { .. } => "signature",
                WebhookPlan::Bearer { .. } => "bearer",
            },
        }),
    }
}

/// The latest run this daemon submitted, else (after a restart) the run of the last
/// recorded cron fire; `null` when neither is known.
async fn last_run(state: &ApiState, entry: &WorkflowEntry) -> Result<Value, ApiError> {
    let name = &entry.workflow.name;
    let mut id = state.dispatcher.last_run(name);
    if id.is_none() && matches!(entry.workflow.trigger, TriggerPlan::Cron(_)) {
        let fire = state
            .triggers
            .last_fire(name, CRON_TRIGGER)
            .await
            .map_err(|e| ApiError::store(&e))?;
        id = fire.and_then(|fire| fire.run_id);
    }
    let Some(id) = id else {
        return Ok(Value::Null);
    };
    let store = &state.dispatcher.engine().store;
    let run = store.get_run(&id).await.map_err(|e| ApiError::store(&e))?;
    Ok(match run.filter(|run| run.id == id) {
        Some(run) => json!({
            "run_id": run.id,
            "status": run.status.as_str(),
            "started_at": run.started_at,
            "finished_at": run.finished_at,
        }),
        // Not recorded yet: it waits at the gate, or is starting.
        None if state.dispatcher.is_waiting(&id) => json!({ "run_id": id, "status": "queued" }),
        None if state.dispatcher.is_going(&id) => json!({ "run_id": id, "status": "running" }),
        None => json!({ "run_id": id, "status": null }),
    })
}

async fn pause(
    State(state): State<Arc<ApiState>>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(Nothing {}): ApiQuery<Nothing>,
    JsonBody(Nothing {}): JsonBody<Nothing>,
) -> Result<Json<Value>, ApiError> {
    set_paused(&state, &name, true).await
}

async fn resume(
    State(state): State<Arc<ApiState>>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(Nothing {}): ApiQuery<Nothing>,
    JsonBody(Nothing {}): JsonBody<Nothing>,
) -> Result<Json<Value>, ApiError> {
    set_paused(&state, &name, false).await
}

/// Stored and synced first: a flag answered is a flag that survives a crash.
async fn set_paused(state: &ApiState, name: &str, paused: bool) -> Result<Json<Value>, ApiError> {
    loaded(state, name)?;
    state
        .triggers
        .set_paused(name, paused)
        .await
        .map_err(|e| ApiError::store(&e))?;
    // The trigger store is the run history's store: its flush syncs both.
    state
        .dispatcher
        .engine()
        .store
        .flush()
        .await
        .map_err(|e| ApiError::store(&e))?;
    state.dispatcher.workflows().set_paused(name, paused);
    Ok(Json(json!({ "name": name, "paused": paused })))
}
