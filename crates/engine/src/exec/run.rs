//! The life of one run: inputs, env and vars, the steps, `on_failure`, `finally`, outputs, and
//! the records that say so.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use futures::future::BoxFuture;
use parking_lot::Mutex;
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use super::events::{Progress, RunEvent};
use super::frame::{refs_of, Frame, Globals, StepScope};
use super::inputs::resolve_inputs;
use super::record_cap::{cap_redacted, cap_value};
use super::redact::{Redactor, MIN_SECRET_LEN, REDACTED};
use super::resume::ResumePlan;
use super::step::Failure;
use super::{Engine, Mode, RunRequest, RunSync};
use crate::actions::{ActionError, DryRunEffect, ErrorKind};
use crate::store::{RunRecord, RunStatus, StoredWait};
use crate::workflow::connection_config::connection_scope;
use crate::workflow::{self, Block, CompiledWorkflow, ValueTemplate};

/// Run ids are ULIDs that increase strictly within the process, so runs started in the same
/// millisecond still list in the order they started.
pub fn new_run_id() -> String {
    static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());
    let mut generator = GENERATOR.lock();
    match generator.generate() {
        Ok(id) => id.to_string(),
        // The random part overflowed within one millisecond: a fresh id is still unique.
        Err(_) => ulid::Ulid::new().to_string(),
    }
}

/// Nested `workflow.call`s beyond this depth are refused (runaway recursion).
const MAX_CALL_DEPTH: usize = 16;

/// A run's outcome, and its outputs as computed: what a `workflow.call` hands its caller (a
/// value computed from a secret is masked in the outcome, and the caller needs the real one;
/// the redactor they share masks it in the caller's records).
pub(super) struct Finished {
    pub outcome: RunOutcome,
    pub outputs: Value,
}

#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub run_id: String,
    pub status: RunStatus,
    pub outputs: Value,
    pub error: Option<String>,
    pub duration: std::time::Duration,
    /// Filled by dry runs.
    pub dry_run: Option<DryRunReport>,
}

/// What a dry run found: each step as it would run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DryRunReport {
    pub steps: Vec<DryRunStep>,
    /// `connection` as the steps read it: its name and declared settings (`null` without one).
    pub connection: Value,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DryRunStep {
    pub step: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub iteration: Vec<usize>,
    pub action: String,
    /// Rendered inputs, secrets redacted.
    pub input: Value,
    pub effect: DryRunEffect,
    pub writes: bool,
    pub output: Value,
    /// `mock`, `computed` (actions without I/O), `live` (a read sent with `--live-reads`) or
    /// `example`.
    pub output_from: &'static str,
}

pub(crate) struct RunState {
    pub engine: Engine,
    pub workflow: Arc<CompiledWorkflow>,
    pub run_id: String,
    pub globals: Globals,
    pub redactor: Arc<Redactor>,
    pub seq: AtomicU64,
    /// Numbers the loops of the run, for where their item outputs are set aside.
    pub loops: AtomicU64,
    pub mode: Mode,
    pub cancel: CancellationToken,
    pub call_stack: Vec<PathBuf>,
    pub dry_steps: Mutex<Vec<DryRunStep>>,
    /// Set while `finally` runs, which a cancellation does not stop.
    pub finalizing: AtomicBool,
    /// Every secret of the request, handed on to called workflows.
    pub all_secrets: std::collections::HashMap<String, String>,
    /// Attempts whose futures were dropped, waiting to be recorded as cancelled.
    pub abandoned: Mutex<Vec<super::step::Abandoned>>,
    /// Whether `abandoned` has entries: the hot path checks this instead of locking.
    pub has_abandoned: AtomicBool,
    /// Called workflows, each a task of its own: a cancellation that drops the calling step
    /// must not drop the child run, which still has its `finally` to run and its record to
    /// write. The run waits for them before it ends.
    pub children: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Progress events not yet delivered: a step is reported done only once its record is on
    /// disk, so they wait here for the next sync of the store (see `deliver_progress`).
    pub progress: Mutex<Vec<Progress>>,
    pub progress_added: tokio::sync::Notify,
    pub progress_delivered: tokio::sync::Notify,
    /// Set when the run's steps are over: the delivery loop then stops, and what it has not
    /// delivered is delivered after the run's final sync.
    pub progress_closed: AtomicBool,
    /// Whether the observer wants progress events at all.
    pub wants_progress: bool,
    /// What the run did before, when this is a resume.
    pub resume: Option<ResumePlan>,
    /// Set when a wait step parks the run (a stored wait).
    pub parked: Mutex<Option<StoredWait>>,
}

