//! The daemon's cron triggers end to end with a manual clock and tokio's paused time: fires on
//! schedule, across both DST nights, the missed setting after downtime, no second run of a
//! recorded fire across restarts, overlap, and shutdown with a grace period.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use weft_daemon::{Clock, Daemon, ManualClock, Settings, ShutdownReport, CRON_TRIGGER};
use weft_engine::store::{FireRecord, RunRecord, RunStore, SledRunStore, TriggerStore};
use weft_engine::workflow::load_bytes;
use weft_runtime::Runtime;

mod support;
use support::{settle, utc, Setup};

impl Setup {
    /// Moves the clock to `to` in steps of `step`, letting the daemon handle each instant and
    /// finish the runs it started.
    async fn walk(&self, daemon: &Daemon, to: &str, step: Duration) {
        let to = utc(to);
        while self.clock.now() < to {
            let next = (self.clock.now() + step).min(to);
            self.clock.set(next);
            daemon.handled_until(next).await;
            settle(daemon).await;
        }
    }

    /// Fires recorded for the workflow `report`.
    async fn fires_recorded(&self) -> usize {
        let since = DateTime::<Utc>::MIN_UTC;
        let fires = self.store.fires_since("report", CRON_TRIGGER, since);
        fires.await.unwrap().len()
    }

    /// Runs recorded, oldest first.
    async fn runs(&self) -> Vec<RunRecord> {
        let mut runs = self.store.list_runs(1000).await.unwrap();
        runs.reverse();
        runs
    }

    /// The `trigger.<field>` of every run, oldest first.
    async fn run_triggers(&self, field: &str) -> Vec<String> {
        self.runs()
            .await
            .iter()
            .map(|r| r.trigger[field].to_string().trim_matches('"').to_string())
            .collect()
    }
}

fn cron_workflow(cron: &str, steps: &str) -> String {
    format!("name: report\ntrigger:\n  cron:\n{cron}\nsteps:\n{steps}")
}

const LOG_STEP: &str =
    "  - id: say\n    uses: core.log\n    with:\n      message: \"${{ trigger.scheduled_at }}\"\n";

fn settings(late_tolerance: Duration) -> Settings {
    Settings {
        late_tolerance,
        ..Settings::default()
    }
}

