//! Running blocks and steps: dependencies, conditions, loops, branches, attempts, error handling.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt, TryStreamExt};
use serde_json::{json, Map, Value};

use super::events::Progress;
use super::frame::{Frame, Output, OutputTaint, StepRecord, StepScope};
use super::item_outputs::ItemOutputs;
use super::record_cap::{Attempt, RecordedInput, WrittenAttempt};
use super::redact::Redactor;
use super::resume::ResumePoint;
use super::retry::{delay, should_retry};
use super::run::{DryRunStep, RunState};
use super::Mode;
use crate::actions::{Action, ActionError, ErrorKind};
use crate::store::{AttemptJson, StepStatus};
use crate::workflow::{Block, CompiledStep, Condition, ErrorPlan, StepKind, ValueTemplate};

/// Why a block stopped.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub step: String,
    pub message: String,
    pub cancelled: bool,
}

impl Failure {
    pub fn cancelled() -> Self {
        Failure {
            step: String::new(),
            message: "cancelled".into(),
            cancelled: true,
        }
    }

    fn of(step: &CompiledStep, message: String) -> Self {
        Failure {
            step: step.id.to_string(),
            message,
            cancelled: false,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.cancelled {
            return f.write_str("the run was cancelled");
        }
        write!(f, "step `{}` failed: {}", self.step, self.message)
    }
}

/// How a step ended, before `on_error` is applied.
struct StepResult {
    output: Result<Output, ActionError>,
    attempts: u32,
    /// Whether the action's input was computed from a secret (see `RunState::output_taint`).
    input_tainted: bool,
}

impl From<Result<Output, ActionError>> for StepResult {
    /// A loop or branches: one attempt.
    fn from(output: Result<Output, ActionError>) -> Self {
        StepResult {
            output,
            attempts: 1,
            input_tainted: false,
        }
    }
}

impl StepResult {
    fn action(output: Result<Value, ActionError>, attempts: u32) -> Self {
        StepResult {
            output: output.map(Output::Value),
            attempts,
            input_tainted: false,
        }
    }
}

/// What `steps.<id>` holds: always the same four fields.
fn step_record(
    status: &'static str,
    output: Value,
    error: Option<&str>,
    attempts: u32,
) -> StepRecord {
    StepRecord::new(status, Output::Value(output), error, attempts)
}

impl RunState {
    /// Runs a block: each step starts when the steps it needs are done. The first failure
    /// that is not handled stops the block, cancelling the steps still running.
    pub(crate) fn run_block<'a>(
        &'a self,
        block: &'a Block,
        frame: Arc<Frame>,
    ) -> BoxFuture<'a, Result<(), Failure>> {
        Box::pin(async move {
            // A block of one step (a loop's usual body): nothing to schedule, nothing else
            // running to cancel when it fails.
            if let [_] = block.steps.as_slice() {
                return self.run_step(block, 0, frame).await;
            }
            let n = block.steps.len();
            let mut waiting: Vec<u32> = block.deps.iter().map(|d| d.len() as u32).collect();
            let dependents = block.deps.dependents();
            let start = |i: usize| {
                let frame = frame.clone();
                async move { (i, self.run_step(block, i, frame).await) }
            };
            let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
            // Made when two steps first run side by side: a chain of steps never needs it.
            let mut running = None;
            loop {
                let (done, result) = match ready.as_slice() {
                    // The only step that can run, and nothing else runs: awaited as it is, so
                    // a chain of steps (a loop item's body, steps that each read the one
                    // before) pays nothing for scheduling steps side by side.
                    [only] if running.as_ref().is_none_or(FuturesUnordered::is_empty) => {
                        let i = *only;
                        ready.clear();
                        (i, self.run_step(block, i, frame.clone()).await)
                    }
                    _ => {
                        let running = running.get_or_insert_with(FuturesUnordered::new);
                        running.extend(ready.drain(..).map(start));
                        match running.next().await {
                            Some(finished) => finished,
                            None => return Ok(()),
                        }
                    }
                };
                if let Err(failure) = result {
                    // Steps still running are cancelled here: record their attempts.
                    drop(running);
                    self.record_abandoned().await;
                    return Err(failure);
                }
                for &j in &dependents[done] {
                    let j = j as usize;
                    waiting[j] -= 1;
                    if waiting[j] == 0 {
                        ready.push(j);
                    }
                }
            }
        })
    }

    /// Runs step `i` of `block`.
    async fn run_step(&self, block: &Block, i: usize, frame: Arc<Frame>) -> Result<(), Failure> {
        let step = &block.steps[i];
        // Steps that never wait (`core.set`, a loop's items) would keep the thread to the
        // run's end: on one thread the signal task would never see Ctrl-C, nor would a timer
        // fire. Each step (so each loop item, through its body) spends a unit of the task's
        // budget, and a task that spent it all yields to the others before its next step,
        // which then sees a cancellation at once.
        tokio::task::coop::consume_budget().await;
        let result = self.run_step_unpaced(step, frame.clone()).await;
        self.after_step(block, i, &frame).await;
        result
    }

    async fn run_step_unpaced(
        &self,
        step: &CompiledStep,
        frame: Arc<Frame>,
    ) -> Result<(), Failure> {
        // `finally` steps still run after a cancellation; nothing else starts.
        if self.cancel.is_cancelled() && !self.finalizing.load(Ordering::Relaxed) {
            return Err(Failure::cancelled());
        }
        let started = Instant::now();
        let result = match self.should_run(step, &frame) {
            Ok(false) => {
                frame.record(&step.id, step_record("skipped", Value::Null, None, 0));
                self.finished(step, &frame, StepStatus::Skipped, 0, Duration::ZERO, None);
                return Ok(());
            }
            Ok(true) => {
                let result = self.execute_step(step, &frame).await;
                // A loop or branches that failed or timed out dropped the attempts inside.
                self.record_abandoned().await;
                result
            }
            Err(error) => StepResult {
                output: Err(error),
                attempts: 0,
                input_tainted: false,
            },
        };
        let output = result
            .output
            .and_then(|raw| self.shape_output(step, raw, &frame));
        let error = match output {
            Ok(output) => {
                if let Some(taint) = self.output_taint(&output, result.input_tainted) {
                    self.globals.tainted_steps.insert(&step.id, taint);
                }
                frame.record(
                    &step.id,
                    StepRecord::new("succeeded", output, None, result.attempts),
                );
                let took = started.elapsed();
                self.finished(
                    step,
                    &frame,
                    StepStatus::Succeeded,
                    result.attempts,
                    took,
                    None,
                );
                return Ok(());
            }
            // A stored wait stops the run's steps as a cancellation does; the run is parked.
            Err(e) if matches!(e.kind, ErrorKind::Cancelled | ErrorKind::Waiting { .. }) => {
                return Err(Failure::cancelled())
            }
            Err(e) => e,
        };
        // Every failure of the step (its expressions included) goes through `on_error`.
        let message = self.redactor.text(&error.message);
        let took = started.elapsed();
        self.finished(
            step,
            &frame,
            StepStatus::Failed,
            result.attempts,
            took,
            Some(&message),
        );
        let record = step_record("failed", Value::Null, Some(&message), result.attempts);
        match step.on_error() {
            ErrorPlan::Fail => Err(Failure::of(step, message)),
            ErrorPlan::Continue => {
                frame.record(&step.id, record);
                Ok(())
            }
            ErrorPlan::Steps(handler) => {
                let error = json!({ "step": *step.id, "message": message });
                self.run_block(handler, frame.child(Some(error))).await?;
                frame.record(&step.id, record);
                Ok(())
            }
        }
    }

    /// Which part of a step's output holds a secret or a value computed from one: what reads
    /// it is tainted (see [`super::frame::TaintedSteps`]).
    /// `input_tainted`: whether the step's input was computed from a secret (only then does a
    /// value equal to one masked whole, a `true`, count).
    fn output_taint(&self, output: &Output, input_tainted: bool) -> Option<OutputTaint> {
        if self.redactor.is_empty() {
            return None;
        }
        let holds = |value: &Value| self.redactor.holds_secret(value, input_tainted);
        match output {
            Output::Items(items) => items
                .holds_secret(&self.redactor)
                .then_some(OutputTaint::Whole),
            Output::Value(Value::Object(fields)) => {
                let mut tainted = HashSet::new();
                for (name, value) in fields {
                    if self.redactor.text_holds_secret(name) {
                        return Some(OutputTaint::Whole);
                    }
                    if holds(value) {
                        tainted.insert(name.clone());
                    }
                }
                (!tainted.is_empty()).then_some(OutputTaint::Fields(tainted))
            }
            Output::Value(value) => holds(value).then_some(OutputTaint::Whole),
        }
    }

    /// Evaluates the step's `if`.
    fn should_run(&self, step: &CompiledStep, frame: &Frame) -> Result<bool, ActionError> {
        let Some(condition) = step.condition() else {
            return Ok(true);
        };
        let scope =
            StepScope::new(&self.globals, frame, step.step_refs()).map_err(ActionError::failed)?;
        match condition {
            Condition::Literal(b) => Ok(*b),
            Condition::Template(t) => t.render(&scope).map(|v| weft_expr::truthy(&v)),
            Condition::Expr(e) => e.eval(&scope).map(|v| weft_expr::truthy(&v)),
        }
        .map_err(|e| ActionError::invalid_input(format!("`if`: {}", e.message)))
    }

    /// Runs the step's action, loop or branches. A loop's or branches' `timeout` limits the
    /// whole step; an action's limits each attempt.
    async fn execute_step(&self, step: &CompiledStep, frame: &Arc<Frame>) -> StepResult {
        let whole = async {
            match &step.kind {
                StepKind::Action { action, with } => {
                    return self.action_step(step, action.as_ref(), with, frame).await
                }
                StepKind::ForEach(each) => {
                    self.for_each(step, &each.items, each.concurrency, &each.body, frame)
                        .await
                }
                StepKind::Parallel { branches } => {
                    self.parallel(branches, frame).await.map(Output::Value)
                }
            }
            .into()
        };
        match (step.timeout(), &step.kind) {
            (Some(limit), StepKind::ForEach(_) | StepKind::Parallel { .. }) => {
                tokio::time::timeout(limit, whole)
                    .await
                    .unwrap_or_else(|_| {
                        let text = crate::duration::format_duration(limit);
                        Err::<Output, _>(ActionError::new(
                            ErrorKind::Timeout,
                            format!("timed out after {text}"),
                        ))
                        .into()
                    })
            }
            _ => whole.await,
        }
    }

    /// Applies a step's `outputs` mapping to the action's result.
    fn shape_output(
        &self,
        step: &CompiledStep,
        raw: Output,
        frame: &Frame,
    ) -> Result<Output, ActionError> {
        let (Some(mapping), Output::Value(raw)) = (step.outputs(), &raw) else {
            return Ok(raw); // a loop's is applied per item
        };
        let mut scope =
            StepScope::new(&self.globals, frame, step.step_refs()).map_err(ActionError::failed)?;
        scope.output = Some(raw);
        scope.output_tainted = self.redactor.holds_secret(raw, true);
        render_mapping(&self.redactor, mapping, &scope).map(Output::Value)
    }

    async fn action_step(
        &self,
        step: &CompiledStep,
        action: &dyn Action,
        with: &ValueTemplate,
        frame: &Arc<Frame>,
    ) -> StepResult {
        let mut input_tainted = false;
        let result = self
            .run_action(step, action, with, frame, &mut input_tainted)
            .await;
        StepResult {
            input_tainted,
            ..result
        }
    }

    /// Renders the action's input (setting `input_tainted` when it was computed from a
    /// secret) and runs the action, with its retries.
    async fn run_action(
        &self,
        step: &CompiledStep,
        action: &dyn Action,
        with: &ValueTemplate,
        frame: &Arc<Frame>,
        input_tainted: &mut bool,
    ) -> StepResult {
        let not_run = |message: String| StepResult {
            output: Err(ActionError::invalid_input(message)),
            attempts: 0,
            input_tainted: false,
        };
        let input = {
            let scope = match StepScope::new(&self.globals, frame, step.step_refs()) {
                Ok(scope) => scope,
                Err(message) => return not_run(message),
            };
            match self.redactor.render_noting(with, &scope, input_tainted) {
                Ok(input) => input,
                Err(e) => return not_run(format!("`with`: {}", e.message)),
            }
        };
        // Texts of the input that hold a secret are masked where a value equals them; an
        // error may quote them inside a longer text (`"***|sup3r…" is not a URL`): then they
        // are masked as secrets before it is recorded or shown.
        let held = if *input_tainted {
            self.redactor.texts_holding_secrets(&input)
        } else {
            Vec::new()
        };
        let mask_held = || held.iter().for_each(|text| self.redactor.insert(text));
        if let Err(message) = check_input(action, &input, *input_tainted) {
            mask_held();
            return not_run(message);
        }
        if let Mode::DryRun { mocks, live_reads } = &self.mode {
            return self
                .dry_step(step, action, input, mocks, *live_reads, frame)
                .await;
        }
        // Its record is written now, once: each attempt's record copies these bytes, and the
        // last attempt hands the rendered value itself to the action.
        let recorded_input = RecordedInput::of(&self.redactor, &input, self.engine.record_cap);
        let mut input = input;
        let retry = step.retry();
        let first_started = tokio::time::Instant::now();
        let (mut attempt, mut may_have_run_before) = match self.resume_point(step, &frame.iteration)
        {
            ResumePoint::Restored(output, attempts) => return StepResult::action(output, attempts),
            ResumePoint::From {
                attempt,
                may_have_run_before,
            } => (attempt, may_have_run_before),
        };
        loop {
            self.report(|| Progress::StepStarted {
                step: step.id.clone(),
                iteration: frame.iteration.clone(),
                attempt,
            });
            let started_at = Utc::now();
            let clock = Instant::now();
            let ctx = self.action_context(step, attempt, may_have_run_before, &frame.iteration);
            // If this future is dropped mid-attempt (a sibling failed, a loop timed out, the
            // run was cancelled), the guard hands the attempt to the run as abandoned; whoever
            // dropped it records it as cancelled ([`RunState::record_abandoned`]).
            let mut in_flight = InFlight {
                state: self,
                step,
                frame,
                attempt,
                input: &recorded_input,
                started_at,
                clock,
                done: false,
            };
            // An attempt that may be retried gets a copy; after the last, nothing reads it.
            let given = if attempt < retry.max_attempts {
                input.clone()
            } else {
                std::mem::take(&mut input)
            };
            let call = action.run(given, &ctx);
            let result = match step.timeout() {
                Some(limit) => match tokio::time::timeout(limit, call).await {
                    Ok(result) => result,
                    Err(_) => Err(ActionError::new(
                        ErrorKind::Timeout,
                        format!(
                            "attempt {attempt} timed out after {}",
                            crate::duration::format_duration(limit)
                        ),
                    )),
                },
                None => call.await,
            };
            in_flight.done = true;
            // A stored wait is no attempt's outcome: the run is parked, the step resumed later.
            if let Err(ActionError {
                kind: ErrorKind::Waiting { until },
                ..
            }) = &result
            {
                self.park(&step.id, &frame.iteration, *until);
                return StepResult::action(result, attempt);
            }
            let status = if result.is_ok() {
                StepStatus::Succeeded
            } else {
                mask_held();
                StepStatus::Failed
            };
            let record = self.attempt(
                step,
                frame,
                attempt,
                status,
                &recorded_input,
                result.as_ref().map_err(|e| e.message.as_str()),
                started_at,
                clock.elapsed(),
            );
            if let Err(message) = self.record_attempt(&record).await {
                return StepResult::action(Err(ActionError::failed(message)), attempt);
            }
            let error = match result {
                Ok(output) => return StepResult::action(Ok(output), attempt),
                Err(error) => error,
            };
            if attempt >= retry.max_attempts || !should_retry(&retry.on, &error) {
                return StepResult::action(Err(error), attempt);
            }
            let wait = delay(retry, attempt, error.retry_after);
            if let Some(deadline) = retry.deadline {
                if first_started.elapsed() + wait > deadline {
                    let mut error = error;
                    error.message = format!(
                        "{} (retry deadline of {} reached)",
                        error.message,
                        crate::duration::format_duration(deadline)
                    );
                    return StepResult::action(Err(error), attempt);
                }
            }
            let message = self.redactor.text(&error.message);
            self.report(|| Progress::Retrying {
                step: step.id.clone(),
                attempt,
                delay: wait,
                error: message,
            });
            tokio::time::sleep(wait).await;
            attempt += 1;
            may_have_run_before = false;
        }
    }

    async fn dry_step(
        &self,
        step: &CompiledStep,
        action: &dyn Action,
        input: Value,
        mocks: &std::collections::HashMap<String, Value>,
        live_reads: bool,
        frame: &Frame,
    ) -> StepResult {
        // Only a connector's read (it declares scopes, and writes nothing with these inputs):
        // an `http.request` GET may still change something at an arbitrary URL.
        let live_read = live_reads && !action.spec().scopes.is_empty() && !action.writes(&input);
        let (output, output_from) = match (mocks.get(&*step.id), action.dry_run_output(&input)) {
            (Some(mock), _) => (mock.clone(), "mock"),
            (None, Some(computed)) => (computed, "computed"),
            // A sub-workflow is dry-run too (its steps join this report).
            (None, None) if action.runs_in_dry_run() || live_read => {
                let ctx = self.action_context(step, 1, false, &frame.iteration);
                match action.run(input.clone(), &ctx).await {
                    Ok(output) => (output, if live_read { "live" } else { "computed" }),
                    Err(error) => return StepResult::action(Err(error), 1),
                }
            }
            (None, None) => (action.spec().example_output(), "example"),
        };
        // A value masked whole (a short one computed from a secret) is not matched inside the
        // summary's text: describe the input with it already masked. A text holding a secret
        // is masked as a secret instead, so that the description still reads it (a URL).
        for text in self.redactor.texts_holding_secrets(&input) {
            self.redactor.insert(&text);
        }
        let effect = action.dry_run(&self.redactor.whole_values(&input));
        let effect = serde_json::to_value(&effect)
            .ok()
            .map(|v| self.redactor.value(&v))
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or(effect);
        self.dry_steps.lock().push(DryRunStep {
            step: step.id.to_string(),
            iteration: frame.iteration.clone(),
            action: action.spec().name.to_string(),
            writes: action.writes(&input),
            input: self.redactor.value(&input),
            effect,
            output: self.redactor.value(&output),
            output_from,
        });
        StepResult::action(Ok(output), 1)
    }

    async fn for_each(
        &self,
        step: &CompiledStep,
        items: &ValueTemplate,
        concurrency: usize,
        body: &Block,
        frame: &Arc<Frame>,
    ) -> Result<Output, ActionError> {
        let mut tainted = false;
        let items = {
            let scope = StepScope::new(&self.globals, frame, step.step_refs())
                .map_err(ActionError::failed)?;
            LoopItems::render(items, &self.redactor, &scope, &mut tainted)?
        };
        // A dry run shows the body once, for the first item.
        let items = items.take(match self.mode {
            Mode::DryRun { .. } => 1,
            Mode::Live => usize::MAX,
        });
        let last = body.steps.last().map(|s| &*s.id);
        // Each item's output is set aside as it finishes (items finish in any order): a big
        // loop holds its running items, not every item's output.
        let key = format!(
            "{}/{}/",
            self.run_id,
            self.loops.fetch_add(1, Ordering::Relaxed)
        );
        let outputs = Arc::new(ItemOutputs::new(
            step.id.clone(),
            items.len(),
            self.engine.store.clone(),
            key.into_bytes(),
        ));
        let mut finished = futures::stream::iter(items.enumerate())
            .map(|(index, item)| {
                let child = frame.item_child(item, index, tainted);
                async move {
                    self.run_block(body, child.clone()).await.map_err(|f| {
                        if f.cancelled {
                            ActionError::new(ErrorKind::Cancelled, "cancelled")
                        } else {
                            ActionError::failed(format!("item {index}: {f}"))
                        }
                    })?;
                    let value = match (step.outputs(), &last) {
                        (Some(mapping), _) => {
                            // The loop step's references include its `outputs`' (body steps).
                            let scope = StepScope::new(&self.globals, &child, step.step_refs())
                                .map_err(ActionError::failed)?;
                            render_mapping(&self.redactor, mapping, &scope)?
                        }
                        (None, Some(id)) => {
                            child.take_own_output(id).map_err(ActionError::failed)?
                        }
                        (None, None) => Value::Null,
                    };
                    Ok::<_, ActionError>((index, value))
                }
            })
            .buffer_unordered(concurrency.max(1));
        while let Some((index, value)) = finished.try_next().await? {
            outputs
                .push(index, value, &self.redactor)
                .map_err(ActionError::failed)?;
        }
        Ok(Output::Items(outputs))
    }

    async fn parallel(
        &self,
        branches: &[(String, Block)],
        frame: &Arc<Frame>,
    ) -> Result<Value, ActionError> {
        let runs = branches.iter().map(|(name, block)| {
            let child = frame.child(None);
            async move {
                self.run_block(block, child.clone()).await.map_err(|f| {
                    if f.cancelled {
                        ActionError::new(ErrorKind::Cancelled, "cancelled")
                    } else {
                        ActionError::failed(format!("branch `{name}`: {f}"))
                    }
                })?;
                let last = match block.steps.last() {
                    Some(last) => child
                        .take_own_output(&last.id)
                        .map_err(ActionError::failed)?,
                    None => Value::Null,
                };
                Ok::<_, ActionError>((name.clone(), last))
            }
        });
        let outputs: Map<String, Value> = futures::future::try_join_all(runs)
            .await?
            .into_iter()
            .collect();
        Ok(Value::Object(outputs))
    }

    fn finished(
        &self,
        step: &CompiledStep,
        frame: &Frame,
        status: StepStatus,
        attempts: u32,
        duration: Duration,
        error: Option<&str>,
    ) {
        self.report(|| Progress::StepFinished {
            step: step.id.clone(),
            iteration: frame.iteration.clone(),
            status,
            attempts,
            duration,
            error: error.map(str::to_string),
        });
    }

    /// The record of one attempt, written by the store from these values if it keeps it.
    #[allow(clippy::too_many_arguments)]
    fn attempt<'a>(
        &'a self,
        step: &'a CompiledStep,
        frame: &'a Frame,
        attempt: u32,
        status: StepStatus,
        input: &'a RecordedInput,
        result: Result<&'a Value, &'a str>,
        started_at: chrono::DateTime<Utc>,
        duration: Duration,
    ) -> Attempt<'a> {
        Attempt {
            run_id: &self.run_id,
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            step: &step.id,
            iteration: &frame.iteration,
            attempt,
            status,
            input,
            result,
            started_at,
            duration_us: duration.as_micros() as u64,
            redactor: &self.redactor,
            cap: self.engine.record_cap,
        }
    }

    async fn record_attempt(&self, record: &dyn AttemptJson) -> Result<(), String> {
        self.engine
            .store
            .put_attempt(record)
            .await
            .map_err(|e| format!("the run history could not be written: {}", e.with_causes()))
    }

    /// Records the attempts abandoned since the last call (their futures were dropped) as
    /// cancelled, and reports them finished. Called where futures may have been dropped.
    pub(crate) async fn record_abandoned(&self) {
        if !self.has_abandoned.load(Ordering::Acquire) {
            return;
        }
        let abandoned = {
            let mut list = self.abandoned.lock();
            self.has_abandoned.store(false, Ordering::Release);
            std::mem::take(&mut *list)
        };
        for abandoned in abandoned {
            // Best effort: a failing store is already reported by the run itself.
            let _ = self.record_attempt(&abandoned.record).await;
            self.report(|| Progress::StepFinished {
                step: abandoned.step,
                iteration: abandoned.iteration,
                status: StepStatus::Cancelled,
                attempts: abandoned.attempt,
                duration: abandoned.duration,
                error: None,
            });
        }
    }
}