/// Progress events queued beyond this make steps wait for their delivery: a run whose steps
/// never wait on anything still lets its syncs happen, and the queue stays small.
const MAX_QUEUED_PROGRESS: usize = 2048;

impl Engine {
    /// Runs a workflow to its end (or cancellation) and returns how it went. The run record is
    /// on disk before this returns.
    pub fn run(
        &self,
        workflow: Arc<CompiledWorkflow>,
        request: RunRequest,
    ) -> BoxFuture<'_, RunOutcome> {
        Box::pin(async move {
            self.run_nested(workflow, request, Vec::new(), None, None)
                .await
                .outcome
        })
    }

    pub(super) async fn run_nested(
        &self,
        workflow: Arc<CompiledWorkflow>,
        request: RunRequest,
        mut call_stack: Vec<PathBuf>,
        redactor: Option<Arc<Redactor>>,
        resume: Option<ResumePlan>,
    ) -> Finished {
        let started = Instant::now();
        let run_id = request.run_id.clone().unwrap_or_else(new_run_id);
        let dry = matches!(request.mode, Mode::DryRun { .. });
        call_stack.push(workflow.path.clone());
        self.observer.on_event(&RunEvent::RunStarted {
            run_id: &run_id,
            workflow: &workflow.name,
            dry_run: dry,
        });

        // Only the secrets this workflow reads are masked: masking every value in the
        // environment would garble unrelated text that happens to contain a short one.
        let used: Vec<(&str, &str)> = workflow
            .secrets
            .iter()
            .filter_map(|name| {
                request
                    .secrets
                    .get(name)
                    .or_else(|| request.secrets.get(&name.to_ascii_lowercase()))
                    .map(|value| (name.as_str(), value.as_str()))
            })
            .collect();
        for name in Redactor::short(used.iter().copied()) {
            let empty = used.iter().any(|(n, value)| *n == name && value.is_empty());
            let message = if empty {
                format!(
                    "secret `{name}` is empty (WEFT_SECRET_{} is set to nothing): set it to the real value",
                    name.to_ascii_uppercase()
                )
            } else {
                format!(
                    "secret `{name}` is shorter than {MIN_SECRET_LEN} characters, so it is not masked in output"
                )
            };
            self.observer
                .on_event(&RunEvent::Warning { message: &message });
        }
        // A called workflow shares its caller's redactor: what the caller computed from secrets
        // and passes as inputs is masked in the callee's records too.
        let redactor = redactor.unwrap_or_default();
        for value in used.iter().map(|(_, value)| *value) {
            redactor.add(value);
        }
        for value in &request.masked {
            redactor.add(value);
        }
        if dry && used.len() < workflow.secrets.len() {
            redactor.allow_placeholders();
        }
        let trigger = request
            .trigger
            .clone()
            .unwrap_or_else(|| json!({ "kind": "manual" }));
        let mut record = RunRecord {
            id: run_id.clone(),
            workflow: workflow.name.clone(),
            path: workflow.path.display().to_string(),
            hash: workflow.hash.clone(),
            parent: request.parent_run.clone(),
            trigger: redactor.value(&trigger),
            inputs: Value::Null,
            status: RunStatus::Running,
            error: None,
            outputs: None,
            started_at: Utc::now(),
            finished_at: None,
            pid: Some(std::process::id()),
            truncated: Vec::new(),
            resumes: 0,
            wait: None,
        };
        if let Some(plan) = &resume {
            plan.carry_over(&mut record);
        }
        let given = Value::Object(request.inputs.clone());
        record.inputs = cap_redacted(
            &redactor,
            &given,
            self.record_cap,
            "inputs",
            &mut record.truncated,
        );

        // Settings the workflow reads from its connection: missing or malformed ones stop the
        // run here, before its first step.
        let prepared = match connection_scope(&workflow, self.tokens.as_ref(), dry).await {
            Ok((connection, warning)) => {
                if let Some(message) = warning {
                    self.observer
                        .on_event(&RunEvent::Warning { message: &message });
                }
                prepare_globals(&workflow, &request, trigger, connection, dry, &redactor)
            }
            Err(problem) => Err(problem),
        };
        let (mut status, error, outputs, dry_run, undelivered) = match prepared {
            Err(problems) => (
                RunStatus::Failed,
                Some(problems),
                Value::Null,
                None,
                Vec::new(),
            ),
            Ok(globals) => {
                record.truncated.clear();
                record.inputs = cap_redacted(
                    &redactor,
                    &globals.inputs,
                    self.record_cap,
                    "inputs",
                    &mut record.truncated,
                );
                if !dry {
                    if let Err(e) = self.store.put_run(&record).await {
                        return Finished {
                            outcome: self.finish_without_record(run_id, started, e.with_causes()),
                            outputs: Value::Null,
                        };
                    }
                }
                let state = RunState {
                    engine: self.clone(),
                    workflow: workflow.clone(),
                    run_id: run_id.clone(),
                    globals,
                    redactor: redactor.clone(),
                    seq: AtomicU64::new(resume.as_ref().map_or(0, ResumePlan::next_seq)),
                    loops: AtomicU64::new(0),
                    mode: request.mode.clone(),
                    cancel: request.cancel.clone(),
                    call_stack,
                    dry_steps: Mutex::new(Vec::new()),
                    finalizing: AtomicBool::new(false),
                    all_secrets: request.secrets.clone(),
                    abandoned: Mutex::new(Vec::new()),
                    has_abandoned: AtomicBool::new(false),
                    children: Mutex::new(Vec::new()),
                    progress: Mutex::new(Vec::new()),
                    progress_added: tokio::sync::Notify::new(),
                    progress_delivered: tokio::sync::Notify::new(),
                    progress_closed: AtomicBool::new(false),
                    wants_progress: self.observer.wants_progress(),
                    resume,
                    parked: Mutex::new(None),
                };
                let run = async {
                    let result = state.execute().await;
                    state.progress_closed.store(true, Ordering::Release);
                    state.progress_added.notify_one();
                    result
                };
                let ((status, error, outputs), ()) = futures::join!(run, state.deliver_progress());
                let report = dry.then(|| DryRunReport {
                    steps: std::mem::take(&mut *state.dry_steps.lock()),
                    connection: state.globals.connection.clone(),
                });
                if status == RunStatus::Waiting {
                    record.wait = state.parked.lock().take();
                }
                // Delivered after the final sync below.
                let undelivered = std::mem::take(&mut *state.progress.lock());
                (status, error, outputs, report, undelivered)
            }
        };

        let error = error.map(|e| redactor.text(&e));
        let given = outputs;
        let outputs = redactor.value(&given);
        record.status = status;
        record.error = error.clone();
        record.outputs = (!outputs.is_null()).then(|| {
            cap_value(
                Cow::Borrowed(&outputs),
                self.record_cap,
                "outputs",
                &mut record.truncated,
            )
        });
        // A waiting run has not finished: it is resumed at its wake-up time.
        record.finished_at = (status != RunStatus::Waiting).then(Utc::now);
        let mut error = error;
        if !dry {
            // The durability point: the run is only reported once its record is on disk.
            let saved = match self.store.put_run(&record).await {
                Ok(()) if self.run_sync == RunSync::ByRun => self.store.flush().await,
                other => other,
            };
            if let Err(e) = saved {
                let e = e.with_causes();
                // Not on disk means not done: never report success for it.
                status = RunStatus::Failed;
                record.status = status;
                error = Some(format!(
                    "{}; and the run history could not be saved: {e}",
                    error.unwrap_or_default()
                ));
            }
        }
        for progress in &undelivered {
            self.observer.on_event(&progress.event());
        }
        let duration = started.elapsed();
        self.observer.on_event(&RunEvent::RunFinished {
            run_id: &run_id,
            status,
            duration,
            error: error.as_deref(),
            outputs: &outputs,
        });
        Finished {
            outcome: RunOutcome {
                run_id,
                status,
                outputs,
                error,
                duration,
                dry_run,
            },
            outputs: given,
        }
    }

    fn finish_without_record(&self, run_id: String, started: Instant, error: String) -> RunOutcome {
        let error = format!("the run could not be recorded: {error}");
        let duration = started.elapsed();
        self.observer.on_event(&RunEvent::RunFinished {
            run_id: &run_id,
            status: RunStatus::Failed,
            duration,
            error: Some(&error),
            outputs: &Value::Null,
        });
        RunOutcome {
            run_id,
            status: RunStatus::Failed,
            outputs: Value::Null,
            error: Some(error),
            duration,
            dry_run: None,
        }
    }
}

