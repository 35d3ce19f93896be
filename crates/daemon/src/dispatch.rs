//! Where every run of the daemon starts: a trigger (cron fire, poll event, webhook, API call)
//! submits a run of a workflow by name; the workflow's gate starts it, queues it or drops it.
//! The dispatcher knows the runs going (to cancel one by id) and announces each run's end.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{Map, Value};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use weft_action::text::echo;
use weft_engine::exec::{new_run_id, Engine, Redactor, ResumeRequest, RunOutcome, RunRequest};
use weft_engine::store::{RunRecord, RunStatus, StoreError};

use crate::gate::{Admitted, DropReason, Offer};
use crate::metrics::{Metrics, StepTimer};
use crate::workflows::{WorkflowEntry, WorkflowSet};

mod batch;

pub use batch::ReadyBatch;

/// What starts a run, as the run's `trigger` says (`trigger.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriggerKind {
    Cron,
    Poll,
    Webhook,
    /// Started through the HTTP API or `weft run` talking to the daemon.
    Api,
}

impl TriggerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Cron => "cron",
            TriggerKind::Poll => "poll",
            TriggerKind::Webhook => "webhook",
            TriggerKind::Api => "api",
        }
    }

    /// The kind a run's recorded `trigger.kind` names; `None` for runs the daemon did not
    /// start (`manual` runs of `weft run`, `call` runs of `workflow.call`).
    pub fn of_trigger(trigger: &Value) -> Option<TriggerKind> {
        [
            TriggerKind::Cron,
            TriggerKind::Poll,
            TriggerKind::Webhook,
            TriggerKind::Api,
        ]
        .into_iter()
        .find(|kind| trigger["kind"] == kind.as_str())
    }
}

/// A run asked for.
#[derive(Debug, Clone)]
pub struct Submission {
    pub kind: TriggerKind,
    /// `trigger` in the run's expressions.
    pub trigger: Value,
    pub inputs: Map<String, Value>,
    /// Chosen by the submitter when it records the run's id first (a cron fire does);
    /// otherwise a new one.
    pub run_id: Option<String>,
    /// The run's connection in place of the workflow's `connection` (a poll through one of
    /// several connections runs on that one).
    pub connection: Option<String>,
    /// Values the run masks although its steps need not read them (a webhook's secret).
    pub masked: Vec<String>,
}

impl Submission {
    pub fn new(kind: TriggerKind, trigger: Value) -> Self {
        Submission {
            kind,
            trigger,
            inputs: Map::new(),
            run_id: None,
            connection: None,
            masked: Vec::new(),
        }
    }
}

/// What became of a submission. A queued run keeps its id when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    Started { run_id: String },
    Queued { run_id: String, cancelled: usize },
    Dropped { run_id: String, reason: DropReason },
}

