//! One poll for the daemon: the runs of the new events are not run here but owed. Each owed
//! run gets its id now and is saved with the new cursor in one synced write; the daemon then
//! submits the owed runs to its dispatcher. An owed run stays in the trigger state until a run
//! of that id is recorded (or its submission was refused), so a crash between the poll and the
//! runs' start loses no event, and a run is never started twice: its id is fixed.

use std::collections::HashSet;

use chrono::Utc;

use super::poll::{event_key, target, PollError, Target};
use crate::exec::{new_run_id, Engine};
use crate::store::{OwedRun, TriggerCursor, TriggerKey, TriggerStore};
use crate::workflow::CompiledWorkflow;

/// What one owing poll did.
#[derive(Debug)]
pub struct OwingReport {
    pub key: TriggerKey,
    /// Events the source reported that became owed runs.
    pub new_events: usize,
    /// Events already owed or recorded (a source repeating its last events).
    pub repeated: usize,
    /// Every run still owed on this trigger, oldest first: this poll's and earlier ones' whose
    /// run is not recorded yet.
    pub owed: Vec<OwedRun>,
}

/// Polls `workflow`'s trigger through `connection`; saves (synced) the new cursor with a run
/// owed per new event. Owed runs that are recorded by now, or whose id is in `settled` (the
/// caller's submission was refused or dropped), are no longer owed.
pub async fn poll_owing(
    engine: &Engine,
    triggers: &dyn TriggerStore,
    workflow: &CompiledWorkflow,
    connection: &str,
    settled: &HashSet<String>,
) -> Result<OwingReport, PollError> {
    let Target {
        key,
        stored,
        source,
    } = target(engine, triggers, workflow, Some(connection)).await?;
    let polled = source.poll_all(engine).await?;
    let (seen, earlier) = stored.map(|s| (s.seen, s.owed)).unwrap_or_default();
    let mut owed = Vec::with_capacity(earlier.len() + polled.events.len());
    for run in earlier {
        if settled.contains(&run.run_id) || engine.store.get_run(&run.run_id).await?.is_some() {
            continue;
        }
        owed.push(run);
    }
    // Keys of events already delivered: recorded by an interrupted `weft triggers poll`
    // (`seen`), or owed.
    let mut delivered: HashSet<String> = seen.into_iter().collect();
    delivered.extend(owed.iter().filter_map(|run| event_key(&run.event)));
    let mut report = OwingReport {
        key,
        new_events: 0,
        repeated: 0,
        owed: Vec::new(),
    };
    for event in polled.events {
        let repeated = event_key(&event).is_some_and(|key| !delivered.insert(key));
        match repeated {
            true => report.repeated += 1,
            false => {
                report.new_events += 1;
                owed.push(OwedRun {
                    run_id: new_run_id(),
                    event,
                });
            }
        }
    }
    let cursor = TriggerCursor {
        cursor: polled.cursor,
        seen: Vec::new(),
        owed,
        updated_at: Utc::now(),
    };
    triggers.put_cursor(&report.key, &cursor).await?;
    engine.store.flush().await?;
    report.owed = cursor.owed;
    Ok(report)
}