/// Inputs, secrets, env and vars, computed once before the first step.
fn prepare_globals(
    workflow: &CompiledWorkflow,
    request: &RunRequest,
    trigger: Value,
    connection: Value,
    dry: bool,
    redactor: &Redactor,
) -> Result<Globals, String> {
    let inputs = resolve_inputs(&workflow.inputs, &request.inputs).map_err(|p| p.join("; "))?;
    let mut secrets = Map::new();
    let mut missing = Vec::new();
    for name in &workflow.secrets {
        // `WEFT_SECRET_API_TOKEN` is `secrets.api_token`; `secrets.API_TOKEN` finds it too.
        let value = request
            .secrets
            .get(name)
            .or_else(|| request.secrets.get(&name.to_ascii_lowercase()));
        match value {
            Some(value) => {
                secrets.insert(name.clone(), Value::String(value.clone()));
            }
            // A dry run shows where a secret goes without needing it.
            None if dry => {
                secrets.insert(name.clone(), Value::String(REDACTED.into()));
            }
            None => missing.push(format!(
                "`{name}` (set WEFT_SECRET_{})",
                name.to_ascii_uppercase()
            )),
        }
    }
    if !missing.is_empty() {
        return Err(format!("missing secrets: {}", missing.join(", ")));
    }
    let mut globals = Globals {
        inputs,
        vars: Value::Object(Map::new()),
        env: Value::Object(
            // weft's own variables (secrets, the master key of the token store) stay out.
            std::env::vars()
                .filter(|(k, _)| !k.starts_with("WEFT_"))
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ),
        secrets: Value::Object(secrets),
        trigger,
        connection,
        now: request.now,
        taint_sources: Default::default(),
        tainted_steps: Default::default(),
    };
    // A called workflow's input computed by its caller from a secret is masked already (the
    // redactor is shared): reading it taints like reading `secrets`.
    if let Value::Object(inputs) = &globals.inputs {
        for (name, value) in inputs {
            if redactor.value(value) != *value {
                globals
                    .taint_sources
                    .insert(("inputs".to_string(), name.clone()));
            }
        }
    }
    let frame = Frame::root();
    for (section, values) in [("env", &workflow.env), ("vars", &workflow.vars)] {
        for (name, template) in values {
            let value = {
                let scope = StepScope::new(&globals, &frame, Some(&[]))?;
                redactor
                    .render(template, &scope)
                    .map_err(|e| format!("{section}.{name}: {}", e.message))?
            };
            // Computed from a secret (so masked): a source of taint for what reads it.
            if redactor.value(&value) != value {
                globals
                    .taint_sources
                    .insert((section.to_string(), name.clone()));
            }
            let target = if section == "env" {
                &mut globals.env
            } else {
                &mut globals.vars
            };
            if let Value::Object(map) = target {
                map.insert(name.clone(), value);
            }
        }
    }
    Ok(globals)
}