impl Submitted {
    pub fn run_id(&self) -> &str {
        match self {
            Submitted::Started { run_id }
            | Submitted::Queued { run_id, .. }
            | Submitted::Dropped { run_id, .. } => run_id,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubmitError {
    #[error("no workflow named `{}`", echo(.0))]
    UnknownWorkflow(String),
    #[error("workflow `{}` is paused", echo(.0))]
    Paused(String),
    #[error("the daemon is stopping")]
    Stopping,
}

/// A run that ended, announced to every subscriber (metrics, outbound events, API waiters).
#[derive(Debug, Clone)]
pub struct RunEnded {
    pub workflow: String,
    pub run_id: String,
    pub kind: TriggerKind,
    pub status: RunStatus,
    pub error: Option<String>,
    pub duration: Duration,
}

/// A submission waiting at or passing through a gate, with its id fixed.
#[derive(Debug)]
pub(crate) struct Pending {
    run_id: String,
    /// Boxed: a burst's pending runs are moved through the gate and the slots' queue, and
    /// queued by the thousand, as two words each.
    work: Box<Work>,
}

#[derive(Debug)]
enum Work {
    /// A new run.
    Start(Submission),
    /// A recorded run the engine continues: one resumed after its process stopped, one woken
    /// from a stored wait, a retry of a failed run.
    Resume {
        kind: TriggerKind,
        request: ResumeRequest,
    },
}

/// What [`Dispatcher::cancel_run`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelling {
    /// The run is going: it was asked to stop (its `finally` steps run), and ends `cancelled`.
    Asked,
    /// The run was waiting (at its gate, or on a stored wait): it ended `cancelled` at once,
    /// recorded and synced, and is never started or woken, also after a restart.
    Cancelled,
    /// No run of that id is going or waiting in this daemon.
    NotGoing,
}

/// What a shutdown left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Runs still going when the grace period ended (the caller closes them as interrupted).
    pub still_running: usize,
    /// Submissions that were waiting for a run to end (`overlap: queue_*`, `concurrency:
    /// queue`) and were not started.
    pub dropped_waiting: usize,
}

struct Shared {
    engine: Engine,
    workflows: WorkflowSet,
    secrets: HashMap<String, String>,
    runs: TaskTracker,
    /// Runs going, by id: their cancellation.
    going: Mutex<HashMap<String, CancellationToken>>,
    ended: broadcast::Sender<RunEnded>,
    stopping: CancellationToken,
    metrics: Arc<Metrics>,
    /// The id of the latest run submitted (started or queued) per workflow since start, or
    /// resumed when none was submitted since.
    last_runs: Mutex<HashMap<String, String>>,
    /// Waiting runs cancelled: the wake-up the waker still holds for them starts nothing.
    cancelled_waits: Mutex<HashSet<String>>,
    /// Runs executing at once across the daemon; the others of a burst (10,000 workflows on
    /// one minute) wait in order for a slot, holding only their submission: no task, no
    /// run's state.
    slots: Mutex<Slots>,
}

/// Starts the runs of a daemon. Cheap to clone (shared).
#[derive(Clone)]
pub struct Dispatcher {
    shared: Arc<Shared>,
}

/// Announcements kept for slow subscribers before they lag.
const ENDED_BACKLOG: usize = 4096;

/// Runs executing at once in one daemon. More would not finish sooner on a few cores, and each
/// holds its scopes and records in memory while it runs.
const EXECUTING_AT_ONCE: usize = 256;

impl Dispatcher {
    /// Steps of the runs started here are timed in [`Dispatcher::metrics`]; the engine's own
    /// observer still gets every event.
    pub fn new(engine: Engine, workflows: WorkflowSet, secrets: HashMap<String, String>) -> Self {
        Dispatcher::with_metrics(engine, workflows, secrets, Arc::new(Metrics::new()))
    }

