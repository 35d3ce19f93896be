//! Resuming a run: one whose process stopped (crash, `kill -9`) and one parked on a stored wait.
//!
//! The history is the only memory a resume has. Attempts are recorded when they end, so for
//! each step (and each loop item's step, by its position) it holds one of:
//! - an attempt that succeeded: the step is not run again, its recorded output is its output
//!   (its `outputs` mapping and the expressions of later steps are evaluated again). Unless
//!   the record is not the output: it masked a secret, or it was cut at the record cap. Then
//!   the step runs again as the attempt that succeeded (same number, so the same idempotency
//!   key, and flagged `may_have_run_before`): an idempotent action finds what it made.
//! - failed attempts only: the retries go on from the next attempt number; when the recorded
//!   ones used up `retry.max_attempts`, the step fails again with the last recorded error
//!   (and `on_error` applies as it did).
//! - nothing: the step was in flight or had not started; the history cannot tell which. Its
//!   next attempt runs flagged `may_have_run_before` (at-least-once), keeping the number the
//!   attempt in flight had, so its idempotency key is the same.
//!
//! Loops: a `for_each` list is rendered again and each item's steps resume as above; the items'
//! outputs the stopped process set aside (the scratch area, cleared when a store is opened)
//! are rebuilt from the restored steps, so finished items do not run their steps again.
//! `parallel` branches resume step by step the same way. A `workflow.call` in flight runs
//! again as a new child run; the child the stopped process left is closed as interrupted.
//!
//! A stored wait (a `core.sleep` or `core.wait_until` of a top-level daemon run longer than
//! [`super::Engine::stored_waits`]) ends its step's attempt with `ErrorKind::Waiting`: the run
//! stops where it is (what runs beside the wait is cancelled, and repeats at the resume as an
//! attempt that may have run), is recorded `waiting` with the wake-up time, and its resume
//! hands that time back to the waiting step.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::run::{RunOutcome, RunState};
use super::{Engine, Mode, RunRequest};
use crate::actions::ActionError;
use crate::store::{AttemptRecord, RunRecord, RunStatus, StepStatus, StoreError, StoredWait};
use crate::workflow::{CompiledStep, CompiledWorkflow};

/// How many times a run may be resumed after its process stopped before it is failed instead.
pub const DEFAULT_RESTART_LIMIT: u32 = 3;

/// Waits longer than this are stored, not slept, in runs of an engine with stored waits.
pub const DEFAULT_STORED_WAIT_THRESHOLD: std::time::Duration = std::time::Duration::from_secs(5);

/// A request to resume a run that has not finished.
#[derive(Debug, Clone)]
pub struct ResumeRequest {
    pub run_id: String,
    /// Secret values by name, as for a new run (the history never holds them).
    pub secrets: HashMap<String, String>,
    pub cancel: CancellationToken,
    /// A run that stopped without finishing after this many resumes is failed instead. Waking a
    /// waiting run does not count: only resumes after its process stopped do.
    pub restart_limit: u32,
    /// The caller's clock passed the waiting run's wake-up time (the daemon's clock, which
    /// tests move by hand): its waiting step ends now, whatever the engine's clock says.
    pub wait_ended: bool,
}

