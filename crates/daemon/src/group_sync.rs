//! Group commit for the daemon's own records (webhook keys, outbound events): callers that
//! need their writes on disk wait for one store flush together instead of one flush each.
//! While a flush runs, new callers gather; the next flush covers them all.

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::oneshot;
use weft_engine::store::{RunStore, StoreError};

type Waiter = oneshot::Sender<Result<(), Arc<StoreError>>>;

/// Cheap to clone (shared).
#[derive(Clone)]
pub struct GroupSync {
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn RunStore>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    waiting: Vec<Waiter>,
    /// A task is flushing and will take the waiting callers next.
    flushing: bool,
}

/// The flush failed, or the flushing task ended before saying.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the store could not be synced")]
pub struct SyncError(#[source] pub Option<Arc<StoreError>>);

impl GroupSync {
    pub fn new(store: Arc<dyn RunStore>) -> Self {
        GroupSync {
            shared: Arc::new(Shared {
                store,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Resolves once everything written before the call is durable.
    pub async fn sync(&self) -> Result<(), SyncError> {
        let (done, result) = oneshot::channel();
        let start = {
            let mut state = self.shared.state.lock();
            state.waiting.push(done);
            !std::mem::replace(&mut state.flushing, true)
        };
        if start {
            tokio::spawn(flush_while_waited(self.shared.clone()));
        }
        match result.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(SyncError(Some(e))),
            Err(_) => Err(SyncError(None)),
        }
    }
}

async fn flush_while_waited(shared: Arc<Shared>) {
    loop {
        let batch = {
            let mut state = shared.state.lock();
            if state.waiting.is_empty() {
                state.flushing = false;
                return;
            }
            std::mem::take(&mut state.waiting)
        };
        let result = shared.store.flush().await.map_err(Arc::new);
        for waiter in batch {
            // A caller that stopped waiting is no error.
            let _ = waiter.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use weft_engine::store::{AttemptRecord, MemoryRunStore, RunRecord};

    use super::*;

    /// Counts flushes; each flush waits until the test lets it finish.
    struct Counting {
        inner: MemoryRunStore,
        flushes: AtomicUsize,
        gate: tokio::sync::Semaphore,
    }

    #[async_trait]
    impl RunStore for Counting {
        async fn put_run(&self, run: &RunRecord) -> Result<(), StoreError> {
            self.inner.put_run(run).await
        }
        async fn put_attempt(&self, attempt: &AttemptRecord) -> Result<(), StoreError> {
            self.inner.put_attempt(attempt).await
        }
        async fn get_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
            self.inner.get_run(id).await
        }
        async fn list_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
            self.inner.list_runs(limit).await
        }
        async fn attempts(&self, run_id: &str) -> Result<Vec<AttemptRecord>, StoreError> {
            self.inner.attempts(run_id).await
        }
        async fn list_runs_before(
            &self,
            before: Option<&str>,
            limit: usize,
        ) -> Result<Vec<RunRecord>, StoreError> {
            self.inner.list_runs_before(before, limit).await
        }
        async fn unfinished_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
            self.inner.unfinished_runs().await
        }
        async fn flush(&self) -> Result<(), StoreError> {
            self.flushes.fetch_add(1, Ordering::SeqCst);
            self.gate.acquire().await.map(|permit| permit.forget()).ok();
            Ok(())
        }
    }

    #[tokio::test]
    async fn callers_arriving_during_a_flush_share_the_next_one() {
        let store = Arc::new(Counting {
            inner: MemoryRunStore::new(),
            flushes: AtomicUsize::new(0),
            gate: tokio::sync::Semaphore::new(0),
        });
        let sync = GroupSync::new(store.clone());
        let first = tokio::spawn({
            let sync = sync.clone();
            async move { sync.sync().await }
        });
        while store.flushes.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // The first flush is held: these ten gather behind it.
        let later: Vec<_> = (0..10)
            .map(|_| {
                let sync = sync.clone();
                tokio::spawn(async move { sync.sync().await })
            })
            .collect();
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        store.gate.add_permits(2);
        first.await.unwrap().unwrap();
        for caller in later {
            caller.await.unwrap().unwrap();
        }
        assert_eq!(store.flushes.load(Ordering::SeqCst), 2);
    }
}