impl RunState {
    /// Queues a progress event; it reaches the observer once what it reports is on disk. The
    /// event is made only for an observer that wants it (its copies of ids cost a step).
    pub(crate) fn report(&self, progress: impl FnOnce() -> Progress) {
        if !self.wants_progress {
            return;
        }
        let progress = progress();
        self.progress.lock().push(progress);
        self.progress_added.notify_one();
    }

    /// Called after step `i` of `block`: drops the records nothing reads any more, and paces
    /// progress.
    pub(crate) async fn after_step(&self, block: &Block, i: usize, frame: &Frame) {
        let released = block.releases.get(i).iter();
        frame.release(released.map(|&x| &*block.steps[x as usize].id));
        self.pace_progress().await;
    }

    /// When many events wait, lets their delivery (and its sync)
    /// start, and waits for it past [`MAX_QUEUED_PROGRESS`].
    async fn pace_progress(&self) {
        if !self.wants_progress || self.progress.lock().len() < MAX_QUEUED_PROGRESS / 4 {
            return;
        }
        tokio::task::yield_now().await;
        loop {
            let delivered = self.progress_delivered.notified();
            if self.progress.lock().len() < MAX_QUEUED_PROGRESS {
                return;
            }
            delivered.await;
        }
    }

    /// Group commit: while steps go on, each batch of queued events waits for one sync of the
    /// store, which makes every record written before it durable, and is then delivered in
    /// order; steps do not wait for the sync. A batch that reports no finished step needs no
    /// sync. Once the steps are over, what is left waits for the run's final sync instead.
    async fn deliver_progress(&self) {
        let dry = matches!(self.mode, Mode::DryRun { .. });
        loop {
            let closed = self.progress_closed.load(Ordering::Acquire);
            let batch = std::mem::take(&mut *self.progress.lock());
            if !batch.is_empty() {
                let needs_sync = !dry
                    && self.engine.run_sync == RunSync::ByRun
                    && batch
                        .iter()
                        .any(|p| matches!(p, Progress::StepFinished { .. }));
                if needs_sync && closed {
                    let mut queue = self.progress.lock();
                    let later = std::mem::replace(&mut *queue, batch);
                    queue.extend(later);
                    return;
                }
                // A failed sync is reported by the run itself when its final sync fails too;
                // the events are delivered either way, so nothing the run did goes unsaid.
                if needs_sync {
                    let _ = self.engine.store.flush().await;
                }
                for progress in &batch {
                    self.engine.observer.on_event(&progress.event());
                }
                self.progress_delivered.notify_waiters();
                continue;
            }
            if closed {
                return;
            }
            self.progress_added.notified().await;
        }
    }

