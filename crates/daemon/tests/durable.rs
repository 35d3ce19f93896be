//! What a daemon takes up when it starts again: runs that were going are resumed (within the
//! restart limit), waiting runs are woken at their time on the daemon's clock, and a fire
//! recorded whose run never started is started once. A restart is a second `Daemon::start` on
//! the same store; time is a manual clock and tokio's paused time.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use serde_json::json;
use weft_daemon::{
    Daemon, ManualClock, Settings, Submission, TriggerKind, CRON_TRIGGER, DROPPED_CRON_FIRES,
};
use weft_engine::exec::{new_run_id, Engine, DEFAULT_STORED_WAIT_THRESHOLD};
use weft_engine::store::{
    AttemptRecord, FireRecord, MemoryRunStore, RunRecord, RunStatus, RunStore, StepStatus,
    TriggerStore,
};
use weft_engine::workflow::{load_bytes, CompiledWorkflow};
use weft_runtime::Runtime;

/// Both on a yearly cron that does not fire during a test: runs are started by hand, or were
/// left by the "previous" daemon.
const PAUSING: &str = r#"name: pausing
trigger:
  cron:
    schedule: "0 0 1 1 *"
steps:
  - id: before
    uses: core.set
    with: { kind: "${{ trigger.kind }}" }
  - id: pause
    uses: core.sleep
    with: { duration: 10m }
  - id: after
    uses: core.set
    with: { seen: "${{ steps.before.output.kind }}" }
"#;

const QUICK: &str = r#"name: quick
trigger:
  cron:
    schedule: "0 0 1 1 *"
steps:
  - id: first
    uses: core.set
    with: { n: 1 }
  - id: second
    uses: core.set
    with: { n: "${{ steps.first.output.n + 1 }}", at: "${{ trigger.scheduled_at }}" }
"#;

struct Setup {
    store: Arc<MemoryRunStore>,
    engine: Engine,
    /// Starts at the real time: a stored wait's wake-up time is computed by the engine.
    clock: Arc<ManualClock>,
    workflows: Vec<Arc<CompiledWorkflow>>,
}

impl Setup {
    fn new() -> Setup {
        let store = Arc::new(MemoryRunStore::default());
        let engine = Runtime::new()
            .unwrap()
            .engine(store.clone(), Arc::new(weft_runtime::action::NoTokens));
        let workflows = [PAUSING, QUICK]
            .iter()
            .map(|yaml| {
                match load_bytes(Path::new("flow.yaml"), yaml.as_bytes(), engine.catalog()) {
                    Ok(loaded) => loaded.workflow,
                    Err(problems) => panic!("{}", problems.render()),
                }
            })
            .collect();
        Setup {
            store,
            engine,
            clock: Arc::new(ManualClock::new(Utc::now())),
            workflows,
        }
    }

    async fn start(&self) -> Daemon {
        Daemon::start(
            self.engine.clone(),
            self.store.clone(),
            self.clock.clone(),
            self.workflows.clone(),
            Settings {
                stored_waits: Some(DEFAULT_STORED_WAIT_THRESHOLD),
                ..Settings::default()
            },
        )
        .await
        .unwrap()
    }

    async fn run(&self, id: &str) -> RunRecord {
        self.store.get_run(id).await.unwrap().unwrap()
    }

    fn attempts_of(&self, run_id: &str, step: &str) -> usize {
        self.store
            .all_attempts()
            .iter()
            .filter(|a| a.run_id == run_id && a.step == step)
            .count()
    }

    /// A run the previous daemon left: recorded going, its first step done.
    async fn left_going(&self, workflow: &str, kind: &str, resumes: u32) -> String {
        let flow = self.workflows.iter().find(|w| w.name == workflow).unwrap();
        let id = new_run_id();
        self.store
            .put_run(&RunRecord {
                id: id.clone(),
                workflow: flow.name.clone(),
                path: flow.path.display().to_string(),
                hash: flow.hash.clone(),
                parent: None,
                trigger: json!({ "kind": kind, "scheduled_at": "2026-01-01T00:00:00+00:00" }),
                inputs: json!({}),
                status: RunStatus::Interrupted,
                error: Some("the weft process stopped before the run finished".into()),
                outputs: None,
                started_at: Utc::now(),
                finished_at: None,
                pid: None,
                truncated: Vec::new(),
                resumes,
                wait: None,
            })
            .await
            .unwrap();
        self.store
            .put_attempt(&AttemptRecord {
                run_id: id.clone(),
                seq: 0,
                step: "first".into(),
                iteration: Vec::new(),
                attempt: 1,
                status: StepStatus::Succeeded,
                input: json!({ "n": 1 }),
                output: Some(json!({ "n": 1 })),
                error: None,
                started_at: Utc::now(),
                duration_us: 1,
                truncated: Vec::new(),
                output_redacted: false,
            })
            .await
            .unwrap();
        id
    }
}

