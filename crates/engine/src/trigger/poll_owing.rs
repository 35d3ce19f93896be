//! One poll for the daemon: the runs of the new events are not run here but owed. Each owed
//! run gets its id when its event arrives and is saved, synced, before the caller is handed it
//! to submit; an owed run stays in the trigger state until a run of that id is recorded (or its
//! submission was refused), so a crash between the poll and the runs' start loses no event, and
//! a run is never started twice: its id is fixed.
//!
//! The events stream through in batches of [`OWED_AT_ONCE`]: each batch is saved as owed with
//! the OLD cursor, then handed over, and the owed runs recorded by then are replaced by their
//! event keys (`seen`), as [`super::poll_once`] saves its progress. The new cursor is saved
//! only after the last batch. A crash (or a source failing midway) leaves the old cursor with
//! every delivered event owed or seen: the next poll finds those events again and drops them.

use std::collections::HashSet;

use chrono::Utc;
use serde_json::Value;
use tokio::sync::mpsc;
use weft_action::EventSink;

use super::poll::{event_key, target, PollError, Target};
use crate::exec::{new_run_id, Engine};
use crate::store::{OwedRun, TriggerCursor, TriggerKey, TriggerStore};
use crate::workflow::CompiledWorkflow;

/// How many events a daemon's poll saves as owed and hands over at once; the source waits
/// while a batch is saved.
pub const OWED_AT_ONCE: usize = 256;

/// What one owing poll did.
#[derive(Debug)]
pub struct OwingReport {
    pub key: TriggerKey,
    /// Events the source reported that became owed runs.
    pub new_events: usize,
    /// Events already owed or recorded (a source repeating its last events).
    pub repeated: usize,
    /// The ids of the runs still owed on this trigger when the poll ended: this poll's and
    /// earlier ones' whose run is not recorded yet.
    pub owed: HashSet<String>,
}

/// Polls `workflow`'s trigger through `connection`, handing `owe` each run owed: first those
/// earlier polls still owe, then one per new event, each only once it is saved (synced) with
/// the trigger state. Owed runs that are recorded by now, or whose id is in `settled` (the
/// caller's submission was refused or dropped), are no longer owed.
pub async fn poll_owing(
    engine: &Engine,
    triggers: &dyn TriggerStore,
    workflow: &CompiledWorkflow,
    connection: &str,
    settled: &HashSet<String>,
    owe: &mut (dyn FnMut(OwedRun) + Send),
) -> Result<OwingReport, PollError> {
    let Target {
        key,
        stored,
        source,
    } = target(engine, triggers, workflow, Some(connection)).await?;
    let mut progress = stored.unwrap_or_else(|| TriggerCursor {
        cursor: Value::Null,
        seen: Vec::new(),
        owed: Vec::new(),
        updated_at: Utc::now(),
    });
    // Earlier owed runs that are recorded or settled are owed no more; their keys stay, for
    // the stored cursor may be the old one of a poll that failed midway.
    let earlier = std::mem::take(&mut progress.owed);
    for run in earlier {
        if !settled.contains(&run.run_id) && engine.store.get_run(&run.run_id).await?.is_none() {
            progress.owed.push(run);
        } else if let Some(key) = event_key(&run.event) {
            progress.seen.push(key);
        }
    }
    for run in &progress.owed {
        owe(run.clone());
    }
    let mut owing = Owing {
        engine,
        triggers,
        // Keys of events already delivered: recorded by an interrupted poll (`seen`), or owed.
        delivered: progress
            .seen
            .iter()
            .cloned()
            .chain(progress.owed.iter().filter_map(|run| event_key(&run.event)))
            .collect(),
        progress,
        report: OwingReport {
            key,
            new_events: 0,
            repeated: 0,
            owed: HashSet::new(),
        },
    };
    let (sink, received) = EventSink::bounded(OWED_AT_ONCE);
    let polling = async move {
        // The sink goes when the poll ends, which ends the owing.
        let sink = sink;
        source.poll(engine, &sink).await
    };
    let (polled, owed) = tokio::join!(polling, owing.take(received, owe));
    // A failed save stops the source (its next event finds no taker): the store's error is
    // the one to report. A failed source leaves what it delivered saved, with the old cursor.
    owed?;
    let cursor = polled?;
    let Owing {
        progress,
        mut report,
        ..
    } = owing;
    let done = TriggerCursor {
        cursor,
        seen: Vec::new(),
        owed: progress.owed,
        updated_at: Utc::now(),
    };
    triggers.put_cursor(&report.key, &done).await?;
    engine.store.flush().await?;
    report.owed = done.owed.into_iter().map(|run| run.run_id).collect();
    Ok(report)
}

/// The runs owed for a poll's events, saved batch by batch with the old cursor.
struct Owing<'e> {
    engine: &'e Engine,
    triggers: &'e dyn TriggerStore,
    /// The stored trigger state: the old cursor, the keys of events whose runs are recorded,
    /// the runs still owed.
    progress: TriggerCursor,
    delivered: HashSet<String>,
    report: OwingReport,
}

impl Owing<'_> {
    /// Takes the events in batches of [`OWED_AT_ONCE`]: each new one becomes an owed run, the
    /// batch is saved, then handed to `owe`.
    async fn take(
        &mut self,
        mut received: mpsc::Receiver<Value>,
        owe: &mut (dyn FnMut(OwedRun) + Send),
    ) -> Result<(), PollError> {
        let mut batch = Vec::with_capacity(OWED_AT_ONCE);
        loop {
            let room = OWED_AT_ONCE - batch.len();
            let open = received.recv_many(&mut batch, room).await > 0;
            // A batch is saved when full, or when the source has finished.
            if open && batch.len() < OWED_AT_ONCE {
                continue;
            }
            let fresh = self.owe_new(std::mem::take(&mut batch));
            if !fresh.is_empty() {
                self.save().await?;
                fresh.into_iter().for_each(&mut *owe);
            }
            if !open {
                return Ok(());
            }
        }
    }

    /// The owed runs of the new events of `events` (also added to the progress).
    fn owe_new(&mut self, events: Vec<Value>) -> Vec<OwedRun> {
        let mut fresh = Vec::new();
        for event in events {
            if event_key(&event).is_some_and(|key| !self.delivered.insert(key)) {
                self.report.repeated += 1;
                continue;
            }
            self.report.new_events += 1;
            let run = OwedRun {
                run_id: new_run_id(),
                event,
            };
            self.progress.owed.push(run.clone());
            fresh.push(run);
        }
        fresh
    }

    /// Saves the progress (synced), owed runs recorded by now kept as their event's key only,
    /// so that what is saved stays about as large as the runs not started yet.
    async fn save(&mut self) -> Result<(), PollError> {
        let mut owed = Vec::with_capacity(self.progress.owed.len());
        for run in std::mem::take(&mut self.progress.owed) {
            if self.engine.store.get_run(&run.run_id).await?.is_none() {
                owed.push(run);
            } else if let Some(key) = event_key(&run.event) {
                self.progress.seen.push(key);
            }
        }
        self.progress.owed = owed;
        self.progress.updated_at = Utc::now();
        self.triggers
            .put_cursor(&self.report.key, &self.progress)
            .await?;
        self.engine.store.flush().await?;
        Ok(())
    }
}
