//! The scheduler task (one priority queue of next fires), and the runs it starts.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use weft_engine::exec::{Engine, RunRequest};
use weft_engine::store::{FireRecord, StoreError, TriggerStore};
use weft_engine::trigger::{DstNote, Fire};
use weft_engine::workflow::{CompiledWorkflow, CronPlan, TriggerPlan};

use crate::clock::Clock;
use crate::due::due_fires;
use crate::gate::{Admitted, Gate, Offer};

/// The trigger name of a workflow's cron trigger in the trigger store (a workflow has one
/// trigger).
pub const CRON_TRIGGER: &str = "cron";

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How late a fire may be handled and still count as on time; a fire handled later (the
    /// process was suspended or stopped) is a missed one, run or not by the `missed` setting.
    pub late_tolerance: chrono::Duration,
    /// `secrets.*` of the runs.
    pub secrets: HashMap<String, String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            late_tolerance: chrono::Duration::seconds(60),
            secrets: HashMap::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot read the last recorded fire of workflow `{workflow}`")]
    LastFire {
        workflow: String,
        #[source]
        source: StoreError,
    },
}

/// What a shutdown left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Runs still going when the grace period ended (the caller closes them as interrupted).
    pub still_running: usize,
    /// Fires that were waiting for a run to end (`overlap: queue_*`, `concurrency: queue`) and
    /// were not started.
    pub dropped_waiting: usize,
}

/// A fire on its way to a run.
#[derive(Debug)]
struct CronFire {
    fire: Fire,
    /// Missed while weft was not running, run by `missed: latest | all`.
    missed: bool,
}

struct Job {
    workflow: Arc<CompiledWorkflow>,
    plan: CronPlan,
    gate: Mutex<Gate<CronFire>>,
}

impl Job {
    /// `trigger` in the run's expressions.
    fn event(&self, fire: &CronFire) -> Value {
        let dst = fire.fire.note.map(|note| match note {
            DstNote::ShiftedOutOfGap => "shifted_out_of_gap",
            DstNote::FirstOfRepeatedTime => "first_of_repeated_time",
        });
        json!({
            "kind": "cron",
            "schedule": self.plan.expression,
            "timezone": self.plan.timezone.name(),
            "scheduled_at": fire.fire.at.to_rfc3339(),
            "local": fire.fire.local.to_rfc3339(),
            "missed": fire.missed,
            "dst": dst,
        })
    }
}

struct Shared {
    engine: Engine,
    triggers: Arc<dyn TriggerStore>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    jobs: Vec<Job>,
    runs: TaskTracker,
    /// Set at shutdown: waiting fires no longer start.
    stopping: CancellationToken,
}

/// A running daemon: the scheduler task and the runs it started.
pub struct Daemon {
    shared: Arc<Shared>,
    stop: CancellationToken,
    scheduler: JoinHandle<()>,
    handled: watch::Receiver<Handled>,
}

/// How far the scheduler got: the instant it last looked at, and its next wake-up.
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