/// Waits (in paused time, at no real cost) until no run is going.
async fn settle(daemon: &Daemon) {
    while daemon.runs_going() > 0 {
        tokio::time::sleep(StdDuration::from_millis(1)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_long_wait_holds_no_task_survives_a_restart_and_wakes_on_time() {
    let setup = Setup::new();
    let daemon = setup.start().await;
    let submitted = daemon
        .dispatcher()
        .submit(
            "pausing",
            Submission::new(TriggerKind::Api, json!({ "kind": "api" })),
        )
        .unwrap();
    let run_id = submitted.run_id().to_string();
    settle(&daemon).await;
    let parked = setup.run(&run_id).await;
    assert_eq!(parked.status, RunStatus::Waiting);
    assert_eq!(daemon.runs_going(), 0, "a waiting run holds no task");
    let until = parked.wait.unwrap().until;

    // A restart: the new daemon finds the run waiting and leaves it waiting until its time.
    daemon.shutdown(StdDuration::from_secs(1)).await;
    let daemon = setup.start().await;
    assert_eq!(daemon.recovered().waiting, 1);
    setup.clock.advance(Duration::minutes(9));
    settle(&daemon).await;
    tokio::time::sleep(StdDuration::from_millis(10)).await;
    assert_eq!(setup.run(&run_id).await.status, RunStatus::Waiting);

    setup.clock.set(until);
    // The waker resumes it; the resumed run is going, then done.
    let mut waited = 0;
    while setup.run(&run_id).await.status == RunStatus::Waiting {
        waited += 1;
        assert!(waited < 10_000, "the run was not woken at its time");
        tokio::time::sleep(StdDuration::from_millis(1)).await;
    }
    settle(&daemon).await;
    let done = setup.run(&run_id).await;
    assert_eq!(done.status, RunStatus::Succeeded, "{:?}", done.error);
    assert_eq!(done.resumes, 0, "waking is not a restart");
    assert_eq!(setup.attempts_of(&run_id, "before"), 1, "not run again");
    assert_eq!(setup.attempts_of(&run_id, "after"), 1);
    daemon.shutdown(StdDuration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn runs_left_going_are_resumed_within_the_restart_limit_and_others_are_left_alone() {
    let setup = Setup::new();
    let going = setup.left_going("quick", "cron", 0).await;
    let worn_out = setup.left_going("quick", "cron", 3).await;
    let manual = setup.left_going("quick", "manual", 0).await;
    let daemon = setup.start().await;
    // The start says which runs go on and which the limit fails: not "2 resumed".
    assert_eq!(daemon.recovered().resumed, 1);
    assert_eq!(daemon.recovered().failed_at_restart_limit, 1);
    settle(&daemon).await;

    let resumed = setup.run(&going).await;
    assert_eq!(resumed.status, RunStatus::Succeeded, "{:?}", resumed.error);
    assert_eq!(resumed.resumes, 1);
    assert_eq!(
        setup.attempts_of(&going, "first"),
        1,
        "read back, not run again"
    );
    assert_eq!(setup.attempts_of(&going, "second"), 1);

    let failed = setup.run(&worn_out).await;
    assert_eq!(failed.status, RunStatus::Failed);
    assert!(failed.error.unwrap().contains("restart limit 3"));
    assert_eq!(setup.attempts_of(&worn_out, "second"), 0);

    // `weft run` started it, not the daemon: it is not the daemon's to resume.
    assert_eq!(setup.run(&manual).await.status, RunStatus::Interrupted);
    daemon.shutdown(StdDuration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_fire_recorded_whose_run_never_started_is_started_once() {
    let setup = Setup::new();
    let run_id = new_run_id();
    let scheduled_at = Utc::now() - Duration::minutes(2);
    let recorded = setup
        .store
        .record_fire(&FireRecord {
            workflow: "quick".into(),
            trigger: CRON_TRIGGER.into(),
            scheduled_at,
            run_id: Some(run_id.clone()),
            recorded_at: scheduled_at,
        })
        .await
        .unwrap();
    assert!(recorded);

    // One its gate dropped on purpose (`overlap: skip`) is noted so, and never run.
    let skipped_at = scheduled_at + Duration::minutes(1);
    for trigger in [CRON_TRIGGER, DROPPED_CRON_FIRES] {
        let fire = FireRecord {
            workflow: "quick".into(),
            trigger: trigger.into(),
            scheduled_at: skipped_at,
            run_id: Some("01SKIPPED".into()),
            recorded_at: skipped_at,
        };
        assert!(setup.store.record_fire(&fire).await.unwrap());
    }

    let daemon = setup.start().await;
    assert_eq!(daemon.recovered().unstarted_fires, 1);
    settle(&daemon).await;
    let run = setup.run(&run_id).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.error);
    assert_eq!(run.trigger["scheduled_at"], scheduled_at.to_rfc3339());
    assert_eq!(run.trigger["recovered"], true);
    assert!(setup.store.get_run("01SKIPPED").await.unwrap().is_none());
    daemon.shutdown(StdDuration::from_secs(1)).await;

    // Started once: the next start finds its record and starts nothing.
    let daemon = setup.start().await;
    assert_eq!(*daemon.recovered(), Default::default());
    settle(&daemon).await;
    assert_eq!(setup.attempts_of(&run_id, "second"), 1);
    daemon.shutdown(StdDuration::from_secs(1)).await;
}
