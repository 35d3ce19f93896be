//! The cron scheduler: one priority queue of the next fire of every cron trigger, one task
//! sleeping until the earliest. Each fire is recorded (with the id its run will have) and
//! synced before its run is submitted: shortly before its instant when the scheduler is awake
//! then, so that at the instant only a mark is synced (see `ahead`).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use weft_engine::exec::new_run_id;
use weft_engine::store::{FireRecord, StoreError, TriggerStore};
use weft_engine::trigger::{DstNote, Fire};
use weft_engine::workflow::{CompiledWorkflow, CronPlan, TriggerPlan};

use crate::ahead::{self, RECORD_AHEAD};
use crate::clock::{self, Clock};
use crate::dispatch::{Dispatcher, ReadyBatch, Submission, SubmitError, Submitted, TriggerKind};
use crate::due::{due_fires, Due};

/// The trigger name of a workflow's cron trigger in the trigger store (a workflow has one
/// trigger).
pub const CRON_TRIGGER: &str = "cron";

/// Where the fires a gate dropped (`overlap: skip`, a full `concurrency: skip`) are noted, as
/// fire records of their own: a fire recorded without a run is started at the next start
/// (its run never started), unless it was dropped on purpose.
pub const DROPPED_CRON_FIRES: &str = "cron/dropped";

#[derive(Debug, thiserror::Error)]
pub enum CronError {
    #[error("cannot read the last recorded fire of workflow `{workflow}`")]
    LastFire {
        workflow: String,
        #[source]
        source: StoreError,
    },
    #[error("cannot read how far the cron scheduler got before it stopped")]
    Reached(#[source] StoreError),
}

/// A fire on its way to a run.
#[derive(Debug)]
struct CronFire {
    fire: Fire,
    /// Missed while weft was not running, run by `missed: latest | all`.
    missed: bool,
    /// Its run's `trigger`, when it was made ahead (see [`Prepared`]).
    event: Option<Value>,
}

impl CronFire {
    fn new(fire: Fire, missed: bool) -> Self {
        CronFire {
            fire,
            missed,
            event: None,
        }
    }
}

/// What a trigger's next fire needs at its instant, made when it was recorded ahead: at the
/// instant ten thousand triggers are then only submitted, not computed.
struct Prepared {
    /// The fire, on time and the only one due at its instant.
    fire: Fire,
    /// The trigger's fire after it.
    next: Option<DateTime<Utc>>,
    /// Its run's `trigger`.
    event: Value,
}

impl Prepared {
    /// Still what is due when the scheduler wakes at `now` for the queue entry at `at`: woken
    /// on time, before the trigger's next fire.
    fn holds(&self, at: DateTime<Utc>, now: DateTime<Utc>, on_time_since: DateTime<Utc>) -> bool {
        self.fire.at == at && at >= on_time_since && self.next.is_none_or(|next| next > now)
    }
}

/// How long before an instant its fires are taken from the queue, made owed (the mark synced)
/// and their runs made ready (see [`Scheduler::make_owed`]). For 10,000 fires on a busy
/// machine that took 50 to 170 ms, and more than 250 ms once: then every fire was late.
const GATHER_AHEAD: chrono::Duration = chrono::Duration::milliseconds(750);

/// How long before an instant the scheduler stops sleeping on tokio's timer, which counts in
/// whole milliseconds and woke 0.7 to 5.6 ms late, and yields until the instant instead.
const YIELD_BEFORE: chrono::Duration = chrono::Duration::milliseconds(8);

/// The longest real time the scheduler yields for: a clock that does not move by itself (a
/// test's) is then waited for as usual.
const YIELD_AT_MOST: std::time::Duration = std::time::Duration::from_millis(20);

/// Resolves once `clock` has reached `at`, within microseconds of it on the wall clock: it
/// sleeps until shortly before, then yields to the runtime's other tasks until the instant
/// (a few milliseconds of CPU once per instant).
async fn reach_precisely(clock: &dyn Clock, at: DateTime<Utc>) {
    clock::reach(clock, at - YIELD_BEFORE).await;
    let yielding = std::time::Instant::now();
    while clock.now() < at && yielding.elapsed() < YIELD_AT_MOST {
        tokio::task::yield_now().await;
    }
    clock::reach(clock, at).await;
}

/// A fire recorded ahead of its instant, by instant and index of its job.
type ArmedKey = (DateTime<Utc>, usize);

/// A fire taken from the queue with its submission made, to be recorded (unless it was
/// armed) and submitted at its instant.
struct ReadyFire {
    /// Of its job.
    index: usize,
    at: DateTime<Utc>,
    missed: bool,
    /// Recorded (and synced) ahead, with `run_id`.
    recorded: bool,
    /// Its run's, in `submission` too.
    run_id: String,
    submission: Submission,
}

/// The runs of an instant's fires, owed and ready to be submitted.
struct FireBatch {
    ready: ReadyBatch,
    /// The fire of each run of `ready`, in order.
    fires: Vec<BatchFire>,
}

struct BatchFire {
    /// Of its job.
    index: usize,
    at: DateTime<Utc>,
    missed: bool,
    run_id: String,
}

/// What an armed fire was recorded with.
struct Armed {
    workflow: String,
    run_id: String,
}

struct Job {
    workflow: String,
    plan: CronPlan,
}

/// A change to the scheduled workflows while the scheduler runs (a reload).
enum Command {
    /// Schedules a workflow's cron trigger from `since`, in place of its previous schedule; a
    /// workflow without one is no longer scheduled.
    Set {
        workflow: Arc<CompiledWorkflow>,
        since: DateTime<Utc>,
    },
    Remove(String),
}

impl Job {
    fn of(workflow: &CompiledWorkflow) -> Option<Job> {
        match &workflow.trigger {
            TriggerPlan::Cron(plan) => Some(Job {
                workflow: workflow.name.clone(),
                plan: plan.clone(),
            }),
            TriggerPlan::Manual | TriggerPlan::Poll(_) | TriggerPlan::Webhook(_) => None,
        }
    }

