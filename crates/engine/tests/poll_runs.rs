//! `poll_once` records the runs of a poll side by side (their syncs are then shared), at most
//! the workflow's `concurrency.limit` at once, and reports them in event order.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use weft_action::{ActionContext, ActionError, ActionInfo, SourceContext, SourceInfo};
use weft_engine::actions::{builtin_registry, TypedAction};
use weft_engine::exec::Engine;
use weft_engine::store::{MemoryRunStore, RunStatus};
use weft_engine::trigger::{poll_once, Delivery, SourceCatalog, TypedPollSource, RUNS_AT_ONCE};
use weft_engine::workflow::{self, Catalog};

const EVENTS: usize = 40;

/// Every poll finds [`EVENTS`] new events.
struct Ticks;

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct NoSettings {}

#[async_trait::async_trait]
impl TypedPollSource for Ticks {
    type Settings = NoSettings;
    type Cursor = u64;
    const INFO: SourceInfo = SourceInfo {
        name: "test.ticks",
        description: "Counts.",
        event_example: r#"{"kind": "tick", "id": "1", "version": 1}"#,
        scopes: &[],
    };

    async fn poll(
        &self,
        _: NoSettings,
        cursor: Option<u64>,
        _: &SourceContext<'_>,
    ) -> Result<(Vec<Value>, u64), ActionError> {
        let from = cursor.unwrap_or(0);
        let events = (from..from + EVENTS as u64)
            .map(|n| json!({"kind": "tick", "id": n.to_string(), "version": 1}))
            .collect();
        Ok((events, from + EVENTS as u64))
    }
}

/// Counts how many of its steps are going at the same time.
#[derive(Default)]
struct Overlap {
    going: AtomicUsize,
    most: AtomicUsize,
}

struct Work(Arc<Overlap>);

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct WorkInput {
    /// The event's id.
    tick: String,
}

#[async_trait::async_trait]
impl TypedAction for Work {
    type Input = WorkInput;
    const INFO: ActionInfo = ActionInfo {
        name: "test.work",
        description: "Yields a few times, counting the steps going at once.",
        output_description: "The tick.",
        output_example: r#"{"tick": "1"}"#,
        writes: false,
        scopes: &[],
    };

    async fn run(&self, input: WorkInput, _: &ActionContext<'_>) -> Result<Value, ActionError> {
        let now = self.0.going.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.most.fetch_max(now, Ordering::SeqCst);
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        self.0.going.fetch_sub(1, Ordering::SeqCst);
        Ok(json!({ "tick": input.tick }))
    }
}

/// Polls once a workflow whose extra top-level lines are `extra`: the ticks of its runs in
/// the order reported, and the most runs that went at once.
async fn poll_with(extra: &str) -> (Vec<Value>, usize) {
    let overlap = Arc::new(Overlap::default());
    let mut registry = builtin_registry().expect("built-ins");
    registry.add(Work(overlap.clone())).expect("test action");
    let mut sources = SourceCatalog::default();
    sources.add(Ticks).expect("test source");
    let store = Arc::new(MemoryRunStore::new());
    let engine = Engine::new(Arc::new(registry), Arc::new(sources), store.clone());
    let text = format!(
        "name: ticks\nconnection: acme\n{extra}trigger:\n  poll:\n    source: test.ticks\n    interval: 1m\nsteps:\n  - id: work\n    uses: test.work\n    with:\n      tick: ${{{{ trigger.id }}}}\noutputs:\n  tick: ${{{{ steps.work.output.tick }}}}\n"
    );
    let catalog = Catalog {
        actions: &engine.registry,
        sources: &engine.sources,
    };
    let flow = workflow::load_bytes(Path::new("ticks.yaml"), text.as_bytes(), catalog)
        .unwrap_or_else(|p| panic!("{}", p.render()))
        .workflow;
    let report = poll_once(&engine, store.as_ref(), flow, None, Delivery::Record)
        .await
        .expect("poll");
    assert_eq!(report.runs.len(), EVENTS);
    assert!(report
        .runs
        .iter()
        .all(|run| run.status == RunStatus::Succeeded));
    let ticks = report.runs.iter().map(|run| run.outputs["tick"].clone());
    (ticks.collect(), overlap.most.load(Ordering::SeqCst))
}

fn in_event_order() -> Vec<Value> {
    (0..EVENTS).map(|n| json!(n.to_string())).collect()
}

#[tokio::test]
async fn the_runs_of_a_poll_go_side_by_side_and_are_reported_in_event_order() {
    let (ticks, most) = poll_with("").await;
    assert_eq!(ticks, in_event_order());
    assert_eq!(most, RUNS_AT_ONCE);
}

#[tokio::test]
async fn a_workflow_concurrency_limit_bounds_the_runs_of_a_poll() {
    let (ticks, most) = poll_with("concurrency:\n  limit: 3\n").await;
    assert_eq!(ticks, in_event_order());
    assert_eq!(most, 3);
    let (_, most) = poll_with("concurrency:\n  limit: 1\n").await;
    assert_eq!(most, 1, "one after another");
}
