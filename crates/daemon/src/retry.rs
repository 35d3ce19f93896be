//! Retrying a failed run from its failed step: a new run that the engine's resume continues.
//!
//! The new run's history starts as a copy of what the failed run finished: every attempt that
//! succeeded of the workflow's steps (loop items' steps included), under the new run's id and
//! numbered in order. It is recorded `interrupted`, so `Engine::resume` takes it from there:
//! the copied steps are not run again (their outputs are read back), the failed step and the
//! steps after it run. Attempts of handlers (`on_error` steps, `on_failure`, `finally`) are
//! not copied: they ran because of the failure, and run again only if the retry needs them.
//!
//! A failed run is retried once ([`Retries::retry_once`]): the retry's id is recorded, under the failed
//! run's id, before its history is written, and a second request gets that retry back instead
//! of a new one, also after a restart. To try again after the retry failed too, retry the
//! retry.

use std::collections::HashSet;

use chrono::Utc;
use serde_json::Value;
use weft_engine::exec::{new_run_id, REDACTED};
use weft_engine::store::{
    AttemptRecord, FireRecord, RunRecord, RunStatus, RunStore, StepStatus, StoreError, TriggerStore,
};
use weft_engine::workflow::{Block, CompiledWorkflow, StepKind};

/// What [`Retries::retry_once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retried {
    /// Recorded a new retry with this id, for the caller to offer to its gate.
    New(String),
    /// The failed run had a retry already: its id (offered when it was made).
    Existing(String),
}

/// Why a run cannot be retried.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("run `{id}` is {status}: only a failed run is retried")]
    NotFailed { id: String, status: &'static str },
    #[error(
        "workflow `{workflow}` changed since run `{id}` ran: retrying would mix two versions of it"
    )]
    WorkflowChanged { id: String, workflow: String },
    #[error("run `{id}`'s inputs were too large to record whole: they cannot be read back")]
    InputsNotRecorded { id: String },
    #[error("run `{id}`'s recorded inputs hold redacted secrets: a retry would run on with the mask `***`, not the secret")]
    InputsRedacted { id: String },
    #[error("the run history could not be read or written")]
    Store(#[source] StoreError),
}

/// The daemon's requests to retry runs ([`Retries::retry_once`]), one at a time: a data folder
/// has one daemon, so two requests for the same failed run do not both find it without a
/// retry. One per daemon (in its API state): daemons of other data folders in the same process
/// do not wait for each other.
#[derive(Debug, Default)]
pub struct Retries {
    one_at_a_time: tokio::sync::Mutex<()>,
}

impl Retries {
    /// The retry of `failed`: the one made before if there is one, else a new one (see
    /// [`prepare_retry`]). The retry's id is recorded in `triggers` (a fire of trigger
    /// `retry:<failed id>` at the failed run's start) and synced before its history is
    /// written: a daemon stopped in between writes that history at the next request.
    pub async fn retry_once(
        &self,
        store: &dyn RunStore,
        triggers: &dyn TriggerStore,
        workflow: &CompiledWorkflow,
        failed: &RunRecord,
    ) -> Result<Retried, RetryError> {
        let _one_at_a_time = self.one_at_a_time.lock().await;
        retry_or_repeat(store, triggers, workflow, failed).await
    }
}

async fn retry_or_repeat(
    store: &dyn RunStore,
    triggers: &dyn TriggerStore,
    workflow: &CompiledWorkflow,
    failed: &RunRecord,
) -> Result<Retried, RetryError> {
    let trigger = format!("retry:{}", failed.id);
    let recorded = triggers
        .fires_since(&failed.workflow, &trigger, failed.started_at)
        .await
        .map_err(RetryError::Store)?;
    if let Some(id) = recorded.into_iter().find_map(|fire| fire.run_id) {
        if store
            .get_run(&id)
            .await
            .map_err(RetryError::Store)?
            .is_some()
        {
            return Ok(Retried::Existing(id));
        }
        // Recorded, but the daemon stopped before the retry's history was written.
        check_retryable(workflow, failed)?;
        write_retry(store, workflow, failed, id.clone()).await?;
        return Ok(Retried::New(id));
    }
    check_retryable(workflow, failed)?;
    let id = new_run_id();
    let fire = FireRecord {
        workflow: failed.workflow.clone(),
        trigger,
        scheduled_at: failed.started_at,
        run_id: Some(id.clone()),
        recorded_at: Utc::now(),
    };
    triggers
        .record_fire(&fire)
        .await
        .map_err(RetryError::Store)?;
    store.flush().await.map_err(RetryError::Store)?;
    write_retry(store, workflow, failed, id.clone()).await?;
    Ok(Retried::New(id))
}