    /// `trigger` in the run's expressions.
    fn event(&self, fire: CronFire) -> Value {
        match fire.event {
            Some(event) => event,
            None => cron_event(&self.plan, &fire.fire, fire.missed),
        }
    }
}

/// `trigger` of a run started by the cron fire `fire`.
pub(crate) fn cron_event(plan: &CronPlan, fire: &Fire, missed: bool) -> Value {
    let dst = fire.note.map(|note| match note {
        DstNote::ShiftedOutOfGap => "shifted_out_of_gap",
        DstNote::FirstOfRepeatedTime => "first_of_repeated_time",
    });
    json!({
        "kind": TriggerKind::Cron.as_str(),
        "schedule": plan.expression,
        "timezone": plan.timezone.name(),
        "scheduled_at": fire.at.to_rfc3339(),
        "local": fire.local.to_rfc3339(),
        "missed": missed,
        "dst": dst,
    })
}

/// The running cron scheduler.
pub(crate) struct CronScheduler {
    stop: CancellationToken,
    task: JoinHandle<()>,
    handled: watch::Receiver<Handled>,
    commands: mpsc::UnboundedSender<Command>,
    scheduled: Arc<AtomicUsize>,
    clock: Arc<dyn Clock>,
}

/// How far the scheduler got: the instant it last looked at, and its next wake-up (a fire's
/// instant, or a time to record fires ahead).
#[derive(Debug, Clone, Copy, Default)]
struct Handled {
    now: Option<DateTime<Utc>>,
    next: Option<DateTime<Utc>>,
}

impl Handled {
    /// Every fire due at `at` is handled: the scheduler looked at `at`, or its next wake-up is
    /// later (nothing is due until then).
    fn covers(&self, at: DateTime<Utc>) -> bool {
        self.now
            .is_some_and(|now| now >= at || self.next.is_none_or(|next| next > at))
    }
}

impl CronScheduler {
    /// Starts scheduling the cron triggers of `workflows`. Fires are recorded in `triggers` and
    /// made durable with the engine's store flush: in weft both are the one store of the data
    /// folder.
    pub async fn start(
        dispatcher: Dispatcher,
        triggers: Arc<dyn TriggerStore>,
        clock: Arc<dyn Clock>,
        workflows: &[Arc<CompiledWorkflow>],
        late_tolerance: chrono::Duration,
    ) -> Result<CronScheduler, CronError> {
        let jobs: Vec<Job> = workflows.iter().filter_map(|w| Job::of(w)).collect();
        let started = clock.now();
        let reached = ahead::reached(triggers.as_ref())
            .await
            .map_err(CronError::Reached)?;
        let mut cursors = Vec::with_capacity(jobs.len());
        let mut armed = BTreeMap::new();
        for (index, job) in jobs.iter().enumerate() {
            let last_fire = |since| {
                let (triggers, workflow) = (&triggers, job.workflow.clone());
                async move {
                    let fires = match since {
                        Some(since) => triggers.fires_since(&workflow, CRON_TRIGGER, since).await,
                        None => triggers
                            .last_fire(&workflow, CRON_TRIGGER)
                            .await
                            .map(Vec::from_iter),
                    };
                    fires.map_err(|source| CronError::LastFire { workflow, source })
                }
            };
            let last = last_fire(None).await?.pop();
            // With no recorded fire nothing was missed: the trigger starts now.
            let start_from = started - chrono::Duration::milliseconds(1);
            let cursor = match last {
                // Recorded ahead by a process that stopped before its instant: every fire
                // before the first such one was handled, and those are taken up as armed (run
                // under their recorded ids if they run, noted dropped if not).
                Some(last) if ahead::unreached(&last, reached) => {
                    let since = reached.map_or(DateTime::<Utc>::MIN_UTC, |r| {
                        r + chrono::Duration::microseconds(1)
                    });
                    let unreached: Vec<FireRecord> = last_fire(Some(since))
                        .await?
                        .into_iter()
                        .filter(|fire| ahead::unreached(fire, reached))
                        .collect();
                    let first = unreached
                        .first()
                        .map_or(last.scheduled_at, |f| f.scheduled_at);
                    for fire in unreached {
                        if let Some(run_id) = fire.run_id {
                            let armed_fire = Armed {
                                workflow: job.workflow.clone(),
                                run_id,
                            };
                            armed.insert((fire.scheduled_at, index), armed_fire);
                        }
                    }
                    first - chrono::Duration::microseconds(1)
                }
                Some(last) => last.scheduled_at,
                None => start_from,
            };
            cursors.push(cursor);
        }
        // Every trigger is looked at once at start: missed fires, then its next fire.
        let queue = (0..jobs.len()).map(|i| Reverse((started, i))).collect();
        let (handled_tx, handled) = watch::channel(Handled::default());
        let stop = CancellationToken::new();
        let scheduled = Arc::new(AtomicUsize::new(jobs.len()));
        let by_name = jobs
            .iter()
            .enumerate()
            .map(|(index, job)| (job.workflow.clone(), index))
            .collect();
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let scheduler = Scheduler {
            dispatcher,
            triggers,
            clock: clock.clone(),
            late_tolerance,
            jobs: jobs.into_iter().map(Some).collect(),
            by_name,
            scheduled: scheduled.clone(),
            queue,
            cursors,
            armed,
            prepared: HashMap::new(),
            started,
            handled: handled_tx,
        };
        let task = tokio::spawn(scheduler.run(stop.clone(), commands_rx));
        Ok(CronScheduler {
            stop,
            task,
            handled,
            commands,
            scheduled,
            clock,
        })
    }

