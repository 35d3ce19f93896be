//! Durable run history behind a small trait. sled is the embedded default; nothing outside
//! this module touches sled.

mod records;
mod sled_store;

pub use records::{AttemptRecord, RunRecord, RunStatus, StepStatus, Truncation};
pub use sled_store::SledRunStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the run history at {path} is in use by another weft process (only one may open it at a time)")]
    Locked { path: String },
    #[error("cannot open the run history at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("run history storage failed: {0}")]
    Storage(String),
    #[error("a stored record is damaged ({key}): {reason}")]
    Corrupt { key: String, reason: String },
}

/// Where runs and step attempts are recorded.
pub trait RunStore: Send + Sync {
    fn put_run(&self, run: &RunRecord) -> Result<(), StoreError>;
    fn put_attempt(&self, attempt: &AttemptRecord) -> Result<(), StoreError>;
    fn get_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError>;
    /// Newest first.
    fn list_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError>;
    /// In the order they were recorded.
    fn attempts(&self, run_id: &str) -> Result<Vec<AttemptRecord>, StoreError>;
    /// One page of a run's attempts in recording order (of one step when `step` is given):
    /// `skip` of them passed over, at most `limit` returned, and how many there are in all.
    /// Stores that can should read only the page, not every attempt.
    fn attempts_page(
        &self,
        run_id: &str,
        step: Option<&str>,
        skip: usize,
        limit: usize,
    ) -> Result<AttemptPage, StoreError> {
        let all = self.attempts(run_id)?;
        let matching: Vec<AttemptRecord> = all
            .into_iter()
            .filter(|a| step.is_none_or(|s| a.step == s))
            .collect();
        let total = matching.len();
        let attempts = matching.into_iter().skip(skip).take(limit).collect();
        Ok(AttemptPage { attempts, total })
    }
    /// Runs still marked running, without reading the whole history.
    fn running_runs(&self) -> Result<Vec<RunRecord>, StoreError>;
    /// Makes everything written so far durable. Writes are batched; this is the sync point.
    fn flush(&self) -> Result<(), StoreError>;
}

/// A page of a run's attempts (see [`RunStore::attempts_page`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptPage {
    pub attempts: Vec<AttemptRecord>,
    /// Attempts that matched, the page included.
    pub total: usize,
}

/// Closes runs left `running` by a process that stopped (crash, `kill -9`) as failed, so
/// history never shows a run going on forever. Call it right after opening a store that only
/// this process can open (sled's lock): every run still marked running is then orphaned.
pub fn close_interrupted_runs(store: &dyn RunStore) -> Result<usize, StoreError> {
    let orphans = store.running_runs()?;
    for mut run in orphans.iter().cloned() {
        run.status = RunStatus::Failed;
        run.error = Some(match run.pid {
            Some(pid) => {
                format!("interrupted: the weft process (pid {pid}) stopped before the run finished")
            }
            None => "interrupted: the weft process stopped before the run finished".to_string(),
        });
        run.finished_at = Some(chrono::Utc::now());
        store.put_run(&run)?;
    }
    if !orphans.is_empty() {
        store.flush()?;
    }
    Ok(orphans.len())
}

/// A store that keeps nothing: dry runs and benchmarks of the bare engine.
pub struct NoStore;

impl RunStore for NoStore {
    fn put_run(&self, _: &RunRecord) -> Result<(), StoreError> {
        Ok(())
    }
    fn put_attempt(&self, _: &AttemptRecord) -> Result<(), StoreError> {
        Ok(())
    }
    fn get_run(&self, _: &str) -> Result<Option<RunRecord>, StoreError> {
        Ok(None)
    }
    fn list_runs(&self, _: usize) -> Result<Vec<RunRecord>, StoreError> {
        Ok(Vec::new())
    }
    fn attempts(&self, _: &str) -> Result<Vec<AttemptRecord>, StoreError> {
        Ok(Vec::new())
    }
    fn running_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        Ok(Vec::new())
    }
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
