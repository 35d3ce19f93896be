//! What a daemon picks up at start, and the wake-ups of waiting runs.
//!
//! At start, before any trigger fires, every run the daemon started (its `trigger.kind` is a
//! daemon trigger, it has no parent) of a workflow it runs, and that has not finished, is
//! taken up: a run that was going (`running`, or `interrupted` by the process that stopped) is
//! resumed (`Engine::resume`: from its last completed step, counted against the restart
//! limit); a `waiting` run is woken at its stored time. A cron fire recorded with its run's id
//! but whose run has no record (the process stopped between the fire's sync and the run's
//! first record, or the fire waited in a queue) is started once, as a resume: its steps may
//! have run before, so they are flagged so; a fire recorded ahead of an instant the daemon never
//! reached is not owed (see `ahead`). Fires are looked for within
//! [`UNSTARTED_FIRE_WINDOW`] of each trigger's last one; a fire its gate dropped on purpose is
//! noted so (`DROPPED_CRON_FIRES`) and not started.
//!
//! The [`Waker`] holds the waiting runs by wake-up time (one task, the daemon's [`Clock`]) and
//! learns of newly parked runs from the dispatcher's run-ended announcements.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde_json::json;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use weft_engine::exec::ResumeRequest;
use weft_engine::store::{RunRecord, RunStatus, StoreError, TriggerStore};
use weft_engine::trigger::Fire;
use weft_engine::workflow::TriggerPlan;

use crate::ahead;
use crate::clock::Clock;
use crate::dispatch::{Dispatcher, RunEnded, TriggerKind};
use crate::scheduler::{cron_event, CRON_TRIGGER, DROPPED_CRON_FIRES};

/// How far before a trigger's last recorded fire the start looks for fires whose run never
/// started: the window a crash between recording a fire and starting its run can leave, with
/// room for fires that waited in a queue (`overlap: queue_*`).
pub const UNSTARTED_FIRE_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

/// What the start picked up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Runs that were going, resumed now.
    pub resumed: usize,
    /// Runs that were going and stopped their daemon `restart_limit` times: failed now
    /// instead of resumed.
    pub failed_at_restart_limit: usize,
    /// Waiting runs, woken at their time.
    pub waiting: usize,
    /// Recorded fires whose run had not started, started now.
    pub unstarted_fires: usize,
}

/// A waiting run.
#[derive(Debug, Clone)]
pub(crate) struct Parked {
    run_id: String,
    workflow: String,
    kind: TriggerKind,
    until: DateTime<Utc>,
}

/// Takes up the runs and fires a stopped daemon left (see the module docs). Returns the
/// waiting runs for the [`Waker`].
pub(crate) async fn recover(
    dispatcher: &Dispatcher,
    triggers: &dyn TriggerStore,
    restart_limit: u32,
) -> Result<(Recovered, Vec<Parked>), StoreError> {
    let store = dispatcher.engine().store.clone();
    let mut recovered = Recovered::default();
    let mut parked = Vec::new();
    let mut resume = Vec::new();
    for run in store.unfinished_runs().await? {
        let Some(kind) = daemon_run(dispatcher, &run) else {
            continue;
        };
        match (run.status, &run.wait) {
            (RunStatus::Waiting, Some(wait)) => parked.push(Parked {
                until: wait.until,
                run_id: run.id,
                workflow: run.workflow,
                kind,
            }),
            _ => {
                // The engine's rule (`Engine::resume`): it fails such a run with the reason.
                if run.resumes >= restart_limit {
                    recovered.failed_at_restart_limit += 1;
                } else {
                    recovered.resumed += 1;
                }
                resume.push((run.workflow, kind, run.id));
            }
        }
    }
    recovered.waiting = parked.len();

    let reached = ahead::reached(triggers).await?;
    for entry in dispatcher.workflows().all() {
        let workflow = &entry.workflow;
        let TriggerPlan::Cron(plan) = &workflow.trigger else {
            continue;
        };
        let Some(last) = triggers.last_fire(&workflow.name, CRON_TRIGGER).await? else {
            continue;
        };
        let since = last.scheduled_at - UNSTARTED_FIRE_WINDOW;
        let dropped: HashSet<DateTime<Utc>> = triggers
            .fires_since(&workflow.name, DROPPED_CRON_FIRES, since)
            .await?
            .into_iter()
            .map(|fire| fire.scheduled_at)
            .collect();
        for fire in triggers
            .fires_since(&workflow.name, CRON_TRIGGER, since)
            .await?
        {
            // Recorded ahead of an instant the daemon never reached: no run is owed (the
            // scheduler counts it missed).
            if ahead::unreached(&fire, reached) {
                continue;
            }
            let Some(run_id) = fire.run_id else {
                continue;
            };
            if dropped.contains(&fire.scheduled_at) || store.get_run(&run_id).await?.is_some() {
                continue;
            }
            let scheduled = Fire {
                at: fire.scheduled_at,
                local: fire.scheduled_at.with_timezone(&plan.timezone),
                note: None,
            };
            let mut trigger = cron_event(plan, &scheduled, false);
            trigger["recovered"] = json!(true);
            store
                .put_run(&RunRecord {
                    id: run_id.clone(),
                    workflow: workflow.name.clone(),
                    path: workflow.path.display().to_string(),
                    hash: workflow.hash.clone(),
                    parent: None,
                    trigger,
                    inputs: json!({}),
                    status: RunStatus::Interrupted,
                    error: Some(
                        "the daemon stopped between recording the fire and starting its run".into(),
                    ),
                    outputs: None,
                    started_at: fire.recorded_at,
                    finished_at: None,
                    pid: None,
                    truncated: Vec::new(),
                    resumes: 0,
                    wait: None,
                })
                .await?;
            recovered.unstarted_fires += 1;
            resume.push((workflow.name.clone(), TriggerKind::Cron, run_id));
        }
    }
    if recovered.unstarted_fires > 0 {
        store.flush().await?;
    }
    for (workflow, kind, run_id) in resume {
        let request = ResumeRequest {
            restart_limit,
            ..ResumeRequest::new(run_id)
        };
        if let Err(e) = dispatcher.resume(&workflow, kind, request) {
            tracing::warn!(workflow = %workflow, "a run could not be resumed: {e}");
        }
    }
    Ok((recovered, parked))
}

