//! Many runs submitted at once: the fires of one cron instant (10,000 workflows on one minute
//! are 10,000 submissions in the same millisecond). Each passes its workflow's gate in order,
//! exactly as one [`Dispatcher::submit`] after the other would.
//!
//! A batch is made ready ahead of its instant ([`Dispatcher::make_ready`]): each run's id,
//! pending form, cancellation and workflow entry are made then, so that at the instant
//! ([`Dispatcher::submit_ready`]) only what can change until then is decided: the gate (runs
//! start and end meanwhile), the paused flag and the daemon stopping. An entry looked up ahead
//! is used while no workflow was inserted or removed since; otherwise each is looked up again.
//! The runs given an execution slot are spawned once the whole batch is in, so that none of
//! them takes the CPU from the submissions still to come.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use weft_engine::exec::new_run_id;

use super::{execute, take_slot, Dispatcher, Pending, Submission, SubmitError, Submitted, Work};
use crate::gate::{Admitted, Offer};
use crate::workflows::WorkflowEntry;

/// Submissions a batch makes room for at once (a cron instant of 10,000 workflows fits).
const PREALLOCATED_AT_MOST: usize = 1 << 16;

/// Runs made ready to be submitted together (see the module docs).
pub struct ReadyBatch {
    /// The workflow set's count of changes when the first entry was looked up.
    changes: u64,
    runs: Vec<ReadyRun>,
}

/// One run of a batch, with all it needs at its instant.
struct ReadyRun {
    workflow: String,
    /// Looked up ahead; again at the instant if the workflow set changed since.
    entry: Option<Arc<WorkflowEntry>>,
    pending: Pending,
    /// The run's id for its answer and for the runs going (copies of `pending`'s, made ahead).
    answer_id: String,
    going_id: String,
    cancel: CancellationToken,
}

impl Dispatcher {
    /// An empty batch, with room for `expected` runs (at most a cron instant's worth), in it
    /// and in the books of the runs going and waiting for a slot: growing those at the
    /// instant cost more than the rest of a burst's submissions.
    pub fn ready_batch(&self, expected: usize) -> ReadyBatch {
        let expected = expected.min(PREALLOCATED_AT_MOST);
        self.shared.going.lock().reserve(expected);
        self.shared.slots.lock().waiting.reserve(expected);
        ReadyBatch {
            changes: self.shared.workflows.changes(),
            runs: Vec::with_capacity(expected),
        }
    }

    /// Adds a run of `workflow` to `batch`, made ready for [`Dispatcher::submit_ready`].
    pub fn make_ready(&self, batch: &mut ReadyBatch, workflow: &str, mut submission: Submission) {
        // Moved out: the pending run's id is the one read from here on.
        let run_id = submission.run_id.take().unwrap_or_else(new_run_id);
        let entry = self.shared.workflows.get(workflow);
        if let Some(entry) = &entry {
            entry.gate.lock().make_room();
        }
        batch.runs.push(ReadyRun {
            workflow: workflow.to_string(),
            entry,
            answer_id: run_id.clone(),
            going_id: run_id.clone(),
            pending: Pending {
                run_id,
                work: Box::new(Work::Start(submission)),
            },
            cancel: CancellationToken::new(),
        });
    }

    /// Offers each run of `batch` to its workflow's gate, in order: the answers, in the same
    /// order, are those [`Dispatcher::submit`] called for each in turn would give. `accepted`
    /// is called with each answer as soon as the dispatcher has taken that run: its gate
    /// decided, and a run started is going (it can be cancelled by id) with its execution slot
    /// or its place in the slots' queue.
    pub fn submit_ready(
        &self,
        batch: ReadyBatch,
        mut accepted: impl FnMut(&Result<Submitted, SubmitError>),
    ) -> Vec<Result<Submitted, SubmitError>> {
        let looked_up = batch.changes == self.shared.workflows.changes();
        let mut answers = Vec::with_capacity(batch.runs.len());
        let mut workflows = Vec::with_capacity(batch.runs.len());
        let mut executing = Vec::new();
        for mut run in batch.runs {
            if !looked_up {
                run.entry = self.shared.workflows.get(&run.workflow);
            }
            let workflow = std::mem::take(&mut run.workflow);
            let answer = self.accept(&workflow, run, &mut executing);
            accepted(&answer);
            answers.push(answer);
            workflows.push(workflow);
        }
        self.note_started(workflows, &answers);
        for (entry, run) in executing {
            execute(&self.shared, entry, run);
        }
        answers
    }

    /// Offers a run of each `(workflow, submission)` to its workflow's gate, in order, as
    /// [`Dispatcher::submit_ready`] does once they are made ready.
    pub fn submit_many<'a>(
        &self,
        batch: impl IntoIterator<Item = (&'a str, Submission)>,
    ) -> Vec<Result<Submitted, SubmitError>> {
        let batch = batch.into_iter();
        // A filtered batch (the scheduler's) knows only its upper bound, which an endless one
        // does not make a huge allocation of.
        let (at_least, at_most) = batch.size_hint();
        let mut ready = self.ready_batch(at_most.unwrap_or(at_least));
        for (workflow, submission) in batch {
            self.make_ready(&mut ready, workflow, submission);
        }
        self.submit_ready(ready, |_| {})
    }

    /// One run of a batch through its gate; a run admitted with a free execution slot is added
    /// to `executing`, to be spawned with the others.
    fn accept(
        &self,
        workflow: &str,
        run: ReadyRun,
        executing: &mut Vec<(Arc<WorkflowEntry>, Admitted<Pending>)>,
    ) -> Result<Submitted, SubmitError> {
        if self.shared.stopping.is_cancelled() {
            return Err(SubmitError::Stopping);
        }
        let Some(entry) = run.entry else {
            return Err(SubmitError::UnknownWorkflow(workflow.to_string()));
        };
        if entry.paused() {
            return Err(SubmitError::Paused(workflow.to_string()));
        }
        let offer = entry.gate.lock().offer_with(run.pending, run.cancel);
        Ok(match offer {
            Offer::Start(admitted) => {
                if let Some(now) = take_slot(&self.shared, entry, admitted, run.going_id) {
                    executing.push(now);
                }
                Submitted::Started {
                    run_id: run.answer_id,
                }
            }
            // Nothing starts: the single submission's way (closing the fires replaced).
            waits_or_dropped => self.follow(&entry, run.answer_id, waits_or_dropped),
        })
    }

    /// Counts the runs a batch started, and notes the latest run of each workflow it
    /// submitted (started or queued); `workflows` are those of the answers, in order.
    fn note_started(&self, workflows: Vec<String>, answers: &[Result<Submitted, SubmitError>]) {
        let started = answers
            .iter()
            .filter(|answer| matches!(answer, Ok(Submitted::Started { .. })))
            .count();
        self.shared.metrics.runs_started(started);
        let mut latest = self.shared.last_runs.lock();
        for (workflow, answer) in workflows.into_iter().zip(answers) {
            let Ok(submitted) = answer else { continue };
            if !matches!(submitted, Submitted::Dropped { .. }) {
                latest.insert(workflow, submitted.run_id().to_string());
            }
        }
    }
}
