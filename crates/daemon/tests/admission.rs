//! Runs taken up again pass their workflow's gate: a run resumed at start or woken from a
//! stored wait counts as going for the fires after it (and is never dropped), a retry is
//! offered like a new run, a fire replaced while it waited is recorded so and never started,
//! and a waiting run can be cancelled for good. Time is a manual clock and tokio's paused time.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use weft_daemon::retry::prepare_retry;
use weft_daemon::{
    Cancelling, DropReason, Settings, Submission, Submitted, TriggerKind, CRON_TRIGGER,
    DROPPED_CRON_FIRES,
};
use weft_engine::exec::{new_run_id, ResumeRequest, DEFAULT_STORED_WAIT_THRESHOLD};
use weft_engine::store::{FireRecord, RunRecord, RunStatus, RunStore, TriggerStore};
use weft_engine::workflow::CompiledWorkflow;

mod support;
use support::{settle, utc, Setup};

const START: &str = "2026-01-05T09:05:00Z";

impl Setup {
    /// A run of `workflow` the previous daemon left going (no step finished).
    async fn left_going(&self, workflow: &CompiledWorkflow) -> String {
        let id = new_run_id();
        self.store
            .put_run(&RunRecord {
                id: id.clone(),
                workflow: workflow.name.clone(),
                path: workflow.path.display().to_string(),
                hash: workflow.hash.clone(),
                parent: None,
                trigger: json!({ "kind": "cron", "scheduled_at": "2026-01-05T09:00:00+00:00" }),
                inputs: json!({}),
                status: RunStatus::Interrupted,
                error: None,
                outputs: None,
                started_at: utc("2026-01-05T09:00:00Z"),
                finished_at: None,
                pid: None,
                truncated: Vec::new(),
                resumes: 0,
                wait: None,
            })
            .await
            .unwrap();
        id
    }

    async fn run(&self, id: &str) -> RunRecord {
        self.store.get_run(id).await.unwrap().unwrap()
    }

    async fn runs(&self) -> usize {
        self.store.list_runs(1000).await.unwrap().len()
    }

    async fn dropped_fires(&self) -> usize {
        let since = DateTime::<Utc>::MIN_UTC;
        let dropped = self.store.fires_since("report", DROPPED_CRON_FIRES, since);
        dropped.await.unwrap().len()
    }
}

/// `report` on a ten-minute cron with `settings` (overlap, concurrency), one step of an hour
/// (slept: these daemons store no waits).
fn slow_report(settings: &str) -> String {
    format!(
        "name: report\ntrigger:\n  cron:\n    schedule: \"*/10 * * * *\"\n{settings}\nsteps:\n  - id: wait\n    uses: core.sleep\n    with:\n      duration: 1h\n"
    )
}

