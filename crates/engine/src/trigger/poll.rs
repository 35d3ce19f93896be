//! One poll of a workflow's `trigger: poll`: the source finds events since the stored cursor,
//! one run is recorded per event, and only then does the cursor advance.
//!
//! Crash safety: the cursor and the source's de-duplication state live in the run store per
//! (workflow, trigger, connection). While the runs of a poll are recorded, the keys of the events
//! already recorded are saved with the OLD cursor every [`PROGRESS_EVERY`] runs; a poll after a
//! crash finds the same events again and skips those keys. At most the events of one poll are
//! delivered again, and at most the runs recorded since the last save that ended (about
//! [`PROGRESS_EVERY`], and those that ended while it was written) plus the runs going at once
//! ([`RUNS_AT_ONCE`], or the workflow's `concurrency`) start a second run.
//!
//! Speed and memory: the source hands its events over as it finds them and the runs start
//! while it searches on; it waits while one batch of events ([`RUNS_AT_ONCE`], or the workflow's
//! `concurrency`) is queued, so a poll of 10,000 events holds a few dozen at a time. A run's
//! record is synced by the progress save that records its event's key (see `poll_sync`), not
//! at the run's end: one sync per [`PROGRESS_EVERY`] runs instead of one per run (16 at once,
//! on a disk where a sync takes milliseconds, those were most of a poll's time), and a save is
//! written while the next runs go. The new cursor comes from the source when its search is
//! over, and is saved only after the last run is recorded, in the same sync. When the source
//! fails midway, the runs of the events it delivered are recorded and their keys saved with the
//! old cursor, as after a crash.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::Utc;
use futures::stream::{FuturesOrdered, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use weft_action::{poll_all, ActionError, EventSink, PollSource, Polled, SourceContext};

use crate::exec::{Engine, RunOutcome, RunRequest, RunSync};
use crate::store::{StoreError, TriggerCursor, TriggerKey, TriggerStore};
use crate::workflow::connection_config::connection_scope_of;
use crate::workflow::{CompiledWorkflow, PollTargets, TriggerPlan};

/// How many runs are recorded between two saves of the poll's progress.
pub const PROGRESS_EVERY: usize = 100;

/// How many runs of one poll go at once when the workflow sets no `concurrency`.
pub const RUNS_AT_ONCE: usize = 16;

/// The trigger name of a workflow's poll trigger in the store (a workflow has one trigger).
pub const POLL_TRIGGER: &str = "poll";

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("{path} has no poll trigger (its trigger is `{trigger}`); only `trigger: poll` workflows can be polled")]
    NotPolled { path: String, trigger: &'static str },
    #[error("polling source `{0}` is not part of this build")]
    UnknownSource(String),
    #[error("the poll trigger of {path} has no connection: give one with `connection:` on the trigger or the workflow")]
    NoConnection { path: String },
    #[error("the poll trigger of {path} polls several connections: say which one")]
    ManyConnections { path: String },
    #[error("the settings (`with:`) of the poll trigger cannot be rendered: {0}")]
    Settings(String),
    #[error("polling `{source_name}` through connection `{connection}` failed: {error}")]
    Source {
        source_name: String,
        connection: String,
        #[source]
        error: ActionError,
    },
    #[error("the trigger state could not be read or saved")]
    Store(#[from] StoreError),
}

/// Whether a poll records runs and moves the cursor, or only shows what it would deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// One recorded run per event, then the cursor advances.
    Record,
    /// Nothing is run or stored.
    Preview,
}

/// What one poll did.
#[derive(Debug)]
pub struct PollReport {
    pub key: TriggerKey,
    /// The new events, oldest first: whole in a preview; in a recorded poll only the `kind`,
    /// `id`, `version` and `title` of each (the whole event is its run's `trigger`), so that a
    /// poll does not hold every event it delivered.
    pub events: Vec<Value>,
    /// One per event delivered (empty for a preview). Events whose run a crashed earlier poll
    /// already recorded are in `events` but start no run.
    pub runs: Vec<RunOutcome>,
    pub skipped_as_recorded: usize,
}

/// The de-duplication key of an event: `kind:id:version` (sources that emit these fields).
pub(super) fn event_key(event: &Value) -> Option<String> {
    let kind = event.get("kind")?.as_str()?;
    let id = event.get("id")?.as_str()?;
    let version = event.get("version")?.as_u64()?;
    Some(format!("{kind}:{id}:{version}"))
}

/// What a recorded poll keeps of an event: see [`PollReport::events`].
fn summary(event: &Value) -> Value {
    let fields = ["kind", "id", "version", "title"]
        .into_iter()
        .filter_map(|field| Some((field.to_string(), event.get(field)?.clone())));
    Value::Object(fields.collect())
}

