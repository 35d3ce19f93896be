//! Durable run history behind small async traits, used as trait objects (`Arc<dyn RunStore>`)
//! so a PostgreSQL implementation can replace the embedded one. sled is the embedded default
//! ([`SledRunStore`]); [`MemoryRunStore`] keeps everything in memory (tests, dry tools). Nothing
//! outside this module touches sled.
//!
//! Three traits, each implemented by both stores and checked by [`conformance`]:
//! - [`RunStore`]: runs and step attempts. What resuming an interrupted run needs is kept: the
//!   run record holds the workflow path, its hash, the trigger and the inputs (secrets
//!   redacted; secrets come from the environment again), and
//!   [`RunStore::completed_attempts`] gives every step that finished with its output.
//! - [`TriggerStore`]: for the daemon's triggers. A cursor and de-duplication state per
//!   workflow + trigger + connection ([`TriggerKey`]), and cron fires recorded under a unique
//!   key (workflow, trigger, scheduled instant) with insert-if-absent semantics, so two daemons
//!   (or one restarted) never start the same fire twice.
//! - [`ClaimStore`]: which daemon works on a run, as a lease that must be renewed. Every
//!   operation takes `now` from the caller, so tests move time by hand and never sleep.
//!
//! Durability: writes may be buffered; [`RunStore::flush`] is the sync point. The executor
//! flushes when a run ends, before it reports the run finished.

mod conformance_checks;
mod memory;
mod outbox;
mod records;
mod sled_store;

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use memory::MemoryRunStore;
pub use outbox::{
    DeliveryStatus, OutboundEvent, OutboxStore, RequestKeyRecord, SweepCursor, Swept,
};
pub(crate) use records::Rfc3339;
pub use records::{
    AttemptJson, AttemptRecord, Claim, FireRecord, OwedRun, RunRecord, RunStatus, StepStatus,
    StoredWait, TriggerCursor, TriggerKey, Truncation,
};
pub use sled_store::SledRunStore;

/// The checks every store implementation must pass, run by each implementation's tests.
#[doc(hidden)]
pub mod conformance {
    pub use super::conformance_checks::run_all;
    pub use super::conformance_checks::run_outbox;
    pub use super::conformance_checks::RUNS_OF_RUN_ALL;
}

