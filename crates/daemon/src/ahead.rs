//! Cron fires made owed ahead of their instant, so that at the instant nothing is synced: the
//! runs are only submitted (10,000 workflows on one minute: recording and syncing 10,000 fires
//! at the instant made the last of them seconds late; syncing one mark there, 17 to 64 ms).
//!
//! A fire due within [`RECORD_AHEAD`] is recorded with its run's id and synced before its
//! instant ("armed"). Shortly before the instant (the scheduler's `GATHER_AHEAD`, 750 ms) the
//! scheduler records the fires of that instant not armed yet, notes the armed fires it drops,
//! and writes the mark "reached T" (a cursor of the trigger store), T being the instant; it
//! syncs once, waits for T and submits the runs. When it wakes after an instant (late, or the
//! clock jumped) it does the same at once with T = now. The mark says: every fire recorded for
//! an instant up to T is owed a run, whether its run was submitted or not. Why the guarantees
//! hold:
//!
//! - A fire is never run twice: an armed fire is recorded under its unique key like any other,
//!   so no later fire of the same instant is recorded again; a restart takes up an armed fire
//!   by that record (its run's id) instead of recording it anew.
//! - A fire is never lost: its run is submitted only after its record and the mark are synced,
//!   and once the mark is synced the next start owes the fire a run (`recovery` starts it,
//!   flagged `recovered`) when none was recorded, also when the process died in the last
//!   750 ms before the instant, whatever `missed` says: `missed` is about instants the daemon
//!   never marked reached. A clean stop in those 750 ms marks the clock reached instead (the
//!   scheduler's `unreach`): the instant's fires are then unreached, below.
//! - A fire is never started before its instant: a start that finds the mark ahead of the
//!   clock (the process stopped within 750 ms of T and came back before T) waits for T before
//!   it takes anything up ([`wait_for_mark`]).
//! - A fire recorded ahead whose instant was not marked reached is not a run owed: it is
//!   *unreached* when it was recorded before its instant (`recorded_at < scheduled_at`) and the
//!   durable mark is before its instant. No run of it was submitted. So the start (recovery)
//!   never starts it, and the scheduler counts missed fires from just before it: it is missed
//!   like any fire of the downtime, run or not as `missed` says, under its recorded run id when
//!   it runs, and noted dropped when it does not (then no later start takes it for an
//!   unstarted fire).
//! - A fire recorded at or after its instant (the old way: due at start, after a reload, or
//!   when the scheduler woke too late to arm it) is reached whatever the mark says.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;
use weft_engine::store::{FireRecord, StoreError, TriggerCursor, TriggerKey, TriggerStore};

use crate::clock::{self, Clock};
use crate::scheduler::{CRON_TRIGGER, DROPPED_CRON_FIRES};

/// How long before its instant a fire is recorded and synced. Long enough for the records of
/// a whole minute's fires to be on disk before the instant on a busy machine (10,000 took 0.1
/// to 0.3 s, once 2.9 s on a shared disk); a fire armed late is just submitted later.
pub(crate) const RECORD_AHEAD: chrono::Duration = chrono::Duration::seconds(5);

/// Where the mark is kept: no workflow has an empty name, so no trigger's cursor is here.
fn mark_key() -> TriggerKey {
    TriggerKey {
        workflow: String::new(),
        trigger: "cron/reached".to_string(),
        connection: None,
    }
}

/// The latest instant the scheduler marked reached (see the module docs); `None` before the
/// first.
pub(crate) async fn reached(
    triggers: &dyn TriggerStore,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let cursor = triggers.cursor(&mark_key()).await?;
    Ok(cursor.and_then(|cursor| match cursor.cursor {
        Value::String(at) => DateTime::parse_from_rfc3339(&at)
            .ok()
            .map(|at| at.with_timezone(&Utc)),
        _ => None,
    }))
}

