//! `poll_once` records the runs of a poll side by side (their syncs are then shared), at most
//! the workflow's `concurrency.limit` at once, and reports them in event order. The runs start
//! while the source is still finding events, which waits for them: a poll holds a bounded number
//! of events. A source failing midway leaves the runs of what it delivered recorded, and the
//! next poll starts no second run for them.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use weft_action::{ActionContext, ActionError, ActionInfo, EventSink, SourceContext, SourceInfo};
use weft_engine::actions::{builtin_registry, TypedAction};
use weft_engine::exec::Engine;
use weft_engine::store::{MemoryRunStore, RunStatus, RunStore, TriggerStore};
use weft_engine::trigger::{
    poll_once, Delivery, PollError, PollReport, SourceCatalog, TypedPollSource, PROGRESS_EVERY,
    RUNS_AT_ONCE,
};
use weft_engine::workflow::{self, Catalog, CompiledWorkflow};

const EVENTS: usize = 40;

/// Every poll finds [`EVENTS`] new events (unless told to fail midway).
struct Ticks(Arc<Overlap>);

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
        events: &EventSink,
    ) -> Result<u64, ActionError> {
        let from = cursor.unwrap_or(0);
        let fail_after = self.0.fail_after.swap(0, Ordering::SeqCst);
        for (delivered, n) in (from..from + EVENTS as u64).enumerate() {
            if fail_after > 0 && delivered == fail_after {
                return Err(ActionError::failed("the search broke off"));
            }
            // Measured on the first poll of a test (runs of earlier polls count as finished).
            let ahead = delivered.saturating_sub(self.0.finished.load(Ordering::SeqCst));
            self.0.most_ahead.fetch_max(ahead, Ordering::SeqCst);
            events
                .deliver(json!({"kind": "tick", "id": n.to_string(), "version": 1}))
                .await?;
        }
        Ok(from + EVENTS as u64)
    }
}

/// Counts how many of its steps are going at the same time, and how far the source got ahead
/// of the steps that finished.
#[derive(Default)]
struct Overlap {
    going: AtomicUsize,
    most: AtomicUsize,
    finished: AtomicUsize,
    most_ahead: AtomicUsize,
    /// The next poll fails after this many events (0: it does not).
    fail_after: AtomicUsize,
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
        self.0.finished.fetch_add(1, Ordering::SeqCst);
        Ok(json!({ "tick": input.tick }))
    }
}

/// An engine with the test source and action, and a workflow polling the source whose extra
/// top-level lines are `extra`.
fn setup(
    extra: &str,
    overlap: &Arc<Overlap>,
) -> (Engine, Arc<MemoryRunStore>, Arc<CompiledWorkflow>) {
    let mut registry = builtin_registry().expect("built-ins");
    registry.add(Work(overlap.clone())).expect("test action");
    let mut sources = SourceCatalog::default();
    sources.add(Ticks(overlap.clone())).expect("test source");
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
    (engine, store, flow)
}

async fn poll(
    engine: &Engine,
    store: &MemoryRunStore,
    flow: &Arc<CompiledWorkflow>,
) -> Result<PollReport, PollError> {
    poll_once(engine, store, flow.clone(), None, Delivery::Record).await
}

