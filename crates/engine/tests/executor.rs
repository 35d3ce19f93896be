//! The executor, one control-flow feature per test. Waits, backoff and timeouts run on tokio's
//! paused clock: `tokio::time::Instant` elapsed is exact virtual time and nothing really sleeps.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::time::Instant;

use weft_engine::actions::{
    Action, ActionError, ActionSpec, ErrorKind, FieldType, InputField, Registry,
};
use weft_engine::exec::{
    ActionContext, Engine, Mode, RunEvent, RunObserver, RunOutcome, RunRequest,
};
use weft_engine::store::{
    AttemptRecord, RunRecord, RunStatus, RunStore, SledRunStore, StepStatus, StoreError,
};
use weft_engine::workflow::{self, CompiledWorkflow};

// --- Harness -----------------------------------------------------------------------------------

/// A run store in memory, so tests can read back every attempt without sled.
#[derive(Default)]
struct MemoryStore {
    runs: Mutex<Vec<RunRecord>>,
    attempts: Mutex<Vec<AttemptRecord>>,
}

impl MemoryStore {
    /// Attempts of one step, in the order they were recorded.
    fn attempts_of(&self, step: &str) -> Vec<AttemptRecord> {
        let mut all: Vec<AttemptRecord> = self
            .attempts
            .lock()
            .iter()
            .filter(|a| a.step == step)
            .cloned()
            .collect();
        all.sort_by_key(|a| a.seq);
        all
    }

    fn steps_in_order(&self) -> Vec<String> {
        let mut all = self.attempts.lock().clone();
        all.sort_by_key(|a| a.seq);
        all.into_iter().map(|a| a.step).collect()
    }
}

impl RunStore for MemoryStore {
    fn put_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        let mut runs = self.runs.lock();
        runs.retain(|r| r.id != run.id);
        runs.push(run.clone());
        Ok(())
    }
    fn put_attempt(&self, attempt: &AttemptRecord) -> Result<(), StoreError> {
        self.attempts.lock().push(attempt.clone());
        Ok(())
    }
    fn get_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        Ok(self.runs.lock().iter().find(|r| r.id == id).cloned())
    }
    fn list_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        Ok(self.runs.lock().iter().rev().take(limit).cloned().collect())
    }
    fn running_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        Ok(self
            .runs
            .lock()
            .iter()
            .filter(|r| r.status == RunStatus::Running)
            .cloned()
            .collect())
    }

    fn attempts(&self, run_id: &str) -> Result<Vec<AttemptRecord>, StoreError> {
        Ok(self
            .attempts
            .lock()
            .iter()
            .filter(|a| a.run_id == run_id)
            .cloned()
            .collect())
    }
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
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
    store: Arc<MemoryStore>,
    timeline: Arc<Timeline>,
}