/// An attempt dropped before it finished, waiting to be recorded as cancelled.
pub(crate) struct Abandoned {
    record: WrittenAttempt,
    step: Arc<str>,
    iteration: Vec<usize>,
    attempt: u32,
    duration: Duration,
}

/// An attempt in progress. Dropped before it is done, the attempt was cancelled: the guard
/// only hands the record to the run (memory, no I/O); [`RunState::record_abandoned`] writes it.
struct InFlight<'a> {
    state: &'a RunState,
    step: &'a CompiledStep,
    frame: &'a Frame,
    attempt: u32,
    input: &'a RecordedInput,
    started_at: chrono::DateTime<Utc>,
    clock: Instant,
    done: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let duration = self.clock.elapsed();
        let record = WrittenAttempt::of(&self.state.attempt(
            self.step,
            self.frame,
            self.attempt,
            StepStatus::Cancelled,
            self.input,
            Err("cancelled before it finished"),
            self.started_at,
            duration,
        ));
        self.state.abandoned.lock().push(Abandoned {
            record,
            step: self.step.id.clone(),
            iteration: self.frame.iteration.clone(),
            attempt: self.attempt,
            duration,
        });
        self.state.has_abandoned.store(true, Ordering::Release);
    }
}

/// What a `for_each` walks through, one item at a time.
enum LoopItems {
    List(std::vec::IntoIter<Value>),
    /// `${{ range(...) }}`: each number is made when its item starts, so a loop over a
    /// million numbers never holds a list of them (72 bytes a number).
    Numbers(Range<i64>),
}

