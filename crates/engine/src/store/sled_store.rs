//! The embedded run store. Records are JSON values in two trees keyed so that a run's attempts
//! are contiguous and runs sort by creation (run ids are ULIDs). Writes go to sled's log
//! without syncing; [`RunStore::flush`] is the durability point the executor calls when a run
//! ends, so a run is never reported finished before it is on disk.

use std::path::Path;

use super::{AttemptPage, AttemptRecord, RunRecord, RunStore, StoreError};

pub struct SledRunStore {
    db: sled::Db,
    runs: sled::Tree,
    attempts: sled::Tree,
    /// Ids of runs still running: what start-up checks for orphans, instead of every run.
    active: sled::Tree,
}

impl SledRunStore {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.display().to_string();
        let db = open_db(dir, &path)?;
        restrict_permissions(dir);
        let runs = db.open_tree("runs").map_err(storage)?;
        let attempts = db.open_tree("attempts").map_err(storage)?;
        let active = db.open_tree("active").map_err(storage)?;
        Ok(SledRunStore {
            db,
            runs,
            attempts,
            active,
        })
    }
}

#[cfg(unix)]
fn restrict_permissions(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.path().is_file() {
                let _ =
                    std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600));
            }
        }
    }
}

#[cfg(not(unix))]
fn restrict_permissions(_: &Path) {}

/// sled keeps up to this much of the history in memory (its default, 1 GiB, let a big loop's
/// run grow the process by as much).
const SLED_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Opens the database, waiting briefly for a lock still held by a store of this process that
/// was just dropped (sled's flusher thread lets go within its flush interval).
fn open_db(dir: &Path, path: &str) -> Result<sled::Db, StoreError> {
    let mut tries = 0;
    loop {
        match sled::Config::new()
            .path(dir)
            .flush_every_ms(Some(200))
            .cache_capacity(SLED_CACHE_BYTES)
            .open()
        {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(io)) if is_lock_error(&io) => {
                tries += 1;
                if tries >= 20 {
                    return Err(StoreError::Locked {
                        path: path.to_string(),
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(other) => {
                return Err(StoreError::Open {
                    path: path.to_string(),
                    reason: other.to_string(),
                })
            }
        }
    }
}

fn is_lock_error(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::WouldBlock || error.to_string().contains("lock")
}

fn storage(e: sled::Error) -> StoreError {
    StoreError::Storage(e.to_string())
}

fn attempt_key(run_id: &str, seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(run_id.len() + 9);
    key.extend_from_slice(run_id.as_bytes());
    key.push(b'/');
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// An attempt record read for its step name alone.
#[derive(serde::Deserialize)]
struct StepOnly {
    step: String,
}

fn decode<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.to_string(),
    })
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Storage(e.to_string()))
}

