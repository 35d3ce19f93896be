//! The dispatcher every trigger submits runs to: a workflow's concurrency holds across
//! submissions, runs are cancelled by id, their end is announced, paused and unknown
//! workflows are refused, and a stopping daemon takes nothing new.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use weft_daemon::{
    Dispatcher, DropReason, RunEnded, Submission, SubmitError, Submitted, TriggerKind, WorkflowSet,
};
use weft_engine::store::{MemoryRunStore, RunStatus, RunStore};
use weft_engine::workflow::{load_bytes, CompiledWorkflow};
use weft_runtime::Runtime;

fn setup(yaml: &str) -> (Dispatcher, Arc<MemoryRunStore>) {
    let store = Arc::new(MemoryRunStore::default());
    let engine = Runtime::new()
        .unwrap()
        .engine(store.clone(), Arc::new(weft_runtime::action::NoTokens));
    let workflow: Arc<CompiledWorkflow> =
        match load_bytes(Path::new("flow.yaml"), yaml.as_bytes(), engine.catalog()) {
            Ok(loaded) => loaded.workflow,
            Err(problems) => panic!("{}", problems.render()),
        };
    let set = WorkflowSet::new([workflow]);
    (Dispatcher::new(engine, set, Default::default()), store)
}

const SLOW: &str = "name: slow
concurrency:
  limit: 1
  policy: queue
steps:
  - id: wait
    uses: core.sleep
    with:
      duration: 10s
  - id: echo
    uses: core.set
    with:
      value: ${{ trigger.n }}
";

fn submission(n: u32) -> Submission {
    Submission::new(TriggerKind::Api, json!({ "kind": "api", "n": n }))
}

async fn next_end(ended: &mut tokio::sync::broadcast::Receiver<RunEnded>) -> RunEnded {
    ended.recv().await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn concurrency_holds_across_submissions_and_runs_end_in_order() {
    let (dispatcher, store) = setup(SLOW);
    let mut ended = dispatcher.subscribe();
    let first = dispatcher.submit("slow", submission(1)).unwrap();
    let second = dispatcher.submit("slow", submission(2)).unwrap();
    assert!(matches!(first, Submitted::Started { .. }), "{first:?}");
    assert!(
        matches!(second, Submitted::Queued { cancelled: 0, .. }),
        "{second:?}"
    );
    assert_eq!(dispatcher.runs_going(), 1);

    let end = next_end(&mut ended).await;
    assert_eq!(end.run_id, first.run_id());
    assert_eq!(end.status, RunStatus::Succeeded);
    assert_eq!(end.kind, TriggerKind::Api);
    let end = next_end(&mut ended).await;
    assert_eq!(end.run_id, second.run_id(), "the queued run keeps its id");
    let record = store.get_run(second.run_id()).await.unwrap().unwrap();
    assert_eq!(record.trigger["n"], 2);
}

#[tokio::test(start_paused = true)]
async fn a_preset_run_id_is_the_run_s_id_and_a_run_is_cancelled_by_id() {
    let (dispatcher, store) = setup(SLOW);
    let mut ended = dispatcher.subscribe();
    let preset = weft_engine::exec::new_run_id();
    let submitted = dispatcher
        .submit(
            "slow",
            Submission {
                run_id: Some(preset.clone()),
                ..submission(1)
            },
        )
        .unwrap();
    assert_eq!(
        submitted,
        Submitted::Started {
            run_id: preset.clone()
        }
    );
    tokio::task::yield_now().await;
    assert!(dispatcher.is_going(&preset));
    assert!(dispatcher.cancel(&preset));
    assert!(!dispatcher.cancel("no-such-run"));
    let end = next_end(&mut ended).await;
    assert_eq!(
        (end.run_id.as_str(), end.status),
        (preset.as_str(), RunStatus::Cancelled)
    );
    assert!(!dispatcher.is_going(&preset));
    let record = store.get_run(&preset).await.unwrap().unwrap();
    assert_eq!(record.status, RunStatus::Cancelled);
}

#[tokio::test(start_paused = true)]
async fn paused_unknown_and_stopping_are_refused_and_skip_drops() {
    let (dispatcher, _) = setup(&SLOW.replace("policy: queue", "policy: skip"));
    assert_eq!(
        dispatcher.submit("nope", submission(1)),
        Err(SubmitError::UnknownWorkflow("nope".into()))
    );
    assert!(dispatcher.workflows().set_paused("slow", true));
    assert_eq!(
        dispatcher.submit("slow", submission(1)),
        Err(SubmitError::Paused("slow".into()))
    );
    assert!(dispatcher.workflows().set_paused("slow", false));
    dispatcher.submit("slow", submission(1)).unwrap();
    let dropped = dispatcher.submit("slow", submission(2)).unwrap();
    assert!(
        matches!(
            dropped,
            Submitted::Dropped {
                reason: DropReason::ConcurrencyLimit,
                ..
            }
        ),
        "{dropped:?}"
    );
    let report = dispatcher.shutdown(Duration::from_secs(60)).await;
    assert_eq!((report.still_running, report.dropped_waiting), (0, 0));
    assert_eq!(
        dispatcher.submit("slow", submission(3)),
        Err(SubmitError::Stopping)
    );
}

#[tokio::test(start_paused = true)]
async fn runs_beyond_the_execution_slots_wait_their_turn_and_count_as_going() {
    const WIDE: &str = "name: wide
steps:
  - id: wait
    uses: core.sleep
    with:
      duration: 10s
";
    // More than the daemon's execution slots (256).
    let (dispatcher, _store) = setup(WIDE);
    let mut ended = dispatcher.subscribe();
    let ids: Vec<String> = (0..300)
        .map(|n| {
            let submitted = dispatcher.submit("wide", submission(n)).unwrap();
            assert!(matches!(submitted, Submitted::Started { .. }));
            submitted.run_id().to_string()
        })
        .collect();
    assert_eq!(dispatcher.runs_going(), 300, "waiting for a slot is going");
    let last = ids.last().unwrap();
    assert!(
        dispatcher.cancel(last),
        "a run waiting for a slot is cancelled by id"
    );

    let mut order = Vec::new();
    for _ in 0..300 {
        order.push(next_end(&mut ended).await);
    }
    let mut first_ended: Vec<&str> = order[..256].iter().map(|e| e.run_id.as_str()).collect();
    first_ended.sort();
    let mut first_submitted: Vec<&str> = ids[..256].iter().map(String::as_str).collect();
    first_submitted.sort();
    assert_eq!(
        first_ended, first_submitted,
        "the later ones waited for a slot"
    );
    let cancelled = order.iter().find(|e| &e.run_id == last).unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    assert_eq!(
        order
            .iter()
            .filter(|e| e.status == RunStatus::Succeeded)
            .count(),
        299
    );
    while dispatcher.runs_going() > 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
