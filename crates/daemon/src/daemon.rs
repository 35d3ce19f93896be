//! A running daemon: its workflows, the dispatcher every trigger submits runs to, and the
//! trigger tasks (cron today).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use weft_engine::exec::{Engine, Redactor, DEFAULT_RESTART_LIMIT};
use weft_engine::store::{StoreError, TriggerStore};
use weft_engine::workflow::CompiledWorkflow;

use crate::clock::Clock;
use crate::dispatch::{Dispatcher, ShutdownReport};
use crate::metrics::Metrics;
use crate::poller::{PollStatus, Poller};
use crate::recovery::{recover, Recovered, Waker};
use crate::scheduler::{CronError, CronScheduler};
use crate::workflows::WorkflowSet;

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How late a fire may be handled and still count as on time; a fire handled later (the
    /// process was suspended or stopped) is a missed one, run or not by the `missed` setting.
    pub late_tolerance: chrono::Duration,
    /// `secrets.*` of the runs.
    pub secrets: HashMap<String, String>,
    /// A run whose process stopped this many times in a row without it finishing is failed
    /// instead of resumed again.
    pub restart_limit: u32,
    /// Waits (`core.sleep`, `core.wait_until`) longer than this park their run, which holds no
    /// task and is woken on time, also after a restart; `None` (the default here; `weft
    /// daemon` stores waits longer than `DEFAULT_STORED_WAIT_THRESHOLD`): every wait is slept.
    pub stored_waits: Option<std::time::Duration>,
    /// Where the daemon reports; made before it starts when something else reports there too
    /// (`weft daemon` counts token refreshes in it).
    pub metrics: Arc<Metrics>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            late_tolerance: chrono::Duration::seconds(60),
            secrets: HashMap::new(),
            restart_limit: DEFAULT_RESTART_LIMIT,
            stored_waits: None,
            metrics: Arc::new(Metrics::new()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot start the cron triggers")]
    Cron(#[from] CronError),
    #[error("cannot read which workflows are paused")]
    Paused(#[source] StoreError),
    #[error("cannot take up the runs the daemon left when it stopped")]
    Recover(#[source] StoreError),
}

pub struct Daemon {
    dispatcher: Dispatcher,
    cron: CronScheduler,
    triggers: Arc<dyn TriggerStore>,
    waker: Waker,
    recovered: Recovered,
    poller: Poller,
}

impl Daemon {
    /// Takes up what a stopped daemon left (runs going or waiting, fires whose run never
    /// started: see `recovery`), then starts the triggers of `workflows` (cron today; other
    /// workflows can be started through the dispatcher).
    pub async fn start(
        engine: Engine,
        triggers: Arc<dyn TriggerStore>,
        clock: Arc<dyn Clock>,
        workflows: impl IntoIterator<Item = Arc<CompiledWorkflow>>,
        settings: Settings,
    ) -> Result<Daemon, DaemonError> {
        let workflows: Vec<_> = workflows.into_iter().collect();
        let set = WorkflowSet::new(workflows.iter().cloned());
        // Paused through the API before a restart: still paused.
        for name in triggers
            .paused_workflows()
            .await
            .map_err(DaemonError::Paused)?
        {
            set.set_paused(&name, true);
        }
        let engine = match settings.stored_waits {
            Some(threshold) => engine.with_stored_waits(threshold),
            None => engine,
        };
        // Poll errors can quote what the runs were given.
        let redactor = Redactor::new(settings.secrets.values().cloned());
        let dispatcher = Dispatcher::with_metrics(engine, set, settings.secrets, settings.metrics);
        // Subscribed before any run starts: a run that parks is never missed.
        let ended = dispatcher.subscribe();
        // Fires made owed ahead of an instant still to come are taken up from that instant.
        crate::ahead::wait_for_mark(triggers.as_ref(), clock.as_ref())
            .await
            .map_err(DaemonError::Recover)?;
        let (recovered, parked) = recover(&dispatcher, triggers.as_ref(), settings.restart_limit)
            .await
            .map_err(DaemonError::Recover)?;
        let waker = Waker::start(
            dispatcher.clone(),
            clock.clone(),
            ended,
            parked,
            settings.restart_limit,
        );
        let cron = CronScheduler::start(
            dispatcher.clone(),
            triggers.clone(),
            clock.clone(),
            &workflows,
            settings.late_tolerance,
        )
        .await?;
        let poller = Poller::new(dispatcher.clone(), triggers.clone(), clock, redactor);
        for workflow in &workflows {
            poller.set(workflow.clone());
        }
        Ok(Daemon {
            dispatcher,
            cron,
            poller,
            triggers,
            waker,
            recovered,
        })
    }

    /// What the start took up of what a stopped daemon left.
    pub fn recovered(&self) -> &Recovered {
        &self.recovered
    }

    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// Where fires, cursors and paused flags are kept.
    pub fn triggers(&self) -> &Arc<dyn TriggerStore> {
        &self.triggers
    }

    pub fn workflows(&self) -> &WorkflowSet {
        self.dispatcher.workflows()
    }

    /// Workflows scheduled on a cron trigger.
    pub fn cron_workflows(&self) -> usize {
        self.cron.workflows()
    }

    /// Runs `workflow` from now on, in place of the version of the same name (a reload): its
    /// triggers are rescheduled; runs going finish on the version they started with.
    pub fn set_workflow(&self, workflow: Arc<CompiledWorkflow>) {
        self.dispatcher.workflows().insert(workflow.clone());
        self.cron.set(workflow.clone());
        self.poller.set(workflow);
    }

    /// Stops the triggers of a workflow and forgets it (its file was deleted); runs going
    /// finish. False when no workflow has that name.
    pub fn remove_workflow(&self, name: &str) -> bool {
        self.cron.remove(name);
        self.poller.remove(name);
        self.dispatcher.workflows().remove(name).is_some()
    }

    /// Where each polled connection stands (shared: it follows the daemon).
    pub fn poll_status(&self) -> &PollStatus {
        self.poller.status()
    }

    /// Runs going now.
    pub fn runs_going(&self) -> usize {
        self.dispatcher.runs_going()
    }

    /// Resolves once every cron fire due at `at` is handled (recorded, and its run submitted).
    pub async fn handled_until(&self, at: DateTime<Utc>) {
        self.cron.handled_until(at).await
    }

    /// Stops the triggers, lets the runs going finish for up to `grace`, and says what was
    /// left. Waiting runs are not started.
    pub async fn shutdown(self, grace: std::time::Duration) -> ShutdownReport {
        self.cron.stop().await;
        self.poller.stop().await;
        self.waker.stop().await;
        self.dispatcher.shutdown(grace).await
    }
}