/// Polls `workflow`'s trigger once through `connection` (else the trigger's, else the
/// workflow's).
pub async fn poll_once(
    engine: &Engine,
    triggers: &dyn TriggerStore,
    workflow: Arc<CompiledWorkflow>,
    connection: Option<&str>,
    delivery: Delivery,
) -> Result<PollReport, PollError> {
    let Target {
        key,
        stored,
        source,
    } = target(engine, triggers, &workflow, connection).await?;
    let mut report = PollReport {
        key,
        events: Vec::new(),
        runs: Vec::new(),
        skipped_as_recorded: 0,
    };
    if delivery == Delivery::Preview {
        report.events = source.poll_all(engine).await?.events;
        return Ok(report);
    }
    let workflow = match &report.key.connection {
        Some(connection) => workflow.on_connection(connection),
        None => workflow,
    };
    // Within the workflow's own `concurrency` limit when it has one.
    let at_once = workflow
        .concurrency
        .as_ref()
        .map_or(RUNS_AT_ONCE, |c| c.limit.get() as usize);
    let progress = stored.unwrap_or_else(|| TriggerCursor {
        cursor: Value::Null,
        seen: Vec::new(),
        owed: Vec::new(),
        updated_at: Utc::now(),
    });
    let mut recording = Recording {
        engine,
        runs: Engine {
            // Synced by the progress saves: one sync a run would bound a poll of 10,000
            // events to 10,000 syncs one after the other.
            run_sync: RunSync::ByCaller,
            ..engine.clone()
        },
        triggers,
        recorded_before: progress.seen.iter().cloned().collect(),
        progress,
        unsaved: 0,
        report,
    };
    // The source gets at most one batch of events ahead of the runs.
    let (sink, received) = EventSink::bounded(at_once);
    let polling = async move {
        // The sink goes when the poll ends, which ends the recording.
        let sink = sink;
        source.poll(engine, &sink).await
    };
    let (polled, recorded) = tokio::join!(polling, recording.record(received, &workflow, at_once));
    // A failed recording stops the source (its next event finds no taker): the store's error
    // is the one to report.
    recorded?;
    let cursor = match polled {
        Ok(cursor) => cursor,
        Err(error) => {
            save(triggers, engine, recording.snapshot()).await?;
            return Err(error);
        }
    };
    let Recording {
        progress, report, ..
    } = recording;
    let done = TriggerCursor {
        cursor,
        seen: Vec::new(),
        // Runs a daemon owes on this trigger stay owed.
        owed: progress.owed,
        updated_at: Utc::now(),
    };
    // Written after every run, so the one sync covers the runs with the cursor.
    triggers.put_cursor(&report.key, &done).await?;
    engine.store.flush().await?;
    Ok(report)
}

/// The runs of a poll's events, recorded as the events arrive, and the progress saves.
struct Recording<'e> {
    engine: &'e Engine,
    /// The engine the runs go through: its store leaves syncs to the progress saves.
    runs: Engine,
    triggers: &'e dyn TriggerStore,
    /// The stored trigger state with the keys of the events recorded so far.
    progress: TriggerCursor,
    /// Keys of events whose runs a crashed earlier poll recorded: no second run.
    recorded_before: HashSet<String>,
    /// Keys recorded since the last save of `progress` started.
    unsaved: usize,
    report: PollReport,
}

/// A save of a poll's progress going on.
type Saving<'e> = Pin<Box<dyn Future<Output = Result<(), PollError>> + Send + 'e>>;

impl<'e> Recording<'e> {
    /// Runs the workflow once per event received, `at_once` at a time; outcomes stay in event
    /// order, and so do the progress saves. Takes no event while `at_once` runs go. A save goes
    /// on while the runs do; the next starts after it.
    async fn record(
        &mut self,
        mut received: mpsc::Receiver<Value>,
        workflow: &Arc<CompiledWorkflow>,
        at_once: usize,
    ) -> Result<(), PollError> {
        let runs = self.runs.clone();
        let mut running = FuturesOrdered::new();
        let mut saving: Option<Saving<'e>> = None;
        let mut open = true;
        loop {
            tokio::select! {
                event = received.recv(), if open && running.len() < at_once => {
                    let Some(event) = event else {
                        open = false;
                        continue;
                    };
                    self.report.events.push(summary(&event));
                    let key = event_key(&event);
                    if key.as_ref().is_some_and(|k| self.recorded_before.contains(k)) {
                        self.report.skipped_as_recorded += 1;
                        continue;
                    }
                    let request = RunRequest {
                        trigger: Some(event),
                        ..Default::default()
                    };
                    let run = runs.run(workflow.clone(), request);
                    running.push_back(async move { (run.await, key) });
                }
                Some((outcome, key)) = running.next(), if !running.is_empty() => {
                    self.report.runs.push(outcome);
                    if let Some(key) = key {
                        self.progress.seen.push(key);
                        self.unsaved += 1;
                    }
                }
                Some(saved) = async {
                    match saving.as_mut() {
                        Some(save) => Some(save.await),
                        None => None,
                    }
                }, if saving.is_some() => {
                    saving = None;
                    saved?;
                }
                else => return Ok(()),
            }
            if saving.is_none() && self.unsaved >= PROGRESS_EVERY {
                saving = Some(Box::pin(save(self.triggers, self.engine, self.snapshot())));
            }
        }
    }

