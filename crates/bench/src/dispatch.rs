//! Trivial runs started at once through the daemon's dispatcher (its gate, run-ended
//! announcements and metrics, steps timed for `/metrics`), next to the same runs started on the
//! engine alone: what the daemon adds per run.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use weft_daemon::{Dispatcher, Submission, TriggerKind, WorkflowSet};
use weft_engine::exec::RunRequest;
use weft_engine::store::{RunStatus, SledRunStore};

use super::{load, weft, Row};

const RUNS: usize = 2000;
const TRIVIAL: &str = "name: trivial\nsteps:\n  - {id: s, uses: core.set, with: {n: 1}}\n";

fn per_second(elapsed: Duration) -> String {
    format!("{:.0} runs/s", RUNS as f64 / elapsed.as_secs_f64())
}

pub async fn trivial_runs(dir: &Path) -> Vec<Row> {
    let store = Arc::new(
        SledRunStore::open(&dir.join("dispatch-runs"))
            .await
            .expect("open store"),
    );
    let engine = weft().engine(store, Arc::new(weft_runtime::action::NoTokens));
    let workflow = load(&engine, dir, "trivial.yaml", TRIVIAL);

    let started = Instant::now();
    let mut runs = tokio::task::JoinSet::new();
    for _ in 0..RUNS {
        let (engine, workflow) = (engine.clone(), workflow.clone());
        runs.spawn(async move { engine.run(workflow, RunRequest::default()).await.status });
    }
    while let Some(status) = runs.join_next().await {
        assert_eq!(status.expect("run task"), RunStatus::Succeeded);
    }
    let bare = started.elapsed();

    let set = WorkflowSet::new([workflow]);
    let dispatcher = Dispatcher::new(engine, set, HashMap::new());
    let mut ended = dispatcher.subscribe();
    let started = Instant::now();
    for _ in 0..RUNS {
        let submission = Submission::new(TriggerKind::Api, json!({ "kind": "api" }));
        dispatcher.submit("trivial", submission).expect("submitted");
    }
    for _ in 0..RUNS {
        let run = ended.recv().await.expect("a run ended");
        assert_eq!(run.status, RunStatus::Succeeded);
    }
    let dispatched = started.elapsed();
    vec![
        Row {
            what: "trivial runs, 2,000 started at once, run history on: engine alone",
            measured: per_second(bare),
            target: "—",
            peer: "—",
        },
        Row {
            what: "the same through the daemon's dispatcher (gate, announcements, step metrics)",
            measured: per_second(dispatched),
            target: "≥ 2,000 runs/s (issue 10, webhook runs)",
            peer: "—",
        },
    ]
}
