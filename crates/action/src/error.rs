//! What went wrong in an action, classified so retry policies can choose what to retry.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ActionError {
    pub kind: ErrorKind,
    pub message: String,
    /// A wait the remote side asked for (HTTP `Retry-After`).
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ErrorKind {
    /// The step's inputs are wrong: retrying cannot help.
    InvalidInput,
    Timeout,
    Network,
    Http {
        status: u16,
    },
    /// The action decided to fail (`core.fail`, a sub-workflow that failed).
    Failed,
    Cancelled,
    /// Not a failure: the step waits until `until`, longer than the run may hold a task for
    /// (a stored wait, see `ActionContext::wait_until`). The engine parks the run and resumes
    /// the step at that time; it is never retried.
    Waiting {
        until: chrono::DateTime<chrono::Utc>,
    },
}

impl ActionError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ActionError {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        ActionError::new(ErrorKind::InvalidInput, message)
    }

    pub fn failed(message: impl Into<String>) -> Self {
        ActionError::new(ErrorKind::Failed, message)
    }
}
