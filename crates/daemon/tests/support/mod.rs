//! What the daemon's tests with a manual clock share: a memory run history, an engine on it,
//! a clock, and a daemon started on one workflow.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use weft_daemon::{Clock, Daemon, ManualClock, Settings};
use weft_engine::exec::Engine;
use weft_engine::store::MemoryRunStore;
use weft_engine::workflow::{load_bytes, CompiledWorkflow};
use weft_runtime::Runtime;

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub struct Setup {
    pub store: Arc<MemoryRunStore>,
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
}

impl Setup {
    /// A clock at `now` (RFC 3339).
    pub fn new(now: &str) -> Setup {
        let store = Arc::new(MemoryRunStore::default());
        let engine = Runtime::new()
            .unwrap()
            .engine(store.clone(), Arc::new(weft_runtime::action::NoTokens));
        Setup {
            store,
            engine,
            clock: Arc::new(ManualClock::new(utc(now))),
        }
    }

    pub fn workflow(&self, yaml: &str) -> Arc<CompiledWorkflow> {
        match load_bytes(
            Path::new("flow.yaml"),
            yaml.as_bytes(),
            self.engine.catalog(),
        ) {
            Ok(loaded) => loaded.workflow,
            Err(problems) => panic!("{}", problems.render()),
        }
    }

    /// A daemon running `workflow`, done with what is due at the clock's instant.
    pub async fn start(&self, workflow: &Arc<CompiledWorkflow>, settings: Settings) -> Daemon {
        let daemon = Daemon::start(
            self.engine.clone(),
            self.store.clone(),
            self.clock.clone(),
            [workflow.clone()],
            settings,
        )
        .await
        .unwrap();
        daemon.handled_until(self.clock.now()).await;
        daemon
    }
}

/// Waits (in paused time, so at no real cost) until no run is going.
pub async fn settle(daemon: &Daemon) {
    while daemon.runs_going() > 0 {
        tokio::time::sleep(StdDuration::from_millis(1)).await;
    }
}
