//! The stores as an operator meets them: a damaged connection store is refused without being
//! touched and a verified copy is named; a store in use names the process holding it.

use std::path::Path;
use std::sync::Arc;

use chrono::{Duration, Utc};
use weft_auth::store::conformance::sample_connection;
use weft_auth::{Connection, ConnectionStore, Keyring, SledConnectionStore};

use super::{stderr, stdout, weft_with_env};

pub(super) const KEY_HEX: &str = "0707070707070707070707070707070707070707070707070707070707070707";

fn keys() -> Keyring {
    Keyring::from_key_bytes([7; 32], &[])
}

pub(super) fn connection(name: &str) -> Connection {
    sample_connection(name, Utc::now(), Duration::hours(1))
}

/// Opens the connection store of `data_dir` in this process, retrying while a store this
/// process just dropped still holds sled's lock (its flusher lets go within a moment).
pub(super) fn open_connections(data_dir: &Path) -> SledConnectionStore {
    for _ in 0..100 {
        match SledConnectionStore::open(data_dir, keys()) {
            Ok(store) => return store,
            Err(weft_auth::AuthError::Store(weft_auth::store::StoreError::Locked { .. })) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("cannot open the connection store: {e}"),
        }
    }
    panic!("the connection store stayed locked")
}

fn list_connections(data_dir: &Path) -> std::process::Output {
    weft_with_env(
        data_dir,
        &["connections", "list"],
        &[("WEFT_MASTER_KEY", KEY_HEX)],
    )
}

fn names(store: &SledConnectionStore) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let list = runtime.block_on(store.list()).unwrap();
    list.into_iter().map(|c| c.name).collect()
}

#[test]
fn a_damaged_connection_store_is_refused_untouched_and_a_verified_copy_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let expected: Vec<String> = (1..=6).map(|i| format!("customer-{i}")).collect();
    {
        let store = open_connections(dir.path());
        let runtime = tokio::runtime::Runtime::new().unwrap();
        for name in &expected {
            runtime.block_on(store.put(&connection(name))).unwrap();
        }
    }
    // A healthy open through the binary leaves a verified copy.
    let mut healthy = list_connections(dir.path());
    for _ in 0..100 {
        if healthy.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        healthy = list_connections(dir.path());
    }
    assert!(healthy.status.success(), "{}", stderr(&healthy));
    assert!(
        stdout(&healthy).contains("customer-6"),
        "{}",
        stdout(&healthy)
    );

    // One flipped byte in the first record sled wrote.
    let db_file = dir.path().join("connections.db/db");
    let mut bytes = std::fs::read(&db_file).unwrap();
    let first = bytes
        .windows(b"customer-1".len())
        .position(|w| w == b"customer-1")
        .expect("the first record is in the log");
    bytes[first] ^= 0x20;
    std::fs::write(&db_file, &bytes).unwrap();

    let refused = list_connections(dir.path());
    let message = stderr(&refused);
    assert_eq!(refused.status.code(), Some(1), "{message}");
    assert!(
        message.contains("the connection store is corrupted"),
        "{message}"
    );
    assert!(!message.contains("another weft process"), "{message}");
    let copies: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("connections.db.backup-"))
        .collect();
    assert_eq!(copies.len(), 1, "the failed copy is not kept: {copies:?}");
    assert!(
        message.contains(&format!("is at {}", copies[0].display())),
        "{message}"
    );
    assert!(message.contains("a copy from "), "{message}");
    // The damaged store was not opened: its bytes are as they were.
    assert_eq!(std::fs::read(&db_file).unwrap(), bytes);

    // The copy holds every connection.
    let restored = tempfile::tempdir().unwrap();
    std::fs::rename(&copies[0], restored.path().join("connections.db")).unwrap();
    let store = open_connections(restored.path());
    assert_eq!(names(&store), expected);
}

#[test]
fn a_store_in_use_names_the_process_holding_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open_connections(dir.path()));
    let busy = list_connections(dir.path());
    let message = stderr(&busy);
    assert_eq!(busy.status.code(), Some(1), "{message}");
    assert!(
        message.contains("is in use by `")
            && message.contains(&format!("(pid {}", std::process::id())),
        "{message}"
    );
    assert!(!message.contains("Os {"), "{message}");
    drop(store);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let runs = runtime
        .block_on(weft_engine::store::SledRunStore::open(
            &dir.path().join("runs"),
        ))
        .unwrap();
    let busy = super::weft(dir.path(), &["runs", "list"]);
    let message = stderr(&busy);
    assert_eq!(busy.status.code(), Some(1), "{message}");
    assert!(
        message.contains("the run history at")
            && message.contains(&format!("(pid {}", std::process::id())),
        "{message}"
    );
    drop(runs);
}

/// The hostile review's case: one byte flipped in the last run's step records between two
/// processes. sled would take it for a crash's torn tail and drop the steps (the run showed
/// `succeeded` with none); weft refuses the history, says which file and where the copy is,
/// leaves the files as they were, and a second command names the same copy.
#[test]
fn a_flipped_byte_in_the_last_runs_steps_is_refused_with_the_file_and_one_copy() {
    let dir = tempfile::tempdir().unwrap();
    let mut last_id = String::new();
    for _ in 0..6 {
        let run = super::weft(dir.path(), &["run", "workflows/hello.yaml", "--json"]);
        assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
        let run: serde_json::Value = serde_json::from_str(&stdout(&run)).unwrap();
        last_id = run["run_id"].as_str().unwrap().to_string();
    }
    let runs = dir.path().join("runs");
    let db_file = runs.join("db");
    let mut bytes = std::fs::read(&db_file).unwrap();
    let last_step = bytes
        .windows(b"succeeded".len())
        .rposition(|w| w == b"succeeded")
        .expect("the last step record is in the log");
    bytes[last_step + 2] ^= 0x01;
    std::fs::write(&db_file, &bytes).unwrap();
    let files = || {
        let mut files: Vec<_> = std::fs::read_dir(&runs)
            .unwrap()
            .flatten()
            .filter(|e| e.file_type().unwrap().is_file())
            .map(|e| (e.file_name(), std::fs::read(e.path()).unwrap()))
            .collect();
        files.sort();
        files
    };
    let before = files();

    let mut copies = Vec::new();
    for _ in 0..2 {
        let shown = super::weft(dir.path(), &["runs", "show", &last_id]);
        let message = stderr(&shown);
        assert_eq!(shown.status.code(), Some(1), "{message}");
        assert!(
            message.contains("is damaged (")
                && message.contains(&format!("{} is unreadable at byte", db_file.display()))
                && message.contains("nothing was repaired"),
            "{message}"
        );
        assert!(
            !message.contains("ERROR"),
            "no log line of sled's: {message}"
        );
        let copy = message
            .split("before opening are at ")
            .nth(1)
            .and_then(|rest| rest.split(". To go on").next())
            .unwrap_or_else(|| panic!("the copy is named: {message}"))
            .to_string();
        assert_eq!(std::fs::read(Path::new(&copy).join("db")).unwrap(), bytes);
        copies.push(copy);
        assert_eq!(files(), before, "the refused opening changed the files");
    }
    assert_eq!(copies[0], copies[1], "one copy per damaged state");
    let backups = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("runs.backup-"))
        .count();
    assert_eq!(backups, 1);
}