    /// Steps, then `on_failure` if they failed, then `finally`, then outputs.
    async fn execute(&self) -> (RunStatus, Option<String>, Value) {
        let root = Frame::root();
        let main = tokio::select! {
            result = self.run_block(&self.workflow.steps, root.clone()) => result,
            _ = self.cancel.cancelled() => Err(Failure::cancelled()),
        };
        self.wait_for_children().await;
        self.record_abandoned().await;
        if let Some(parked) = self.parked_outcome() {
            return parked;
        }
        let (mut status, mut error) = match &main {
            Ok(()) => (RunStatus::Succeeded, None),
            Err(f) if f.cancelled => (
                RunStatus::Cancelled,
                Some("the run was cancelled".to_string()),
            ),
            Err(f) => (RunStatus::Failed, Some(f.to_string())),
        };
        let error_value = main
            .as_ref()
            .err()
            .map(|f| json!({ "step": f.step, "message": f.message }));
        if status == RunStatus::Failed && !self.workflow.on_failure.is_empty() {
            let frame = root.child(error_value.clone());
            if let Err(f) = self.run_block(&self.workflow.on_failure, frame).await {
                error = Some(format!(
                    "{}; then on_failure failed: {f}",
                    error.unwrap_or_default()
                ));
            }
            if let Some(parked) = self.parked_outcome() {
                return parked;
            }
        }
        self.finalizing.store(true, Ordering::Relaxed);
        if !self.workflow.finally.is_empty() {
            let frame = root.child(Some(error_value.unwrap_or(Value::Null)));
            if let Err(f) = self.run_block(&self.workflow.finally, frame).await {
                error = Some(match error {
                    Some(e) => format!("{e}; then finally failed: {f}"),
                    None => format!("finally failed: {f}"),
                });
                if status == RunStatus::Succeeded {
                    status = RunStatus::Failed;
                }
            }
            if let Some(parked) = self.parked_outcome() {
                return parked;
            }
        }
        let mut outputs = Value::Null;
        if status == RunStatus::Succeeded {
            match self.render_named(&self.workflow.outputs, &root) {
                Ok(value) => outputs = value,
                Err(e) => {
                    status = RunStatus::Failed;
                    error = Some(format!("workflow outputs: {e}"));
                }
            }
        }
        (status, error, outputs)
    }