/// An error of the storage backend (sled today, a database later), kept as the source.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process has the store open. `holder` says who, when it could be read.
    #[error("the run history at {} is in use by another process", path.display())]
    Locked {
        path: PathBuf,
        holder: Option<String>,
    },
    #[error("cannot open the run history at {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: BackendError,
    },
    /// Opening found the files damaged. Nothing was repaired; `copy` is where the files
    /// were copied before opening, when they were.
    #[error("the run history at {} is damaged: {damage}", path.display())]
    Damaged {
        path: PathBuf,
        damage: Damage,
        copy: Option<PathBuf>,
    },
    /// A record found unreadable after opening (a history too big to be read whole then).
    #[error("the run history is damaged: {0}")]
    DamagedRecord(Damage),
    #[error("run history storage failed")]
    Backend(#[source] BackendError),
    #[error("a record could not be encoded")]
    Encode(#[source] serde_json::Error),
    #[error("a stored record is damaged ({key})")]
    Corrupt {
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

/// What an opening found wrong with a history's files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Damage {
    /// Fewer runs than were recorded.
    #[error("{found} runs readable, {expected} recorded")]
    MissingRuns { expected: u64, found: u64 },
    /// The log stops being readable before the end of what was on disk: a record there is
    /// damaged (a crash's torn tail is only ever past that end), and the records from it on
    /// would be lost. `offset`: where, in the `db` file, when known.
    #[error("its log is unreadable from byte {} of `db`, before the end of what was on disk", offset.map_or_else(|| "?".to_string(), |o| o.to_string()))]
    LogCut { offset: Option<u64> },
    /// A record the history still refers to cannot be read.
    #[error("a record at byte {} of `db` is unreadable", offset.map_or_else(|| "?".to_string(), |o| o.to_string()))]
    Unreadable { offset: Option<u64> },
    /// A file of the history other than its log (sled's configuration or snapshot) fails
    /// its checksum or cannot be parsed. `file`: its name in the history's folder.
    #[error("`{file}` is unreadable")]
    File { file: String },
}

impl StoreError {
    /// The message and every cause below it, on one line (for a run's error text).
    pub fn with_causes(&self) -> String {
        weft_action::http_errors::describe_error_chain(self)
    }
}

/// Where runs and step attempts are recorded.
#[async_trait]
pub trait RunStore: Send + Sync {
    async fn put_run(&self, run: &RunRecord) -> Result<(), StoreError>;
    /// Records an attempt; a store that keeps none never has its JSON written.
    async fn put_attempt(&self, attempt: &dyn AttemptJson) -> Result<(), StoreError>;
    /// By id, or by a prefix that matches one run only.
    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError>;
    /// Newest first.
    async fn list_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError>;
    /// Newest first, from the run just older than `before` (a run id, not included) when it
    /// is given: the next page of a listing ends where the previous one did, whatever was
    /// recorded in between. Run ids are ULIDs: their order is the order runs were made in.
    async fn list_runs_before(
        &self,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StoreError>;
    /// In the order they were recorded.
    async fn attempts(&self, run_id: &str) -> Result<Vec<AttemptRecord>, StoreError>;
    /// One page of a run's attempts in recording order (of one step when `step` is given):
    /// `skip` of them passed over, at most `limit` returned, and how many there are in all.
    /// Stores that can should read only the page, not every attempt.
    async fn attempts_page(
        &self,
        run_id: &str,
        step: Option<&str>,
        skip: usize,
        limit: usize,
    ) -> Result<AttemptPage, StoreError> {
        let all = self.attempts(run_id).await?;
        let matching: Vec<AttemptRecord> = all
            .into_iter()
            .filter(|a| step.is_none_or(|s| a.step == s))
            .collect();
        let total = matching.len();
        let attempts = matching.into_iter().skip(skip).take(limit).collect();
        Ok(AttemptPage { attempts, total })
    }
    /// Runs not finished (running, waiting or interrupted), without reading the whole
    /// history: what start-up checks for orphans and what a daemon resumes.
    async fn unfinished_runs(&self) -> Result<Vec<RunRecord>, StoreError>;
    /// Makes everything written so far durable. Writes are batched; this is the sync point.
    async fn flush(&self) -> Result<(), StoreError>;

    /// Where a running run sets aside what it cannot hold in memory (a big loop's item
    /// outputs); `None` when the store has none (then the run keeps such values in memory, up
    /// to a cap).
    fn scratch(&self) -> Option<&dyn ScratchArea> {
        None
    }

    /// The attempts that succeeded, in recording order: with the run record, what resuming an
    /// interrupted run from its last completed step needs.
    async fn completed_attempts(&self, run_id: &str) -> Result<Vec<AttemptRecord>, StoreError> {
        let mut attempts = self.attempts(run_id).await?;
        attempts.retain(|a| a.status == StepStatus::Succeeded);
        Ok(attempts)
    }
}

/// Scratch space of running runs: values written and read back within a run, removed when the
/// run ends (and, for what a stopped process left, when the store is next opened). Not history:
/// nothing here is listed, shown or made durable. Calls are synchronous: they are made while an
/// expression is evaluated, and the embedded store answers from memory and the page cache.
pub trait ScratchArea: Send + Sync {
    fn put(&self, key: &[u8], bytes: &[u8]) -> Result<(), StoreError>;
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Removes every entry whose key starts with `prefix`.
    fn remove_prefix(&self, prefix: &[u8]) -> Result<(), StoreError>;
}

/// A page of a run's attempts (see [`RunStore::attempts_page`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptPage {
    pub attempts: Vec<AttemptRecord>,
    /// Attempts that matched, the page included.
    pub total: usize,
}

/// Trigger state of the daemon: poll cursors and recorded cron fires.
#[async_trait]
pub trait TriggerStore: Send + Sync {
    async fn cursor(&self, key: &TriggerKey) -> Result<Option<TriggerCursor>, StoreError>;
    async fn put_cursor(&self, key: &TriggerKey, cursor: &TriggerCursor) -> Result<(), StoreError>;
    /// Records a cron fire unless one with the same workflow, trigger and scheduled instant is
    /// already recorded: `true` when this call recorded it (the caller then starts the run).
    async fn record_fire(&self, fire: &FireRecord) -> Result<bool, StoreError>;
    /// Fires of one trigger scheduled at or after `since`, oldest first.
    async fn fires_since(
        &self,
        workflow: &str,
        trigger: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<FireRecord>, StoreError>;
    /// Pauses (or resumes) a workflow's triggers, across restarts.
    async fn set_paused(&self, workflow: &str, paused: bool) -> Result<(), StoreError>;
    /// The workflows paused with [`TriggerStore::set_paused`], by name.
    async fn paused_workflows(&self) -> Result<Vec<String>, StoreError>;
    /// The latest recorded fire of one trigger: where the daemon counts missed fires from.
    /// Stores that can should read only that record.
    async fn last_fire(
        &self,
        workflow: &str,
        trigger: &str,
    ) -> Result<Option<FireRecord>, StoreError> {
        let mut fires = self
            .fires_since(workflow, trigger, DateTime::<Utc>::MIN_UTC)
            .await?;
        Ok(fires.pop())
    }
    /// Records a webhook request's `Idempotency-Key` with the run it starts, unless the
    /// workflow already has that key: then the record made first, whose run the caller
    /// answers with instead of starting another.
    async fn record_request_key(
        &self,
        record: &RequestKeyRecord,
    ) -> Result<Option<RequestKeyRecord>, StoreError>;
    /// Forgets a key whose run could not be started, so a repeat of the request starts one.
    async fn forget_request_key(&self, workflow: &str, key: &str) -> Result<(), StoreError>;
}

/// Leases on runs: one owner works on a run until its lease expires.
#[async_trait]
pub trait ClaimStore: Send + Sync {
    /// Claims `run_id` for `owner` until `now + lease`. `None` when another owner holds an
    /// unexpired claim; an expired claim is taken over.
    async fn claim(
        &self,
        run_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Option<Claim>, StoreError>;
    /// Extends a claim still held by its owner; `None` when it was lost (expired and taken,
    /// or released).
    async fn renew(
        &self,
        claim: &Claim,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Option<Claim>, StoreError>;
    /// Gives a claim up; `false` when it was no longer held by its owner.
    async fn release(&self, claim: &Claim) -> Result<bool, StoreError>;
    /// Claims whose lease ended before `now`: runs whose owner stopped.
    async fn expired_claims(&self, now: DateTime<Utc>) -> Result<Vec<Claim>, StoreError>;
}

/// Closes runs left `running` by a process that stopped (crash, `kill -9`) as `interrupted`,
/// so history never shows a run going on forever; their records stay, for resuming. Call it
/// right after opening a store that only this process can open (sled's lock): every run still
/// marked running is then orphaned. A run closed so ends when it was last known to run: the
/// end of its last recorded attempt, or its start (not when it was found, maybe days later).
pub async fn close_interrupted_runs<S: RunStore + ?Sized>(store: &S) -> Result<usize, StoreError> {
    let mut orphans = store.unfinished_runs().await?;
    // A waiting run is parked on purpose (no process holds it); an interrupted one is closed.
    orphans.retain(|run| run.status == RunStatus::Running);
    for mut run in orphans.iter().cloned() {
        run.status = RunStatus::Interrupted;
        run.error = Some(match run.pid {
            Some(pid) => format!("the weft process (pid {pid}) stopped before the run finished"),
            None => "the weft process stopped before the run finished".to_string(),
        });
        run.finished_at = Some(last_known_activity(store, &run).await?);
        store.put_run(&run).await?;
    }
    if !orphans.is_empty() {
        store.flush().await?;
    }
    Ok(orphans.len())
}

/// The end of `run`'s last recorded attempt (attempts are recorded as they end), or its start.
async fn last_known_activity<S: RunStore + ?Sized>(
    store: &S,
    run: &RunRecord,
) -> Result<DateTime<Utc>, StoreError> {
    let total = store.attempts_page(&run.id, None, 0, 0).await?.total;
    let last = match total.checked_sub(1) {
        Some(last) => store.attempts_page(&run.id, None, last, 1).await?.attempts,
        None => Vec::new(),
    };
    let ended = last.first().map(|attempt| {
        let took = i64::try_from(attempt.duration_us).unwrap_or(i64::MAX);
        attempt.started_at + chrono::Duration::microseconds(took)
    });
    Ok(ended.map_or(run.started_at, |ended| ended.max(run.started_at)))
}

/// A store that keeps nothing: dry runs and benchmarks of the bare engine.
pub struct NoStore;

#[async_trait]
impl RunStore for NoStore {
    async fn put_run(&self, _: &RunRecord) -> Result<(), StoreError> {
        Ok(())
    }
    async fn put_attempt(&self, _: &dyn AttemptJson) -> Result<(), StoreError> {
        Ok(())
    }
    async fn get_run(&self, _: &str) -> Result<Option<RunRecord>, StoreError> {
        Ok(None)
    }
    async fn list_runs(&self, _: usize) -> Result<Vec<RunRecord>, StoreError> {
        Ok(Vec::new())
    }
    async fn list_runs_before(
        &self,
        _: Option<&str>,
        _: usize,
    ) -> Result<Vec<RunRecord>, StoreError> {
        Ok(Vec::new())
    }
    async fn attempts(&self, _: &str) -> Result<Vec<AttemptRecord>, StoreError> {
        Ok(Vec::new())
    }
    async fn unfinished_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        Ok(Vec::new())
    }
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
