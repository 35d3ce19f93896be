//! What can go wrong in the connection store, with the backend's error kept as the source.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

/// An error of the storage backend (sled today, a database later).
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process has the store open; `holder` says which, when it was recorded.
    #[error("the connection store at {} is in use by another process", path.display())]
    Locked {
        path: PathBuf,
        holder: Option<String>,
    },
    #[error("cannot open the connection store at {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: BackendError,
    },
    /// A copy of the store, read back before opening it, holds fewer connections than were
    /// stored: the files are damaged. The store was not opened (so not rewritten).
    #[error(
        "the connection store at {} is corrupted: {found} of {expected} connections readable",
        path.display()
    )]
    Corrupted {
        path: PathBuf,
        expected: u64,
        found: u64,
        /// The newest copy that read back whole, if any.
        backup: Option<VerifiedCopy>,
    },
    #[error("connection store: {operation} failed")]
    Backend {
        operation: &'static str,
        #[source]
        source: BackendError,
    },
    #[error("a connection could not be encoded")]
    Encode(#[source] serde_json::Error),
}

/// A copy of the store taken before an earlier open, that read back whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCopy {
    pub path: PathBuf,
    pub taken_at: DateTime<Utc>,
}
