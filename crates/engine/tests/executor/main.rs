//! The executor, one control-flow feature per test. Waits, backoff and timeouts run on tokio's
//! paused clock: `tokio::time::Instant` elapsed is exact virtual time and nothing really sleeps.

mod cancellation;
mod conditions;
mod dry_run;
mod errors;
mod history;
mod order;
mod releases;
mod resume;
mod retries;
mod values;
mod workflow_call;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::time::Instant;

use weft_engine::actions::{
    builtin_registry, Action, ActionError, ActionSpec, ErrorKind, FieldType, InputField,
};
use weft_engine::exec::{
    ActionContext, Engine, Mode, RunEvent, RunObserver, RunOutcome, RunRequest,
};
use weft_engine::store::{
    AttemptRecord, MemoryRunStore, RunStatus, RunStore, SledRunStore, StepStatus, StoreError,
};
use weft_engine::trigger::SourceCatalog;
use weft_engine::workflow::{self, CompiledWorkflow};

// --- Harness -----------------------------------------------------------------------------------

/// Reading back what the in-memory store holds.
trait Recorded {
    /// Attempts of one step, in the order they were recorded.
    fn attempts_of(&self, step: &str) -> Vec<AttemptRecord>;
    fn steps_in_order(&self) -> Vec<String>;
}

impl Recorded for MemoryRunStore {
    fn attempts_of(&self, step: &str) -> Vec<AttemptRecord> {
        let mut all = self.all_attempts();
        all.retain(|a| a.step == step);
        all.sort_by_key(|a| a.seq);
        all
    }

    fn steps_in_order(&self) -> Vec<String> {
        let mut all = self.all_attempts();
        all.sort_by_key(|a| a.seq);
        all.into_iter().map(|a| a.step).collect()
    }
}

/// Step starts and ends with their virtual time.
#[derive(Default)]
struct Timeline {
    events: Mutex<Vec<(String, String, Instant)>>,
}

impl Timeline {
    fn of(&self, kind: &str) -> Vec<String> {
        self.events
            .lock()
            .iter()
            .filter(|(k, _, _)| k == kind)
            .map(|(_, step, _)| step.clone())
            .collect()
    }

    fn at(&self, kind: &str, step: &str) -> Instant {
        self.events
            .lock()
            .iter()
            .find(|(k, s, _)| k == kind && s == step)
            .map(|(_, _, at)| *at)
            .unwrap_or_else(|| panic!("no `{kind}` event for `{step}`"))
    }
}

impl RunObserver for Timeline {
    fn on_event(&self, event: &RunEvent<'_>) {
        let entry = match event {
            RunEvent::StepStarted { step, .. } => ("started", step.to_string()),
            RunEvent::StepFinished { step, status, .. } => (status.as_str(), step.to_string()),
            RunEvent::Retrying { step, .. } => ("retrying", step.to_string()),
            _ => return,
        };
        self.events
            .lock()
            .push((entry.0.to_string(), entry.1, Instant::now()));
    }
}

struct Harness {
    engine: Engine,
    store: Arc<MemoryRunStore>,
    timeline: Arc<Timeline>,
}

fn harness(actions: Vec<Arc<dyn Action>>) -> Harness {
    let store = Arc::new(MemoryRunStore::new());
    let timeline = Arc::new(Timeline::default());
    let mut registry = builtin_registry().expect("built-in actions");
    for action in actions {
        registry
            .register(action)
            .expect("test action names are unique");
    }
    let engine = engine_with(Arc::new(registry), store.clone()).with_observer(timeline.clone());
    Harness {
        engine,
        store,
        timeline,
    }
}

fn engine_with(registry: Arc<weft_engine::actions::Registry>, store: Arc<dyn RunStore>) -> Engine {
    Engine::new(registry, Arc::new(SourceCatalog::default()), store)
}

fn builtin_engine(store: Arc<dyn RunStore>) -> Engine {
    engine_with(
        Arc::new(builtin_registry().expect("built-in actions")),
        store,
    )
}

fn compile_at(engine: &Engine, path: &Path, yaml: &str) -> Arc<CompiledWorkflow> {
    match workflow::load_bytes(path, yaml.as_bytes(), engine.catalog()) {
        Ok(loaded) => loaded.workflow,
        Err(problems) => panic!("test workflow does not validate:\n{}", problems.render()),
    }
}