fn harness(actions: Vec<Arc<dyn Action>>) -> Harness {
    let store = Arc::new(MemoryStore::default());
    let timeline = Arc::new(Timeline::default());
    let mut engine = Engine::new(store.clone()).with_observer(timeline.clone());
    let mut registry = Registry::builtin();
    for action in actions {
        registry.register(action);
    }
    engine.registry = Arc::new(registry);
    Harness {
        engine,
        store,
        timeline,
    }
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

static FLAKY: ActionSpec = ActionSpec {
    name: "test.flaky",
    description: "Fails a given number of times, then succeeds.",
    inputs: &[
        InputField::required("fail_times", FieldType::Integer, "Failures before success."),
        InputField::required(
            "kind",
            FieldType::OneOf(&["http_503", "http_404", "failed", "network"]),
            "Class of the failures.",
        ),
    ],
    open_inputs: false,
    output_description: "The number of calls.",
    output_example: r#"{"calls": 1}"#,
    writes: false,
    scopes: &[],
};

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

static GAUGE: ActionSpec = ActionSpec {
    name: "test.gauge",
    description: "Sleeps and measures concurrency.",
    inputs: &[InputField::required(
        "seconds",
        FieldType::Number,
        "How long to sleep.",
    )],
    open_inputs: false,
    output_description: "Nothing.",
    output_example: "null",
    writes: false,
    scopes: &[],
};

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

static WRITER: ActionSpec = ActionSpec {
    name: "test.write",
    description: "Creates a record somewhere.",
    inputs: &[InputField::required(
        "title",
        FieldType::String,
        "Title of the record.",
    )],
    open_inputs: false,
    output_description: "The new record's id.",
    output_example: r#"{"id": "example-1"}"#,
    writes: true,
    scopes: &[],
};

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

// --- Order and concurrency ---------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn steps_without_needs_run_one_after_another_in_file_order() {
    let h = harness(vec![]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: seq
steps:
  - id: c
    uses: core.sleep
    with: { duration: 1s }
  - id: a
    uses: core.sleep
    with: { duration: 1s }
  - id: b
    uses: core.sleep
    with: { duration: 1s }
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(t0.elapsed(), secs(3.0));
    assert_eq!(h.timeline.of("started"), ["c", "a", "b"]);
    assert_eq!(
        h.timeline.at("started", "a"),
        h.timeline.at("succeeded", "c")
    );
    assert_eq!(
        h.timeline.at("started", "b"),
        h.timeline.at("succeeded", "a")
    );
}

#[tokio::test(start_paused = true)]
async fn independent_needs_branches_run_concurrently() {
    let h = harness(vec![]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: dag
steps:
  - id: left
    uses: core.sleep
    with: { duration: 1s }
  - id: right
    needs: []
    uses: core.sleep
    with: { duration: 1s }
  - id: join
    needs: [left, right]
    uses: core.set
    with:
      both: ${{ [steps.left.output.slept_ms, steps.right.output.slept_ms] }}
",
        )
        .await;
    assert_succeeded(&outcome);
    // Both sleeps overlap: one second in all, not two.
    assert_eq!(t0.elapsed(), secs(1.0));
    assert_eq!(
        h.timeline.at("started", "left"),
        h.timeline.at("started", "right")
    );
    let join = h.store.attempts_of("join");
    assert_eq!(join[0].output, Some(json!({ "both": [1000, 1000] })));
    assert!(h.timeline.at("started", "join") >= h.timeline.at("succeeded", "right"));
}

#[tokio::test(start_paused = true)]
async fn a_step_waits_for_every_step_it_needs() {
    let h = harness(vec![]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: dag
steps:
  - id: short
    uses: core.sleep
    with: { duration: 1s }
  - id: long
    needs: []
    uses: core.sleep
    with: { duration: 3s }
  - id: after_short
    needs: [short]
    uses: core.sleep
    with: { duration: 1s }
  - id: last
    needs: [after_short, long]
    uses: core.log
    with: { message: done }
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(t0.elapsed(), secs(3.0));
    assert_eq!(h.timeline.at("started", "after_short") - t0, secs(1.0));
    assert_eq!(h.timeline.at("started", "last") - t0, secs(3.0));
}

#[tokio::test(start_paused = true)]
async fn for_each_runs_at_most_concurrency_items_at_once() {
    let gauge = Arc::new(Gauge::default());
    let h = harness(vec![gauge.clone()]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: loop
steps:
  - id: each
    for_each: ${{ [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }}
    concurrency: 3
    steps:
      - id: work
        uses: test.gauge
        with: { seconds: 1 }
",
        )
        .await;
    assert_succeeded(&outcome);
    // 10 items, 3 at a time: 4 rounds of one second.
    assert_eq!(t0.elapsed(), secs(4.0));
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 3);
    assert_eq!(h.store.attempts_of("work").len(), 10);
}

#[tokio::test(start_paused = true)]
async fn for_each_without_concurrency_runs_items_one_at_a_time() {
    let gauge = Arc::new(Gauge::default());
    let h = harness(vec![gauge.clone()]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: loop
steps:
  - id: each
    for_each: [a, b, c]
    steps:
      - id: work
        uses: test.gauge
        with: { seconds: 1 }
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(t0.elapsed(), secs(3.0));
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn for_each_outputs_keep_item_order_when_items_finish_out_of_order() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: loop
steps:
  - id: each
    for_each: [3, 1, 2]
    concurrency: 3
    steps:
      - id: wait
        uses: core.sleep
        with: { duration: '${{ item }}' }
      - id: value
        uses: core.set
        with:
          item: ${{ item }}
          index: ${{ index }}
outputs:
  values: ${{ steps.each.output }}
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(
        outcome.outputs["values"],
        json!([
            { "item": 3, "index": 0 },
            { "item": 1, "index": 1 },
            { "item": 2, "index": 2 }
        ])
    );
    // They did finish out of order: item 1 first.
    let finished: Vec<Vec<usize>> = h
        .store
        .attempts_of("value")
        .into_iter()
        .map(|a| a.iteration)
        .collect();
    assert_eq!(finished, [vec![1], vec![2], vec![0]]);
}

#[tokio::test(start_paused = true)]
async fn for_each_step_outputs_are_computed_per_item() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: loop
steps:
  - id: each
    for_each: [a, b]
    steps:
      - id: show
        uses: core.log
        with:
          message: ${{ item }}
    outputs:
      label: '${{ index }}:${{ upper(item) }}'
outputs:
  labels: ${{ steps.each.output }}
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(
        outcome.outputs["labels"],
        json!([{ "label": "0:A" }, { "label": "1:B" }])
    );
}

#[tokio::test(start_paused = true)]
async fn for_each_step_outputs_can_read_the_body_steps_of_their_item() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: loop
steps:
  - id: each
    for_each: [2, 3]
    steps:
      - id: square
        uses: core.set
        with:
          value: ${{ item * item }}
    outputs:
      n: ${{ item }}
      square: ${{ steps.square.output.value }}
outputs:
  all: ${{ steps.each.output }}
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(
        outcome.outputs["all"],
        json!([{ "n": 2, "square": 4 }, { "n": 3, "square": 9 }])
    );
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_computes_core_set_outputs_so_later_steps_render() {
    let h = harness(vec![]);
    let outcome = h
        .run_with(
            "
name: dry
steps:
  - id: a
    uses: core.set
    with: { x: 41 }
  - id: b
    uses: core.log
    with:
      message: ${{ steps.a.output.x + 1 }}
",
            RunRequest {
                mode: Mode::DryRun {
                    mocks: Default::default(),
                },
                ..RunRequest::default()
            },
        )
        .await;
    assert_succeeded(&outcome);
    let report = outcome.dry_run.expect("a dry-run report");
    assert_eq!(report.steps[0].output_from, "computed");
    assert_eq!(report.steps[1].input, json!({ "message": 42 }));
}

#[tokio::test(start_paused = true)]
async fn parallel_branches_run_at_the_same_time_and_return_each_branch_result() {
    let h = harness(vec![]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: branches
steps:
  - id: both
    parallel:
      left:
        - id: l_wait
          uses: core.sleep
          with: { duration: 1s }
        - id: l_value
          uses: core.set
          with: { side: left }
      right:
        - id: r_wait
          uses: core.sleep
          with: { duration: 1s }
        - id: r_value
          uses: core.set
          with: { side: right }
outputs:
  result: ${{ steps.both.output }}
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(t0.elapsed(), secs(1.0));
    assert_eq!(
        outcome.outputs["result"],
        json!({ "left": { "side": "left" }, "right": { "side": "right" } })
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_parallel_branch_fails_the_step_and_names_the_branch() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: branches
steps:
  - id: both
    parallel:
      good:
        - id: ok
          uses: core.log
          with: { message: fine }
      bad:
        - id: broken
          uses: core.fail
          with: { message: boom }
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap_or_default();
    assert!(error.contains("branch `bad`"), "{error}");
    assert!(error.contains("boom"), "{error}");
}

// --- Conditions --------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn if_false_skips_the_step_and_later_steps_see_it_skipped() {
    let h = harness(vec![]);
    let mut request = RunRequest::default();
    request.inputs.insert("flag".into(), json!(false));
    let outcome = h
        .run_with(
            "
name: cond
inputs:
  flag:
    type: boolean
steps:
  - id: maybe
    if: inputs.flag
    uses: core.log
    with: { message: ran }
  - id: always
    if: ${{ !inputs.flag }}
    uses: core.log
    with: { message: ran }
outputs:
  maybe: ${{ steps.maybe.status }}
  always: ${{ steps.always.status }}
",
            request,
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(
        outcome.outputs,
        json!({ "maybe": "skipped", "always": "succeeded" })
    );
    assert!(h.store.attempts_of("maybe").is_empty());
    assert_eq!(h.store.attempts_of("always").len(), 1);
}

// --- Retries -----------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn constant_backoff_waits_the_same_delay_between_attempts() {
    let flaky = Arc::new(Flaky::default());
    let h = harness(vec![flaky.clone()]);
    let outcome = h
        .run(
            "
name: retry
steps:
  - id: call
    uses: test.flaky
    with: { fail_times: 3, kind: http_503 }
    retry:
      max_attempts: 5
      backoff: constant
      initial_delay: 2s
      jitter: false
outputs:
  calls: ${{ steps.call.output.calls }}
  attempts: ${{ steps.call.attempts }}
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(outcome.outputs, json!({ "calls": 4, "attempts": 4 }));
    assert_eq!(flaky.gaps(), [secs(2.0), secs(2.0), secs(2.0)]);
    let statuses: Vec<StepStatus> = h
        .store
        .attempts_of("call")
        .iter()
        .map(|a| a.status)
        .collect();
    assert_eq!(
        statuses,
        [
            StepStatus::Failed,
            StepStatus::Failed,
            StepStatus::Failed,
            StepStatus::Succeeded
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_doubles_up_to_max_delay() {
    let flaky = Arc::new(Flaky::default());
    let h = harness(vec![flaky.clone()]);
    let outcome = h
        .run(
            "
name: retry
steps:
  - id: call
    uses: test.flaky
    with: { fail_times: 4, kind: network }
    retry:
      max_attempts: 5
      backoff: exponential
      initial_delay: 1s
      max_delay: 5s
      jitter: false
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(flaky.gaps(), [secs(1.0), secs(2.0), secs(4.0), secs(5.0)]);
}

#[tokio::test(start_paused = true)]
async fn jitter_keeps_each_delay_between_half_and_all_of_it() {
    let flaky = Arc::new(Flaky::default());
    let h = harness(vec![flaky.clone()]);
    let outcome = h
        .run(
            "
name: retry
steps:
  - id: call
    uses: test.flaky
    with: { fail_times: 3, kind: http_503 }
    retry:
      max_attempts: 4
      backoff: constant
      initial_delay: 10s
",
        )
        .await;
    assert_succeeded(&outcome);
    for gap in flaky.gaps() {
        assert!(gap >= secs(5.0) && gap <= secs(10.0), "{gap:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_max_attempts_and_the_last_error_fails_the_run() {
    let flaky = Arc::new(Flaky::default());
    let h = harness(vec![flaky.clone()]);
    let outcome = h
        .run(
            "
name: retry
steps:
  - id: call
    uses: test.flaky
    with: { fail_times: 100, kind: http_503 }
    retry:
      max_attempts: 3
      backoff: constant
      initial_delay: 1s
      jitter: false
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(flaky.count(), 3);
    assert_eq!(
        outcome.error.as_deref(),
        Some("step `call` failed: call 3 failed")
    );
}

#[tokio::test(start_paused = true)]
async fn core_fail_is_not_retried_by_default() {
    let h = harness(vec![]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: retry
steps:
  - id: stop
    uses: core.fail
    with: { message: no }
    retry:
      max_attempts: 3
      initial_delay: 1s
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(h.store.attempts_of("stop").len(), 1);
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn core_fail_is_retried_with_on_any() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: retry
steps:
  - id: stop
    uses: core.fail
    with: { message: no }
    retry:
      max_attempts: 3
      initial_delay: 1s
      jitter: false
      on: [any]
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(h.store.attempts_of("stop").len(), 3);
}

#[tokio::test(start_paused = true)]
async fn retry_on_selects_error_classes() {
    let flaky = Arc::new(Flaky::default());
    let h = harness(vec![flaky.clone()]);
    // A 404 is not transient: retried only because `on` names 4xx answers.
    let outcome = h
        .run(
            "
name: retry
steps:
  - id: default_classes
    uses: test.flaky
    with: { fail_times: 1, kind: http_404 }
    retry: { max_attempts: 3, jitter: false }
    on_error: continue
  - id: with_4xx
    uses: test.flaky
    with: { fail_times: 2, kind: http_404 }
    retry: { max_attempts: 3, jitter: false, on: [http_4xx] }
outputs:
  first: ${{ steps.default_classes.status }}
  second: ${{ steps.with_4xx.attempts }}
",
        )
        .await;
    assert_succeeded(&outcome);
    // Call 1 failed without retry; calls 2 (404) and 3 (success) belong to `with_4xx`.
    assert_eq!(outcome.outputs, json!({ "first": "failed", "second": 2 }));
    assert_eq!(flaky.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn each_attempt_is_limited_by_the_timeout_and_timeouts_are_retried() {
    let h = harness(vec![]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: slow
steps:
  - id: wait
    uses: core.sleep
    with: { duration: 1h }
    timeout: 2s
    retry:
      max_attempts: 3
      backoff: constant
      initial_delay: 1s
      jitter: false
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    // Three attempts of 2s with two waits of 1s between them.
    assert_eq!(t0.elapsed(), secs(8.0));
    let attempts = h.store.attempts_of("wait");
    assert_eq!(attempts.len(), 3);
    assert_eq!(
        attempts[2].error.as_deref(),
        Some("attempt 3 timed out after 2s")
    );
    assert_eq!(
        outcome.error.as_deref(),
        Some("step `wait` failed: attempt 3 timed out after 2s")
    );
}

#[tokio::test(start_paused = true)]
async fn a_step_finishing_within_its_timeout_succeeds() {
    let h = harness(vec![]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: slow
steps:
  - id: wait
    uses: core.sleep
    with: { duration: 1500ms }
    timeout: 2s
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(t0.elapsed(), secs(1.5));
}

#[tokio::test(start_paused = true)]
async fn retry_deadline_stops_retrying_before_the_next_wait_would_pass_it() {
    let flaky = Arc::new(Flaky::default());
    let h = harness(vec![flaky.clone()]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: retry
steps:
  - id: call
    uses: test.flaky
    with: { fail_times: 100, kind: http_503 }
    retry:
      max_attempts: 10
      backoff: constant
      initial_delay: 1s
      jitter: false
      deadline: 2500ms
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    // Attempts at 0s, 1s and 2s; a fourth at 3s would pass the 2.5s deadline.
    assert_eq!(flaky.count(), 3);
    assert_eq!(t0.elapsed(), secs(2.0));
    let error = outcome.error.unwrap_or_default();
    assert!(
        error.contains("call 3 failed (retry deadline of 2500ms reached)"),
        "{error}"
    );
}

#[tokio::test]
async fn http_503_answers_are_retried_until_the_server_answers_200() {
    use axum::http::StatusCode;
    let hits = Arc::new(AtomicU32::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/flaky",
        axum::routing::get(move || {
            let counter = counter.clone();
            async move {
                match counter.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
                    _ => (StatusCode::OK, "ready"),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let addr = listener.local_addr().expect("local address");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let h = harness(vec![]);
    // Real sockets: the delays are real too, so keep them tiny.
    let yaml = format!(
        "
name: http
steps:
  - id: get
    uses: http.request
    with:
      url: http://{addr}/flaky
    retry:
      max_attempts: 5
      backoff: constant
      initial_delay: 10ms
      jitter: false
outputs:
  body: ${{{{ steps.get.output.body }}}}
  status: ${{{{ steps.get.output.status }}}}
  attempts: ${{{{ steps.get.attempts }}}}
"
    );
    let outcome = h.run(&yaml).await;
    server.abort();
    assert_succeeded(&outcome);
    assert_eq!(
        outcome.outputs,
        json!({ "body": "ready", "status": 200, "attempts": 3 })
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    let errors: Vec<String> = h
        .store
        .attempts_of("get")
        .into_iter()
        .filter_map(|a| a.error)
        .collect();
    assert_eq!(errors.len(), 2);
    assert!(errors[0].contains("503"), "{}", errors[0]);
}

// --- Errors and handlers -----------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn on_error_continue_records_the_failure_and_goes_on() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: continue
steps:
  - id: bad
    uses: core.fail
    with: { message: boom }
    on_error: continue
  - id: next
    uses: core.set
    with:
      status: ${{ steps.bad.status }}
      error: ${{ steps.bad.error }}
outputs:
  seen: ${{ steps.next.output }}
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(
        outcome.outputs["seen"],
        json!({ "status": "failed", "error": "boom" })
    );
}

#[tokio::test(start_paused = true)]
async fn on_error_steps_run_with_the_error_then_the_workflow_goes_on() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: handle
steps:
  - id: bad
    uses: core.fail
    with: { message: boom }
    on_error:
      steps:
        - id: report
          uses: core.set
          with:
            failed_step: ${{ error.step }}
            message: ${{ error.message }}
  - id: next
    uses: core.log
    with: { message: after }
",
        )
        .await;
    assert_succeeded(&outcome);
    let report = h.store.attempts_of("report");
    assert_eq!(
        report[0].output,
        Some(json!({ "failed_step": "bad", "message": "boom" }))
    );
    assert_eq!(h.store.steps_in_order(), ["bad", "report", "next"]);
}

#[tokio::test(start_paused = true)]
async fn a_failure_stops_the_steps_after_it() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: stop
steps:
  - id: bad
    uses: core.fail
    with: { message: boom }
  - id: never
    uses: core.log
    with: { message: unreachable }
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("step `bad` failed: boom"));
    assert!(h.store.attempts_of("never").is_empty());
}

#[tokio::test(start_paused = true)]
async fn on_failure_and_finally_run_after_a_failure() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: cleanup
steps:
  - id: bad
    uses: core.fail
    with: { message: boom }
on_failure:
  - id: alert
    uses: core.set
    with:
      step: ${{ error.step }}
      message: ${{ error.message }}
finally:
  - id: tidy
    uses: core.log
    with: { message: tidy }
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(h.store.steps_in_order(), ["bad", "alert", "tidy"]);
    assert_eq!(
        h.store.attempts_of("alert")[0].output,
        Some(json!({ "step": "bad", "message": "boom" }))
    );
}

#[tokio::test(start_paused = true)]
async fn finally_runs_after_success_and_on_failure_does_not() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: cleanup
steps:
  - id: good
    uses: core.log
    with: { message: fine }
on_failure:
  - id: alert
    uses: core.log
    with: { message: alert }
finally:
  - id: tidy
    uses: core.log
    with: { message: tidy }
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(h.store.steps_in_order(), ["good", "tidy"]);
}

#[tokio::test(start_paused = true)]
async fn a_failing_finally_fails_a_successful_run() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: cleanup
steps:
  - id: good
    uses: core.log
    with: { message: fine }
finally:
  - id: tidy
    uses: core.fail
    with: { message: disk full }
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.error.as_deref(),
        Some("finally failed: step `tidy` failed: disk full")
    );
}

// --- Cancellation ------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn cancelling_a_run_stops_the_running_step_and_the_rest() {
    let h = harness(vec![]);
    let request = RunRequest::default();
    let cancel = request.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(secs(1.0)).await;
        cancel.cancel();
    });
    let t0 = Instant::now();
    let outcome = h
        .run_with(
            "
name: long
steps:
  - id: wait
    uses: core.sleep
    with: { duration: 1h }
  - id: never
    uses: core.log
    with: { message: unreachable }
",
            request,
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert_eq!(t0.elapsed(), secs(1.0));
    assert_eq!(outcome.error.as_deref(), Some("the run was cancelled"));
    assert!(h.store.attempts_of("never").is_empty());
    let stored = h.store.get_run(&outcome.run_id).ok().flatten();
    assert_eq!(stored.map(|r| r.status), Some(RunStatus::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn cancelling_during_a_retry_wait_stops_retrying() {
    let flaky = Arc::new(Flaky::default());
    let h = harness(vec![flaky.clone()]);
    let request = RunRequest::default();
    let cancel = request.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(secs(5.0)).await;
        cancel.cancel();
    });
    let t0 = Instant::now();
    let outcome = h
        .run_with(
            "
name: retry
steps:
  - id: call
    uses: test.flaky
    with: { fail_times: 100, kind: http_503 }
    retry: { max_attempts: 10, backoff: constant, initial_delay: 1m, jitter: false }
",
            request,
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert_eq!(t0.elapsed(), secs(5.0));
    assert_eq!(flaky.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn finally_still_runs_after_a_cancellation() {
    let h = harness(vec![]);
    let request = RunRequest::default();
    let cancel = request.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(secs(1.0)).await;
        cancel.cancel();
    });
    let outcome = h
        .run_with(
            "
name: long
steps:
  - id: wait
    uses: core.sleep
    with: { duration: 1h }
finally:
  - id: cleanup
    uses: core.set
    with: { done: true }
",
            request,
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert_eq!(outcome.error.as_deref(), Some("the run was cancelled"));
    assert_eq!(h.store.attempts_of("cleanup").len(), 1, "finally ran once");
}

#[tokio::test(start_paused = true)]
async fn on_error_also_handles_a_step_whose_inputs_fail_to_render() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: bad-input
inputs:
  zero: { type: integer, default: 0 }
steps:
  - id: divide
    uses: core.set
    with: { x: '${{ 1 / inputs.zero }}' }
    on_error: continue
outputs:
  status: ${{ steps.divide.status }}
  error: ${{ steps.divide.error }}
  attempts: ${{ steps.divide.attempts }}
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(outcome.outputs["status"], "failed");
    assert_eq!(outcome.outputs["attempts"], 0);
    assert!(
        outcome.outputs["error"]
            .as_str()
            .unwrap()
            .contains("division by zero"),
        "{}",
        outcome.outputs
    );
}

#[tokio::test(start_paused = true)]
async fn a_loop_timeout_limits_the_whole_loop() {
    let h = harness(vec![]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: slow-loop
steps:
  - id: each
    for_each: [1, 2, 3]
    timeout: 2500ms
    steps:
      - id: wait
        uses: core.sleep
        with: { duration: 1s }
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(t0.elapsed(), secs(2.5));
    assert_eq!(
        outcome.error.as_deref(),
        Some("step `each` failed: timed out after 2500ms")
    );
}

#[tokio::test(start_paused = true)]
async fn secrets_are_found_whatever_the_case_of_the_reference() {
    let h = harness(vec![]);
    let mut request = RunRequest::default();
    request.secrets.insert("api_token".into(), "s3cr3t".into());
    let outcome = h
        .run_with(
            "
name: upper
steps:
  - id: use
    uses: core.set
    with: { length: '${{ len(secrets.API_TOKEN) }}' }
outputs:
  length: ${{ steps.use.output.length }}
",
            request,
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(outcome.outputs["length"], 6);
}

#[tokio::test(start_paused = true)]
async fn a_slow_item_does_not_hold_back_the_free_loop_slots() {
    let h = harness(vec![]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: slots
steps:
  - id: each
    for_each: [1000, 200, 200, 200, 200, 200, 200, 200, 200]
    concurrency: 4
    steps:
      - id: wait
        uses: core.sleep
        with: { duration: '${{ item / 1000 }}' }
    outputs:
      ms: ${{ item }}
outputs:
  order: ${{ pluck(steps.each.output, 'ms') }}
",
        )
        .await;
    assert_succeeded(&outcome);
    // Slot 1 holds the 1s item while slots 2-4 run the eight 200ms items in 3 rounds.
    assert_eq!(t0.elapsed(), secs(1.0));
    assert_eq!(
        outcome.outputs["order"],
        json!([1000, 200, 200, 200, 200, 200, 200, 200, 200])
    );
}

#[tokio::test(start_paused = true)]
async fn on_failure_sees_steps_that_never_ran_as_not_run() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: stopped
steps:
  - id: a
    uses: core.fail
    with: { message: boom }
  - id: b
    uses: core.log
    with: { message: never }
on_failure:
  - id: report
    uses: core.set
    with: { b: '${{ steps.b.status }}' }
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        h.store.attempts_of("report")[0].output,
        Some(json!({ "b": "not_run" }))
    );
}

#[tokio::test(start_paused = true)]
async fn called_workflows_get_the_secrets_and_env_hides_weft_variables() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("child.yaml"),
        "
name: child
steps:
  - id: use
    uses: core.set
    with:
      length: '${{ len(secrets.child_only) }}'
      hidden: '${{ has(env, \"WEFT_TEST_HIDDEN_KEY\") }}'
outputs:
  length: ${{ steps.use.output.length }}
  hidden: ${{ steps.use.output.hidden }}
",
    )
    .expect("write child");
    std::env::set_var("WEFT_TEST_HIDDEN_KEY", "master");
    let h = harness(vec![]);
    let parent = "
name: parent
steps:
  - id: call
    uses: workflow.call
    with: { path: child.yaml }
outputs:
  child: ${{ steps.call.output }}
";
    let workflow = compile_at(&h.engine, &dir.path().join("parent.yaml"), parent);
    let mut request = RunRequest::default();
    request.secrets.insert("child_only".into(), "abcd".into());
    let outcome = h.engine.run(workflow, request).await;
    assert_succeeded(&outcome);
    assert_eq!(
        outcome.outputs["child"],
        json!({ "length": 4, "hidden": false })
    );
}

#[tokio::test(start_paused = true)]
async fn a_step_stopped_by_a_failing_sibling_is_recorded_as_cancelled() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: siblings
steps:
  - id: slow
    needs: []
    uses: core.sleep
    with: { duration: 2s }
  - id: bad
    needs: []
    uses: core.fail
    with: { message: boom }
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let slow = h.store.attempts_of("slow");
    assert_eq!(slow.len(), 1, "the stopped attempt is recorded");
    assert_eq!(slow[0].status, StepStatus::Cancelled);
    assert_eq!(
        slow[0].error.as_deref(),
        Some("cancelled before it finished")
    );
}

// --- Values ------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn workflow_outputs_are_computed_from_inputs_vars_and_steps() {
    let h = harness(vec![]);
    let mut request = RunRequest::default();
    request.inputs.insert("name".into(), json!("Ada"));
    let outcome = h
        .run_with(
            "
name: values
inputs:
  name:
    type: string
    required: true
  times:
    type: integer
    default: 2
vars:
  greeting: 'Hello, ${{ inputs.name }}'
steps:
  - id: make
    uses: core.set
    with:
      list: ${{ split('a,b,c', ',') }}
      doubled: ${{ inputs.times * 2 }}
outputs:
  greeting: ${{ vars.greeting }}
  list: ${{ steps.make.output.list }}
  doubled: ${{ steps.make.output.doubled }}
  text: 'n=${{ steps.make.output.doubled }}'
",
            request,
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(
        outcome.outputs,
        json!({
            "greeting": "Hello, Ada",
            "list": ["a", "b", "c"],
            "doubled": 4,
            "text": "n=4"
        })
    );
}

#[tokio::test(start_paused = true)]
async fn missing_required_input_fails_before_any_step() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: values
inputs:
  name:
    type: string
    required: true
steps:
  - id: show
    uses: core.log
    with: { message: '${{ inputs.name }}' }
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.error.as_deref(),
        Some("missing required input `name` (string)")
    );
    assert!(h.store.attempts.lock().is_empty());
}

#[tokio::test(start_paused = true)]
async fn undefined_reference_at_runtime_is_an_error_naming_the_path() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: undefined
steps:
  - id: fetch
    uses: core.set
    with: { count: 3 }
  - id: show
    uses: core.log
    with:
      message: 'total: ${{ steps.fetch.output.total }}'
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap_or_default();
    assert_eq!(
        error,
        "step `show` failed: `with`: `steps.fetch.output` has no field `total`"
    );
    assert!(
        h.store.attempts_of("show").is_empty(),
        "the action never ran"
    );
}

// --- workflow.call -----------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn workflow_call_runs_the_child_and_returns_its_outputs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let child = "
name: child
inputs:
  name:
    type: string
    required: true
steps:
  - id: greet
    uses: core.set
    with:
      text: 'Hello, ${{ inputs.name }}'
outputs:
  greeting: ${{ steps.greet.output.text }}
";
    std::fs::write(dir.path().join("child.yaml"), child).expect("write child");
    let parent = "
name: parent
steps:
  - id: call
    uses: workflow.call
    with:
      path: child.yaml
      inputs: { name: Ada }
outputs:
  greeting: ${{ steps.call.output.greeting }}
";
    let h = harness(vec![]);
    let workflow = compile_at(&h.engine, &dir.path().join("parent.yaml"), parent);
    let outcome = h.engine.run(workflow, RunRequest::default()).await;
    assert_succeeded(&outcome);
    assert_eq!(outcome.outputs, json!({ "greeting": "Hello, Ada" }));
    // The child is its own run, linked to its parent.
    let runs = h.store.runs.lock().clone();
    let child_run = runs.iter().find(|r| r.workflow == "child");
    assert_eq!(
        child_run.and_then(|r| r.parent.clone()),
        Some(outcome.run_id.clone())
    );
}

#[tokio::test(start_paused = true)]
async fn workflow_call_of_itself_fails_instead_of_looping() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("loop.yaml");
    let yaml = "
name: loop
steps:
  - id: again
    uses: workflow.call
    with:
      path: ${{ 'loop' + '.yaml' }}
";
    std::fs::write(&path, yaml).expect("write workflow");
    let h = harness(vec![]);
    let workflow = compile_at(&h.engine, &path, yaml);
    let outcome = h.engine.run(workflow, RunRequest::default()).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap_or_default();
    assert!(
        error.contains("workflow.call of `loop.yaml` would call itself in a loop"),
        "{error}"
    );
    assert_eq!(h.store.runs.lock().len(), 1, "no child run was started");
}

#[tokio::test(start_paused = true)]
async fn workflow_call_of_an_invalid_file_shows_its_diagnostics() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("broken.yaml"),
        "name: broken\nsteps:\n  - id: a\n    uses: core.lgo\n",
    )
    .expect("write child");
    let parent = "
name: parent
steps:
  - id: call
    uses: workflow.call
    with: { path: broken.yaml }
";
    let h = harness(vec![]);
    let workflow = compile_at(&h.engine, &dir.path().join("parent.yaml"), parent);
    let outcome = h.engine.run(workflow, RunRequest::default()).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap_or_default();
    assert!(
        error.contains("`broken.yaml` is not a valid workflow"),
        "{error}"
    );
    assert!(error.contains("unknown action `core.lgo`"), "{error}");
}

// --- Secrets and run history -------------------------------------------------------------------

/// Opens a store just closed in this process. sled's background flusher can hold the lock
/// briefly after the last handle is dropped (reported: `SledRunStore` does not wait for it),
/// so `Locked` is retried for a short while; any other error fails the test.
fn reopen(dir: &Path) -> SledRunStore {
    let mut tries = 0;
    loop {
        match SledRunStore::open(dir) {
            Ok(store) => return store,
            Err(StoreError::Locked { .. }) if tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("cannot reopen the store: {e}"),
        }
    }
}

const SECRET_FLOW: &str = "
name: secret
steps:
  - id: auth
    uses: core.set
    with:
      header: 'Bearer ${{ secrets.api_token }}'
  - id: show
    uses: core.log
    with:
      message: 'sent ${{ steps.auth.output.header }}'
outputs:
  header: ${{ steps.auth.output.header }}
";

#[tokio::test(start_paused = true)]
async fn secrets_are_redacted_in_stored_attempts_runs_and_outputs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = "s3cr3t-Value-42";
    let run_id = {
        let store = Arc::new(SledRunStore::open(dir.path()).expect("open store"));
        let engine = Engine::new(store.clone());
        let workflow = compile_at(&engine, Path::new("secret.yaml"), SECRET_FLOW);
        let request = RunRequest {
            secrets: HashMap::from([("api_token".to_string(), secret.to_string())]),
            ..RunRequest::default()
        };
        let outcome = engine.run(workflow, request).await;
        assert_succeeded(&outcome);
        assert_eq!(outcome.outputs, json!({ "header": "Bearer ***" }));

        let attempts = store.attempts(&outcome.run_id).expect("read attempts");
        assert_eq!(attempts.len(), 2);
        assert_eq!(attempts[0].input, json!({ "header": "Bearer ***" }));
        assert_eq!(attempts[0].output, Some(json!({ "header": "Bearer ***" })));
        assert_eq!(attempts[1].input, json!({ "message": "sent Bearer ***" }));
        let run = store.get_run(&outcome.run_id).expect("read run");
        assert_eq!(
            run.and_then(|r| r.outputs),
            Some(json!({ "header": "Bearer ***" }))
        );
        outcome.run_id
    };
    // Nothing on disk holds the secret, in any file of the store.
    let mut files = vec![dir.path().to_path_buf()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("list store").flatten() {
                files.push(entry.path());
            }
        } else {
            let bytes = std::fs::read(&path).expect("read store file");
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds the secret",
                path.display()
            );
        }
    }
    assert!(!run_id.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_missing_secret_is_refused_before_any_step() {
    let h = harness(vec![]);
    let outcome = h.run(SECRET_FLOW).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.error.as_deref(),
        Some("missing secrets: `api_token` (set WEFT_SECRET_API_TOKEN)")
    );
    assert!(h.store.attempts.lock().is_empty());
}

#[tokio::test(start_paused = true)]
async fn run_history_is_kept_across_reopening_the_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = "
name: history
inputs:
  n:
    type: integer
    default: 1
steps:
  - id: show
    uses: core.log
    with: { message: 'n=${{ inputs.n }}' }
  - id: maybe_fail
    if: ${{ inputs.n > 1 }}
    uses: core.fail
    with: { message: too big }
";
    let mut ids = Vec::new();
    {
        let store = Arc::new(SledRunStore::open(dir.path()).expect("open store"));
        let engine = Engine::new(store);
        let workflow = compile_at(&engine, Path::new("history.yaml"), yaml);
        for n in [1, 2] {
            let mut request = RunRequest::default();
            request.inputs.insert("n".into(), json!(n));
            ids.push(engine.run(workflow.clone(), request).await.run_id);
        }
    }
    let store = reopen(dir.path());
    let runs = store.list_runs(10).expect("list runs");
    let listed: Vec<(&str, RunStatus)> = runs.iter().map(|r| (r.id.as_str(), r.status)).collect();
    assert_eq!(
        listed,
        [
            (ids[1].as_str(), RunStatus::Failed),
            (ids[0].as_str(), RunStatus::Succeeded)
        ]
    );
    let first = &runs[1];
    assert_eq!(first.workflow, "history");
    assert_eq!(first.inputs, json!({ "n": 1 }));
    assert_eq!(first.hash.len(), 64, "SHA-256 of the file, in hex");
    assert!(first.finished_at.is_some_and(|f| f >= first.started_at));
    assert_eq!(
        runs[0].error.as_deref(),
        Some("step `maybe_fail` failed: too big")
    );
    let attempts = store.attempts(&ids[1]).expect("attempts");
    let steps: Vec<(&str, StepStatus)> = attempts
        .iter()
        .map(|a| (a.step.as_str(), a.status))
        .collect();
    assert_eq!(
        steps,
        [
            ("show", StepStatus::Succeeded),
            ("maybe_fail", StepStatus::Failed)
        ]
    );
    assert_eq!(attempts[0].input, json!({ "message": "n=2" }));
}