/// Marks `now` reached; durable with the caller's next sync, which comes before any run of a
/// fire at or before `now` is submitted (and, when `now` is still ahead, before `now`).
pub async fn mark_reached(
    triggers: &dyn TriggerStore,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let cursor = TriggerCursor {
        cursor: Value::String(now.to_rfc3339()),
        seen: Vec::new(),
        owed: Vec::new(),
        updated_at: now,
    };
    triggers.put_cursor(&mark_key(), &cursor).await
}

/// How far ahead of the clock a mark is taken for the scheduler's own (made `GATHER_AHEAD`
/// before its instant); a mark further ahead means the wall clock was set back, and is not
/// waited for.
const MARK_AHEAD_AT_MOST: chrono::Duration = chrono::Duration::seconds(1);

/// Waits until `clock` reaches the instant last marked reached, when the mark is ahead of it
/// (see the module docs): the fires it made owed are then taken up at or after their instant.
pub(crate) async fn wait_for_mark(
    triggers: &dyn TriggerStore,
    clock: &dyn Clock,
) -> Result<(), StoreError> {
    let Some(mark) = reached(triggers).await? else {
        return Ok(());
    };
    let ahead = mark - clock.now();
    if ahead > MARK_AHEAD_AT_MOST {
        tracing::warn!(
            "the cron scheduler marked {mark} reached, {} s ahead of the clock: the clock was set back; the fires it made owed are taken up now",
            ahead.num_seconds()
        );
    } else if ahead > chrono::Duration::zero() {
        clock::reach(clock, mark).await;
    }
    Ok(())
}

/// Was `fire` recorded ahead of an instant the scheduler never durably reached? Then no run
/// of it was submitted.
pub(crate) fn unreached(fire: &FireRecord, reached: Option<DateTime<Utc>>) -> bool {
    fire.recorded_at < fire.scheduled_at
        && reached.is_none_or(|reached| fire.scheduled_at > reached)
}

