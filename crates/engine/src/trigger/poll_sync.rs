//! The run history as the runs of one `poll_once` see it: everything goes to the store, but a
//! run's sync at its end is left to the poll, which syncs when it saves its progress (every
//! [`super::PROGRESS_EVERY`] runs) and at its end. A sync costs milliseconds on a real disk and
//! only 16 runs go at once, so one sync per run would bound a poll of 10,000 events to 625
//! syncs one after the other; the poll's own saves are what make its runs count as recorded.

use std::sync::Arc;

use async_trait::async_trait;

use crate::store::{
    AttemptJson, AttemptPage, AttemptRecord, RunRecord, RunStore, ScratchArea, StoreError,
};

/// `store`, with `flush` left to the poll (see the module's doc).
pub(super) struct SyncedByPoll(pub Arc<dyn RunStore>);

#[async_trait]
impl RunStore for SyncedByPoll {
    async fn put_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        self.0.put_run(run).await
    }

    async fn put_attempt(&self, attempt: &dyn AttemptJson) -> Result<(), StoreError> {
        self.0.put_attempt(attempt).await
    }

    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        self.0.get_run(id).await
    }

    async fn list_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        self.0.list_runs(limit).await
    }

    async fn list_runs_before(
        &self,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StoreError> {
        self.0.list_runs_before(before, limit).await
    }

    async fn attempts(&self, run_id: &str) -> Result<Vec<AttemptRecord>, StoreError> {
        self.0.attempts(run_id).await
    }

    async fn attempts_page(
        &self,
        run_id: &str,
        step: Option<&str>,
        skip: usize,
        limit: usize,
    ) -> Result<AttemptPage, StoreError> {
        self.0.attempts_page(run_id, step, skip, limit).await
    }

    async fn unfinished_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        self.0.unfinished_runs().await
    }

    /// Left to the poll.
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn scratch(&self) -> Option<&dyn ScratchArea> {
        self.0.scratch()
    }

    async fn completed_attempts(&self, run_id: &str) -> Result<Vec<AttemptRecord>, StoreError> {
        self.0.completed_attempts(run_id).await
    }
}
