//! Reloading while the daemon runs: a cron schedule replaced takes effect at once, a removed
//! workflow fires no more, and the reloader tells changed, new and deleted files apart and keeps
//! the previous version of a file that does not check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use weft_daemon::reload::{content_of, Checked, Reloader, Stamp};
use weft_daemon::{Clock, Daemon, ManualClock, Settings};
use weft_engine::store::{MemoryRunStore, RunStore};
use weft_engine::workflow::{load_bytes, CompiledWorkflow};
use weft_runtime::Runtime;

mod support;
use serde_json::json;
use support::{settle, Setup};
use weft_daemon::{DropReason, Submission, Submitted, TriggerKind};
use weft_engine::store::RunStatus;

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:30Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn workflow(name: &str, schedule: &str) -> Arc<CompiledWorkflow> {
    let yaml = format!(
        "name: {name}\ntrigger:\n  cron:\n    schedule: \"{schedule}\"\nsteps:\n  - id: say\n    uses: core.log\n    with:\n      message: \"${{{{ trigger.schedule }}}}\"\n"
    );
    let engine = Runtime::new().unwrap().checking_engine();
    match load_bytes(Path::new("flow.yaml"), yaml.as_bytes(), engine.catalog()) {
        Ok(loaded) => loaded.workflow,
        Err(problems) => panic!("{}", problems.render()),
    }
}

struct Running {
    daemon: Daemon,
    store: Arc<MemoryRunStore>,
    clock: Arc<ManualClock>,
}

impl Running {
    async fn start(workflows: Vec<Arc<CompiledWorkflow>>) -> Running {
        let store = Arc::new(MemoryRunStore::default());
        let clock = Arc::new(ManualClock::new(start()));
        let engine = Runtime::new()
            .unwrap()
            .engine(store.clone(), Arc::new(weft_runtime::action::NoTokens));
        let daemon = Daemon::start(
            engine,
            store.clone(),
            clock.clone(),
            workflows,
            Settings::default(),
        )
        .await
        .unwrap();
        Running {
            daemon,
            store,
            clock,
        }
    }

    /// Moves the clock a minute at a time to `minutes` after the start, letting each fire run.
    async fn walk_to(&self, minutes: i64) {
        let to = start() + Duration::minutes(minutes);
        while self.clock.now() < to {
            let next = self.clock.now() + Duration::minutes(1);
            self.clock.set(next);
            self.daemon.handled_until(next).await;
            while self.daemon.runs_going() > 0 {
                tokio::time::sleep(StdDuration::from_millis(1)).await;
            }
        }
    }

    /// The schedule of each run, oldest first.
    async fn runs(&self) -> Vec<String> {
        let mut runs = self.store.list_runs(100).await.unwrap();
        runs.sort_by_key(|r| r.trigger["scheduled_at"].as_str().unwrap().to_string());
        runs.iter()
            .map(|r| format!("{} {}", r.workflow, r.trigger["schedule"].as_str().unwrap()))
            .collect()
    }
}

#[tokio::test(start_paused = true)]
async fn a_replaced_schedule_takes_effect_and_a_removed_workflow_fires_no_more() {
    let running = Running::start(vec![workflow("tick", "* * * * *")]).await;
    running.walk_to(2).await;
    assert_eq!(running.runs().await, ["tick * * * * *", "tick * * * * *"]);

    running.daemon.set_workflow(workflow("tick", "*/5 * * * *"));
    running.walk_to(4).await;
    assert_eq!(
        running.runs().await.len(),
        2,
        "9:03 and 9:04 are not fires of */5"
    );
    running.walk_to(5).await;
    assert_eq!(running.runs().await[2], "tick */5 * * * *");
    assert_eq!(running.daemon.cron_workflows(), 1);

    assert!(running.daemon.remove_workflow("tick"));
    running.walk_to(15).await;
    assert_eq!(running.runs().await.len(), 3);
    assert_eq!(running.daemon.cron_workflows(), 0);
    assert!(running.daemon.workflows().get("tick").is_none());
    running.daemon.shutdown(StdDuration::from_secs(1)).await;
}

/// `report`, started through the API, with a `concurrency` of `limit` (policy `skip`) and one
/// step of an hour (slept: this daemon stores no waits); `version` tells the versions apart.
fn limited(setup: &Setup, limit: u32, version: &str) -> Arc<CompiledWorkflow> {
    setup.workflow(&format!(
        "name: report\nconcurrency:\n  limit: {limit}\n  policy: skip\nsteps:\n  - id: wait\n    uses: core.sleep\n    with:\n      duration: 1h\n  - id: version\n    uses: core.set\n    with: {{ version: {version} }}\n"
    ))
}