#[tokio::test(start_paused = true)]
async fn each_fire_is_recorded_then_run_once_on_schedule() {
    let setup = Setup::new("2026-01-05T09:00:30Z");
    let flow = setup.workflow(&cron_workflow("    schedule: \"* * * * *\"", LOG_STEP));
    let daemon = setup.start(&flow, Settings::default()).await;
    assert_eq!(daemon.cron_workflows(), 1);
    assert!(setup.runs().await.is_empty(), "nothing is due at start");

    setup
        .walk(&daemon, "2026-01-05T09:03:00Z", Duration::seconds(20))
        .await;
    assert_eq!(
        setup.run_triggers("scheduled_at").await,
        [
            "2026-01-05T09:01:00+00:00",
            "2026-01-05T09:02:00+00:00",
            "2026-01-05T09:03:00+00:00"
        ]
    );
    assert!(setup
        .runs()
        .await
        .iter()
        .all(|r| r.status.as_str() == "succeeded"));
    assert_eq!(setup.run_triggers("kind").await, ["cron"; 3]);
    assert_eq!(
        setup.fires_recorded().await,
        3,
        "every fire recorded under its instant"
    );
    let fires = setup
        .store
        .fires_since("report", CRON_TRIGGER, DateTime::<Utc>::MIN_UTC)
        .await
        .unwrap();
    let fire_runs: Vec<_> = fires.iter().map(|f| f.run_id.clone().unwrap()).collect();
    let runs: Vec<_> = setup.runs().await.into_iter().map(|r| r.id).collect();
    assert_eq!(fire_runs, runs, "each fire names the run it started");
    // Handled at 09:01:10, 09:02:10 and 09:03:00: the clock moved in steps of 20 s.
    let metrics = daemon.dispatcher().metrics().encode([], []);
    for line in [
        "weft_cron_fire_lag_seconds_count 3",
        "weft_cron_fire_lag_seconds_sum 20.0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    let report = daemon.shutdown(StdDuration::from_secs(30)).await;
    assert_eq!(
        report,
        ShutdownReport {
            still_running: 0,
            dropped_waiting: 0
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_restart_never_runs_a_recorded_fire_again_and_catches_up_as_missed_says() {
    let setup = Setup::new("2026-01-05T09:00:00Z");
    let flow = setup.workflow(&cron_workflow(
        "    schedule: \"*/10 * * * *\"\n    missed: all\n    max_catch_up: 2\n    overlap: queue_all",
        LOG_STEP,
    ));
    let first = setup.start(&flow, Settings::default()).await;
    settle(&first).await;
    first.shutdown(StdDuration::from_secs(1)).await;
    assert_eq!(setup.runs().await.len(), 1, "the fire due at start runs");

    // Restarted at the same instant: the 09:00 fire is recorded, so it does not run again.
    let second = setup.start(&flow, Settings::default()).await;
    settle(&second).await;
    second.shutdown(StdDuration::from_secs(1)).await;
    assert_eq!(setup.runs().await.len(), 1);

    // Down until 10:05: six fires missed (09:10 .. 10:00); `all` runs the latest two, one
    // after the other (`overlap: queue_all`).
    setup.clock.set(utc("2026-01-05T10:05:00Z"));
    let third = setup.start(&flow, Settings::default()).await;
    settle(&third).await;
    assert_eq!(
        setup.run_triggers("scheduled_at").await,
        [
            "2026-01-05T09:00:00+00:00",
            "2026-01-05T09:50:00+00:00",
            "2026-01-05T10:00:00+00:00"
        ]
    );
    assert_eq!(
        setup.run_triggers("missed").await,
        ["false", "true", "true"]
    );

    // A fire another process already recorded is left to it.
    let taken = FireRecord {
        workflow: "report".into(),
        trigger: CRON_TRIGGER.into(),
        scheduled_at: utc("2026-01-05T10:10:00Z"),
        run_id: Some("elsewhere".into()),
        recorded_at: utc("2026-01-05T10:09:00Z"),
    };
    assert!(setup.store.record_fire(&taken).await.unwrap());
    setup
        .walk(&third, "2026-01-05T10:20:00Z", Duration::minutes(5))
        .await;
    assert_eq!(
        setup.run_triggers("scheduled_at").await[3..],
        ["2026-01-05T10:20:00+00:00"],
        "10:10 was recorded elsewhere and is not run here"
    );
    third.shutdown(StdDuration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn missed_latest_and_none_after_downtime() {
    for (missed, expected) in [
        ("latest", vec!["2026-01-05T12:00:00+00:00"]),
        ("none", vec![]),
    ] {
        let setup = Setup::new("2026-01-05T09:00:00Z");
        let flow = setup.workflow(&cron_workflow(
            &format!("    schedule: \"@hourly\"\n    missed: {missed}"),
            LOG_STEP,
        ));
        let before = setup.start(&flow, Settings::default()).await;
        settle(&before).await;
        before.shutdown(StdDuration::from_secs(1)).await;
        setup.clock.set(utc("2026-01-05T12:30:00Z"));
        let after = setup.start(&flow, Settings::default()).await;
        settle(&after).await;
        after.shutdown(StdDuration::from_secs(1)).await;
        let triggers = setup.run_triggers("scheduled_at").await;
        assert_eq!(triggers[0], "2026-01-05T09:00:00+00:00");
        assert_eq!(triggers[1..], expected, "missed: {missed}");
    }
}

#[tokio::test(start_paused = true)]
async fn both_dst_nights_of_berlin() {
    // 2026-03-29: 02:00 jumps to 03:00. 2026-10-25: 03:00 goes back to 02:00.
    let daily = "    schedule: \"30 2 * * *\"\n    timezone: Europe/Berlin";
    let hourly = "    schedule: \"30 * * * *\"\n    timezone: Europe/Berlin";
    let cases = [
        (
            daily,
            "2026-03-28T12:00:00Z",
            "2026-03-30T12:00:00Z",
            vec!["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"],
        ),
        (
            daily,
            "2026-10-24T12:00:00Z",
            "2026-10-26T12:00:00Z",
            vec!["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"],
        ),
        (
            hourly,
            "2026-03-28T23:45:00Z",
            "2026-03-29T02:45:00Z",
            // 02:30 does not exist that night: its fire moves to 03:00.
            vec![
                "2026-03-29T01:30:00+01:00",
                "2026-03-29T03:00:00+02:00",
                "2026-03-29T03:30:00+02:00",
                "2026-03-29T04:30:00+02:00",
            ],
        ),
        (
            hourly,
            "2026-10-24T23:15:00Z",
            "2026-10-25T02:45:00Z",
            // 02:30 happens twice that night: one fire, the first.
            vec![
                "2026-10-25T01:30:00+02:00",
                "2026-10-25T02:30:00+02:00",
                "2026-10-25T03:30:00+01:00",
            ],
        ),
    ];
    for (cron, from, to, expected) in cases {
        let setup = Setup::new(from);
        let flow = setup.workflow(&cron_workflow(cron, LOG_STEP));
        let daemon = setup.start(&flow, settings(Duration::minutes(30))).await;
        setup.walk(&daemon, to, Duration::minutes(10)).await;
        daemon.shutdown(StdDuration::from_secs(1)).await;
        assert_eq!(
            setup.run_triggers("local").await,
            expected,
            "{cron} from {from}"
        );
    }
}

const SLOW_STEP: &str = "  - id: wait\n    uses: core.sleep\n    with:\n      duration: 1h\n";

#[tokio::test(start_paused = true)]
async fn overlap_skip_drops_a_fire_while_the_previous_run_goes_and_shutdown_waits_its_grace() {
    let setup = Setup::new("2026-01-05T09:00:00Z");
    let flow = setup.workflow(&cron_workflow(
        "    schedule: \"*/10 * * * *\"\n    overlap: skip",
        SLOW_STEP,
    ));
    let daemon = setup.start(&flow, Settings::default()).await;
    assert_eq!(daemon.runs_going(), 1);
    setup.clock.set(utc("2026-01-05T09:10:00Z"));
    daemon.handled_until(utc("2026-01-05T09:10:00Z")).await;
    assert_eq!(daemon.runs_going(), 1, "the 09:10 fire is dropped");
    assert_eq!(
        setup.fires_recorded().await,
        2,
        "a dropped fire is recorded as handled too"
    );
    let report = daemon.shutdown(StdDuration::from_secs(5)).await;
    assert_eq!(
        report,
        ShutdownReport {
            still_running: 1,
            dropped_waiting: 0
        }
    );
}

#[tokio::test(start_paused = true)]
async fn queued_fires_run_after_the_previous_run_and_are_dropped_at_shutdown() {
    let setup = Setup::new("2026-01-05T09:00:00Z");
    let flow = setup.workflow(&cron_workflow(
        "    schedule: \"*/10 * * * *\"\n    overlap: queue_all",
        "  - id: wait\n    uses: core.sleep\n    with:\n      duration: 25m\n",
    ));
    let daemon = setup.start(&flow, Settings::default()).await;
    for at in ["2026-01-05T09:10:00Z", "2026-01-05T09:20:00Z"] {
        setup.clock.set(utc(at));
        daemon.handled_until(utc(at)).await;
    }
    // 09:10 and 09:20 wait: shutdown drops them and lets the running one finish.
    let report = daemon.shutdown(StdDuration::from_secs(30 * 60)).await;
    assert_eq!(
        report,
        ShutdownReport {
            still_running: 0,
            dropped_waiting: 2
        }
    );
    assert_eq!(
        setup.runs().await.len(),
        1,
        "waiting fires do not start during shutdown"
    );
    assert_eq!(setup.runs().await[0].status.as_str(), "succeeded");
}

#[tokio::test(start_paused = true)]
async fn a_fire_recorded_in_the_sled_store_is_not_run_again_after_reopening_it() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(utc("2026-01-05T09:00:00Z")));
    let yaml = cron_workflow("    schedule: \"@hourly\"", LOG_STEP);
    let mut runs = Vec::new();
    for _ in 0..2 {
        let store = Arc::new(SledRunStore::open(&dir.path().join("runs")).await.unwrap());
        let engine = Runtime::new()
            .unwrap()
            .engine(store.clone(), Arc::new(weft_runtime::action::NoTokens));
        let flow = load_bytes(Path::new("flow.yaml"), yaml.as_bytes(), engine.catalog())
            .map_err(|p| p.render())
            .unwrap()
            .workflow;
        let daemon = Daemon::start(
            engine,
            store.clone(),
            clock.clone(),
            [flow],
            Settings::default(),
        )
        .await
        .unwrap();
        daemon.handled_until(clock.now()).await;
        settle(&daemon).await;
        daemon.shutdown(StdDuration::from_secs(1)).await;
        runs.push(store.list_runs(10).await.unwrap().len());
    }
    assert_eq!(
        runs,
        [1, 1],
        "the 09:00 fire ran once, before and after reopening"
    );
}

#[tokio::test(start_paused = true)]
async fn a_fire_recorded_ahead_runs_once_and_is_missed_if_its_instant_never_came() {
    let setup = Setup::new("2026-01-05T09:00:30Z");
    let flow = setup.workflow(&cron_workflow(
        "    schedule: \"* * * * *\"\n    missed: all\n    max_catch_up: 5\n    overlap: queue_all",
        LOG_STEP,
    ));
    let armed_run = |at: &'static str| {
        let store = setup.store.clone();
        async move {
            let fires = store.fires_since("report", CRON_TRIGGER, utc(at)).await;
            let fire = fires.unwrap().into_iter().next().expect("recorded");
            assert_eq!(fire.scheduled_at, utc(at));
            assert!(fire.recorded_at < fire.scheduled_at, "recorded ahead");
            fire.run_id.expect("with its run's id")
        }
    };

    // Stopped two seconds before 09:01, after recording its fire ahead; back half a second
    // before it: the fire runs on time, under the id recorded ahead.
    let first = setup.start(&flow, Settings::default()).await;
    setup
        .walk(&first, "2026-01-05T09:00:58.500Z", Duration::seconds(14))
        .await;
    assert_eq!(setup.fires_recorded().await, 1);
    let at_nine_one = armed_run("2026-01-05T09:01:00Z").await;
    first.shutdown(StdDuration::from_secs(1)).await;
    setup.clock.set(utc("2026-01-05T09:00:59.500Z"));
    let second = setup.start(&flow, Settings::default()).await;
    assert_eq!(second.recovered().unstarted_fires, 0);
    setup
        .walk(&second, "2026-01-05T09:01:58.500Z", Duration::seconds(30))
        .await;
    let runs = setup.runs().await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].id, at_nine_one);
    assert_eq!(setup.run_triggers("missed").await, ["false"]);
    let at_nine_two = armed_run("2026-01-05T09:02:00Z").await;
    second.shutdown(StdDuration::from_secs(1)).await;

    // Down over 09:02 .. 09:04, whose first fire was recorded ahead: not owed as a fire whose
    // run never started, but missed like the others, and run by `missed: all` once, under
    // its recorded id.
    setup.clock.set(utc("2026-01-05T09:04:30Z"));
    let third = setup.start(&flow, Settings::default()).await;
    assert_eq!(third.recovered().unstarted_fires, 0);
    settle(&third).await;
    assert_eq!(
        setup.run_triggers("scheduled_at").await[1..],
        [
            "2026-01-05T09:02:00+00:00",
            "2026-01-05T09:03:00+00:00",
            "2026-01-05T09:04:00+00:00"
        ]
    );
    assert_eq!(setup.runs().await[1].id, at_nine_two);
    assert_eq!(
        setup.run_triggers("missed").await[1..],
        ["true", "true", "true"]
    );
    third.shutdown(StdDuration::from_secs(1)).await;
    let again = setup.start(&flow, Settings::default()).await;
    settle(&again).await;
    assert_eq!(setup.runs().await.len(), 4, "nothing runs twice");
    again.shutdown(StdDuration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_fire_recorded_ahead_and_missed_with_missed_none_is_never_run() {
    let setup = Setup::new("2026-01-05T09:00:30Z");
    let flow = setup.workflow(&cron_workflow("    schedule: \"* * * * *\"", LOG_STEP));
    let first = setup.start(&flow, Settings::default()).await;
    setup
        .walk(&first, "2026-01-05T09:00:59Z", Duration::seconds(29))
        .await;
    assert_eq!(setup.fires_recorded().await, 1, "09:01 recorded ahead");
    first.shutdown(StdDuration::from_secs(1)).await;

    // Down over 09:01 .. 09:03: `missed: none` runs none of them, the one recorded ahead
    // neither, now or at any later start.
    for restart in ["2026-01-05T09:03:30Z", "2026-01-05T09:03:40Z"] {
        setup.clock.set(utc(restart));
        let daemon = setup.start(&flow, Settings::default()).await;
        assert_eq!(daemon.recovered().unstarted_fires, 0);
        settle(&daemon).await;
        assert!(setup.runs().await.is_empty());
        daemon.shutdown(StdDuration::from_secs(1)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_fire_recorded_ahead_follows_the_missed_setting_when_the_scheduler_wakes_late() {
    let setup = Setup::new("2026-01-05T09:00:30Z");
    let flow = setup.workflow(&cron_workflow(
        "    schedule: \"* * * * *\"\n    missed: latest\n    overlap: queue_all",
        LOG_STEP,
    ));
    let daemon = setup.start(&flow, settings(Duration::seconds(60))).await;
    setup
        .walk(&daemon, "2026-01-05T09:00:59Z", Duration::seconds(29))
        .await;
    assert_eq!(setup.fires_recorded().await, 1, "09:01 recorded ahead");

    // The process was suspended from 09:00:59 to 09:03:30: 09:03 is on time (within the
    // tolerance), 09:02 the latest missed one, and 09:01, recorded ahead, is skipped.
    setup
        .walk(&daemon, "2026-01-05T09:03:30Z", Duration::minutes(5))
        .await;
    assert_eq!(
        setup.run_triggers("scheduled_at").await,
        ["2026-01-05T09:02:00+00:00", "2026-01-05T09:03:00+00:00"]
    );
    assert_eq!(setup.run_triggers("missed").await, ["true", "false"]);
    daemon.shutdown(StdDuration::from_secs(1)).await;
    let again = setup.start(&flow, settings(Duration::seconds(60))).await;
    assert_eq!(
        again.recovered().unstarted_fires,
        0,
        "09:01 was noted dropped"
    );
    settle(&again).await;
    assert_eq!(setup.runs().await.len(), 2);
    again.shutdown(StdDuration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_fire_of_a_paused_workflow_is_not_run_by_the_next_start() {
    let setup = Setup::new("2026-01-05T09:00:30Z");
    let flow = setup.workflow(&cron_workflow(
        "    schedule: \"* * * * *\"\n    missed: all\n    max_catch_up: 5",
        LOG_STEP,
    ));
    let first = setup.start(&flow, Settings::default()).await;
    assert!(first.workflows().set_paused("report", true));
    setup
        .walk(&first, "2026-01-05T09:01:30Z", Duration::seconds(10))
        .await;
    assert_eq!(
        setup.fires_recorded().await,
        1,
        "the 09:01 fire is recorded"
    );
    assert!(setup.runs().await.is_empty(), "and not run while paused");
    assert!(first.workflows().set_paused("report", false));
    first.shutdown(StdDuration::from_secs(1)).await;

    // Back before the 09:02 fire: the paused one is not owed.
    let second = setup.start(&flow, Settings::default()).await;
    assert_eq!(second.recovered().unstarted_fires, 0);
    settle(&second).await;
    assert!(setup.runs().await.is_empty());
    second.shutdown(StdDuration::from_secs(1)).await;
}

impl Setup {
    /// Runs `flow` from 09:00:30 until 100 ms before 09:01, when the scheduler has made the
    /// 09:01 fire owed (recorded, the mark "reached 09:01" synced) and waits for the instant,
    /// and stops there as a crash would: the mark stays. Returns the id recorded for the 09:01
    /// fire's run.
    async fn stop_just_before_nine_one(
        &self,
        flow: &Arc<weft_engine::workflow::CompiledWorkflow>,
    ) -> String {
        let (run_id, marked) = self.stop_cleanly_just_before_nine_one(flow).await;
        // What a killed process leaves: the mark it synced, which a clean stop takes back.
        weft_daemon::mark_reached(self.store.as_ref(), marked)
            .await
            .unwrap();
        run_id
    }

    /// Like [`Setup::stop_just_before_nine_one`] with a clean stop; also returns the instant
    /// the scheduler had marked reached before it.
    async fn stop_cleanly_just_before_nine_one(
        &self,
        flow: &Arc<weft_engine::workflow::CompiledWorkflow>,
    ) -> (String, DateTime<Utc>) {
        let daemon = self.start(flow, Settings::default()).await;
        self.walk(&daemon, "2026-01-05T09:00:59.900Z", Duration::seconds(10))
            .await;
        assert!(self.runs().await.is_empty(), "nothing ran before 09:01");
        let nine_one = utc("2026-01-05T09:01:00Z");
        let owed = weft_daemon::owed_fires(self.store.as_ref(), "report", DateTime::<Utc>::MIN_UTC);
        assert_eq!(
            owed.await.unwrap().len(),
            1,
            "09:01 is owed before the stop"
        );
        daemon.shutdown(StdDuration::from_secs(1)).await;
        let fires = self
            .store
            .fires_since("report", CRON_TRIGGER, DateTime::<Utc>::MIN_UTC)
            .await
            .unwrap();
        assert_eq!(fires.len(), 1);
        assert_eq!(fires[0].scheduled_at, nine_one);
        (fires[0].run_id.clone().unwrap(), nine_one)
    }
}

#[tokio::test(start_paused = true)]
async fn a_clean_stop_before_an_owed_instant_leaves_its_fires_to_missed() {
    for (missed, runs) in [("none", 0), ("latest", 1)] {
        let setup = Setup::new("2026-01-05T09:00:30Z");
        let flow = setup.workflow(&cron_workflow(
            &format!("    schedule: \"* * * * *\"\n    missed: {missed}"),
            LOG_STEP,
        ));
        setup.stop_cleanly_just_before_nine_one(&flow).await;
        let owed =
            weft_daemon::owed_fires(setup.store.as_ref(), "report", DateTime::<Utc>::MIN_UTC);
        assert!(owed.await.unwrap().is_empty(), "missed: {missed}");

        // Back at 09:01:30 with 09:01 missed while it was down: `missed` decides.
        setup.clock.set(utc("2026-01-05T09:01:30Z"));
        let second = setup.start(&flow, Settings::default()).await;
        assert_eq!(second.recovered().unstarted_fires, 0, "missed: {missed}");
        settle(&second).await;
        assert_eq!(setup.runs().await.len(), runs, "missed: {missed}");
        second.shutdown(StdDuration::from_secs(1)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_fire_made_owed_ahead_runs_once_at_the_next_start_whatever_missed_says() {
    let all = "all\n    max_catch_up: 5";
    for (missed, after_the_owed_one) in [
        ("none", &[][..]),
        ("latest", &["2026-01-05T09:03:00+00:00"][..]),
        (
            all,
            &["2026-01-05T09:02:00+00:00", "2026-01-05T09:03:00+00:00"][..],
        ),
    ] {
        let setup = Setup::new("2026-01-05T09:00:30Z");
        let flow = setup.workflow(&cron_workflow(
            &format!("    schedule: \"* * * * *\"\n    missed: {missed}\n    overlap: queue_all"),
            LOG_STEP,
        ));
        let owed = setup.stop_just_before_nine_one(&flow).await;

        // Back at 09:03:30: 09:01 was marked reached, so its run is owed (it could have been
        // submitted) and starts once, flagged recovered; 09:02 and 09:03 are missed fires.
        setup.clock.set(utc("2026-01-05T09:03:30Z"));
        let second = setup.start(&flow, Settings::default()).await;
        assert_eq!(second.recovered().unstarted_fires, 1, "missed: {missed}");
        settle(&second).await;
        let runs = setup.runs().await;
        let recovered: Vec<_> = runs
            .iter()
            .filter(|r| r.trigger["recovered"] == true)
            .collect();
        assert_eq!(recovered.len(), 1, "missed: {missed}");
        assert_eq!(recovered[0].id, owed);
        assert_eq!(
            recovered[0].trigger["scheduled_at"],
            "2026-01-05T09:01:00+00:00"
        );
        let mut others: Vec<String> = runs
            .iter()
            .filter(|r| r.trigger["recovered"] != true)
            .map(|r| r.trigger["scheduled_at"].as_str().unwrap().to_string())
            .collect();
        others.sort();
        assert_eq!(others, after_the_owed_one, "missed: {missed}");
        second.shutdown(StdDuration::from_secs(1)).await;

        let again = setup.start(&flow, Settings::default()).await;
        assert_eq!(again.recovered().unstarted_fires, 0);
        settle(&again).await;
        assert_eq!(setup.runs().await.len(), runs.len(), "nothing runs twice");
        again.shutdown(StdDuration::from_secs(1)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_start_before_an_instant_marked_reached_waits_for_it() {
    let setup = Setup::new("2026-01-05T09:00:30Z");
    let flow = setup.workflow(&cron_workflow("    schedule: \"* * * * *\"", LOG_STEP));
    let owed = setup.stop_just_before_nine_one(&flow).await;

    // Back 50 ms later, still before 09:01: nothing of 09:01 starts before 09:01.
    setup.clock.set(utc("2026-01-05T09:00:59.950Z"));
    let start = setup.start(&flow, Settings::default());
    tokio::pin!(start);
    let waited = tokio::time::timeout(StdDuration::from_secs(5), &mut start).await;
    assert!(waited.is_err(), "the start waits for 09:01");
    assert!(setup.runs().await.is_empty());
    setup.clock.set(utc("2026-01-05T09:01:00Z"));
    let second = start.await;
    assert_eq!(second.recovered().unstarted_fires, 1);
    settle(&second).await;
    let runs = setup.runs().await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].id, owed);

    // The next minute fires as usual, once.
    setup
        .walk(&second, "2026-01-05T09:02:30Z", Duration::seconds(20))
        .await;
    assert_eq!(
        setup.run_triggers("scheduled_at").await,
        ["2026-01-05T09:01:00+00:00", "2026-01-05T09:02:00+00:00"]
    );
    second.shutdown(StdDuration::from_secs(1)).await;
}