impl Harness {
    async fn run_with(&self, yaml: &str, request: RunRequest) -> RunOutcome {
        let workflow = compile_at(&self.engine, Path::new("test.yaml"), yaml);
        self.engine.run(workflow, request).await
    }

    async fn run(&self, yaml: &str) -> RunOutcome {
        self.run_with(yaml, RunRequest::default()).await
    }
}

fn assert_succeeded(outcome: &RunOutcome) {
    assert_eq!(
        outcome.status,
        RunStatus::Succeeded,
        "run failed: {:?}",
        outcome.error
    );
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

// --- Test actions ------------------------------------------------------------------------------

/// Fails its first `fail_times` calls with an error of class `kind`, then succeeds. Records
/// the virtual time of every call.
#[derive(Default)]
struct Flaky {
    calls: Mutex<Vec<Instant>>,
}

static FLAKY: LazyLock<ActionSpec> = LazyLock::new(|| ActionSpec {
    name: "test.flaky",
    description: "Fails a given number of times, then succeeds.",
    inputs: vec![
        InputField::required("fail_times", FieldType::Integer, "Failures before success."),
        InputField::required(
            "kind",
            FieldType::OneOf(
                ["http_503", "http_404", "failed", "network"]
                    .map(String::from)
                    .to_vec(),
            ),
            "Class of the failures.",
        ),
    ],
    open_inputs: false,
    output_description: "The number of calls.",
    output_example: r#"{"calls": 1}"#,
    writes: false,
    scopes: &[],
});

impl Flaky {
    fn gaps(&self) -> Vec<Duration> {
        let calls = self.calls.lock();
        calls.windows(2).map(|w| w[1] - w[0]).collect()
    }

    fn count(&self) -> usize {
        self.calls.lock().len()
    }
}

#[async_trait]
impl Action for Flaky {
    fn spec(&self) -> &ActionSpec {
        &FLAKY
    }

    async fn run(&self, input: Value, _ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        let call = {
            let mut calls = self.calls.lock();
            calls.push(Instant::now());
            calls.len() as u64
        };
        if call > input["fail_times"].as_u64().unwrap_or(0) {
            return Ok(json!({ "calls": call }));
        }
        let kind = match input["kind"].as_str() {
            Some("http_503") => ErrorKind::Http { status: 503 },
            Some("http_404") => ErrorKind::Http { status: 404 },
            Some("network") => ErrorKind::Network,
            _ => ErrorKind::Failed,
        };
        Err(ActionError::new(kind, format!("call {call} failed")))
    }
}

/// Sleeps for `duration` seconds while counting how many calls are in flight at once.
#[derive(Default)]
struct Gauge {
    in_flight: AtomicU32,
    peak: AtomicU32,
}

static GAUGE: LazyLock<ActionSpec> = LazyLock::new(|| ActionSpec {
    name: "test.gauge",
    description: "Sleeps and measures concurrency.",
    inputs: vec![InputField::required(
        "seconds",
        FieldType::Number,
        "How long to sleep.",
    )],
    open_inputs: false,
    output_description: "Nothing.",
    output_example: "null",
    writes: false,
    scopes: &[],
});

#[async_trait]
impl Action for Gauge {
    fn spec(&self) -> &ActionSpec {
        &GAUGE
    }

    async fn run(&self, input: Value, _ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(secs(input["seconds"].as_f64().unwrap_or(0.0))).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(Value::Null)
    }
}

/// An action that writes to the outside world; counts every real call.
#[derive(Default)]
struct Writer {
    calls: AtomicU32,
}

static WRITER: LazyLock<ActionSpec> = LazyLock::new(|| ActionSpec {
    name: "test.write",
    description: "Creates a record somewhere.",
    inputs: vec![InputField::required(
        "title",
        FieldType::String,
        "Title of the record.",
    )],
    open_inputs: false,
    output_description: "The new record's id.",
    output_example: r#"{"id": "example-1"}"#,
    writes: true,
    scopes: &[],
});

#[async_trait]
impl Action for Writer {
    fn spec(&self) -> &ActionSpec {
        &WRITER
    }

    async fn run(&self, _input: Value, _ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(json!({ "id": "real" }))
    }
}