    /// [`Dispatcher::new`] reporting to `metrics`, which others (the token manager's refresh
    /// observer) may report to already.
    pub fn with_metrics(
        engine: Engine,
        workflows: WorkflowSet,
        secrets: HashMap<String, String>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let timer = StepTimer {
            metrics: metrics.clone(),
            next: engine.observer.clone(),
        };
        let engine = engine.with_observer(Arc::new(timer));
        Dispatcher {
            shared: Arc::new(Shared {
                engine,
                workflows,
                secrets,
                runs: TaskTracker::new(),
                going: Mutex::new(HashMap::new()),
                ended: broadcast::channel(ENDED_BACKLOG).0,
                stopping: CancellationToken::new(),
                metrics,
                last_runs: Mutex::new(HashMap::new()),
                cancelled_waits: Mutex::new(HashSet::new()),
                slots: Mutex::new(Slots {
                    free: EXECUTING_AT_ONCE,
                    waiting: VecDeque::new(),
                }),
            }),
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    pub fn workflows(&self) -> &WorkflowSet {
        &self.shared.workflows
    }

    /// The workflow a run is asked of, while the daemon takes runs.
    fn entry(&self, workflow: &str) -> Result<Arc<WorkflowEntry>, SubmitError> {
        if self.shared.stopping.is_cancelled() {
            return Err(SubmitError::Stopping);
        }
        self.shared
            .workflows
            .get(workflow)
            .ok_or_else(|| SubmitError::UnknownWorkflow(workflow.to_string()))
    }

    /// Offers a run of `workflow` to its gate.
    pub fn submit(&self, workflow: &str, submission: Submission) -> Result<Submitted, SubmitError> {
        let run_id = submission.run_id.clone().unwrap_or_else(new_run_id);
        self.offer(workflow, run_id, Work::Start(submission))
    }

    /// Offers a run recorded already (a retry of a failed run, see `retry`) to its workflow's
    /// gate like a new run: it starts, waits or is dropped as a new run would. A dropped one
    /// is the caller's to close (see [`Dispatcher::close_dropped`]).
    pub fn submit_recorded(
        &self,
        workflow: &str,
        kind: TriggerKind,
        request: ResumeRequest,
    ) -> Result<Submitted, SubmitError> {
        let run_id = request.run_id.clone();
        self.offer(workflow, run_id, Work::Resume { kind, request })
    }

    fn offer(&self, workflow: &str, run_id: String, work: Work) -> Result<Submitted, SubmitError> {
        let entry = self.entry(workflow)?;
        if entry.paused() {
            return Err(SubmitError::Paused(workflow.to_string()));
        }
        let pending = Pending {
            run_id: run_id.clone(),
            work: Box::new(work),
        };
        let offer = entry.gate.lock().offer(pending);
        let submitted = self.follow(&entry, run_id, offer);
        if !matches!(submitted, Submitted::Dropped { .. }) {
            self.shared
                .last_runs
                .lock()
                .insert(workflow.to_string(), submitted.run_id().to_string());
        }
        Ok(submitted)
    }

    /// Does what a gate decided: starts the run, or closes the fires a new one replaced.
    fn follow(
        &self,
        entry: &Arc<WorkflowEntry>,
        run_id: String,
        offer: Offer<Pending>,
    ) -> Submitted {
        match offer {
            Offer::Start(admitted) => {
                start_run(&self.shared, entry.clone(), admitted);
                Submitted::Started { run_id }
            }
            Offer::Queued {
                cancelled,
                replaced,
            } => {
                // Recorded (a cron fire is recorded with its run's id before it is offered),
                // so that the next start does not take them for fires whose run never started.
                for pending in replaced {
                    let shared = self.shared.clone();
                    let entry = entry.clone();
                    self.shared.runs.spawn(async move {
                        let reason = "replaced by a newer fire before it started (overlap: cancel_previous)";
                        if let Err(e) = close_unstarted(&shared, &entry, pending, reason).await {
                            tracing::error!(
                                workflow = %entry.workflow.name,
                                "a replaced fire could not be recorded as such, so the next start may run it: {}",
                                e.with_causes()
                            );
                        }
                    });
                }
                Submitted::Queued { run_id, cancelled }
            }
            Offer::Dropped(reason) => Submitted::Dropped { run_id, reason },
        }
    }

    /// Closes a recorded run its gate dropped (see [`Dispatcher::submit_recorded`]): it ends
    /// `cancelled` with the reason, synced, so that no start resumes it.
    pub async fn close_dropped(&self, run_id: &str, reason: DropReason) -> Result<(), StoreError> {
        let message = format!("the run was not started: {}", reason.describe());
        close_recorded(&self.shared, run_id, &message).await
    }

    /// Cancels a run going or waiting (see [`Cancelling`]).
    pub async fn cancel_run(&self, run_id: &str) -> Result<Cancelling, StoreError> {
        if self.cancel(run_id) {
            return Ok(Cancelling::Asked);
        }
        let waiting = self.shared.workflows.all().into_iter().find_map(|entry| {
            let pending = entry.gate.lock().withdraw(|p| p.run_id == run_id)?;
            Some((entry, pending))
        });
        if let Some((entry, pending)) = waiting {
            close_unstarted(&self.shared, &entry, pending, "cancelled before it started").await?;
            return Ok(Cancelling::Cancelled);
        }
        let store = &self.shared.engine.store;
        let Some(run) = store.get_run(run_id).await? else {
            return Ok(Cancelling::NotGoing);
        };
        if run.id != run_id || run.status != RunStatus::Waiting {
            return Ok(Cancelling::NotGoing);
        }
        {
            // Under the lock the runs start under: woken since it was read, it is going now
            // and stops as any run going; otherwise its wake-up starts nothing.
            let going = self.shared.going.lock();
            if let Some(cancel) = going.get(run_id) {
                cancel.cancel();
                return Ok(Cancelling::Asked);
            }
            self.shared
                .cancelled_waits
                .lock()
                .insert(run_id.to_string());
        }
        close_recorded(&self.shared, run_id, "cancelled while waiting").await?;
        Ok(Cancelling::Cancelled)
    }

    /// Is a submission of this id waiting at its workflow's gate?
    pub fn is_waiting(&self, run_id: &str) -> bool {
        self.shared
            .workflows
            .all()
            .iter()
            .any(|entry| entry.gate.lock().is_waiting(|p| p.run_id == run_id))
    }

    /// Submissions waiting at each workflow's gate, by workflow.
    pub fn waiting(&self) -> Vec<(String, usize)> {
        self.shared
            .workflows
            .all()
            .iter()
            .map(|entry| (entry.workflow.name.clone(), entry.gate.lock().waiting()))
            .collect()
    }

    /// The id of the latest run of `workflow` submitted since this dispatcher started.
    pub fn last_run(&self, workflow: &str) -> Option<String> {
        self.shared.last_runs.lock().get(workflow).cloned()
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// Has [`Dispatcher::shutdown`] begun?
    pub fn is_stopping(&self) -> bool {
        self.shared.stopping.is_cancelled()
    }

    /// Continues a run of `workflow` that has not finished (see `Engine::resume`): one whose
    /// process stopped, or a waiting one whose time came (`wait_ended`). It passes the gate so
    /// that it counts as going for the fires after it, but is never dropped: it starts when
    /// the workflow's limit allows, before the fires waiting (see `gate`).
    pub fn resume(
        &self,
        workflow: &str,
        kind: TriggerKind,
        request: ResumeRequest,
    ) -> Result<(), SubmitError> {
        let entry = self.entry(workflow)?;
        let run_id = request.run_id.clone();
        // The gate is held until the run is going or waiting: a wake-up found twice finds it.
        let mut gate = entry.gate.lock();
        if self.is_going(&run_id) || gate.is_waiting(|p| p.run_id == run_id) {
            return Ok(());
        }
        let pending = Pending {
            run_id: run_id.clone(),
            work: Box::new(Work::Resume { kind, request }),
        };
        // The latest run known unless one was submitted since: a run resumed at start or
        // woken is the workflow's last run until a newer one comes.
        self.shared
            .last_runs
            .lock()
            .entry(workflow.to_string())
            .or_insert_with(|| run_id.clone());
        let offer = gate.offer_resumed(pending);
        self.follow(&entry, run_id, offer);
        Ok(())
    }

    /// Asks a run going to stop; false when no run of that id is going.
    pub fn cancel(&self, run_id: &str) -> bool {
        match self.shared.going.lock().get(run_id) {
            Some(cancel) => {
                cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// Is the run of this id going in this process?
    pub fn is_going(&self, run_id: &str) -> bool {
        self.shared.going.lock().contains_key(run_id)
    }

    /// Announcements of runs ending, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<RunEnded> {
        self.shared.ended.subscribe()
    }

    /// Runs going now.
    pub fn runs_going(&self) -> usize {
        self.shared.runs.len() + self.shared.slots.lock().waiting.len()
    }

    /// Takes no new submissions, drops the waiting ones, lets the runs going finish for up
    /// to `grace`, and says what was left.
    pub async fn shutdown(&self, grace: Duration) -> ShutdownReport {
        self.shared.stopping.cancel();
        let dropped_waiting = self
            .shared
            .workflows
            .all()
            .iter()
            .map(|entry| entry.gate.lock().drop_waiting())
            .sum();
        self.shared.runs.close();
        let _ = tokio::time::timeout(grace, self.shared.runs.wait()).await;
        ShutdownReport {
            still_running: self.runs_going(),
            dropped_waiting,
        }
    }
}

/// The daemon's execution slots: how many are free, and the admitted runs waiting for one.
struct Slots {
    free: usize,
    waiting: VecDeque<(Arc<WorkflowEntry>, Admitted<Pending>)>,
}

/// Starts one admitted submission: it executes now if a slot is free, else when one frees.
fn start_run(shared: &Arc<Shared>, entry: Arc<WorkflowEntry>, admitted: Admitted<Pending>) {
    let run_id = admitted.fire.run_id.clone();
    shared.metrics.run_started();
    if let Some((entry, admitted)) = take_slot(shared, entry, admitted, run_id) {
        execute(shared, entry, admitted);
    }
}

/// Makes one admitted submission a run going (known by `run_id`, its id) with an execution
/// slot, returned to be executed by the caller, or a place in the slots' queue (`None`). The
/// caller counts it started.
fn take_slot(
    shared: &Shared,
    entry: Arc<WorkflowEntry>,
    admitted: Admitted<Pending>,
    run_id: String,
) -> Option<(Arc<WorkflowEntry>, Admitted<Pending>)> {
    shared.going.lock().insert(run_id, admitted.cancel.clone());
    let mut slots = shared.slots.lock();
    if slots.free == 0 {
        slots.waiting.push_back((entry, admitted));
        return None;
    }
    slots.free -= 1;
    Some((entry, admitted))
}

/// Runs one admitted submission in a slot; when it ends, starts what its gate lets start and
/// gives the slot to the run that waited longest.
fn execute(shared: &Arc<Shared>, entry: Arc<WorkflowEntry>, admitted: Admitted<Pending>) {
    let Pending { run_id, work } = admitted.fire;
    let shared_run = shared.clone();
    let slot = admitted.slot;
    let cancel = admitted.cancel;
    shared.runs.spawn(async move {
        let _slot = SlotRelease(shared_run.clone());
        let (kind, outcome) = match *work {
            Work::Start(submission) => {
                let workflow = match &submission.connection {
                    Some(connection) => entry.workflow.on_connection(connection),
                    None => entry.workflow.clone(),
                };
                let request = RunRequest {
                    inputs: submission.inputs,
                    trigger: Some(submission.trigger),
                    secrets: shared_run.secrets.clone(),
                    run_id: Some(run_id.clone()),
                    masked: submission.masked,
                    cancel,
                    ..RunRequest::default()
                };
                let outcome = shared_run.engine.run(workflow, request).await;
                (submission.kind, Some(outcome))
            }
            Work::Resume { kind, request } => {
                let request = ResumeRequest {
                    secrets: shared_run.secrets.clone(),
                    cancel,
                    ..request
                };
                (kind, resume_run(&shared_run, &entry, request).await)
            }
        };
        match outcome {
            Some(outcome) => ended(&shared_run, &entry, kind, outcome),
            None => {
                shared_run.going.lock().remove(&run_id);
                shared_run.metrics.run_not_resumed();
            }
        }
        let next = entry
            .gate
            .lock()
            .finished(slot, shared_run.stopping.is_cancelled());
        // Reloaded meanwhile: what waited starts on the version running now, as after a restart.
        let current = shared_run.workflows.current(&entry);
        for admitted in next {
            start_run(&shared_run, current.clone(), admitted);
        }
    });
}

/// The engine's resume of a recorded run; `None` when it did not run (cancelled while it
/// waited, or not resumable: logged).
async fn resume_run(
    shared: &Shared,
    entry: &WorkflowEntry,
    request: ResumeRequest,
) -> Option<RunOutcome> {
    if shared.cancelled_waits.lock().remove(&request.run_id) {
        return None;
    }
    let run_id = request.run_id.clone();
    match shared.engine.resume(entry.workflow.clone(), request).await {
        Ok(outcome) => Some(outcome),
        Err(e) => {
            tracing::error!(
                workflow = %entry.workflow.name,
                run = %run_id,
                "the run could not be resumed: {}",
                weft_action::http_errors::describe_error_chain(&e)
            );
            None
        }
    }
}

/// Gives the slot of a run that ended (a panic too) to the run that waited longest; before its
/// task ends, so that a shutdown waiting for the tasks sees the next one.
struct SlotRelease(Arc<Shared>);

impl Drop for SlotRelease {
    fn drop(&mut self) {
        let waiting = {
            let mut slots = self.0.slots.lock();
            let waiting = slots.waiting.pop_front();
            if waiting.is_none() {
                slots.free += 1;
            }
            waiting
        };
        if let Some((entry, admitted)) = waiting {
            execute(&self.0, entry, admitted);
        }
    }
}

/// Records a run that waited at its gate and will never start as `cancelled` with `reason`
/// (synced), and announces its end. A new run's record is made here, its trigger and inputs
/// redacted as the engine would; a recorded one is closed.
async fn close_unstarted(
    shared: &Shared,
    entry: &WorkflowEntry,
    pending: Pending,
    reason: &str,
) -> Result<(), StoreError> {
    let submission = match *pending.work {
        Work::Resume { .. } => return close_recorded(shared, &pending.run_id, reason).await,
        Work::Start(submission) => submission,
    };
    let redactor = Redactor::new(shared.secrets.values().cloned().chain(submission.masked));
    let now = chrono::Utc::now();
    let workflow = &entry.workflow;
    let record = RunRecord {
        id: pending.run_id,
        workflow: workflow.name.clone(),
        path: workflow.path.display().to_string(),
        hash: workflow.hash.clone(),
        parent: None,
        trigger: redactor.value(&submission.trigger),
        inputs: redactor.value(&Value::Object(submission.inputs)),
        status: RunStatus::Cancelled,
        error: Some(reason.to_string()),
        outputs: None,
        started_at: now,
        finished_at: Some(now),
        pid: None,
        truncated: Vec::new(),
        resumes: 0,
        wait: None,
    };
    shared.engine.store.put_run(&record).await?;
    shared.engine.store.flush().await?;
    announce_closed(shared, &record, submission.kind);
    Ok(())
}

/// Ends the recorded run `run_id` that is not going as `cancelled` with `reason` (synced),
/// and announces its end; one that has ended already is left as it is.
async fn close_recorded(shared: &Shared, run_id: &str, reason: &str) -> Result<(), StoreError> {
    let store = &shared.engine.store;
    let Some(mut run) = store.get_run(run_id).await? else {
        return Ok(());
    };
    if run.id != run_id || run.status.is_finished() {
        return Ok(());
    }
    run.status = RunStatus::Cancelled;
    run.error = Some(reason.to_string());
    run.finished_at = Some(chrono::Utc::now());
    run.wait = None;
    store.put_run(&run).await?;
    store.flush().await?;
    let kind = TriggerKind::of_trigger(&run.trigger).unwrap_or(TriggerKind::Api);
    announce_closed(shared, &run, kind);
    Ok(())
}

/// A run that was not going ended (cancelled before it started or while it waited).
fn announce_closed(shared: &Shared, run: &RunRecord, kind: TriggerKind) {
    shared.metrics.run_closed(&run.workflow, run.status);
    // No subscriber is no error.
    let _ = shared.ended.send(RunEnded {
        workflow: run.workflow.clone(),
        run_id: run.id.clone(),
        kind,
        status: run.status,
        error: run.error.clone(),
        duration: Duration::ZERO,
    });
}

/// A run ended (or was parked on a stored wait): no longer going; announced.
fn ended(shared: &Shared, entry: &WorkflowEntry, kind: TriggerKind, outcome: RunOutcome) {
    shared.going.lock().remove(&outcome.run_id);
    shared
        .metrics
        .run_ended(&entry.workflow.name, outcome.status);
    if outcome.status == RunStatus::Waiting {
        tracing::info!(
            workflow = %entry.workflow.name,
            run = %outcome.run_id,
            trigger = kind.as_str(),
            "run waits on a stored wait: it goes on at its wake-up time"
        );
    } else {
        tracing::info!(
            workflow = %entry.workflow.name,
            run = %outcome.run_id,
            trigger = kind.as_str(),
            "run ended: {}",
            outcome.status.as_str()
        );
    }
    // No subscriber is no error.
    let _ = shared.ended.send(RunEnded {
        workflow: entry.workflow.name.clone(),
        run_id: outcome.run_id,
        kind,
        status: outcome.status,
        error: outcome.error,
        duration: outcome.duration,
    });
}