/// Polls once a workflow whose extra top-level lines are `extra`: the ticks of its runs in
/// the order reported, and the most runs that went at once.
async fn poll_with(extra: &str) -> (Vec<Value>, usize) {
    let overlap = Arc::new(Overlap::default());
    let (engine, store, flow) = setup(extra, &overlap);
    let report = poll(&engine, &store, &flow).await.expect("poll");
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
async fn the_runs_of_a_poll_are_synced_by_its_progress_saves_not_one_by_one() {
    let overlap = Arc::new(Overlap::default());
    let (engine, store, flow) = setup("", &overlap);
    let report = poll(&engine, &store, &flow).await.expect("poll");
    assert_eq!(report.runs.len(), EVENTS);
    // Fewer than PROGRESS_EVERY runs: no progress save, one sync with the cursor, none per run.
    const { assert!(EVENTS < PROGRESS_EVERY) };
    assert_eq!(store.flushes(), 1);
    // A run on its own still syncs at its end.
    let before = store.flushes();
    let request = weft_engine::exec::RunRequest {
        trigger: Some(json!({"kind": "tick", "id": "alone", "version": 1})),
        ..Default::default()
    };
    let outcome = engine.run(flow.clone(), request).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert!(store.flushes() > before);
}

#[tokio::test]
async fn a_workflow_concurrency_limit_bounds_the_runs_of_a_poll() {
    let (ticks, most) = poll_with("concurrency:\n  limit: 3\n").await;
    assert_eq!(ticks, in_event_order());
    assert_eq!(most, 3);
    let (_, most) = poll_with("concurrency:\n  limit: 1\n").await;
    assert_eq!(most, 1, "one after another");
}

#[tokio::test]
async fn the_source_gets_at_most_a_batch_of_events_ahead_of_the_runs() {
    let overlap = Arc::new(Overlap::default());
    let (engine, store, flow) = setup("", &overlap);
    let report = poll(&engine, &store, &flow).await.expect("poll");
    assert_eq!(report.runs.len(), EVENTS);
    // At most a batch going, a batch queued and the one being handed over.
    let ahead = overlap.most_ahead.load(Ordering::SeqCst);
    assert!(ahead <= 2 * RUNS_AT_ONCE + 1, "{ahead} events ahead");
    assert!(ahead < EVENTS, "the events were not all held at once");
    // What the report keeps of each event.
    assert_eq!(
        report.events[3],
        json!({"kind": "tick", "id": "3", "version": 1})
    );
}

#[tokio::test]
async fn a_source_failing_midway_keeps_its_runs_and_the_next_poll_does_not_repeat_them() {
    let overlap = Arc::new(Overlap::default());
    let (engine, store, flow) = setup("", &overlap);
    overlap.fail_after.store(25, Ordering::SeqCst);
    let error = poll(&engine, &store, &flow).await.unwrap_err();
    assert!(matches!(error, PollError::Source { .. }), "{error}");
    assert_eq!(store.list_runs(100).await.unwrap().len(), 25);
    let key = weft_engine::store::TriggerKey {
        workflow: "ticks.yaml".into(),
        trigger: "poll".into(),
        connection: Some("acme".into()),
    };
    let state = store.cursor(&key).await.unwrap().expect("progress saved");
    assert!(state.cursor.is_null(), "the cursor did not move");
    assert_eq!(state.seen.len(), 25);

    let again = poll(&engine, &store, &flow).await.expect("second poll");
    assert_eq!(again.skipped_as_recorded, 25);
    assert_eq!(again.runs.len(), EVENTS - 25);
    assert_eq!(again.runs[0].outputs["tick"], "25");
    assert_eq!(store.list_runs(100).await.unwrap().len(), EVENTS);
    let state = store.cursor(&key).await.unwrap().unwrap();
    assert_eq!((state.cursor, state.seen.len()), (json!(EVENTS), 0));
}

/// Delivers one event whose id is the `space` setting it was given.
struct SpaceEcho;

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct SpaceSettings {
    space: String,
}

#[async_trait::async_trait]
impl TypedPollSource for SpaceEcho {
    type Settings = SpaceSettings;
    type Cursor = u64;
    const INFO: SourceInfo = SourceInfo {
        name: "test.space",
        description: "Echoes its space.",
        event_example: r#"{"kind": "space", "id": "ENG", "version": 1}"#,
        scopes: &[],
    };

    async fn poll(
        &self,
        settings: SpaceSettings,
        _: Option<u64>,
        _: &SourceContext<'_>,
        events: &EventSink,
    ) -> Result<u64, ActionError> {
        events
            .deliver(json!({"kind": "space", "id": settings.space, "version": 1}))
            .await?;
        Ok(1)
    }
}

/// Connections whose only setting is `space`, named after the connection (`acme` → `ACME`).
struct SettingsOnly;

#[async_trait::async_trait]
impl weft_action::TokenProvider for SettingsOnly {
    async fn connection_info(
        &self,
        connection: &str,
    ) -> Result<weft_action::ConnectionInfo, weft_action::TokenError> {
        Ok(weft_action::ConnectionInfo {
            name: connection.to_string(),
            provider: "test".into(),
            cloud_id: String::new(),
            site_url: String::new(),
            api_base: String::new(),
            granted_scopes: Vec::new(),
            config: [("space".to_string(), connection.to_uppercase())].into(),
        })
    }
    async fn access_token(
        &self,
        _: &str,
    ) -> Result<weft_action::AccessToken, weft_action::TokenError> {
        Err(weft_action::TokenError::Unavailable)
    }
    async fn refresh_rejected(
        &self,
        _: &str,
        _: &weft_action::AccessToken,
    ) -> Result<weft_action::AccessToken, weft_action::TokenError> {
        Err(weft_action::TokenError::Unavailable)
    }
}

#[tokio::test]
async fn the_settings_of_a_poll_trigger_read_the_polled_connections_own() {
    let mut sources = SourceCatalog::default();
    sources.add(SpaceEcho).expect("test source");
    let store = Arc::new(MemoryRunStore::new());
    let engine = Engine::new(
        Arc::new(builtin_registry().expect("built-ins")),
        Arc::new(sources),
        store.clone(),
    )
    .with_tokens(Arc::new(SettingsOnly));
    let text = "name: spaces\nconnection: acme\nconnection_config:\n  space:\n    type: string\ntrigger:\n  poll:\n    source: test.space\n    interval: 1m\n    with:\n      space: ${{ connection.config.space }}\nsteps:\n  - id: note\n    uses: core.log\n    with:\n      message: ${{ trigger.id }}\n";
    let catalog = Catalog {
        actions: &engine.registry,
        sources: &engine.sources,
    };
    let flow = workflow::load_bytes(Path::new("spaces.yaml"), text.as_bytes(), catalog)
        .unwrap_or_else(|p| panic!("{}", p.render()))
        .workflow;
    for (connection, space) in [(None, "ACME"), (Some("globex"), "GLOBEX")] {
        let report = poll_once(
            &engine,
            store.as_ref(),
            flow.clone(),
            connection,
            Delivery::Preview,
        )
        .await
        .expect("poll");
        assert_eq!(report.events[0]["id"], space, "{connection:?}");
    }
}