impl LoopItems {
    /// Sets `tainted` when the items were computed from a secret.
    fn render(
        template: &ValueTemplate,
        redactor: &Redactor,
        scope: &StepScope<'_>,
        tainted: &mut bool,
    ) -> Result<LoopItems, ActionError> {
        let invalid = |e: weft_expr::EvalError| {
            ActionError::invalid_input(format!("`for_each`: {}", e.message))
        };
        if let ValueTemplate::Template(template) = template {
            if let Some(bounds) = template.range_bounds(scope) {
                return bounds.map(LoopItems::Numbers).map_err(invalid);
            }
        }
        match redactor
            .render_noting(template, scope, tainted)
            .map_err(invalid)?
        {
            Value::Array(items) => Ok(LoopItems::List(items.into_iter())),
            other => Err(ActionError::invalid_input(format!(
                "`for_each` needs a list, got {}",
                crate::actions::spec_type_name(&other)
            ))),
        }
    }
}

impl Iterator for LoopItems {
    type Item = Value;

    fn next(&mut self) -> Option<Value> {
        match self {
            LoopItems::List(items) => items.next(),
            LoopItems::Numbers(numbers) => numbers.next().map(Value::from),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            LoopItems::List(items) => items.size_hint(),
            // Exact: `range` lists at most a million numbers.
            LoopItems::Numbers(numbers) => numbers.size_hint(),
        }
    }
}