    pub(crate) fn render_named(
        &self,
        values: &[(String, ValueTemplate)],
        frame: &Frame,
    ) -> Result<Value, String> {
        let refs = refs_of(values.iter().map(|(_, template)| template));
        let scope = StepScope::new(&self.globals, frame, refs.listed())?;
        let mut out = Map::new();
        for (name, template) in values {
            out.insert(
                name.clone(),
                self.redactor
                    .render(template, &scope)
                    .map_err(|e| format!("{name}: {}", e.message))?,
            );
        }
        Ok(Value::Object(out))
    }

    /// Waits until every called workflow has ended (after a cancellation, each runs its own
    /// `finally` and records itself cancelled first).
    async fn wait_for_children(&self) {
        loop {
            let children = std::mem::take(&mut *self.children.lock());
            if children.is_empty() {
                return;
            }
            for child in children {
                // A child that panicked has already said so; its caller saw the call fail.
                let _ = child.await;
            }
        }
    }

    /// `workflow.call`: load the file next to this workflow and run it as a child run.
    pub(crate) async fn call(&self, path: &str, inputs: Value) -> Result<Finished, ActionError> {
        if self.call_stack.len() >= MAX_CALL_DEPTH {
            return Err(ActionError::invalid_input(format!(
                "workflow.call nests deeper than {MAX_CALL_DEPTH} levels"
            )));
        }
        let base = self.workflow.path.parent().unwrap_or(Path::new("."));
        let target = base.join(path);
        let canonical = target.canonicalize().unwrap_or_else(|_| target.clone());
        if self
            .call_stack
            .iter()
            .any(|p| p.canonicalize().unwrap_or_else(|_| p.clone()) == canonical)
        {
            return Err(ActionError::invalid_input(format!(
                "workflow.call of `{path}` would call itself in a loop"
            )));
        }
        let loaded = workflow::load_file(&target, self.engine.catalog()).map_err(|problems| {
            ActionError::invalid_input(format!(
                "`{path}` is not a valid workflow:\n{}",
                problems.render()
            ))
        })?;
        let Value::Object(inputs) = inputs else {
            return Err(ActionError::invalid_input(
                "`inputs` of workflow.call must be an object",
            ));
        };
        // A `finally` step still runs after a cancellation, so its callee must not inherit it.
        let cancel = if self.finalizing.load(Ordering::Relaxed) {
            CancellationToken::new()
        } else {
            self.cancel.child_token()
        };
        // When this step is dropped (the run cancelled, the step timed out), the child is
        // asked to stop: it runs its `finally` and records itself cancelled.
        let stop_child = cancel.clone().drop_guard();
        let request = RunRequest {
            inputs,
            trigger: Some(json!({ "kind": "call", "parent_run": self.run_id })),
            mode: self.mode.clone(),
            secrets: self.all_secrets.clone(),
            parent_run: Some(self.run_id.clone()),
            run_id: None,
            masked: Vec::new(),
            cancel,
            now: self.globals.now,
        };
        let engine = self.engine.clone();
        let call_stack = self.call_stack.clone();
        let redactor = self.redactor.clone();
        let (send, receive) = tokio::sync::oneshot::channel();
        let child = tokio::spawn(async move {
            let outcome = engine
                .run_nested(loaded.workflow, request, call_stack, Some(redactor), None)
                .await;
            // The caller is gone when its step was cancelled: the child ran to its end anyway.
            let _ = send.send(outcome);
        });
        {
            let mut children = self.children.lock();
            children.retain(|c| !c.is_finished());
            children.push(child);
        }
        let outcome = receive.await.map_err(|_| {
            ActionError::new(
                ErrorKind::Failed,
                format!("the called workflow `{path}` stopped without an outcome"),
            )
        })?;
        stop_child.disarm();
        if let Some(report) = &outcome.outcome.dry_run {
            let steps = report.steps.iter().cloned().map(|mut step| {
                step.step = format!("{path} > {}", step.step);
                step
            });
            self.dry_steps.lock().extend(steps);
        }
        if outcome.outcome.status == RunStatus::Cancelled {
            return Err(ActionError::new(ErrorKind::Cancelled, "cancelled"));
        }
        Ok(outcome)
    }
}