impl Daemon {
    /// Starts scheduling the cron triggers of `workflows` (other triggers are left alone).
    /// Fires are recorded in `triggers` and made durable with the engine's store flush: in
    /// weft both are the one store of the data folder.
    pub async fn start(
        engine: Engine,
        triggers: Arc<dyn TriggerStore>,
        clock: Arc<dyn Clock>,
        workflows: impl IntoIterator<Item = Arc<CompiledWorkflow>>,
        settings: Settings,
    ) -> Result<Daemon, DaemonError> {
        let jobs: Vec<Job> = workflows
            .into_iter()
            .filter_map(|workflow| match &workflow.trigger {
                TriggerPlan::Cron(plan) => Some(Job {
                    plan: plan.clone(),
                    gate: Mutex::new(Gate::new(plan.overlap, workflow.concurrency.as_ref())),
                    workflow: workflow.clone(),
                }),
                TriggerPlan::Manual | TriggerPlan::Poll(_) => None,
            })
            .collect();
        let started = clock.now();
        let mut cursors = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let last = triggers
                .last_fire(&job.workflow.name, CRON_TRIGGER)
                .await
                .map_err(|source| DaemonError::LastFire {
                    workflow: job.workflow.name.clone(),
                    source,
                })?;
            // With no recorded fire nothing was missed: the trigger starts now.
            let start_from = started - chrono::Duration::milliseconds(1);
            cursors.push(last.map_or(start_from, |fire| fire.scheduled_at));
        }
        // Every trigger is looked at once at start: missed fires, then its next fire.
        let queue = (0..jobs.len()).map(|i| Reverse((started, i))).collect();
        let shared = Arc::new(Shared {
            engine,
            triggers,
            clock,
            settings,
            jobs,
            runs: TaskTracker::new(),
            stopping: CancellationToken::new(),
        });
        let (handled_tx, handled) = watch::channel(Handled::default());
        let stop = CancellationToken::new();
        let scheduler = Scheduler {
            shared: shared.clone(),
            queue,
            cursors,
            started,
            handled: handled_tx,
        };
        let scheduler = tokio::spawn(scheduler.run(stop.clone()));
        Ok(Daemon {
            shared,
            stop,
            scheduler,
            handled,
        })
    }

    /// Workflows scheduled on a cron trigger.
    pub fn cron_workflows(&self) -> usize {
        self.shared.jobs.len()
    }

    /// Runs going now.
    pub fn runs_going(&self) -> usize {
        self.shared.runs.len()
    }

    /// Resolves once the scheduler has handled every fire due at `at` (recorded it and started,
    /// queued or dropped its run).
    pub async fn handled_until(&self, at: DateTime<Utc>) {
        let mut handled = self.handled.clone();
        let _ = handled.wait_for(|h| h.covers(at)).await;
    }

    /// Stops taking fires, lets the runs going finish for up to `grace`, and says what was
    /// left. Waiting fires are not started.
    pub async fn shutdown(self, grace: std::time::Duration) -> ShutdownReport {
        self.stop.cancel();
        if let Err(e) = self.scheduler.await {
            tracing::error!("the scheduler task ended abnormally: {e}");
        }
        self.shared.stopping.cancel();
        let dropped_waiting = self
            .shared
            .jobs
            .iter()
            .map(|job| job.gate.lock().drop_waiting())
            .sum();
        self.shared.runs.close();
        let _ = tokio::time::timeout(grace, self.shared.runs.wait()).await;
        ShutdownReport {
            still_running: self.shared.runs.len(),
            dropped_waiting,
        }
    }
}

struct Scheduler {
    shared: Arc<Shared>,
    /// The next instant to look at each trigger, earliest first (index into `jobs`).
    queue: BinaryHeap<Reverse<(DateTime<Utc>, usize)>>,
    /// Per trigger, the latest fire handled: fires after it are due.
    cursors: Vec<DateTime<Utc>>,
    started: DateTime<Utc>,
    handled: watch::Sender<Handled>,
}