#[tokio::test(start_paused = true)]
async fn a_reload_keeps_the_runs_going_in_the_gate_and_applies_the_new_limit() {
    let setup = Setup::new("2026-03-02T09:00:30Z");
    let daemon = setup
        .start(&limited(&setup, 1, "one"), Settings::default())
        .await;
    let submit = || {
        let api = Submission::new(TriggerKind::Api, json!({ "kind": "api" }));
        daemon.dispatcher().submit("report", api).unwrap()
    };
    let first = submit();
    assert!(matches!(first, Submitted::Started { .. }), "{first:?}");

    // The same limit, another version: the run of the first still holds the one place.
    daemon.set_workflow(limited(&setup, 1, "two"));
    let refused = submit();
    assert!(
        matches!(
            refused,
            Submitted::Dropped {
                reason: DropReason::ConcurrencyLimit,
                ..
            }
        ),
        "a second run started beside the first after the reload: {refused:?}"
    );

    // A higher limit applies to the next runs, still counting the first.
    daemon.set_workflow(limited(&setup, 2, "three"));
    let second = submit();
    assert!(matches!(second, Submitted::Started { .. }), "{second:?}");
    assert!(matches!(submit(), Submitted::Dropped { .. }));
    settle(&daemon).await;
    for run in [first.run_id(), second.run_id()] {
        let run = setup.store.get_run(run).await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.error);
    }
    daemon.shutdown(StdDuration::from_secs(1)).await;
}

fn listing(files: &[&Path]) -> BTreeMap<PathBuf, Stamp> {
    files
        .iter()
        .map(|f| (f.to_path_buf(), Stamp::of(f).unwrap()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_reloader_keeps_the_previous_version_of_a_broken_file_and_stops_deleted_ones() {
    let dir = tempfile::tempdir().unwrap();
    let tick = dir.path().join("tick.yaml");
    let tock = dir.path().join("tock.yaml");
    std::fs::write(&tick, "one").unwrap();
    let first = workflow("tick", "* * * * *");
    let running = Running::start(vec![first.clone()]).await;
    let mut reloader = Reloader::default();
    reloader.track(tick.clone(), Stamp::of(&tick).unwrap(), Some(first), None);
    assert!(reloader.changes(&listing(&[&tick])).is_empty());

    // Broken: the reload keeps the running version.
    std::fs::write(&tick, "broken!").unwrap();
    let files = listing(&[&tick]);
    let changes = reloader.changes(&files);
    assert_eq!(changes.changed, std::slice::from_ref(&tick));
    let report = reloader.apply(
        &running.daemon,
        &files,
        vec![(tick.clone(), Checked::Invalid)],
        &changes.deleted,
    );
    assert_eq!(report.kept, std::slice::from_ref(&tick));
    assert!(
        reloader.changes(&files).is_empty(),
        "reported once, not every second"
    );
    running.walk_to(1).await;
    assert_eq!(running.runs().await, ["tick * * * * *"]);

    // Fixed, and a new file defining the same name: the second one is refused.
    std::fs::write(&tick, "fixed").unwrap();
    std::fs::write(&tock, "new").unwrap();
    let files = listing(&[&tick, &tock]);
    let changes = reloader.changes(&files);
    assert_eq!(changes.changed, [tick.clone(), tock.clone()]);
    let checked = vec![
        (
            tick.clone(),
            Checked::Valid(workflow("tick", "*/2 * * * *")),
        ),
        (tock.clone(), Checked::Valid(workflow("tick", "* * * * *"))),
    ];
    let report = reloader.apply(&running.daemon, &files, checked, &changes.deleted);
    assert_eq!(report.replaced, ["tick"]);
    assert_eq!(report.duplicate_names, [(tock.clone(), tick.clone())]);
    running.walk_to(4).await;
    assert_eq!(
        running.runs().await,
        ["tick * * * * *", "tick */2 * * * *", "tick */2 * * * *"]
    );

    // Deleted: its workflow stops.
    std::fs::remove_file(&tick).unwrap();
    let files = listing(&[&tock]);
    let changes = reloader.changes(&files);
    assert_eq!(changes.deleted, std::slice::from_ref(&tick));
    let report = reloader.apply(&running.daemon, &files, Vec::new(), &changes.deleted);
    assert_eq!(report.stopped, ["tick"]);
    running.walk_to(8).await;
    assert_eq!(running.runs().await.len(), 3);
    running.daemon.shutdown(StdDuration::from_secs(1)).await;
}

#[test]
fn a_file_saved_again_unchanged_is_not_checked_nor_reported_again() {
    let dir = tempfile::tempdir().unwrap();
    let tick = dir.path().join("tick.yaml");
    std::fs::write(&tick, "broken!").unwrap();
    let mut reloader = Reloader::default();
    let stamp = Stamp::of(&tick).unwrap();
    reloader.track(tick.clone(), stamp, None, content_of(&tick));

    // The same bytes with a new modification time (saved again; a SIGHUP and the folder check
    // both looking): a change of stamp, not of content.
    let later = std::time::SystemTime::now() + StdDuration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&tick)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let files = listing(&[&tick]);
    assert_eq!(
        reloader.changes(&files).changed,
        std::slice::from_ref(&tick)
    );
    let content = content_of(&tick);
    assert!(reloader.same_content(&tick, files[&tick], content.as_deref()));
    assert!(
        reloader.changes(&files).is_empty(),
        "its new stamp is noted"
    );

    // Other content is checked; once checked, the same again is not.
    std::fs::write(&tick, "broken again!").unwrap();
    let files = listing(&[&tick]);
    let content = content_of(&tick);
    assert!(!reloader.same_content(&tick, files[&tick], content.as_deref()));
    assert!(reloader.same_content(&tick, files[&tick], content.as_deref()));
    // A file that cannot be read is always checked (and so reported).
    assert!(!reloader.same_content(&tick, files[&tick], None));
}
