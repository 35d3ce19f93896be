//! Store errors worded for people: what happened, who holds a store, where a copy is, and
//! what to do. The libraries give the facts; the wording lives here, once.

use weft_auth::store::StoreError as ConnectionStoreError;
use weft_engine::store::StoreError;
use weft_runtime::action::http_errors::describe_error_chain;

/// A run history error for people: what happened, its causes, and what to do.
pub fn run_history(error: &StoreError) -> String {
    match error {
        StoreError::Locked { path, holder } => match holder {
            Some(holder) => format!(
                "the run history at {} is in use by {holder}: wait for it to finish, or stop it",
                path.display()
            ),
            None => format!(
                "the run history at {} is in use by another weft process: wait for it to finish",
                path.display()
            ),
        },
        StoreError::Damaged {
            path,
            expected,
            found,
            copy,
        } => {
            let copy = match copy {
                Some(copy) => format!(
                    "its files as they were before opening are at {}",
                    copy.display()
                ),
                None => "it was too big to copy before opening".to_string(),
            };
            format!(
                "the run history at {} is damaged ({found} of {expected} runs readable); nothing \
                 was repaired and {copy}. Move the folder away to start a new history",
                path.display()
            )
        }
        other => other.with_causes(),
    }
}

/// A connection store error for people.
pub fn connection_store(error: &ConnectionStoreError) -> String {
    match error {
        ConnectionStoreError::Locked { path, holder } => match holder {
            Some(holder) => format!(
                "the connection store at {} is in use by {holder}: wait for it to finish, or stop it",
                path.display()
            ),
            None => format!(
                "the connection store at {} is in use by another weft process: wait for it to finish",
                path.display()
            ),
        },
        ConnectionStoreError::Corrupted {
            path,
            expected,
            found,
            backup,
        } => {
            let copy = match backup {
                Some(copy) => format!(
                    "a copy from {} UTC is at {}",
                    copy.taken_at.format("%Y-%m-%d %H:%M:%S"),
                    copy.path.display()
                ),
                None => "no earlier verified copy exists".to_string(),
            };
            format!(
                "the connection store is corrupted ({found} of {expected} connections readable in {}); \
                 it was not opened, so nothing in it was changed; {copy}. To use the copy, stop weft \
                 and move it in place of {}",
                path.display(),
                path.display()
            )
        }
        other => describe_error_chain(other),
    }
}
