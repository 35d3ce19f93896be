//! Retrying a failed run from its failed step: a new run that the engine's resume continues.
//!
//! The new run's history starts as a copy of what the failed run finished: every attempt that
//! succeeded of the workflow's steps (loop items' steps included), under the new run's id and
//! numbered in order. It is recorded `interrupted`, so `Engine::resume` takes it from there:
//! the copied steps are not run again (their outputs are read back), the failed step and the
//! steps after it run. Attempts of handlers (`on_error` steps, `on_failure`, `finally`) are
//! not copied: they ran because of the failure, and run again only if the retry needs them.

use std::collections::HashSet;

use chrono::Utc;
use weft_engine::exec::new_run_id;
use weft_engine::store::{AttemptRecord, RunRecord, RunStatus, RunStore, StepStatus, StoreError};
use weft_engine::workflow::{Block, CompiledWorkflow, StepKind};

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
    #[error("the run history could not be read or written")]
    Store(#[source] StoreError),
}

/// Records a new run of `workflow` that goes on from where `failed` failed, and returns its
/// id; the caller resumes it. Durable (flushed) before it returns: a daemon that stops before
/// the resume takes it up at its next start, as any interrupted run.
pub async fn prepare_retry(
    store: &dyn RunStore,
    workflow: &CompiledWorkflow,
    failed: &RunRecord,
) -> Result<String, RetryError> {
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
    let reusable = main_steps(workflow);
    let id = new_run_id();
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
    Ok(id)
}

/// Ids of the steps of the workflow's `steps`, nested ones (loop bodies, parallel branches)
/// included, handlers not.
fn main_steps(workflow: &CompiledWorkflow) -> HashSet<&str> {
    fn walk<'a>(block: &'a Block, out: &mut HashSet<&'a str>) {
        for step in &block.steps {
            out.insert(&step.id);
            match &step.kind {
                StepKind::ForEach { body, .. } => walk(body, out),
                StepKind::Parallel { branches } => branches.iter().for_each(|(_, b)| walk(b, out)),
                StepKind::Action { .. } => {}
            }
        }
    }
    let mut out = HashSet::new();
    walk(&workflow.steps, &mut out);
    out
}