/// The recorded cron fires of `workflow` scheduled at or after `since` that are owed a run:
/// not dropped on purpose (by the gate, or recorded ahead and not run), and not recorded ahead
/// of an instant the daemon never reached. Each has, or will have at the next start, one run.
pub async fn owed_fires(
    triggers: &dyn TriggerStore,
    workflow: &str,
    since: DateTime<Utc>,
) -> Result<Vec<FireRecord>, StoreError> {
    let reached = reached(triggers).await?;
    let dropped: HashSet<DateTime<Utc>> = triggers
        .fires_since(workflow, DROPPED_CRON_FIRES, since)
        .await?
        .into_iter()
        .map(|fire| fire.scheduled_at)
        .collect();
    let mut fires = triggers.fires_since(workflow, CRON_TRIGGER, since).await?;
    fires.retain(|fire| !dropped.contains(&fire.scheduled_at) && !unreached(fire, reached));
    Ok(fires)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::Path;
    use std::sync::Arc;
    use weft_engine::store::{MemoryRunStore, RunStore};
    use weft_engine::workflow::load_bytes;

    use crate::dispatch::Dispatcher;
    use crate::recovery::recover;
    use crate::workflows::WorkflowSet;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn fire(scheduled: &str, recorded: &str) -> FireRecord {
        FireRecord {
            workflow: "w".into(),
            trigger: "cron".into(),
            scheduled_at: utc(scheduled),
            run_id: Some("r".into()),
            recorded_at: utc(recorded),
        }
    }

    #[tokio::test]
    async fn the_mark_is_read_back() {
        let store = MemoryRunStore::default();
        assert_eq!(reached(&store).await.unwrap(), None);
        mark_reached(&store, utc("2026-01-05T09:01:00.004Z"))
            .await
            .unwrap();
        assert_eq!(
            reached(&store).await.unwrap(),
            Some(utc("2026-01-05T09:01:00.004Z"))
        );
    }

    #[test]
    fn only_a_fire_recorded_ahead_of_an_instant_never_reached_is_unreached() {
        let mark = Some(utc("2026-01-05T09:00:00.003Z"));
        let ahead = fire("2026-01-05T09:01:00Z", "2026-01-05T09:00:58Z");
        assert!(unreached(&ahead, mark), "armed, and its instant never came");
        assert!(unreached(&ahead, None), "armed before any mark");
        assert!(
            !unreached(&ahead, Some(utc("2026-01-05T09:01:00Z"))),
            "the mark at its instant was synced before its run was submitted"
        );
        let at_its_instant = fire("2026-01-05T09:01:00Z", "2026-01-05T09:01:00.002Z");
        assert!(
            !unreached(&at_its_instant, mark),
            "recorded at or after its instant: reached, whatever the mark"
        );
    }

    #[tokio::test]
    async fn owed_fires_leave_out_the_dropped_and_the_unreached() {
        let store = MemoryRunStore::default();
        let on_time = fire("2026-01-05T09:00:00Z", "2026-01-05T09:00:00.002Z");
        let dropped = fire("2026-01-05T09:01:00Z", "2026-01-05T09:00:58Z");
        let unreached = fire("2026-01-05T09:02:00Z", "2026-01-05T09:01:58Z");
        for fire in [&on_time, &dropped, &unreached] {
            assert!(store.record_fire(fire).await.unwrap());
        }
        let note = FireRecord {
            trigger: DROPPED_CRON_FIRES.into(),
            ..dropped.clone()
        };
        assert!(store.record_fire(&note).await.unwrap());
        mark_reached(&store, utc("2026-01-05T09:01:00.003Z"))
            .await
            .unwrap();
        let owed = owed_fires(&store, "w", DateTime::<Utc>::MIN_UTC)
            .await
            .unwrap();
        assert_eq!(owed, [on_time]);
    }

    #[tokio::test]
    async fn the_start_owes_an_armed_fire_only_once_the_mark_reached_its_instant() {
        let store = Arc::new(MemoryRunStore::default());
        let engine = weft_runtime::Runtime::new()
            .unwrap()
            .engine(store.clone(), Arc::new(weft_runtime::action::NoTokens));
        let yaml = "name: w\ntrigger:\n  cron:\n    schedule: \"* * * * *\"\nsteps:\n  - {id: s, uses: core.set, with: {n: 1}}\n";
        let workflow = match load_bytes(Path::new("w.yaml"), yaml.as_bytes(), engine.catalog()) {
            Ok(loaded) => loaded.workflow,
            Err(problems) => panic!("{}", problems.render()),
        };
        let dispatcher = Dispatcher::new(engine, WorkflowSet::new([workflow]), HashMap::new());
        let armed = fire("2026-01-05T09:01:00Z", "2026-01-05T09:00:58Z");
        assert!(store.record_fire(&armed).await.unwrap());

        // The process stopped after marking 09:00:00 and before 09:01:00.
        mark_reached(store.as_ref(), utc("2026-01-05T09:00:00.003Z"))
            .await
            .unwrap();
        let (recovered, _) = recover(&dispatcher, store.as_ref(), 3).await.unwrap();
        assert_eq!(recovered.unstarted_fires, 0, "its instant never came");
        assert!(store.get_run("r").await.unwrap().is_none());

        // It stopped after marking 09:01:00: the run may have been submitted (and may have
        // acted), so it is owed, and started once as a resume.
        mark_reached(store.as_ref(), utc("2026-01-05T09:01:00.002Z"))
            .await
            .unwrap();
        let (recovered, _) = recover(&dispatcher, store.as_ref(), 3).await.unwrap();
        assert_eq!(recovered.unstarted_fires, 1);
        dispatcher.shutdown(std::time::Duration::from_secs(5)).await;
        let run = store.get_run("r").await.unwrap().expect("started");
        assert_eq!(run.trigger["recovered"], true);
    }
}