impl ExactSizeIterator for LoopItems {}

fn render_mapping(
    redactor: &Redactor,
    mapping: &[(String, ValueTemplate)],
    scope: &StepScope<'_>,
) -> Result<Value, ActionError> {
    let mut out = Map::with_capacity(mapping.len());
    for (name, template) in mapping {
        let value = redactor
            .render(template, scope)
            .map_err(|e| ActionError::invalid_input(format!("`outputs.{name}`: {}", e.message)))?;
        out.insert(name.clone(), value);
    }
    Ok(Value::Object(out))
}

/// Rendered inputs are checked against the action's declared types before it runs. When the
/// input was computed from a secret, a mismatch does not quote the value.
fn check_input(action: &dyn Action, input: &Value, tainted: bool) -> Result<(), String> {
    let spec = action.spec();
    let Value::Object(map) = input else {
        return Err(format!("`with` of `{}` must be a mapping", spec.name));
    };
    for field in &spec.inputs {
        match map.get(&field.name) {
            None | Some(Value::Null) if field.required => {
                return Err(format!(
                    "`{}` needs `{}`, which rendered to nothing",
                    spec.name, field.name
                ));
            }
            None | Some(Value::Null) => {}
            Some(value) => field.kind.check(value).map_err(|m| {
                let (name, action) = (&field.name, &spec.name);
                if tainted {
                    let (expected, kind) = (m.expected, weft_expr::a_type(value));
                    let hidden = weft_expr::HIDDEN_VALUES;
                    format!(
                        "input `{name}` of `{action}`: expected {expected}, got {kind} {hidden}"
                    )
                } else {
                    format!("input `{name}` of `{action}`: {m}")
                }
            })?,
        }
    }
    Ok(())
}