/// The trigger kind of a run this daemon started and runs the workflow of; `None` for others
/// (left as they are).
fn daemon_run(dispatcher: &Dispatcher, run: &RunRecord) -> Option<TriggerKind> {
    if run.parent.is_some() || dispatcher.workflows().get(&run.workflow).is_none() {
        return None;
    }
    TriggerKind::of_trigger(&run.trigger)
}

/// Wakes waiting runs at their time.
pub(crate) struct Waker {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Waker {
    /// `ended` must be subscribed before the runs that may park were started, so that no
    /// parking is missed.
    pub fn start(
        dispatcher: Dispatcher,
        clock: Arc<dyn Clock>,
        ended: broadcast::Receiver<RunEnded>,
        parked: Vec<Parked>,
        restart_limit: u32,
    ) -> Waker {
        let stop = CancellationToken::new();
        let mut waits = Waits::default();
        for run in parked {
            waits.add(run);
        }
        let task = tokio::spawn(
            WakerTask {
                dispatcher,
                clock,
                restart_limit,
                waits,
            }
            .run(ended, stop.clone()),
        );
        Waker { stop, task }
    }

    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            tracing::error!("the task waking waiting runs ended abnormally: {e}");
        }
    }
}

/// Waiting runs by wake-up time. A run parked again (woken early, or waiting a second time)
/// replaces its entry: heap entries whose time is no longer the run's are skipped.
#[derive(Default)]
struct Waits {
    queue: BinaryHeap<Reverse<(DateTime<Utc>, String)>>,
    runs: HashMap<String, Parked>,
}

impl Waits {
    fn add(&mut self, run: Parked) {
        self.queue.push(Reverse((run.until, run.run_id.clone())));
        self.runs.insert(run.run_id.clone(), run);
    }

    fn next(&self) -> Option<DateTime<Utc>> {
        self.queue.peek().map(|Reverse((at, _))| *at)
    }

    /// The runs due at `now`, taken out.
    fn due(&mut self, now: DateTime<Utc>) -> Vec<Parked> {
        let mut due = Vec::new();
        while let Some(Reverse((at, _))) = self.queue.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, run_id))) = self.queue.pop() else {
                break;
            };
            if self.runs.get(&run_id).is_some_and(|run| run.until == at) {
                due.extend(self.runs.remove(&run_id));
            }
        }
        due
    }
}

struct WakerTask {
    dispatcher: Dispatcher,
    clock: Arc<dyn Clock>,
    restart_limit: u32,
    waits: Waits,
}

impl WakerTask {
    async fn run(mut self, mut ended: broadcast::Receiver<RunEnded>, stop: CancellationToken) {
        loop {
            for run in self.waits.due(self.clock.now()) {
                let request = ResumeRequest {
                    restart_limit: self.restart_limit,
                    wait_ended: true,
                    ..ResumeRequest::new(run.run_id.clone())
                };
                if let Err(e) = self.dispatcher.resume(&run.workflow, run.kind, request) {
                    tracing::warn!(workflow = %run.workflow, run = %run.run_id, "a waiting run is not woken: {e}");
                }
            }
            let sleep: BoxFuture<'static, ()> = match self.waits.next() {
                Some(at) => self.clock.sleep_until(at),
                None => Box::pin(std::future::pending()),
            };
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                announced = ended.recv() => match announced {
                    Ok(run) if run.status == RunStatus::Waiting => self.learn(&run.run_id).await,
                    Ok(_) => {}
                    // Announcements were missed: the history says which runs wait.
                    Err(broadcast::error::RecvError::Lagged(_)) => self.rescan().await,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = sleep => {}
            }
        }
    }

    /// Reads a newly parked run's wake-up time.
    async fn learn(&mut self, run_id: &str) {
        match self.dispatcher.engine().store.get_run(run_id).await {
            Ok(Some(run)) => self.add(run),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(run = %run_id, "a waiting run cannot be read, so it is not woken until the next start: {}", e.with_causes())
            }
        }
    }

    async fn rescan(&mut self) {
        match self.dispatcher.engine().store.unfinished_runs().await {
            Ok(runs) => runs.into_iter().for_each(|run| self.add(run)),
            Err(e) => tracing::error!(
                "the waiting runs cannot be listed, so some are not woken until the next start: {}",
                e.with_causes()
            ),
        }
    }

    fn add(&mut self, run: RunRecord) {
        let Some(kind) = daemon_run(&self.dispatcher, &run) else {
            return;
        };
        if let (RunStatus::Waiting, Some(wait)) = (run.status, &run.wait) {
            self.waits.add(Parked {
                until: wait.until,
                run_id: run.id,
                workflow: run.workflow,
                kind,
            });
        }
    }
}