    /// The progress to save now: the old cursor with the keys of the events recorded so far.
    fn snapshot(&mut self) -> (TriggerKey, TriggerCursor) {
        self.unsaved = 0;
        self.progress.updated_at = Utc::now();
        (self.report.key.clone(), self.progress.clone())
    }
}

/// Saves a poll's progress and syncs it with the runs recorded before it, so that a poll after
/// a crash skips their events.
async fn save(
    triggers: &dyn TriggerStore,
    engine: &Engine,
    (key, progress): (TriggerKey, TriggerCursor),
) -> Result<(), PollError> {
    triggers.put_cursor(&key, &progress).await?;
    engine.store.flush().await?;
    Ok(())
}

/// A workflow's poll trigger, ready to poll: its key and stored state, and its source.
pub(super) struct Target<'e> {
    pub key: TriggerKey,
    pub stored: Option<TriggerCursor>,
    pub source: SourceCall<'e>,
}

/// One call of a polling source: the source, its rendered settings, the connection and the
/// stored cursor.
pub(super) struct SourceCall<'e> {
    name: String,
    source: &'e Arc<dyn PollSource>,
    settings: Value,
    connection: String,
    cursor: Option<Value>,
}

impl SourceCall<'_> {
    /// Hands the events since the stored cursor to `events`; the new cursor.
    pub(super) async fn poll(
        &self,
        engine: &Engine,
        events: &EventSink,
    ) -> Result<Value, PollError> {
        let cancel = CancellationToken::new();
        let ctx = self.context(engine, &cancel);
        let polled = self
            .source
            .poll(&self.settings, self.cursor.as_ref(), &ctx, events)
            .await;
        polled.map_err(|error| self.failed(error))
    }

    /// Every event since the stored cursor, collected, and the new cursor.
    pub(super) async fn poll_all(&self, engine: &Engine) -> Result<Polled, PollError> {
        let cancel = CancellationToken::new();
        let ctx = self.context(engine, &cancel);
        let polled = poll_all(
            self.source.as_ref(),
            &self.settings,
            self.cursor.as_ref(),
            &ctx,
        )
        .await;
        polled.map_err(|error| self.failed(error))
    }

    fn context<'c>(
        &'c self,
        engine: &'c Engine,
        cancel: &'c CancellationToken,
    ) -> SourceContext<'c> {
        SourceContext {
            source: &self.name,
            connection: Some(&self.connection),
            http: &engine.http,
            tokens: engine.tokens.as_ref(),
            cancel,
        }
    }

    fn failed(&self, error: ActionError) -> PollError {
        PollError::Source {
            source_name: self.name.clone(),
            connection: self.connection.clone(),
            error,
        }
    }
}

/// Finds `workflow`'s poll trigger, its connection, source and stored state.
pub(super) async fn target<'e>(
    engine: &'e Engine,
    triggers: &dyn TriggerStore,
    workflow: &CompiledWorkflow,
    connection: Option<&str>,
) -> Result<Target<'e>, PollError> {
    let path = workflow.path.display().to_string();
    let TriggerPlan::Poll(plan) = &workflow.trigger else {
        let trigger = match workflow.trigger {
            TriggerPlan::Manual => "manual",
            _ => "cron",
        };
        return Err(PollError::NotPolled { path, trigger });
    };
    let connection = match (connection, &plan.connections) {
        (Some(connection), _) => Some(connection.to_string()),
        (None, PollTargets::Named(names)) if names.is_empty() => workflow.connection.clone(),
        (None, targets) => match targets.only() {
            Some(connection) => Some(connection.to_string()),
            None => return Err(PollError::ManyConnections { path }),
        },
    }
    .ok_or(PollError::NoConnection { path: path.clone() })?;
    let source = engine
        .sources
        .get(&plan.source)
        .ok_or_else(|| PollError::UnknownSource(plan.source.clone()))?;
    // The settings may read the polled connection's own (`${{ connection.config.space }}`),
    // as a run's steps do.
    let (connection_value, _) = connection_scope_of(
        Some(&connection),
        &workflow.connection_config,
        engine.tokens.as_ref(),
        false,
    )
    .await
    .map_err(PollError::Settings)?;
    let settings = plan
        .with
        .render(&weft_expr::MapScope::new(Utc::now()).with_root("connection", connection_value))
        .map_err(|e| PollError::Settings(e.to_string()))?;
    let settings = if settings.is_null() {
        Value::Object(Default::default())
    } else {
        settings
    };
    let key = TriggerKey {
        workflow: path,
        trigger: POLL_TRIGGER.to_string(),
        connection: Some(connection.clone()),
    };
    let stored = triggers.cursor(&key).await?;
    let cursor = stored
        .as_ref()
        .map(|s| s.cursor.clone())
        .filter(|c| !c.is_null());
    Ok(Target {
        key,
        stored,
        source: SourceCall {
            name: plan.source.clone(),
            source,
            settings,
            connection,
            cursor,
        },
    })
}
