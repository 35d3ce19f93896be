//! Many runs submitted at once: the fires of one cron instant (10,000 workflows on one minute
//! are 10,000 submissions in the same millisecond). Each passes its workflow's gate in order,
//! exactly as one [`Dispatcher::submit`] after the other would; the books every start touches
//! (the runs going, the execution slots, the latest run of each workflow) are then taken once
//! for the whole batch, and the runs given a slot are spawned last, so that none of them takes
//! the CPU from the submissions still to come.

use std::sync::Arc;

use weft_engine::exec::new_run_id;

use super::{execute, Dispatcher, Pending, Shared, Submission, SubmitError, Submitted, Work};
use crate::gate::{Admitted, Offer};
use crate::workflows::WorkflowEntry;

/// Submissions a batch makes room for at once (a cron instant of 10,000 workflows fits).
const PREALLOCATED_AT_MOST: usize = 1 << 16;

impl Dispatcher {
    /// Offers a run of each `(workflow, submission)` to its workflow's gate, in order: the
    /// answers, in the same order, are those [`Dispatcher::submit`] called for each in turn
    /// would give. When it returns, every run started is going (it can be cancelled by id) and
    /// has its execution slot or its place in the slots' queue, in the batch's order.
    pub fn submit_many<'a>(
        &self,
        batch: impl IntoIterator<Item = (&'a str, Submission)>,
    ) -> Vec<Result<Submitted, SubmitError>> {
        let batch = batch.into_iter();
        // A filtered batch (the scheduler's) knows only its upper bound, which an endless one
        // does not make a huge allocation of.
        let (at_least, at_most) = batch.size_hint();
        let expected = at_most.unwrap_or(at_least).min(PREALLOCATED_AT_MOST);
        let mut answers = Vec::with_capacity(expected);
        let mut admitted = Vec::with_capacity(expected);
        let mut last_runs = Vec::with_capacity(expected);
        for (workflow, mut submission) in batch {
            // Moved out: the pending run's id is the one read from here on.
            let run_id = submission.run_id.take().unwrap_or_else(new_run_id);
            let answer = self.pass_gate(workflow, run_id, submission, &mut admitted);
            if let Ok(submitted) = &answer {
                if !matches!(submitted, Submitted::Dropped { .. }) {
                    last_runs.push((workflow, submitted.run_id().to_string()));
                }
            }
            answers.push(answer);
        }
        {
            let mut latest = self.shared.last_runs.lock();
            for (workflow, run_id) in last_runs {
                // The same workflows fire minute after minute: their names are kept.
                match latest.get_mut(workflow) {
                    Some(latest_run) => *latest_run = run_id,
                    None => {
                        latest.insert(workflow.to_string(), run_id);
                    }
                }
            }
        }
        start_runs(&self.shared, admitted);
        answers
    }

    /// One submission of a batch through its gate; a run admitted is added to `admitted`, to
    /// be started with the others.
    fn pass_gate(
        &self,
        workflow: &str,
        run_id: String,
        submission: Submission,
        admitted: &mut Vec<(Arc<WorkflowEntry>, Admitted<Pending>)>,
    ) -> Result<Submitted, SubmitError> {
        let entry = self.entry(workflow)?;
        if entry.paused() {
            return Err(SubmitError::Paused(workflow.to_string()));
        }
        let pending = Pending {
            run_id: run_id.clone(),
            work: Work::Start(submission),
        };
        let offer = entry.gate.lock().offer(pending);
        Ok(match offer {
            Offer::Start(run) => {
                admitted.push((entry, run));
                Submitted::Started { run_id }
            }
            // Nothing starts: the single submission's way (closing the fires replaced).
            waits_or_dropped => self.follow(&entry, run_id, waits_or_dropped),
        })
    }
}

/// What `start_run` does for one admitted run, for many: each is going, counted, and executes
/// in a free slot or waits for one after those waiting already, in order.
fn start_runs(shared: &Arc<Shared>, runs: Vec<(Arc<WorkflowEntry>, Admitted<Pending>)>) {
    if runs.is_empty() {
        return;
    }
    {
        let mut going = shared.going.lock();
        going.reserve(runs.len());
        for (_, run) in &runs {
            going.insert(run.fire.run_id.clone(), run.cancel.clone());
        }
    }
    shared.metrics.runs_started(runs.len());
    let now: Vec<_> = {
        let mut slots = shared.slots.lock();
        // Slots are free only while no run waits for one (a freed slot goes to the oldest).
        let free = slots.free.min(runs.len());
        slots.free -= free;
        let mut runs = runs.into_iter();
        let now = runs.by_ref().take(free).collect();
        slots.waiting.extend(runs);
        now
    };
    for (entry, run) in now {
        execute(shared, entry, run);
    }
}