impl ResumeRequest {
    pub fn new(run_id: impl Into<String>) -> Self {
        ResumeRequest {
            run_id: run_id.into(),
            secrets: HashMap::new(),
            cancel: CancellationToken::new(),
            restart_limit: DEFAULT_RESTART_LIMIT,
            wait_ended: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error("run `{0}` is not in the run history")]
    NotFound(String),
    #[error("run `{id}` has ended ({status}): there is nothing to resume")]
    Finished { id: String, status: &'static str },
    #[error("run `{id}` is a run of workflow `{recorded}`, not of `{given}`")]
    OtherWorkflow {
        id: String,
        recorded: String,
        given: String,
    },
    #[error("the run history could not be read or written")]
    Store(#[source] StoreError),
}

impl Engine {
    /// Continues a run that has not finished from where its history ends (see the module
    /// docs for what is read back and what runs again). The resume is counted on the run
    /// record, durably, before anything runs. A run that cannot be resumed safely is failed
    /// with the reason: its workflow changed since it started, it used up the restart limit, or
    /// its inputs were too large to record whole.
    pub async fn resume(
        &self,
        workflow: Arc<CompiledWorkflow>,
        request: ResumeRequest,
    ) -> Result<RunOutcome, ResumeError> {
        let mut record = self
            .store
            .get_run(&request.run_id)
            .await
            .map_err(ResumeError::Store)?
            .ok_or_else(|| ResumeError::NotFound(request.run_id.clone()))?;
        if record.status.is_finished() {
            return Err(ResumeError::Finished {
                id: record.id,
                status: record.status.as_str(),
            });
        }
        if record.workflow != workflow.name {
            return Err(ResumeError::OtherWorkflow {
                id: record.id,
                recorded: record.workflow,
                given: workflow.name.clone(),
            });
        }
        let waking = record.status == RunStatus::Waiting;
        let refusal = if record.hash != workflow.hash {
            Some(
                "its workflow changed since the run started: resuming would mix two versions of it"
                    .to_string(),
            )
        } else if !waking && record.resumes >= request.restart_limit {
            Some(format!(
                "its process stopped {} times without the run finishing (restart limit {}): \
                 it is failed instead of resumed again",
                record.resumes + 1,
                request.restart_limit
            ))
        } else if record.truncated.iter().any(|t| t.field == "inputs") {
            Some("its inputs were too large to record whole, so they cannot be read back".into())
        } else {
            None
        };
        if let Some(reason) = refusal {
            return self.fail_unresumable(record, reason).await;
        }
        if !waking {
            record.resumes += 1;
        }
        let mut wait = record.wait.take();
        if let Some(wait) = wait.as_mut().filter(|_| request.wait_ended) {
            wait.until = Utc::now();
        }
        record.status = RunStatus::Running;
        record.error = None;
        record.finished_at = None;
        record.pid = Some(std::process::id());
        // Counted on disk before the run goes on: a resume that crashes the process counts.
        self.store
            .put_run(&record)
            .await
            .map_err(ResumeError::Store)?;
        self.store.flush().await.map_err(ResumeError::Store)?;
        let attempts = self
            .store
            .attempts(&record.id)
            .await
            .map_err(ResumeError::Store)?;
        let inputs = match &record.inputs {
            Value::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        };
        let run_request = RunRequest {
            inputs,
            trigger: Some(record.trigger.clone()),
            mode: Mode::Live,
            secrets: request.secrets,
            parent_run: record.parent.clone(),
            cancel: request.cancel,
            now: None,
            run_id: Some(record.id.clone()),
            // What a webhook run masked was masked in its history: nothing to add.
            masked: Vec::new(),
        };
        let plan = ResumePlan::new(record, &attempts, wait);
        Ok(self
            .run_nested(workflow, run_request, Vec::new(), None, Some(plan))
            .await
            .outcome)
    }

    async fn fail_unresumable(
        &self,
        mut record: RunRecord,
        reason: String,
    ) -> Result<RunOutcome, ResumeError> {
        let error = format!("the run cannot be resumed: {reason}");
        record.status = RunStatus::Failed;
        record.error = Some(error.clone());
        record.wait = None;
        record.finished_at = Some(Utc::now());
        self.store
            .put_run(&record)
            .await
            .map_err(ResumeError::Store)?;
        self.store.flush().await.map_err(ResumeError::Store)?;
        self.observer.on_event(&super::RunEvent::RunFinished {
            run_id: &record.id,
            status: RunStatus::Failed,
            duration: std::time::Duration::ZERO,
            error: Some(&error),
            outputs: &Value::Null,
        });
        Ok(RunOutcome {
            run_id: record.id,
            status: RunStatus::Failed,
            outputs: Value::Null,
            error: Some(error),
            duration: std::time::Duration::ZERO,
            dry_run: None,
        })
    }
}

/// What a resumed run knows of its earlier life.
pub(crate) struct ResumePlan {
    record: RunRecord,
    /// Where the attempts recorded from now on are numbered from (after the recorded ones).
    next_seq: u64,
    steps: HashMap<(String, Vec<usize>), Prior>,
    wait: Option<StoredWait>,
}

/// The recorded attempts of one step (of one loop item).
#[derive(Default)]
struct Prior {
    succeeded: Option<AttemptRecord>,
    /// The highest number of a failed attempt, and its error.
    failed: Option<(u32, String)>,
}

/// Where a step of a resumed run starts.
pub(crate) enum ResumePoint {
    /// Its outcome is read back: not run again.
    Restored(Result<Value, ActionError>, u32),
    /// It runs from this attempt.
    From {
        attempt: u32,
        may_have_run_before: bool,
    },
}

impl ResumePlan {
    fn new(record: RunRecord, attempts: &[AttemptRecord], wait: Option<StoredWait>) -> Self {
        let mut steps: HashMap<(String, Vec<usize>), Prior> = HashMap::new();
        let mut next_seq = 0;
        for attempt in attempts {
            next_seq = next_seq.max(attempt.seq + 1);
            let prior = steps
                .entry((attempt.step.clone(), attempt.iteration.clone()))
                .or_default();
            match attempt.status {
                StepStatus::Succeeded => prior.succeeded = Some(attempt.clone()),
                StepStatus::Failed
                    if prior
                        .failed
                        .as_ref()
                        .is_none_or(|(n, _)| attempt.attempt >= *n) =>
                {
                    prior.failed =
                        Some((attempt.attempt, attempt.error.clone().unwrap_or_default()));
                }
                // A cancelled attempt was cut short: its number is used again, like one in flight.
                _ => {}
            }
        }
        ResumePlan {
            record,
            next_seq,
            steps,
            wait,
        }
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The new run record keeps what the run was: its start and how often it was resumed.
    pub(crate) fn carry_over(&self, record: &mut RunRecord) {
        record.started_at = self.record.started_at;
        record.resumes = self.record.resumes;
    }

    fn point(&self, step: &CompiledStep, iteration: &[usize]) -> ResumePoint {
        let Some(prior) = self.steps.get(&(step.id.to_string(), iteration.to_vec())) else {
            return ResumePoint::From {
                attempt: 1,
                may_have_run_before: true,
            };
        };
        if let Some(done) = &prior.succeeded {
            let whole =
                !done.output_redacted && !done.truncated.iter().any(|t| t.field == "output");
            return match (&done.output, whole) {
                (Some(output), true) => ResumePoint::Restored(Ok(output.clone()), done.attempt),
                _ => ResumePoint::From {
                    attempt: done.attempt,
                    may_have_run_before: true,
                },
            };
        }
        match &prior.failed {
            Some((last, error)) if *last >= step.retry().max_attempts => {
                ResumePoint::Restored(Err(ActionError::failed(error.clone())), *last)
            }
            Some((last, _)) => ResumePoint::From {
                attempt: last + 1,
                may_have_run_before: true,
            },
            None => ResumePoint::From {
                attempt: 1,
                may_have_run_before: true,
            },
        }
    }
}

impl RunState {
    /// Where `step` (at loop position `iteration`) starts: at its first attempt in a new run.
    pub(crate) fn resume_point(&self, step: &CompiledStep, iteration: &[usize]) -> ResumePoint {
        match &self.resume {
            None => ResumePoint::From {
                attempt: 1,
                may_have_run_before: false,
            },
            Some(plan) => plan.point(step, iteration),
        }
    }

    /// The wake-up time `step` stored before its run was parked, when this run resumes it.
    pub(crate) fn stored_wait(&self, step: &str, iteration: &[usize]) -> Option<DateTime<Utc>> {
        let wait = self.resume.as_ref()?.wait.as_ref()?;
        (wait.step == step && wait.iteration == iteration).then_some(wait.until)
    }

    /// A wait step parks the run until `until`; the first to park wins (what ran beside it is
    /// cancelled and repeats at the resume).
    pub(crate) fn park(&self, step: &str, iteration: &[usize], until: DateTime<Utc>) {
        self.parked.lock().get_or_insert_with(|| StoredWait {
            step: step.to_string(),
            iteration: iteration.to_vec(),
            until,
        });
    }

    /// The run's outcome when a wait parked it (and it was not cancelled meanwhile).
    pub(crate) fn parked_outcome(&self) -> Option<(RunStatus, Option<String>, Value)> {
        if self.parked.lock().is_none() || self.cancel.is_cancelled() {
            return None;
        }
        Some((RunStatus::Waiting, None, Value::Null))
    }
}