#[tokio::test(start_paused = true)]
async fn a_run_resumed_at_start_counts_as_going_for_the_next_fire() {
    for (settings, dropped, waiting) in [
        ("    overlap: skip", 1, 0),
        ("    overlap: queue_one", 0, 1),
        (
            "    overlap: allow\nconcurrency:\n  limit: 1\n  policy: skip",
            1,
            0,
        ),
    ] {
        let setup = Setup::new(START);
        let flow = setup.workflow(&slow_report(settings));
        let resumed = setup.left_going(&flow).await;
        let daemon = setup.start(&flow, Settings::default()).await;
        assert_eq!(daemon.recovered().resumed, 1, "{settings}");
        assert_eq!(daemon.runs_going(), 1, "{settings}");
        assert_eq!(
            daemon.dispatcher().last_run("report").as_deref(),
            Some(resumed.as_str()),
            "{settings}: the resumed run is the workflow's last run"
        );

        let fire = utc("2026-01-05T09:10:00Z");
        setup.clock.set(fire);
        daemon.handled_until(fire).await;
        assert_eq!(setup.dropped_fires().await, dropped, "{settings}");
        assert_eq!(
            daemon.dispatcher().waiting(),
            [("report".to_string(), waiting)],
            "{settings}"
        );
        assert_eq!(
            daemon.runs_going(),
            1,
            "{settings}: the fire does not run beside the resumed run"
        );
        assert_eq!(setup.runs().await, 1, "{settings}");
        assert_eq!(setup.run(&resumed).await.status, RunStatus::Running);
        daemon.shutdown(StdDuration::from_secs(1)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_woken_run_waits_for_room_and_is_never_dropped() {
    let setup = Setup::new(START);
    let flow = setup.workflow(
        "name: report
inputs:
  pause: { type: boolean, default: true }
concurrency:
  limit: 1
  policy: skip
steps:
  - id: pause
    if: ${{ inputs.pause }}
    uses: core.sleep
    with: { duration: 10m }
  - id: hold
    uses: core.sleep
    with: { duration: 4s }
",
    );
    let settings = Settings {
        stored_waits: Some(DEFAULT_STORED_WAIT_THRESHOLD),
        ..Settings::default()
    };
    let daemon = setup.start(&flow, settings).await;
    let dispatcher = daemon.dispatcher();
    let submit = |pause: bool| {
        let submission = Submission {
            inputs: json!({ "pause": pause }).as_object().unwrap().clone(),
            ..Submission::new(TriggerKind::Api, json!({ "kind": "api" }))
        };
        dispatcher.submit("report", submission)
    };
    let parked = submit(true).unwrap().run_id().to_string();
    settle(&daemon).await;
    assert_eq!(setup.run(&parked).await.status, RunStatus::Waiting);

    // A second run takes the one place while the first waits (its 4 s are slept); the first
    // wakes then, and waits for room instead of running beside it or being dropped by
    // `policy: skip`. Turns are yielded, so paused time does not move on its own.
    let second = submit(false).unwrap();
    assert!(matches!(second, Submitted::Started { .. }), "{second:?}");
    let until = setup.run(&parked).await.wait.unwrap().until;
    setup.clock.set(until);
    let mut turns = 0;
    while dispatcher.waiting() != [("report".to_string(), 1)] {
        turns += 1;
        assert!(turns < 10_000, "the waiting run was not woken");
        tokio::task::yield_now().await;
    }
    assert!(matches!(
        submit(false).unwrap(),
        Submitted::Dropped {
            reason: DropReason::ConcurrencyLimit,
            ..
        }
    ));
    settle(&daemon).await;
    assert_eq!(
        setup.run(second.run_id()).await.status,
        RunStatus::Succeeded
    );
    let woken = setup.run(&parked).await;
    assert_eq!(woken.status, RunStatus::Succeeded, "{:?}", woken.error);
    assert!(
        woken.finished_at > setup.run(second.run_id()).await.finished_at,
        "the woken run ran after the one that held the place"
    );
    daemon.shutdown(StdDuration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_retry_is_offered_to_the_gate_and_one_dropped_is_closed() {
    let setup = Setup::new(START);
    let flow = setup.workflow(&slow_report("    overlap: skip"));
    let daemon = setup.start(&flow, Settings::default()).await;
    let failed = RunRecord {
        status: RunStatus::Failed,
        finished_at: Some(utc(START)),
        ..setup.run(&setup.left_going(&flow).await).await
    };
    setup.store.put_run(&failed).await.unwrap();
    let going = daemon
        .dispatcher()
        .submit(
            "report",
            Submission::new(TriggerKind::Api, json!({ "kind": "api" })),
        )
        .unwrap();
    assert!(matches!(going, Submitted::Started { .. }));

    let retry = prepare_retry(setup.store.as_ref(), &flow, &failed)
        .await
        .unwrap();
    let offered = daemon
        .dispatcher()
        .submit_recorded(
            "report",
            TriggerKind::Api,
            ResumeRequest::new(retry.clone()),
        )
        .unwrap();
    let Submitted::Dropped { reason, .. } = offered else {
        panic!("the retry ran beside the run going: {offered:?}");
    };
    daemon
        .dispatcher()
        .close_dropped(&retry, reason)
        .await
        .unwrap();
    let closed = setup.run(&retry).await;
    assert_eq!(closed.status, RunStatus::Cancelled);
    assert!(closed.error.unwrap().contains("overlap: skip"));
    daemon.shutdown(StdDuration::from_secs(1)).await;

    // Closed: the next start does not resume it.
    let daemon = setup.start(&flow, Settings::default()).await;
    assert_eq!(
        daemon.recovered().resumed,
        1,
        "only the run cut by the shutdown"
    );
    assert_eq!(setup.run(&retry).await.status, RunStatus::Cancelled);
    daemon.shutdown(StdDuration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_fire_replaced_while_it_waited_is_recorded_and_never_started() {
    let setup = Setup::new(START);
    let flow = setup.workflow(&slow_report("    overlap: cancel_previous"));
    let daemon = setup.start(&flow, Settings::default()).await;
    // Three recorded fires offered back to back, as a scheduler catching up would: the
    // second waits for the first to wind down, and the third replaces it.
    let mut ids = Vec::new();
    for minute in [10, 20, 30] {
        let at = utc(START) + Duration::minutes(minute);
        let run_id = new_run_id();
        let fire = FireRecord {
            workflow: "report".into(),
            trigger: CRON_TRIGGER.into(),
            scheduled_at: at,
            run_id: Some(run_id.clone()),
            recorded_at: at,
        };
        assert!(setup.store.record_fire(&fire).await.unwrap());
        let submission = Submission {
            run_id: Some(run_id.clone()),
            ..Submission::new(TriggerKind::Cron, json!({ "kind": "cron" }))
        };
        daemon.dispatcher().submit("report", submission).unwrap();
        ids.push(run_id);
    }
    let mut turns = 0;
    while setup.store.get_run(&ids[1]).await.unwrap().is_none() {
        turns += 1;
        assert!(turns < 10_000, "the replaced fire was not recorded");
        tokio::task::yield_now().await;
    }
    let replaced = setup.run(&ids[1]).await;
    assert_eq!(replaced.status, RunStatus::Cancelled);
    assert!(replaced.error.unwrap().contains("replaced"));
    settle_started(&setup, &ids[2]).await;
    daemon.shutdown(StdDuration::from_secs(1)).await;

    // The next start looks for fires whose run never started: the replaced one is not one.
    setup.clock.set(utc(START) + Duration::minutes(35));
    let daemon = setup.start(&flow, Settings::default()).await;
    let recovered = daemon.recovered().clone();
    daemon.shutdown(StdDuration::from_secs(1)).await;
    assert_eq!(setup.run(&ids[1]).await.status, RunStatus::Cancelled);
    assert_eq!(
        recovered.unstarted_fires, 0,
        "the replaced fire is not taken for one whose run never started"
    );
    assert_eq!(recovered.resumed, 1, "the third, cut by the shutdown");
}

/// Yields until run `id` has a record (the first run wound down and the one waiting started).
async fn settle_started(setup: &Setup, id: &str) {
    let mut turns = 0;
    while setup.store.get_run(id).await.unwrap().is_none() {
        turns += 1;
        assert!(turns < 10_000, "run {id} did not start");
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_waiting_run_is_cancelled_for_good() {
    let setup = Setup::new(START);
    let flow = setup.workflow(
        "name: report\nsteps:\n  - id: pause\n    uses: core.sleep\n    with: { duration: 10m }\n  - id: after\n    uses: core.set\n    with: { done: true }\n",
    );
    let settings = Settings {
        stored_waits: Some(DEFAULT_STORED_WAIT_THRESHOLD),
        ..Settings::default()
    };
    let daemon = setup.start(&flow, settings.clone()).await;
    let mut ended = daemon.dispatcher().subscribe();
    let submitted = daemon
        .dispatcher()
        .submit(
            "report",
            Submission::new(TriggerKind::Api, json!({ "kind": "api" })),
        )
        .unwrap();
    let id = submitted.run_id().to_string();
    settle(&daemon).await;
    assert_eq!(ended.recv().await.unwrap().status, RunStatus::Waiting);
    let until = setup.run(&id).await.wait.unwrap().until;

    assert_eq!(
        daemon.dispatcher().cancel_run(&id).await.unwrap(),
        Cancelling::Cancelled
    );
    let end = ended.recv().await.unwrap();
    assert_eq!(
        (end.run_id.as_str(), end.status),
        (id.as_str(), RunStatus::Cancelled)
    );
    let cancelled = setup.run(&id).await;
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    assert!(cancelled.wait.is_none(), "its wake-up is removed");
    assert_eq!(
        daemon.dispatcher().cancel_run(&id).await.unwrap(),
        Cancelling::NotGoing
    );

    // Its time comes: nothing starts.
    setup.clock.set(until);
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    settle(&daemon).await;
    daemon.shutdown(StdDuration::from_secs(1)).await;
    // Nor after a restart.
    let daemon = setup.start(&flow, settings).await;
    assert_eq!(daemon.recovered().waiting, 0);
    settle(&daemon).await;
    daemon.shutdown(StdDuration::from_secs(1)).await;
    let after = setup
        .store
        .all_attempts()
        .into_iter()
        .filter(|a| a.run_id == id && a.step == "after")
        .count();
    assert_eq!(after, 0, "the step after the wait never ran");
    assert_eq!(setup.run(&id).await.status, RunStatus::Cancelled);
}
