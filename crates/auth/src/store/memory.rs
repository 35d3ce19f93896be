//! Connections in memory: tests, and tools that need a store but nothing durable.

use std::collections::BTreeMap;

use parking_lot::Mutex;

use super::{ConnectionStore, Revision, StoredConnection};
use crate::connection::{validate_connection, Connection};
use crate::error::{AuthError, Result};

/// Each write gets the next revision number, so compare-and-swap works as in the sled store;
/// the number is also the count of writes.
#[derive(Default)]
pub struct MemoryConnectionStore {
    state: Mutex<(u64, BTreeMap<String, StoredConnection>)>,
}

impl MemoryConnectionStore {
    pub fn new() -> Self {
        Self::default()
    }
}

fn stored(connection: &Connection, revision: u64) -> StoredConnection {
    StoredConnection {
        connection: connection.clone(),
        revision: Revision(revision.to_be_bytes().to_vec()),
    }
}

#[async_trait::async_trait]
impl ConnectionStore for MemoryConnectionStore {
    async fn get(&self, name: &str) -> Result<Option<StoredConnection>> {
        Ok(self.state.lock().1.get(name).cloned())
    }

    async fn put(&self, connection: &Connection) -> Result<StoredConnection> {
        validate_connection(connection)?;
        let mut state = self.state.lock();
        state.0 += 1;
        let record = stored(connection, state.0);
        state.1.insert(connection.name.clone(), record.clone());
        Ok(record)
    }

    async fn compare_and_swap(
        &self,
        expected: &StoredConnection,
        new: &Connection,
    ) -> Result<StoredConnection> {
        validate_connection(new)?;
        let mut state = self.state.lock();
        let current = state.1.get(&new.name).map(|c| &c.revision);
        if expected.connection.name != new.name || current != Some(&expected.revision) {
            return Err(AuthError::StoreConflict(new.name.clone()));
        }
        state.0 += 1;
        let record = stored(new, state.0);
        state.1.insert(new.name.clone(), record.clone());
        Ok(record)
    }

    async fn list(&self) -> Result<Vec<Connection>> {
        Ok(self
            .state
            .lock()
            .1
            .values()
            .map(|c| c.connection.clone())
            .collect())
    }

    async fn delete(&self, name: &str) -> Result<bool> {
        let mut state = self.state.lock();
        state.0 += 1;
        Ok(state.1.remove(name).is_some())
    }

    fn writes(&self) -> Option<u64> {
        Some(self.state.lock().0)
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn passes_the_conformance_checks() {
        super::super::conformance::run_all(&super::MemoryConnectionStore::new()).await;
    }
}