impl Scheduler {
    async fn run(mut self, stop: CancellationToken) {
        loop {
            let now = self.shared.clock.now();
            let fires = self.take_due(now);
            self.fire_all(fires, now).await;
            let next = self.queue.peek().map(|Reverse((at, _))| *at);
            self.handled.send_replace(Handled {
                now: Some(now),
                next,
            });
            let sleep: BoxFuture<'static, ()> = match next {
                Some(at) => self.shared.clock.sleep_until(at),
                None => Box::pin(std::future::pending()),
            };
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                _ = sleep => {}
            }
        }
    }

    /// The fires to run of every trigger due at `now`, in order; the queue gets each
    /// trigger's next fire.
    fn take_due(&mut self, now: DateTime<Utc>) -> Vec<(usize, CronFire)> {
        let on_time_since = self.started.max(now - self.shared.settings.late_tolerance);
        let mut fires = Vec::new();
        while let Some(&Reverse((at, index))) = self.queue.peek() {
            if at > now {
                break;
            }
            self.queue.pop();
            let job = &self.shared.jobs[index];
            let due = due_fires(&job.plan, self.cursors[index], now, on_time_since);
            if due.skipped > 0 {
                tracing::warn!(
                    workflow = %job.workflow.name,
                    "{} missed fire(s) not run (missed: {:?})",
                    due.skipped,
                    job.plan.missed
                );
            }
            let catch_up = due
                .catch_up
                .into_iter()
                .map(|fire| (index, CronFire { fire, missed: true }));
            fires.extend(catch_up);
            if let Some(fire) = due.on_time {
                fires.push((
                    index,
                    CronFire {
                        fire,
                        missed: false,
                    },
                ));
            }
            if let Some(last) = due.last {
                self.cursors[index] = last;
            }
            match due.next {
                Some(next) => self.queue.push(Reverse((next, index))),
                None => {
                    tracing::info!(workflow = %job.workflow.name, "the schedule has no more fires")
                }
            }
        }
        fires
    }

    /// Records each fire (one sync for all), then offers the recorded ones to their gates.
    async fn fire_all(&self, fires: Vec<(usize, CronFire)>, now: DateTime<Utc>) {
        if fires.is_empty() {
            return;
        }
        let mut recorded = Vec::with_capacity(fires.len());
        for (index, fire) in fires {
            let job = &self.shared.jobs[index];
            let record = FireRecord {
                workflow: job.workflow.name.clone(),
                trigger: CRON_TRIGGER.to_string(),
                scheduled_at: fire.fire.at,
                run_id: None,
                recorded_at: now,
            };
            match self.shared.triggers.record_fire(&record).await {
                Ok(true) => recorded.push((index, fire)),
                Ok(false) => tracing::info!(
                    workflow = %job.workflow.name,
                    "the fire of {} is already recorded: not run again",
                    fire.fire.at
                ),
                Err(e) => tracing::error!(
                    workflow = %job.workflow.name,
                    "the fire of {} could not be recorded, so it is not run: {}",
                    fire.fire.at,
                    e.with_causes()
                ),
            }
        }
        // A fire is on disk before its run starts: a crash then never runs it twice.
        if let Err(e) = self.shared.engine.store.flush().await {
            tracing::error!(
                "{} recorded fire(s) could not be synced, so they are not run: {}",
                recorded.len(),
                e.with_causes()
            );
            return;
        }
        for (index, fire) in recorded {
            let job = &self.shared.jobs[index];
            let at = fire.fire.at;
            let offer = job.gate.lock().offer(fire);
            match offer {
                Offer::Start(admitted) => start_run(&self.shared, index, admitted),
                Offer::Queued { cancelled } => tracing::info!(
                    workflow = %job.workflow.name,
                    "the fire of {at} waits for a run to end ({cancelled} run(s) asked to stop)"
                ),
                Offer::Dropped(reason) => tracing::warn!(
                    workflow = %job.workflow.name,
                    "the fire of {at} is not run: {}",
                    reason.describe()
                ),
            }
        }
    }
}

/// Runs one admitted fire; when it ends, starts what its gate lets start.
fn start_run(shared: &Arc<Shared>, index: usize, admitted: Admitted<CronFire>) {
    let shared_run = shared.clone();
    shared.runs.spawn(async move {
        let job = &shared_run.jobs[index];
        let request = RunRequest {
            trigger: Some(job.event(&admitted.fire)),
            secrets: shared_run.settings.secrets.clone(),
            cancel: admitted.cancel,
            ..RunRequest::default()
        };
        let outcome = shared_run.engine.run(job.workflow.clone(), request).await;
        tracing::info!(
            workflow = %job.workflow.name,
            run = %outcome.run_id,
            "the run for the fire of {} ended: {}",
            admitted.fire.fire.at,
            outcome.status.as_str()
        );
        let next = job
            .gate
            .lock()
            .finished(admitted.slot, shared_run.stopping.is_cancelled());
        for admitted in next {
            start_run(&shared_run, index, admitted);
        }
    });
}