/// Records a new run of `workflow` that goes on from where `failed` failed, and returns its
/// id; the caller resumes it. Durable (flushed) before it returns: a daemon that stops before
/// the resume takes it up at its next start, as any interrupted run. Each call makes another
/// retry: the API makes one per failed run ([`Retries::retry_once`]).
pub async fn prepare_retry(
    store: &dyn RunStore,
    workflow: &CompiledWorkflow,
    failed: &RunRecord,
) -> Result<String, RetryError> {
    check_retryable(workflow, failed)?;
    let id = new_run_id();
    write_retry(store, workflow, failed, id.clone()).await?;
    Ok(id)
}

fn check_retryable(workflow: &CompiledWorkflow, failed: &RunRecord) -> Result<(), RetryError> {
    if failed.status != RunStatus::Failed {
        return Err(RetryError::NotFailed {
            id: failed.id.clone(),
            status: failed.status.as_str(),
        });
    }
    if failed.hash != workflow.hash {
        return Err(RetryError::WorkflowChanged {
            id: failed.id.clone(),
            workflow: workflow.name.clone(),
        });
    }
    if failed.truncated.iter().any(|t| t.field == "inputs") {
        return Err(RetryError::InputsNotRecorded {
            id: failed.id.clone(),
        });
    }
    if holds_redacted(&failed.inputs) {
        return Err(RetryError::InputsRedacted {
            id: failed.id.clone(),
        });
    }
    Ok(())
}

/// Whether a recorded value holds the history's mask of a secret: run again, it would be
/// the mask, not the secret.
pub(crate) fn holds_redacted(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains(REDACTED),
        Value::Array(items) => items.iter().any(holds_redacted),
        Value::Object(fields) => fields.values().any(holds_redacted),
        _ => false,
    }
}

/// Writes the history of retry `id` of `failed` (see the module docs), synced.
async fn write_retry(
    store: &dyn RunStore,
    workflow: &CompiledWorkflow,
    failed: &RunRecord,
    id: String,
) -> Result<(), RetryError> {
    let reusable = main_steps(workflow);
    let attempts = store
        .attempts(&failed.id)
        .await
        .map_err(RetryError::Store)?;
    let done = attempts
        .into_iter()
        .filter(|a| a.status == StepStatus::Succeeded && reusable.contains(a.step.as_str()));
    // Numbered from 0 without gaps, as the history expects of a run's attempts.
    for (seq, attempt) in done.enumerate() {
        let copy = AttemptRecord {
            run_id: id.clone(),
            seq: seq as u64,
            ..attempt
        };
        store.put_attempt(&copy).await.map_err(RetryError::Store)?;
    }
    let record = RunRecord {
        id: id.clone(),
        status: RunStatus::Interrupted,
        error: None,
        outputs: None,
        started_at: Utc::now(),
        finished_at: None,
        pid: None,
        truncated: Vec::new(),
        resumes: 0,
        wait: None,
        ..failed.clone()
    };
    store.put_run(&record).await.map_err(RetryError::Store)?;
    store.flush().await.map_err(RetryError::Store)?;
    Ok(())
}

/// Ids of the steps of the workflow's `steps`, nested ones (loop bodies, parallel branches)
/// included, handlers not.
fn main_steps(workflow: &CompiledWorkflow) -> HashSet<&str> {
    fn walk<'a>(block: &'a Block, out: &mut HashSet<&'a str>) {
        for step in &block.steps {
            out.insert(&step.id);
            match &step.kind {
                StepKind::ForEach(each) => walk(&each.body, out),
                StepKind::Parallel { branches } => branches.iter().for_each(|(_, b)| walk(b, out)),
                StepKind::Action { .. } => {}
            }
        }
    }
    let mut out = HashSet::new();
    walk(&workflow.steps, &mut out);
    out
}