impl RunStore for SledRunStore {
    fn put_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        self.runs
            .insert(run.id.as_bytes(), encode(run)?)
            .map_err(storage)?;
        if run.status == super::RunStatus::Running {
            self.active
                .insert(run.id.as_bytes(), &[])
                .map_err(storage)?;
        } else {
            self.active.remove(run.id.as_bytes()).map_err(storage)?;
        }
        Ok(())
    }

    fn put_attempt(&self, attempt: &AttemptRecord) -> Result<(), StoreError> {
        self.attempts
            .insert(attempt_key(&attempt.run_id, attempt.seq), encode(attempt)?)
            .map_err(storage)?;
        Ok(())
    }

    fn get_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        if let Some(bytes) = self.runs.get(id.as_bytes()).map_err(storage)? {
            return decode(id.as_bytes(), &bytes).map(Some);
        }
        // A unique prefix is enough, as with git commits.
        let mut matches = self.runs.scan_prefix(id.as_bytes());
        match (matches.next(), matches.next()) {
            (Some(first), None) if !id.is_empty() => {
                let (key, bytes) = first.map_err(storage)?;
                decode(&key, &bytes).map(Some)
            }
            _ => Ok(None),
        }
    }

    fn list_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        self.runs
            .iter()
            .rev()
            .take(limit)
            .map(|entry| {
                let (key, bytes) = entry.map_err(storage)?;
                decode(&key, &bytes)
            })
            .collect()
    }

    fn attempts(&self, run_id: &str) -> Result<Vec<AttemptRecord>, StoreError> {
        let mut prefix = run_id.as_bytes().to_vec();
        prefix.push(b'/');
        self.attempts
            .scan_prefix(prefix)
            .map(|entry| {
                let (key, bytes) = entry.map_err(storage)?;
                decode(&key, &bytes)
            })
            .collect()
    }

    fn attempts_page(
        &self,
        run_id: &str,
        step: Option<&str>,
        skip: usize,
        limit: usize,
    ) -> Result<AttemptPage, StoreError> {
        let mut prefix = run_id.as_bytes().to_vec();
        prefix.push(b'/');
        let mut attempts = Vec::new();
        let mut total = 0;
        for entry in self.attempts.scan_prefix(prefix) {
            let (key, bytes) = entry.map_err(storage)?;
            // Only the step name is parsed of the attempts outside the page.
            if let Some(wanted) = step {
                let StepOnly { step } = decode(&key, &bytes)?;
                if step != wanted {
                    continue;
                }
            }
            if total >= skip && attempts.len() < limit {
                attempts.push(decode(&key, &bytes)?);
            }
            total += 1;
        }
        Ok(AttemptPage { attempts, total })
    }

    fn running_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        let mut runs = Vec::new();
        for entry in self.active.iter() {
            let (id, _) = entry.map_err(storage)?;
            if let Some(bytes) = self.runs.get(&id).map_err(storage)? {
                runs.push(decode(&id, &bytes)?);
            }
        }
        Ok(runs)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(storage)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RunStatus, StepStatus};
    use chrono::Utc;
    use serde_json::json;

    fn run(id: &str) -> RunRecord {
        RunRecord {
            id: id.into(),
            workflow: "w".into(),
            path: "w.yaml".into(),
            hash: "h".into(),
            parent: None,
            trigger: json!({"kind": "manual"}),
            inputs: json!({}),
            status: RunStatus::Running,
            error: None,
            outputs: None,
            started_at: Utc::now(),
            finished_at: None,
            pid: None,
            truncated: Vec::new(),
        }
    }

    fn attempt(run_id: &str, seq: u64, step: &str) -> AttemptRecord {
        AttemptRecord {
            run_id: run_id.into(),
            seq,
            step: step.into(),
            iteration: vec![],
            attempt: 1,
            status: StepStatus::Succeeded,
            input: json!({}),
            output: Some(json!(seq)),
            error: None,
            started_at: Utc::now(),
            duration_us: 1,
            truncated: Vec::new(),
        }
    }

    #[test]
    fn a_page_of_attempts_is_read_by_position_and_step() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledRunStore::open(dir.path()).unwrap();
        for seq in 0..10 {
            let step = if seq % 2 == 0 { "even" } else { "odd" };
            store.put_attempt(&attempt("01A", seq, step)).unwrap();
        }
        store.put_attempt(&attempt("01B", 0, "even")).unwrap();
        let seqs = |page: AttemptPage| {
            (
                page.attempts.iter().map(|a| a.seq).collect::<Vec<_>>(),
                page.total,
            )
        };
        assert_eq!(
            seqs(store.attempts_page("01A", None, 3, 4).unwrap()),
            (vec![3, 4, 5, 6], 10)
        );
        assert_eq!(
            seqs(store.attempts_page("01A", Some("odd"), 1, 2).unwrap()),
            (vec![3, 5], 5)
        );
        assert_eq!(
            seqs(store.attempts_page("01A", Some("odd"), 9, 2).unwrap()),
            (vec![], 5)
        );
        assert_eq!(
            seqs(store.attempts_page("01A", Some("none"), 0, 2).unwrap()),
            (vec![], 0)
        );
    }

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledRunStore::open(dir.path()).unwrap();
            store.put_run(&run("01A")).unwrap();
            store.put_run(&run("01B")).unwrap();
            for seq in 0..3 {
                store
                    .put_attempt(&AttemptRecord {
                        run_id: "01A".into(),
                        seq,
                        step: format!("s{seq}"),
                        iteration: vec![],
                        attempt: 1,
                        status: StepStatus::Succeeded,
                        input: json!({}),
                        output: Some(json!(seq)),
                        error: None,
                        started_at: Utc::now(),
                        duration_us: 1,
                        truncated: Vec::new(),
                    })
                    .unwrap();
            }
            store.flush().unwrap();
        }
        let store = SledRunStore::open(dir.path()).unwrap();
        let runs = store.list_runs(10).unwrap();
        assert_eq!(
            runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["01B", "01A"]
        );
        let steps: Vec<String> = store
            .attempts("01A")
            .unwrap()
            .into_iter()
            .map(|a| a.step)
            .collect();
        assert_eq!(steps, ["s0", "s1", "s2"]);
        assert!(store.attempts("01B").unwrap().is_empty());
        assert_eq!(store.get_run("01B").unwrap().unwrap().id, "01B");
        assert!(
            store.get_run("01").unwrap().is_none(),
            "an ambiguous prefix matches nothing"
        );
    }
}