    /// Workflows scheduled on a cron trigger.
    pub fn workflows(&self) -> usize {
        self.scheduled.load(Ordering::Relaxed)
    }

    /// Schedules `workflow`'s cron trigger in place of its previous schedule (a reload); a
    /// workflow without one stops being scheduled. The new schedule's fires count from now:
    /// none before it is caught up.
    pub fn set(&self, workflow: Arc<CompiledWorkflow>) {
        let since = self.clock.now();
        // A send fails only once the scheduler stopped: nothing is scheduled any more.
        let _ = self.commands.send(Command::Set { workflow, since });
    }

    /// Stops scheduling a workflow (its file was deleted).
    pub fn remove(&self, name: &str) {
        let _ = self.commands.send(Command::Remove(name.to_string()));
    }

    /// Resolves once the scheduler has handled every fire due at `at` (recorded it and
    /// submitted its run), and recorded ahead those due within `RECORD_AHEAD` of it.
    pub async fn handled_until(&self, at: DateTime<Utc>) {
        let mut handled = self.handled.clone();
        let _ = handled.wait_for(|h| h.covers(at)).await;
    }

    /// Stops taking fires.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            tracing::error!("the cron scheduler task ended abnormally: {e}");
        }
    }
}

struct Scheduler {
    dispatcher: Dispatcher,
    triggers: Arc<dyn TriggerStore>,
    clock: Arc<dyn Clock>,
    late_tolerance: chrono::Duration,
    /// Every job scheduled since the start; `None`: replaced or removed by a reload (its
    /// queue entry, if any, is dropped when it comes up).
    jobs: Vec<Option<Job>>,
    /// The index in `jobs` of each workflow's current job.
    by_name: HashMap<String, usize>,
    scheduled: Arc<AtomicUsize>,
    /// The next instant to look at each trigger, earliest first (index into `jobs`).
    queue: BinaryHeap<Reverse<(DateTime<Utc>, usize)>>,
    /// Per trigger, the latest fire handled: fires after it are due.
    cursors: Vec<DateTime<Utc>>,
    /// Fires recorded (and synced) ahead of their instant. Each is submitted when its fire
    /// comes due, or noted dropped once its instant passed without it (its workflow was
    /// removed or rescheduled, or it was missed).
    armed: BTreeMap<ArmedKey, Armed>,
    /// By index in `jobs`: what the next fire of each trigger armed needs at its instant.
    prepared: HashMap<usize, Prepared>,
    started: DateTime<Utc>,
    handled: watch::Sender<Handled>,
}