// --- Dry runs ----------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn dry_run_never_runs_actions_and_uses_mocks_then_examples() {
    let writer = Arc::new(Writer::default());
    let h = harness(vec![writer.clone()]);
    let yaml = "
name: dry
steps:
  - id: create
    uses: test.write
    with: { title: first }
  - id: again
    uses: test.write
    with: { title: 'after ${{ steps.create.output.id }}' }
  - id: wait
    uses: core.sleep
    with: { duration: 1h }
";
    let t0 = Instant::now();
    let outcome = h
        .run_with(
            yaml,
            RunRequest {
                mode: Mode::DryRun {
                    mocks: HashMap::from([("create".to_string(), json!({ "id": "mock-7" }))]),
                },
                ..RunRequest::default()
            },
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(
        writer.calls.load(Ordering::SeqCst),
        0,
        "a dry run never writes"
    );
    assert_eq!(t0.elapsed(), Duration::ZERO, "a dry run never sleeps");
    let report = outcome.dry_run.expect("a dry run report");
    let steps: Vec<(&str, &str, bool)> = report
        .steps
        .iter()
        .map(|s| (s.step.as_str(), s.output_from, s.writes))
        .collect();
    assert_eq!(
        steps,
        [
            ("create", "mock", true),
            ("again", "example", true),
            ("wait", "computed", false)
        ]
    );
    // The mocked output flows into the next step's inputs; the example is the action's own.
    assert_eq!(report.steps[1].input, json!({ "title": "after mock-7" }));
    assert_eq!(report.steps[1].output, json!({ "id": "example-1" }));
    // Nothing is recorded for a dry run.
    assert!(h.store.runs.lock().is_empty());
    assert!(h.store.attempts.lock().is_empty());
}

#[tokio::test(start_paused = true)]
async fn dry_run_shows_secrets_redacted_without_needing_them() {
    let h = harness(vec![]);
    let outcome = h
        .run_with(
            "
name: secret
steps:
  - id: call
    uses: http.request
    with:
      url: http://127.0.0.1:9/items
      method: POST
      headers: { authorization: 'Bearer ${{ secrets.api_token }}' }
",
            RunRequest {
                mode: Mode::DryRun {
                    mocks: HashMap::new(),
                },
                ..RunRequest::default()
            },
        )
        .await;
    assert_succeeded(&outcome);
    let report = outcome.dry_run.expect("a dry run report");
    let step = &report.steps[0];
    assert_eq!(
        step.input["headers"],
        json!({ "authorization": "Bearer ***" })
    );
    assert!(step.writes, "a POST writes");
    let effect = serde_json::to_value(&step.effect).expect("effect as JSON");
    assert_eq!(effect["method"], "POST");
    assert_eq!(effect["url"], "http://127.0.0.1:9/items");
    assert_eq!(effect["headers"]["authorization"], "Bearer ***");
}
