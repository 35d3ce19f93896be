//! One poll of a workflow's `trigger: poll`: the source finds events since the stored cursor,
//! one run is recorded per event, and only then does the cursor advance.
//!
//! Crash safety: the cursor and the source's de-duplication state live in the run store per
//! (workflow, trigger, connection). While the runs of a poll are recorded, the keys of the events
//! already recorded are saved with the OLD cursor every [`PROGRESS_EVERY`] runs; a poll after a
//! crash finds the same events again and skips those keys. At most the events of one poll are
//! delivered again, and at most [`PROGRESS_EVERY`] plus the runs going at once
//! ([`RUNS_AT_ONCE`], or the workflow's `concurrency`) start a second run.
//!
//! Speed: the runs of a poll go side by side, so the store's group commit makes those that
//! finish together share one sync; each run is still on disk before it counts as done.

use std::sync::Arc;

use chrono::Utc;
use futures::stream::{self, StreamExt};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use weft_action::{ActionError, Polled, SourceContext};

use crate::exec::{Engine, RunOutcome, RunRequest};
use crate::store::{StoreError, TriggerCursor, TriggerKey, TriggerStore};
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
    /// The new events, oldest first.
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

/// Polls `workflow`'s trigger once through `connection` (else the trigger's, else the
/// workflow's).
pub async fn poll_once(
    engine: &Engine,
    triggers: &dyn TriggerStore,
    workflow: Arc<CompiledWorkflow>,
    connection: Option<&str>,
    delivery: Delivery,
) -> Result<PollReport, PollError> {
    let Fetched {
        key,
        stored,
        polled,
    } = fetch(engine, triggers, &workflow, connection).await?;
    let workflow = match &key.connection {
        Some(connection) => workflow.on_connection(connection),
        None => workflow,
    };
    let mut report = PollReport {
        key,
        events: polled.events,
        runs: Vec::new(),
        skipped_as_recorded: 0,
    };
    if delivery == Delivery::Preview {
        return Ok(report);
    }
    let mut progress = stored.unwrap_or_else(|| TriggerCursor {
        cursor: Value::Null,
        seen: Vec::new(),
        owed: Vec::new(),
        updated_at: Utc::now(),
    });
    let recorded_before: std::collections::HashSet<String> =
        progress.seen.iter().cloned().collect();
    let fresh: Vec<(&Value, Option<String>)> = report
        .events
        .iter()
        .map(|event| (event, event_key(event)))
        .filter(|(_, key)| !key.as_ref().is_some_and(|k| recorded_before.contains(k)))
        .collect();
    report.skipped_as_recorded = report.events.len() - fresh.len();
    // Within the workflow's own `concurrency` limit when it has one; outcomes stay in event
    // order, and so do the progress saves.
    let at_once = workflow
        .concurrency
        .as_ref()
        .map_or(RUNS_AT_ONCE, |c| c.limit.get() as usize);
    let mut runs = stream::iter(fresh.into_iter().map(|(event, key)| {
        let request = RunRequest {
            trigger: Some(event.clone()),
            ..Default::default()
        };
        let run = engine.run(workflow.clone(), request);
        async move { (run.await, key) }
    }))
    .buffered(at_once);
    let mut unsaved = 0;
    while let Some((outcome, key)) = runs.next().await {
        report.runs.push(outcome);
        if let Some(key) = key {
            progress.seen.push(key);
            unsaved += 1;
        }
        if unsaved == PROGRESS_EVERY {
            unsaved = 0;
            progress.updated_at = Utc::now();
            triggers.put_cursor(&report.key, &progress).await?;
            engine.store.flush().await?;
        }
    }
    drop(runs);
    let done = TriggerCursor {
        cursor: polled.cursor,
        seen: Vec::new(),
        // Runs a daemon owes on this trigger stay owed.
        owed: progress.owed,
        updated_at: Utc::now(),
    };
    triggers.put_cursor(&report.key, &done).await?;
    engine.store.flush().await?;
    Ok(report)
}

/// What a source found since the stored cursor, before anything is delivered.
pub(super) struct Fetched {
    pub key: TriggerKey,
    pub stored: Option<TriggerCursor>,
    pub polled: Polled,
}

/// Asks the source of `workflow`'s poll trigger for the events since the stored cursor.
pub(super) async fn fetch(
    engine: &Engine,
    triggers: &dyn TriggerStore,
    workflow: &CompiledWorkflow,
    connection: Option<&str>,
) -> Result<Fetched, PollError> {
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
    let settings = plan
        .with
        .render(&weft_expr::MapScope::new(Utc::now()))
        .map_err(|e| PollError::Settings(e.to_string()))?;
    let settings = if settings.is_null() {
        Value::Object(Default::default())
    } else {
        settings
    };
    let key = TriggerKey {
        workflow: path.clone(),
        trigger: POLL_TRIGGER.to_string(),
        connection: Some(connection.clone()),
    };
    let stored = triggers.cursor(&key).await?;
    let cancel = CancellationToken::new();
    let ctx = SourceContext {
        source: &plan.source,
        connection: Some(&connection),
        http: &engine.http,
        tokens: engine.tokens.as_ref(),
        cancel: &cancel,
    };
    let polled = source
        .poll(
            &settings,
            stored.as_ref().map(|s| &s.cursor).filter(|c| !c.is_null()),
            &ctx,
        )
        .await
        .map_err(|error| PollError::Source {
            source_name: plan.source.clone(),
            connection: connection.clone(),
            error,
        })?;
    Ok(Fetched {
        key,
        stored,
        polled,
    })
}