impl Scheduler {
    async fn run(
        mut self,
        stop: CancellationToken,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        loop {
            let mut now = self.clock.now();
            let soon = self.queue.peek().map(|Reverse((at, _))| *at);
            if let Some(at) = soon.filter(|at| *at > now && *at - now <= GATHER_AHEAD) {
                // The fires of `at` are taken, made owed (the mark "reached `at`" synced with
                // them) and their runs made ready before it: at the instant they are only
                // submitted. Nothing is due before `at`, and a reload waits until it is
                // handled (a moment).
                let due = self.take_due(at);
                let fires = self.ready(due);
                let batch = self.make_owed(fires, at, now).await;
                self.handled.send_replace(Handled {
                    now: Some(now),
                    next: Some(at),
                });
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => {
                        if batch.is_some() {
                            self.unreach(at).await;
                        }
                        return;
                    }
                    _ = reach_precisely(self.clock.as_ref(), at) => {}
                }
                now = self.clock.now();
                if let Some(batch) = batch {
                    self.submit(batch, now).await;
                }
            }
            // Those of `now` (the scheduler woke late, or the clock jumped).
            let due = self.take_due(now);
            let fires = self.ready(due);
            if let Some(batch) = self.make_owed(fires, now, now).await {
                self.submit(batch, now).await;
            }
            let next_to_arm = self.arm(now).await;
            let next = self.queue.peek().map(|Reverse((at, _))| *at - GATHER_AHEAD);
            let next_to_arm = next_to_arm.map(|at| at - RECORD_AHEAD);
            let wake = match (next, next_to_arm) {
                (Some(next), Some(arm)) => Some(next.min(arm)),
                (next, arm) => next.or(arm),
            };
            self.handled.send_replace(Handled {
                now: Some(now),
                next: wake,
            });
            let sleep: BoxFuture<'static, ()> = match wake {
                Some(at) => self.clock.sleep_until(at),
                None => Box::pin(std::future::pending()),
            };
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                Some(command) = commands.recv() => self.apply(command),
                _ = sleep => {}
            }
        }
    }

    /// A stop asked for before `at`, whose fires were made owed ahead: the mark goes back to
    /// the clock, so that they are fires of the downtime, run or not as `missed` says, like
    /// those of any instant the daemon stopped before. Should this fail, or the process die
    /// before it, they stay owed and the next start runs them (see `ahead`).
    async fn unreach(&self, at: DateTime<Utc>) {
        let now = self.clock.now().min(at - chrono::Duration::nanoseconds(1));
        let marked = ahead::mark_reached(self.triggers.as_ref(), now).await;
        let synced = match marked {
            Ok(()) => self.dispatcher.engine().store.flush().await,
            Err(e) => Err(e),
        };
        if let Err(e) = synced {
            tracing::warn!(
                "the fires of {at} stay owed and run at the next start: the stop could not take back their mark: {}",
                e.with_causes()
            );
        }
    }

    fn apply(&mut self, command: Command) {
        let (name, job) = match command {
            Command::Set { workflow, since } => (
                workflow.name.clone(),
                Job::of(&workflow).map(|job| (job, since)),
            ),
            Command::Remove(name) => (name, None),
        };
        let previous = self.by_name.remove(&name);
        if let Some(previous) = previous {
            self.jobs[previous] = None;
        }
        if let Some((job, since)) = job {
            let index = self.jobs.len();
            self.jobs.push(Some(job));
            self.cursors.push(since - chrono::Duration::milliseconds(1));
            self.by_name.insert(name, index);
            self.queue.push(Reverse((since, index)));
            // A fire armed for the previous version runs if the new one fires then too.
            if let Some(previous) = previous {
                let keys: Vec<ArmedKey> = self
                    .armed
                    .keys()
                    .filter(|(_, of)| *of == previous)
                    .copied()
                    .collect();
                for (at, of) in keys {
                    if let Some(armed) = self.armed.remove(&(at, of)) {
                        self.armed.insert((at, index), armed);
                    }
                }
            }
        }
        self.scheduled.store(self.by_name.len(), Ordering::Relaxed);
    }

    /// The fires to run of every trigger due at `now`, in order; the queue gets each
    /// trigger's next fire.
    fn take_due(&mut self, now: DateTime<Utc>) -> Vec<(usize, CronFire)> {
        let on_time_since = self.started.max(now - self.late_tolerance);
        let mut fires = Vec::new();
        while let Some(&Reverse((at, index))) = self.queue.peek() {
            if at > now {
                break;
            }
            self.queue.pop();
            let prepared = self.prepared.remove(&index);
            let Some(job) = &self.jobs[index] else {
                continue;
            };
            let (due, event) = match prepared {
                Some(prepared) if prepared.holds(at, now, on_time_since) => {
                    let due = Due {
                        last: Some(at),
                        next: prepared.next,
                        on_time: Some(prepared.fire),
                        ..Due::default()
                    };
                    (due, Some(prepared.event))
                }
                _ => (
                    due_fires(&job.plan, self.cursors[index], now, on_time_since),
                    None,
                ),
            };
            if due.skipped > 0 {
                tracing::warn!(
                    workflow = %job.workflow,
                    "{} missed fire(s) not run (missed: {:?})",
                    due.skipped,
                    job.plan.missed
                );
            }
            let catch_up = due
                .catch_up
                .into_iter()
                .map(|fire| (index, CronFire::new(fire, true)));
            fires.extend(catch_up);
            if let Some(fire) = due.on_time {
                fires.push((
                    index,
                    CronFire {
                        event,
                        ..CronFire::new(fire, false)
                    },
                ));
            }
            if let Some(last) = due.last {
                self.cursors[index] = last;
            }
            match due.next {
                Some(next) => self.queue.push(Reverse((next, index))),
                None => {
                    tracing::info!(workflow = %job.workflow, "the schedule has no more fires")
                }
            }
        }
        fires
    }

    /// Takes the armed fires of `fires` (recorded ahead: their runs' ids are known) and makes
    /// every fire's submission; in memory only, so that it can be done before the instant.
    fn ready(&mut self, fires: Vec<(usize, CronFire)>) -> Vec<ReadyFire> {
        fires
            .into_iter()
            .filter_map(|(index, fire)| {
                let job = self.jobs[index].as_ref()?;
                let (at, missed) = (fire.fire.at, fire.missed);
                let armed = self.armed.remove(&(at, index));
                let recorded = armed.is_some();
                let run_id = armed.map_or_else(new_run_id, |armed| armed.run_id);
                let submission = Submission {
                    run_id: Some(run_id.clone()),
                    ..Submission::new(TriggerKind::Cron, job.event(fire))
                };
                Some(ReadyFire {
                    index,
                    at,
                    missed,
                    recorded,
                    run_id,
                    submission,
                })
            })
            .collect()
    }

    /// Makes the fires of an instant owed before their runs are submitted: records each with
    /// the id of its run unless it was armed, notes the armed fires of instants up to `reached`
    /// that are not among them dropped, marks `reached` (one sync for all; see `ahead`), and
    /// makes their runs ready for the dispatcher. `None` when there is nothing to submit.
    async fn make_owed(
        &mut self,
        fires: Vec<ReadyFire>,
        reached: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<FireBatch> {
        let recorded = self.record(fires, now).await;
        let later = (reached + chrono::Duration::nanoseconds(1), 0);
        let later = self.armed.split_off(&later);
        let passed = std::mem::replace(&mut self.armed, later);
        if recorded.is_empty() && passed.is_empty() {
            return None;
        }
        // Made in memory before the sync: at the instant only the gates are left to pass.
        let mut batch = FireBatch {
            ready: self.dispatcher.ready_batch(recorded.len()),
            fires: Vec::with_capacity(recorded.len()),
        };
        for fire in recorded {
            // Fires are taken and submitted with no reload in between.
            let Some(job) = &self.jobs[fire.index] else {
                continue;
            };
            self.dispatcher
                .make_ready(&mut batch.ready, &job.workflow, fire.submission);
            batch.fires.push(BatchFire {
                index: fire.index,
                at: fire.at,
                missed: fire.missed,
                run_id: fire.run_id,
            });
        }
        for ((at, _), armed) in passed {
            self.note_dropped(&armed.workflow, at, armed.run_id, now)
                .await;
        }
        if let Err(e) = ahead::mark_reached(self.triggers.as_ref(), reached).await {
            tracing::error!(
                "{} fire(s) are not run: the scheduler could not note how far it got: {}",
                batch.fires.len(),
                e.with_causes()
            );
            return None;
        }
        // A fire is on disk before its run starts: a crash then never runs it twice. So is the
        // mark, which makes the fires recorded ahead for instants up to `reached` owed.
        if let Err(e) = self.dispatcher.engine().store.flush().await {
            tracing::error!(
                "{} recorded fire(s) could not be synced, so they are not run: {}",
                batch.fires.len(),
                e.with_causes()
            );
            return None;
        }
        Some(batch)
    }

    /// Records each fire that was not armed with the id of its run; returns the fires
    /// recorded (the armed ones too), to be run.
    async fn record(&mut self, fires: Vec<ReadyFire>, now: DateTime<Utc>) -> Vec<ReadyFire> {
        let mut recorded = Vec::with_capacity(fires.len());
        for fire in fires {
            let Some(job) = &self.jobs[fire.index] else {
                continue;
            };
            if fire.recorded {
                recorded.push(fire);
                continue;
            }
            let record = FireRecord {
                workflow: job.workflow.clone(),
                trigger: CRON_TRIGGER.to_string(),
                scheduled_at: fire.at,
                run_id: Some(fire.run_id.clone()),
                recorded_at: now,
            };
            match self.triggers.record_fire(&record).await {
                Ok(true) => recorded.push(fire),
                Ok(false) => tracing::info!(
                    workflow = %job.workflow,
                    "the fire of {} is already recorded: not run again",
                    fire.at
                ),
                Err(e) => tracing::error!(
                    workflow = %job.workflow,
                    "the fire of {} could not be recorded, so it is not run: {}",
                    fire.at,
                    e.with_causes()
                ),
            }
        }
        recorded
    }

    /// Submits the runs of fires made owed, all at once. Each fire's lag is measured to the
    /// moment the dispatcher took its run (its gate decided, the run going with its slot or
    /// its place in the slots' queue).
    async fn submit(&mut self, batch: FireBatch, now: DateTime<Utc>) {
        let clock = self.clock.as_ref();
        let mut accepted_at = Vec::with_capacity(batch.fires.len());
        let answers = self
            .dispatcher
            .submit_ready(batch.ready, |_| accepted_at.push(clock.now()));
        let mut not_run = Vec::new();
        for ((fire, submitted), accepted_at) in
            batch.fires.into_iter().zip(answers).zip(accepted_at)
        {
            // Fires are taken and submitted with no reload in between.
            let Some(job) = &self.jobs[fire.index] else {
                continue;
            };
            let at = fire.at;
            // A missed fire run late on purpose is no lag of the scheduler's.
            if !fire.missed {
                let lag = (accepted_at - at).to_std().unwrap_or_default();
                self.dispatcher.metrics().fire_submitted(lag);
            }
            match submitted {
                Ok(Submitted::Started { .. }) => {}
                Ok(Submitted::Queued { cancelled, .. }) => tracing::info!(
                    workflow = %job.workflow,
                    "the fire of {at} waits for a run to end ({cancelled} run(s) asked to stop)"
                ),
                Ok(Submitted::Dropped { reason, .. }) => {
                    tracing::warn!(
                        workflow = %job.workflow,
                        "the fire of {at} is not run: {}",
                        reason.describe()
                    );
                    not_run.push((job.workflow.clone(), at, fire.run_id));
                }
                Err(e) => {
                    tracing::warn!(workflow = %job.workflow, "the fire of {at} is not run: {e}");
                    // A fire of a paused (or removed) workflow is not owed to the next start;
                    // one refused because the daemon stops is.
                    if !matches!(e, SubmitError::Stopping) {
                        not_run.push((job.workflow.clone(), at, fire.run_id));
                    }
                }
            }
        }
        for (workflow, at, run_id) in not_run {
            self.note_dropped(&workflow, at, run_id, now).await;
        }
    }

    /// Records the fires due within [`RECORD_AHEAD`] of `now` that are not yet (one sync for
    /// all), and prepares what they need at their instant. Returns the instant of the next
    /// fire to arm after them.
    async fn arm(&mut self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let horizon = now + RECORD_AHEAD;
        let mut soon = Vec::new();
        while let Some(&Reverse((at, _))) = self.queue.peek() {
            if at > horizon {
                break;
            }
            soon.push(self.queue.pop().expect("peeked"));
        }
        let next_to_arm = self.queue.peek().map(|Reverse((at, _))| *at);
        let mut armed = 0usize;
        for &Reverse((at, index)) in &soon {
            // Entries at or before now are due at the next turn, not armed.
            let Some(job) = self.jobs[index].as_ref().filter(|_| at > now) else {
                continue;
            };
            if !self.prepared.contains_key(&index) {
                // Fires in (cursor, at]: just the one at `at` unless some were missed.
                let due = due_fires(&job.plan, self.cursors[index], at, at);
                let alone = due.catch_up.is_empty() && due.skipped == 0;
                if let (Some(fire), true) = (due.on_time, alone) {
                    let prepared = Prepared {
                        event: cron_event(&job.plan, &fire, false),
                        fire,
                        next: due.next,
                    };
                    self.prepared.insert(index, prepared);
                }
            }
            let key = (at, index);
            if self.armed.contains_key(&key) {
                continue;
            }
            let run_id = new_run_id();
            let record = FireRecord {
                workflow: job.workflow.clone(),
                trigger: CRON_TRIGGER.to_string(),
                scheduled_at: at,
                run_id: Some(run_id.clone()),
                recorded_at: now,
            };
            match self.triggers.record_fire(&record).await {
                Ok(true) => {
                    let workflow = job.workflow.clone();
                    self.armed.insert(key, Armed { workflow, run_id });
                    armed += 1;
                }
                // Recorded by another process: handled at its instant like any recorded fire.
                Ok(false) => {}
                // Recorded at its instant instead.
                Err(e) => tracing::warn!(
                    workflow = %job.workflow,
                    "the fire of {at} could not be recorded ahead: {}",
                    e.with_causes()
                ),
            }
        }
        self.queue.extend(soon);
        if armed > 0 {
            if let Err(e) = self.dispatcher.engine().store.flush().await {
                // Not synced now, they are synced with the mark at their instant.
                tracing::warn!(
                    "{armed} fire(s) recorded ahead could not be synced yet: {}",
                    e.with_causes()
                );
            }
        }
        next_to_arm
    }

    /// Notes a fire that is not run on purpose (its gate dropped it, or it was armed and its
    /// instant passed without it), synced with the next fire's records: the next start does
    /// not take it for one whose run never started.
    async fn note_dropped(
        &self,
        workflow: &str,
        at: DateTime<Utc>,
        run_id: String,
        now: DateTime<Utc>,
    ) {
        let dropped = FireRecord {
            workflow: workflow.to_string(),
            trigger: DROPPED_CRON_FIRES.to_string(),
            scheduled_at: at,
            run_id: Some(run_id),
            recorded_at: now,
        };
        if let Err(e) = self.triggers.record_fire(&dropped).await {
            tracing::error!(
                workflow = %workflow,
                "the dropped fire of {at} could not be noted, so the next start may run it: {}",
                e.with_causes()
            );
        }
    }
}
