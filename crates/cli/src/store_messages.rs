//! Store errors worded for people: what happened, who holds a store, where a copy is, and
//! what to do. The libraries give the facts; the wording lives here, once.

use weft_auth::store::StoreError as ConnectionStoreError;
use weft_engine::store::{Damage, StoreError};
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
        StoreError::Damaged { path, damage, copy } => {
            let copy = match copy {
                Some(copy) => format!(
                    "its files as they were before opening are at {}. To go on with what is \
                     still readable, move the folder away, copy that copy in its place and \
                     delete `record-count` in it (weft then keeps the runs before the damage); \
                     or move the folder away to start a new history",
                    copy.display()
                ),
                None => "it was too big to copy before opening. Move the folder away to start a \
                         new history"
                    .to_string(),
            };
            let what = match damage {
                Damage::MissingRuns { expected, found } => {
                    format!("{found} of {expected} runs readable")
                }
                Damage::LogCut { offset } | Damage::Unreadable { offset } => {
                    let at = offset.map_or_else(String::new, |o| format!(" at byte {o}"));
                    format!(
                        "{} is unreadable{at}, among records that were on disk",
                        path.join("db").display()
                    )
                }
                Damage::File { file } => {
                    format!(
                        "{} is unreadable, a file the records depend on",
                        path.join(file).display()
                    )
                }
            };
            format!(
                "the run history at {} is damaged ({what}); nothing was repaired and {copy}",
                path.display()
            )
        }
        StoreError::DamagedRecord(damage) => format!(
            "the run history is damaged: {damage}; nothing was changed. Other runs can still be \
             read; move the history's folder away to start a new one"
        ),
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
