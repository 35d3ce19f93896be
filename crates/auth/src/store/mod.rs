//! Where connections live. The rest of the crate sees only [`ConnectionStore`]; the sled
//! implementation (the only module that touches sled) encrypts every record.

#[doc(hidden)]
pub mod conformance;
mod error;
mod memory;
mod record;
mod sled_store;

use std::fmt;

pub use error::{BackendError, StoreError, VerifiedCopy};
pub use memory::MemoryConnectionStore;
pub use sled_store::{SledConnectionStore, STORE_DIR};

use crate::connection::Connection;
use crate::error::Result;

/// Opaque marker of the stored bytes a connection was read from, for compare-and-swap.
#[derive(Clone, PartialEq, Eq)]
pub struct Revision(Vec<u8>);

impl fmt::Debug for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Revision({} bytes)", self.0.len())
    }
}

/// A connection as read from the store, with the revision it was read at.
#[derive(Debug, Clone)]
pub struct StoredConnection {
    pub connection: Connection,
    pub(crate) revision: Revision,
}

/// Durable, encrypted storage of connections, used as `Arc<dyn ConnectionStore>`.
#[async_trait::async_trait]
pub trait ConnectionStore: Send + Sync + 'static {
    async fn get(&self, name: &str) -> Result<Option<StoredConnection>>;
    /// Inserts or replaces a connection; durable (flushed) when it returns.
    async fn put(&self, connection: &Connection) -> Result<StoredConnection>;
    /// Replaces `expected` by `new` only if the record did not change since it was read;
    /// durable (flushed) when it returns. A lost race is [`crate::AuthError::StoreConflict`].
    async fn compare_and_swap(
        &self,
        expected: &StoredConnection,
        new: &Connection,
    ) -> Result<StoredConnection>;
    /// All connections, sorted by name.
    async fn list(&self) -> Result<Vec<Connection>>;
    /// Deletes a connection; `false` when there was none.
    async fn delete(&self, name: &str) -> Result<bool>;
    /// A count of this store's writes, raised after each one, so that a reader can keep what
    /// it made of a record while the count stays the same (one process holds a store, so its
    /// writes are all counted). `None`: the store does not count; read the record each time.
    fn writes(&self) -> Option<u64> {
        None
    }
}
