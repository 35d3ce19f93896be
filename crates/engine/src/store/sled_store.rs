//! The embedded run store. Records are JSON values in trees keyed so that a run's attempts
//! are contiguous and runs sort by creation (run ids are ULIDs); a run's attempts are kept
//! several to a key ([`attempt_log`]). Writes go to sled's log without syncing; [`RunStore::flush`] is the durability point the executor calls when a run
//! ends, so a run is never reported finished before it is on disk.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use weft_store_guard::Unwritten;

mod attempt_log;
mod outbox;

use attempt_log::AttemptLog;

use super::RequestKeyRecord;
use super::{
    AttemptJson, AttemptPage, AttemptRecord, Claim, ClaimStore, Damage, FireRecord, RunRecord,
    RunStore, ScratchArea, StoreError, TriggerCursor, TriggerKey, TriggerStore,
};

/// Histories up to this size are copied aside before opening (a few milliseconds); bigger ones
/// are only checked, as copying them on every open would cost more than a run.
const COPY_BEFORE_OPEN_MAX_BYTES: u64 = 32 * 1024 * 1024;

/// Reads and writes are sled calls on the calling task: they touch memory and the OS page
/// cache only (measured: cheaper than a `spawn_blocking` hop per attempt). The blocking parts,
/// opening and the sync of [`RunStore::flush`], run on tokio's blocking pool.
///
/// Damage (see `weft_store_guard`): the number of runs and how far sled's log is synced are
/// kept in a sidecar file at each flush. Opening gives that position to sled, whose recovery
/// refuses a log readable less far (a damaged record: a crash tears only what was not synced)
/// before it writes anything. Unless the history was closed cleanly and is unchanged since
/// (dropping the store notes its files), opening copies a history of up to 32 MiB aside
/// first, has sled read every record its pages refer to (also before writing), and counts the
/// runs. Any of these refuses with [`StoreError::Damaged`], the files left as they were and
/// the copy kept (a second refused opening reuses it); otherwise the copy is deleted. A bigger
/// history is refused the same way, without a copy and without reading every old record.
pub struct SledRunStore {
    db: sled::Db,
    dir: PathBuf,
    runs: sled::Tree,
    /// How many runs the store holds, written to the sidecar at each flush.
    run_count: AtomicU64,
    /// The sidecar, open for the notes of [`SledRunStore::sync`].
    count_file: Arc<weft_store_guard::GrowingCount>,
    /// How far the log was durable by the sidecar at opening: noted again until this
    /// process has synced further.
    durable_at_opening: Option<u64>,
    syncs: Arc<GroupCommit>,
    attempts: Arc<AttemptLog>,
    /// Ids of runs not finished: what start-up checks for orphans and a daemon resumes,
    /// instead of every run.
    active: sled::Tree,
    cursors: sled::Tree,
    fires: sled::Tree,
    claims: sled::Tree,
    /// Names of paused workflows (empty values).
    paused: sled::Tree,
    scratch: FileScratch,
    /// Histories up to this size are copied before opening (and noted at a clean close).
    copy_max_bytes: u64,
    /// The files as the opening found them, matching their last clean close: this store's
    /// own close reads again only what sled wrote since.
    verified: Option<weft_store_guard::Verified>,
    /// Webhook `Idempotency-Key`s by workflow and key.
    request_keys: sled::Tree,
    /// The outbox of outbound events by id, and the ids of those still pending.
    events: sled::Tree,
    events_pending: sled::Tree,
}

/// Group commit: callers of [`RunStore::flush`] that arrive while a sync runs wait for it to end
/// and then share one sync, so runs finishing together pay for one sync rather than one each.
/// Syncs are numbered as they start; a caller is done once a sync numbered above the count it
/// saw when it called has succeeded, since that sync started after the caller's writes. The
/// sync itself records its end, so a caller that stops being polled never holds up the others.
#[derive(Default)]
struct GroupCommit {
    state: parking_lot::Mutex<SyncState>,
    ended: tokio::sync::Notify,
}

#[derive(Default)]
struct SyncState {
    /// How many syncs have started.
    started: u64,
    /// The number of the last sync that succeeded (a failed one covers nobody).
    last_good: u64,
    running: bool,
}

/// Ends a sync of the group commit when dropped, however the sync ended (even by a panic), so
/// that waiting callers never wait for a sync that is over.
struct SyncEnd {
    syncs: Arc<GroupCommit>,
    number: u64,
    succeeded: bool,
}

impl GroupCommit {
    /// Returns once a sync that started after this call has succeeded (or with the error of
    /// the one this call led). When no sync runs, this call leads the next: `sync` does it and
    /// drops the [`SyncEnd`] it is given once it is over, marked `succeeded` if it was.
    async fn covered_by_sync<F, S>(self: &Arc<Self>, sync: F) -> Result<(), StoreError>
    where
        F: FnOnce(SyncEnd) -> S,
        S: std::future::Future<Output = Result<(), StoreError>>,
    {
        // Any sync that starts after this call covers every write made before it.
        let needed = self.state.lock().started + 1;
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            let number = {
                let mut state = self.state.lock();
                if state.last_good >= needed {
                    return Ok(());
                }
                if state.running {
                    None
                } else {
                    state.running = true;
                    state.started += 1;
                    Some(state.started)
                }
            };
            match number {
                // This caller leads the next sync and reports its own outcome.
                Some(number) => {
                    let end = SyncEnd {
                        syncs: self.clone(),
                        number,
                        succeeded: false,
                    };
                    return sync(end).await;
                }
                None => ended.await,
            }
        }
    }
}

impl SyncEnd {
    /// Ends the sync as one that succeeded. A method taking the whole value, so that a closure
    /// calling it owns the whole `SyncEnd`: assigning the field would capture the field alone
    /// and leave the end to be dropped elsewhere, unsucceeded.
    fn succeed(mut self) {
        self.succeeded = true;
    }
}

impl Drop for SyncEnd {
    fn drop(&mut self) {
        let mut state = self.syncs.state.lock();
        if self.succeeded {
            state.last_good = self.number;
        }
        state.running = false;
        drop(state);
        self.syncs.ended.notify_waiters();
    }
}

/// The scratch area: a file per key in the store's `scratch/` folder (the key in hex), emptied
/// on opening (only one process opens a store, so whatever is there was left by one that
/// stopped). Not in sled: a value was a chunk of a loop's outputs (256 KiB), which sled kept
/// in its cache with the rest of its tree node (up to 16 of them), rewrote whole as the node
/// changed and wrote as a file of its own anyway (a message over 128 KiB is a sled "blob"):
/// a 1,000,000-item loop's process grew by ~30 MB for outputs nothing was reading.
struct FileScratch {
    dir: PathBuf,
}

/// Where the scratch area is, below the store's folder.
const SCRATCH_DIR: &str = "scratch";

impl FileScratch {
    fn path(&self, key: &[u8]) -> PathBuf {
        self.dir.join(hex::encode(key))
    }

    /// Removes what a stopped process left, and the tree earlier versions kept it in.
    fn clear(dir: &Path, db: &sled::Db) -> Result<Self, StoreError> {
        let dir = dir.join(SCRATCH_DIR);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_backend(e)),
        }
        if db
            .tree_names()
            .iter()
            .any(|name| name.as_ref() == SCRATCH_DIR.as_bytes())
        {
            db.drop_tree(SCRATCH_DIR).map_err(backend)?;
        }
        Ok(FileScratch { dir })
    }
}

impl ScratchArea for FileScratch {
    fn put(&self, key: &[u8], bytes: &[u8]) -> Result<(), StoreError> {
        std::fs::create_dir_all(&self.dir).map_err(io_backend)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(self.path(key)).map_err(io_backend)?;
        std::io::Write::write_all(&mut file, bytes).map_err(io_backend)
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match std::fs::read(self.path(key)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_backend(e)),
        }
    }

    fn remove_prefix(&self, prefix: &[u8]) -> Result<(), StoreError> {
        let prefix = hex::encode(prefix);
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_backend(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_backend)?;
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                std::fs::remove_file(entry.path()).map_err(io_backend)?;
            }
        }
        Ok(())
    }
}

impl SledRunStore {
    /// Opens (or creates) the store in `dir`, off the async threads.
    pub async fn open(dir: &Path) -> Result<Self, StoreError> {
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(&dir, COPY_BEFORE_OPEN_MAX_BYTES))
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?
    }

    /// `copy_max_bytes`: [`COPY_BEFORE_OPEN_MAX_BYTES`]; a test gives a smaller one to have a
    /// small history handled as a big one.
    fn open_blocking(dir: &Path, copy_max_bytes: u64) -> Result<Self, StoreError> {
        let guard = |e: weft_store_guard::GuardError| StoreError::Open {
            path: dir.to_path_buf(),
            source: Box::new(e),
        };
        let notes = weft_store_guard::read_notes(dir).map_err(guard)?;
        let expected = notes.records;
        let openable = expected.is_some_and(|runs| runs > 0) && !weft_store_guard::is_locked(dir);
        // A history closed cleanly and unchanged since holds nothing sled's recovery could
        // drop: no copy (the argument is at `check_clean_close_mark`).
        let verified = openable
            .then(|| weft_store_guard::check_clean_close_mark(dir))
            .flatten();
        let unchanged = verified.is_some();
        let copy = if openable && !unchanged && weft_store_guard::folder_size(dir) <= copy_max_bytes
        {
            Some(weft_store_guard::copy_aside_once(dir, Utc::now()).map_err(guard)?)
        } else {
            None
        };
        // Only a copy this opening made is removed when the history proves whole: one that
        // an earlier, refused opening made of the same files is the user's to keep.
        let remove_copy = || match &copy {
            Some(copy) if copy.made => weft_store_guard::remove_backup(&copy.backup),
            _ => Ok(()),
        };
        let damaged = |damage: Damage| StoreError::Damaged {
            path: dir.to_path_buf(),
            damage,
            copy: copy.as_ref().map(|c| c.backup.path.clone()),
        };
        // A history changed since its clean close, or never closed cleanly, has every
        // record read once by sled's recovery before it writes anything (when it is small
        // enough to be copied: a bigger one would be read whole at every opening); an
        // unchanged one has nothing to find.
        // The log position is checked only on a changed history: an unchanged one is byte for
        // byte what its clean close left, after the last sync, so recovering less than the
        // noted position could only mean `record-count` itself was damaged.
        let durable_log = notes.durable_log.filter(|_| !unchanged);
        let db = match open_db(dir, durable_log, copy.is_some(), unchanged) {
            Ok(db) => db,
            Err(OpenFailure::Damaged(damage)) => return Err(damaged(damage)),
            Err(OpenFailure::Other(e)) => {
                // Locked: nothing was read, the copy is not needed. Any other failure keeps it.
                if let StoreError::Locked { .. } = &e {
                    let _ = remove_copy();
                }
                return Err(e);
            }
        };
        weft_store_guard::record_holder(dir).map_err(guard)?;
        restrict_permissions(dir);
        let tree = |name: &str| db.open_tree(name).map_err(backend);
        let runs = tree("runs")?;
        // Unchanged since a clean close, nothing can be missing: the recorded count stands
        // in for counting every run (a walk of the whole tree, 1.4 million instructions at
        // 300 runs). It may be below the true count (runs recorded after the last flush's
        // count), which only means less checking, never a false alarm.
        let found = match expected {
            Some(recorded) if unchanged => recorded,
            _ => match count(&runs) {
                Ok(found) => found,
                Err(sled::Error::Corruption { at, .. }) => {
                    return Err(damaged(Damage::Unreadable {
                        offset: at.map(|at| at.lid()),
                    }))
                }
                Err(e) => return Err(backend(e)),
            },
        };
        match expected {
            Some(expected) if found < expected => {
                return Err(damaged(Damage::MissingRuns { expected, found }))
            }
            Some(_) => {}
            None => weft_store_guard::write_count(dir, found).map_err(guard)?,
        }
        remove_copy().map_err(guard)?;
        let count_file = Arc::new(weft_store_guard::GrowingCount::open(dir).map_err(guard)?);
        Ok(SledRunStore {
            dir: dir.to_path_buf(),
            runs,
            run_count: AtomicU64::new(found),
            count_file,
            durable_at_opening: notes.durable_log,
            syncs: Arc::default(),
            attempts: AttemptLog::start(tree("attempts")?),
            active: tree("active")?,
            cursors: tree("cursors")?,
            fires: tree("fires")?,
            claims: tree("claims")?,
            request_keys: tree("request_keys")?,
            events: tree("events")?,
            events_pending: tree("events_pending")?,
            paused: tree("paused")?,
            scratch: FileScratch::clear(dir, &db)?,
            copy_max_bytes,
            db,
            verified,
        })
    }
}

impl Drop for SledRunStore {
    /// The clean close: everything flushed, then the files noted, so that the next opening
    /// finds them unchanged and needs no copy. A process that stops without this (kill -9, a
    /// crash) leaves no mark, and the next opening copies the history first. A history too big
    /// to be copied before opening is not noted either: checking the mark at the next opening
    /// would read every byte of it.
    fn drop(&mut self) {
        if self.attempts.write_out_all().is_ok() && self.db.flush().is_ok() {
            // sled writes its log to `db` alone (the snapshot is a new file each time).
            let unwritten = self.verified.as_ref().map(|verified| Unwritten {
                verified,
                file: "db",
                below: self.db.lowest_offset_written(),
            });
            let _ = weft_store_guard::note_clean_close(
                &self.dir,
                unwritten.as_ref(),
                self.copy_max_bytes,
            );
        }
    }
}

/// Owner-only access to the folder and its files; a file already so is left alone (a
/// history in use is, and each change is a system call at every opening).
#[cfg(unix)]
fn restrict_permissions(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let restrict = |path: &Path, metadata: std::fs::Metadata, mode: u32| {
        if metadata.permissions().mode() & 0o777 != mode {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
        }
    };
    if let Ok(metadata) = std::fs::metadata(dir) {
        restrict(dir, metadata, 0o700);
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            match std::fs::metadata(entry.path()) {
                Ok(metadata) if metadata.is_file() => restrict(&entry.path(), metadata, 0o600),
                _ => {}
            }
        }
    }
}

#[cfg(not(unix))]
fn restrict_permissions(_: &Path) {}

/// sled keeps up to this much of the history in memory (its default, 1 GiB, let a big loop's
/// run grow the process by as much). It bounds the pages held only since its cache evicts
/// across 8 shards, not 256 (`vendor/sled/src/lru.rs`): before, 8 MiB held 6.9 MB of a
/// 100,000-step run's attempt chunks and a capacity of 2 MiB the same.
const SLED_CACHE_BYTES: u64 = 2 * 1024 * 1024;

/// Why [`open_db`] failed.
enum OpenFailure {
    /// sled found the files damaged, before writing to them.
    Damaged(Damage),
    Other(StoreError),
}

/// Opens the database, waiting briefly for a lock still held by a store of this process that
/// was just dropped (sled's flusher thread lets go within its flush interval). `durable_log`:
/// how far the log was synced (noted at the last sync); recovering less is damage.
/// `verify`: every record read once before sled's recovery writes anything. `unchanged`: the
/// files are what a clean close left (its mark verified), so recovery replays the log only
/// from the last snapshot's position: an earlier opening read everything before it.
fn open_db(
    dir: &Path,
    durable_log: Option<u64>,
    verify: bool,
    unchanged: bool,
) -> Result<sled::Db, OpenFailure> {
    let mut tries = 0;
    loop {
        match sled::Config::new()
            .path(dir)
            .flush_every_ms(Some(200))
            .cache_capacity(SLED_CACHE_BYTES)
            .durable_lsn(durable_log)
            .verify_pages(verify)
            .replay_from_snapshot(unchanged)
            .open()
        {
            Ok(db) => return Ok(db),
            Err(sled::Error::LogCut { offset, .. }) => {
                return Err(OpenFailure::Damaged(Damage::LogCut { offset }))
            }
            Err(sled::Error::Corruption { at, .. }) => {
                return Err(OpenFailure::Damaged(Damage::Unreadable {
                    offset: at.map(|at| at.lid()),
                }))
            }
            Err(sled::Error::DamagedFile(path)) => {
                let file = path.strip_prefix(dir).unwrap_or(&path);
                return Err(OpenFailure::Damaged(Damage::File {
                    file: file.to_string_lossy().into_owned(),
                }));
            }
            Err(sled::Error::Io(_)) if weft_store_guard::is_locked(dir) => {
                tries += 1;
                if tries >= 20 {
                    return Err(OpenFailure::Other(StoreError::Locked {
                        path: dir.to_path_buf(),
                        holder: weft_store_guard::holder(dir).map(|h| h.to_string()),
                    }));
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(other) => {
                return Err(OpenFailure::Other(StoreError::Open {
                    path: dir.to_path_buf(),
                    source: Box::new(other),
                }))
            }
        }
    }
}

/// The entries of `tree`, up to the first that cannot be read. Not `Tree::len`: it counts
/// errors as entries, and sled's iterator can return the same error forever (a damaged
/// record of a history too big to be read whole at opening hung it).
fn count(tree: &sled::Tree) -> sled::Result<u64> {
    let mut entries = 0;
    for entry in tree.iter().keys() {
        entry?;
        entries += 1;
    }
    Ok(entries)
}

/// A record sled cannot read is damage found after opening (in a history too big to be read
/// whole before): said so, not as sled's words.
fn backend(e: sled::Error) -> StoreError {
    match e {
        sled::Error::Corruption { at, .. } => StoreError::DamagedRecord(Damage::Unreadable {
            offset: at.map(|at| at.lid()),
        }),
        e => StoreError::Backend(Box::new(e)),
    }
}

fn io_backend(e: std::io::Error) -> StoreError {
    StoreError::Backend(Box::new(e))
}

fn attempt_key(run_id: &str, seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(run_id.len() + 9);
    key.extend_from_slice(run_id.as_bytes());
    key.push(b'/');
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The seq of an attempt key (its last 8 bytes).
fn seq_of(key: &[u8]) -> Option<u64> {
    let bytes = key.get(key.len().checked_sub(8)?..)?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// Names joined by a byte that cannot occur in them, so distinct tuples never share a key.
fn joined_key(parts: &[&str]) -> Vec<u8> {
    parts.join("\0").into_bytes()
}

/// No connection and an empty connection name are different keys.
fn cursor_key(key: &TriggerKey) -> Vec<u8> {
    match &key.connection {
        Some(connection) => joined_key(&[&key.workflow, &key.trigger, connection]),
        None => joined_key(&[&key.workflow, &key.trigger]),
    }
}

/// Fires of one trigger sort by scheduled instant: the time is a big-endian suffix.
fn fire_prefix(workflow: &str, trigger: &str) -> Vec<u8> {
    let mut key = joined_key(&[workflow, trigger]);
    key.push(0);
    key
}

fn fire_key(workflow: &str, trigger: &str, at: DateTime<Utc>) -> Vec<u8> {
    let mut key = fire_prefix(workflow, trigger);
    // Offset so that instants before 1970 still sort before later ones.
    let micros = (at.timestamp_micros() as u64) ^ (1 << 63);
    key.extend_from_slice(&micros.to_be_bytes());
    key
}

fn decode<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        source,
    })
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(StoreError::Encode)
}

fn decode_all<T: serde::de::DeserializeOwned>(
    entries: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
) -> Result<Vec<T>, StoreError> {
    entries
        .map(|entry| {
            let (key, bytes) = entry.map_err(backend)?;
            decode(&key, &bytes)
        })
        .collect()
}

#[async_trait]
impl RunStore for SledRunStore {
    async fn put_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        let previous = self
            .runs
            .insert(run.id.as_bytes(), encode(run)?)
            .map_err(backend)?;
        if previous.is_none() {
            self.run_count.fetch_add(1, Ordering::Relaxed);
        }
        if !run.status.is_finished() {
            self.active
                .insert(run.id.as_bytes(), &[])
                .map_err(backend)?;
        } else {
            self.active.remove(run.id.as_bytes()).map_err(backend)?;
        }
        Ok(())
    }

    async fn put_attempt(&self, attempt: &dyn AttemptJson) -> Result<(), StoreError> {
        self.attempts.put(attempt)
    }

    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        if let Some(bytes) = self.runs.get(id.as_bytes()).map_err(backend)? {
            return decode(id.as_bytes(), &bytes).map(Some);
        }
        // A unique prefix is enough, as with git commits.
        let mut matches = self.runs.scan_prefix(id.as_bytes());
        match (matches.next(), matches.next()) {
            (Some(first), None) if !id.is_empty() => {
                let (key, bytes) = first.map_err(backend)?;
                decode(&key, &bytes).map(Some)
            }
            _ => Ok(None),
        }
    }

    async fn list_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        decode_all(self.runs.iter().rev().take(limit))
    }

    async fn list_runs_before(
        &self,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StoreError> {
        match before {
            Some(id) => decode_all(self.runs.range(..id.as_bytes()).rev().take(limit)),
            None => decode_all(self.runs.iter().rev().take(limit)),
        }
    }

    async fn attempts(&self, run_id: &str) -> Result<Vec<AttemptRecord>, StoreError> {
        self.attempts.all(run_id)
    }

    async fn attempts_page(
        &self,
        run_id: &str,
        step: Option<&str>,
        skip: usize,
        limit: usize,
    ) -> Result<AttemptPage, StoreError> {
        self.attempts.page(run_id, step, skip, limit)
    }

    async fn unfinished_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        let mut runs = Vec::new();
        for entry in self.active.iter() {
            let (id, _) = entry.map_err(backend)?;
            if let Some(bytes) = self.runs.get(&id).map_err(backend)? {
                runs.push(decode(&id, &bytes)?);
            }
        }
        Ok(runs)
    }

    fn scratch(&self) -> Option<&dyn ScratchArea> {
        Some(&self.scratch)
    }

    async fn flush(&self) -> Result<(), StoreError> {
        // Written before the group commit takes its count: the sync that covers this call
        // covers them.
        self.attempts.write_out_all()?;
        self.syncs.covered_by_sync(|end| self.sync(end)).await
    }
}

impl SledRunStore {
    /// A sync of the group commit: sled's log, then the run count; `end` records its outcome.
    async fn sync(&self, end: SyncEnd) -> Result<(), StoreError> {
        let db = self.db.clone();
        let count_file = self.count_file.clone();
        // Counted before the sync: every run counted is then on disk.
        let runs = self.run_count.load(Ordering::Relaxed);
        let durable_at_opening = self.durable_at_opening;
        tokio::task::spawn_blocking(move || {
            // The run's records written out, then one sync of the file (none when nothing
            // was written since the last one).
            db.flush_and_sync().map_err(backend)?;
            // How far the log is synced now: the next opening refuses a log that recovers
            // less (a damaged record, which sled would take for a crash's torn tail).
            let durable_log = db.durable_lsn().max(durable_at_opening);
            count_file
                .note(runs, durable_log)
                .map_err(|e| StoreError::Backend(Box::new(e)))?;
            end.succeed();
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Backend(Box::new(e)))?
    }
}

#[async_trait]
impl TriggerStore for SledRunStore {
    async fn cursor(&self, key: &TriggerKey) -> Result<Option<TriggerCursor>, StoreError> {
        let id = cursor_key(key);
        match self.cursors.get(&id).map_err(backend)? {
            Some(bytes) => decode(&id, &bytes).map(Some),
            None => Ok(None),
        }
    }

    async fn put_cursor(&self, key: &TriggerKey, cursor: &TriggerCursor) -> Result<(), StoreError> {
        self.cursors
            .insert(cursor_key(key), encode(cursor)?)
            .map_err(backend)?;
        Ok(())
    }

    async fn record_fire(&self, fire: &FireRecord) -> Result<bool, StoreError> {
        let key = fire_key(&fire.workflow, &fire.trigger, fire.scheduled_at);
        let inserted = self
            .fires
            .compare_and_swap(key, None as Option<&[u8]>, Some(encode(fire)?))
            .map_err(backend)?
            .is_ok();
        Ok(inserted)
    }

    async fn fires_since(
        &self,
        workflow: &str,
        trigger: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<FireRecord>, StoreError> {
        let prefix = fire_prefix(workflow, trigger);
        let from = fire_key(workflow, trigger, since);
        decode_all(
            self.fires
                .range(from..)
                .take_while(|entry| entry.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix))),
        )
    }

    async fn set_paused(&self, workflow: &str, paused: bool) -> Result<(), StoreError> {
        if paused {
            self.paused
                .insert(workflow.as_bytes(), &[])
                .map_err(backend)?;
        } else {
            self.paused.remove(workflow.as_bytes()).map_err(backend)?;
        }
        Ok(())
    }

    async fn paused_workflows(&self) -> Result<Vec<String>, StoreError> {
        self.paused
            .iter()
            .keys()
            .map(|key| {
                let key = key.map_err(backend)?;
                String::from_utf8(key.to_vec()).map_err(|e| StoreError::Backend(Box::new(e)))
            })
            .collect()
    }

    async fn last_fire(
        &self,
        workflow: &str,
        trigger: &str,
    ) -> Result<Option<FireRecord>, StoreError> {
        let prefix = fire_prefix(workflow, trigger);
        match self.fires.scan_prefix(&prefix).next_back() {
            Some(entry) => {
                let (key, value) = entry.map_err(backend)?;
                Ok(Some(decode(&key, &value)?))
            }
            None => Ok(None),
        }
    }

    async fn record_request_key(
        &self,
        record: &RequestKeyRecord,
    ) -> Result<Option<RequestKeyRecord>, StoreError> {
        let key = joined_key(&[&record.workflow, &record.key]);
        match self
            .request_keys
            .compare_and_swap(&key, None as Option<&[u8]>, Some(encode(record)?))
            .map_err(backend)?
        {
            Ok(()) => Ok(None),
            Err(conflict) => match conflict.current {
                Some(first) => decode(&key, &first).map(Some),
                // Not reachable: the swap expected no value and failed, so one was there.
                None => Ok(None),
            },
        }
    }

    async fn forget_request_key(&self, workflow: &str, key: &str) -> Result<(), StoreError> {
        self.request_keys
            .remove(joined_key(&[workflow, key]))
            .map_err(backend)?;
        Ok(())
    }
}

impl SledRunStore {
    fn stored_claim(
        &self,
        run_id: &str,
    ) -> Result<(Option<sled::IVec>, Option<Claim>), StoreError> {
        let bytes = self.claims.get(run_id.as_bytes()).map_err(backend)?;
        let claim = match &bytes {
            Some(b) => Some(decode(run_id.as_bytes(), b)?),
            None => None,
        };
        Ok((bytes, claim))
    }

    /// Replaces the claim of `run_id` if it is still `seen`; `false` when another process
    /// changed it in between.
    fn swap_claim(
        &self,
        run_id: &str,
        seen: Option<sled::IVec>,
        new: Option<&Claim>,
    ) -> Result<bool, StoreError> {
        let new = new.map(encode).transpose()?;
        Ok(self
            .claims
            .compare_and_swap(run_id.as_bytes(), seen, new)
            .map_err(backend)?
            .is_ok())
    }
}

#[async_trait]
impl ClaimStore for SledRunStore {
    async fn claim(
        &self,
        run_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Option<Claim>, StoreError> {
        loop {
            let (seen, stored) = self.stored_claim(run_id)?;
            let Some(claim) = Claim::take(stored.as_ref(), run_id, owner, now, lease) else {
                return Ok(None);
            };
            if self.swap_claim(run_id, seen, Some(&claim))? {
                return Ok(Some(claim));
            }
        }
    }

    async fn renew(
        &self,
        claim: &Claim,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Option<Claim>, StoreError> {
        loop {
            let (seen, stored) = self.stored_claim(&claim.run_id)?;
            let Some(renewed) = claim.renewed(stored.as_ref(), now, lease) else {
                return Ok(None);
            };
            if self.swap_claim(&claim.run_id, seen, Some(&renewed))? {
                return Ok(Some(renewed));
            }
        }
    }

    async fn release(&self, claim: &Claim) -> Result<bool, StoreError> {
        loop {
            let (seen, stored) = self.stored_claim(&claim.run_id)?;
            if stored.as_ref() != Some(claim) {
                return Ok(false);
            }
            if self.swap_claim(&claim.run_id, seen, None)? {
                return Ok(true);
            }
        }
    }

    async fn expired_claims(&self, now: DateTime<Utc>) -> Result<Vec<Claim>, StoreError> {
        let mut claims: Vec<Claim> = decode_all(self.claims.iter())?;
        claims.retain(|c| c.expires_at <= now);
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{conformance, RunStatus};

    /// As if the store's process had stopped without closing it (kill -9): no clean-close mark.
    fn forget_clean_close(dir: &Path) {
        std::fs::remove_file(dir.join("closed-cleanly")).unwrap();
    }

    /// Cuts the history's log file to `len` bytes.
    fn shorten_db(dir: &Path, len: u64) {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("db"))
            .unwrap();
        file.set_len(len).unwrap();
    }

    /// An ended run whose outputs are 100 KB: under sled's 128 KiB blob size, so in the log.
    fn run_of_100_kb(id: String) -> RunRecord {
        let mut run = ended_run(id, "manual");
        run.outputs = Some(serde_json::json!("x".repeat(100_000)));
        run
    }

    /// A run of workflow `w` that ended successfully now, started by a trigger of `kind`.
    fn ended_run(id: String, kind: &str) -> RunRecord {
        RunRecord {
            id,
            workflow: "w".into(),
            path: "w.yaml".into(),
            hash: "h".into(),
            parent: None,
            trigger: serde_json::json!({ "kind": kind }),
            inputs: serde_json::json!({}),
            status: RunStatus::Succeeded,
            error: None,
            outputs: None,
            started_at: Utc::now(),
            finished_at: Some(Utc::now()),
            pid: None,
            truncated: Vec::new(),
            resumes: 0,
            wait: None,
        }
    }

    #[tokio::test]
    async fn passes_the_conformance_checks() {
        let dir = tempfile::tempdir().unwrap();
        conformance::run_all(&SledRunStore::open(dir.path()).await.unwrap()).await;
        let dir = tempfile::tempdir().unwrap();
        conformance::run_outbox(&SledRunStore::open(dir.path()).await.unwrap()).await;
    }

    #[tokio::test]
    async fn runs_ending_together_are_all_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledRunStore::open(dir.path()).await.unwrap();
            let end_run = |i: usize| {
                let store = &store;
                async move {
                    let record = ended_run(format!("01R{i:02}"), "poll");
                    store.put_run(&record).await?;
                    store.flush().await
                }
            };
            let ended = futures::future::join_all((0..16).map(end_run)).await;
            assert!(ended.iter().all(Result::is_ok), "{ended:?}");
        }
        let store = SledRunStore::open(dir.path()).await.unwrap();
        assert_eq!(store.list_runs(100).await.unwrap().len(), 16);
    }

    /// The sharing itself, without the disk's timing: how many syncs the store makes depends
    /// on whether a sync ends before the next caller comes (one each on a loaded machine).
    #[tokio::test]
    async fn callers_that_come_during_a_sync_share_the_next_one() {
        let commit = Arc::new(GroupCommit::default());
        let came = std::sync::atomic::AtomicUsize::new(0);
        let syncs = std::sync::atomic::AtomicUsize::new(0);
        let caller = |_| {
            let (commit, came, syncs) = (&commit, &came, &syncs);
            async move {
                came.fetch_add(1, Ordering::SeqCst);
                commit
                    .covered_by_sync(|end| async move {
                        syncs.fetch_add(1, Ordering::SeqCst);
                        // The first sync lasts until all 16 callers have come.
                        while came.load(Ordering::SeqCst) < 16 {
                            tokio::task::yield_now().await;
                        }
                        end.succeed();
                        Ok(())
                    })
                    .await
            }
        };
        let ended = futures::future::join_all((0..16).map(caller)).await;
        assert!(ended.iter().all(Result::is_ok), "{ended:?}");
        // The first caller's sync, then one for the 15 that came while it ran.
        assert_eq!(syncs.load(Ordering::SeqCst), 2);
        assert_eq!(commit.state.lock().started, 2);
    }

    #[tokio::test]
    async fn a_failed_sync_covers_nobody() {
        let commit = Arc::new(GroupCommit::default());
        let failed = commit
            .covered_by_sync(|end| async move {
                drop(end);
                Err(StoreError::Backend("disk gone".into()))
            })
            .await;
        assert!(failed.is_err());
        // The next caller needs a sync of its own: the failed one is not counted as good.
        let syncs = std::sync::atomic::AtomicUsize::new(0);
        commit
            .covered_by_sync(|end| {
                syncs.fetch_add(1, Ordering::SeqCst);
                end.succeed();
                async { Ok(()) }
            })
            .await
            .unwrap();
        assert_eq!(syncs.load(Ordering::SeqCst), 1);
        assert_eq!(commit.state.lock().last_good, 2);
    }

    #[tokio::test]
    async fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledRunStore::open(dir.path()).await.unwrap();
            conformance::run_all(&store).await;
        }
        let store = SledRunStore::open(dir.path()).await.unwrap();
        let ids: Vec<String> = store
            .list_runs(10)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["01G", "01F", "01E", "01D", "01C", "01B", "01A"]);
        assert_eq!(store.attempts("01A").await.unwrap().len(), 4);
        // Records written in chunks, the last of them when the store was dropped.
        let many = store.attempts_page("01MANY", None, 250, 100).await.unwrap();
        assert_eq!(many.total, 300);
        assert_eq!(
            many.attempts.iter().map(|a| a.seq).collect::<Vec<_>>(),
            (250..300).collect::<Vec<_>>()
        );
        let fires = store
            .fires_since("report", "daily", DateTime::<Utc>::MIN_UTC)
            .await
            .unwrap();
        assert_eq!(fires.len(), 3);
        assert_eq!(store.paused_workflows().await.unwrap(), ["report"]);
    }

    /// Damage after a clean close (a disk or a person changed a byte), or in a history whose
    /// process never closed it (no mark): either way opening copies first.
    #[tokio::test]
    async fn a_damaged_history_is_refused_and_the_files_before_opening_are_kept() {
        refused_with_a_copy(false).await;
        refused_with_a_copy(true).await;
    }

    async fn refused_with_a_copy(stopped_without_closing: bool) {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("runs");
        {
            let store = SledRunStore::open(&dir).await.unwrap();
            conformance::run_all(&store).await;
        }
        if stopped_without_closing {
            forget_clean_close(&dir);
        }
        let db_file = dir.join("db");
        let mut bytes = std::fs::read(&db_file).unwrap();
        let first = bytes
            .windows(3)
            .position(|w| w == b"01B")
            .expect("the first run is in the log");
        bytes[first] ^= 0x20;
        std::fs::write(&db_file, &bytes).unwrap();

        let copy = match open_retrying(&dir).await {
            Err(StoreError::Damaged {
                copy: Some(copy), ..
            }) => copy,
            Err(other) => panic!("{other:?}"),
            Ok(store) => panic!(
                "a damaged history opened with {} runs",
                store.list_runs(100).await.unwrap().len()
            ),
        };
        assert_eq!(
            std::fs::read(copy.join("db")).unwrap(),
            bytes,
            "the copy holds the files as they were before opening"
        );
    }

    fn marked_attempt(run_id: &str, seq: u64) -> AttemptRecord {
        AttemptRecord {
            run_id: run_id.into(),
            seq,
            step: format!("step{seq}"),
            iteration: vec![],
            attempt: 1,
            status: crate::store::StepStatus::Succeeded,
            input: serde_json::json!({}),
            output: Some(serde_json::json!({ "from": format!("marker-{run_id}-{seq}") })),
            error: None,
            started_at: Utc::now(),
            duration_us: 3,
            truncated: Vec::new(),
            output_redacted: false,
        }
    }

    /// Six runs of two attempts each, each in an opening of its own and flushed, as
    /// `weft run` does (so the last ones are in the log after sled's last snapshot, where its
    /// recovery takes an unreadable record for a torn tail).
    async fn six_runs(dir: &Path) {
        for r in 0..6 {
            let store = open_retrying(dir).await.unwrap();
            let id = format!("01R{r}");
            let mut run = ended_run(id.clone(), "manual");
            run.status = RunStatus::Running;
            store.put_run(&run).await.unwrap();
            for seq in 0..2 {
                store.put_attempt(&marked_attempt(&id, seq)).await.unwrap();
            }
            run.status = RunStatus::Succeeded;
            store.put_run(&run).await.unwrap();
            store.flush().await.unwrap();
        }
    }

    /// Every file below `dir` with its bytes, the holder left out (written by a successful
    /// opening only, after sled's recovery).
    fn folder_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(folder) = pending.pop() {
            for entry in std::fs::read_dir(&folder).unwrap().flatten() {
                if entry.file_type().unwrap().is_dir() {
                    pending.push(entry.path());
                } else if entry.file_name() != "holder" {
                    files.push((entry.path(), std::fs::read(entry.path()).unwrap()));
                }
            }
        }
        files.sort();
        files
    }

    fn copy_folder(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap().flatten() {
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_folder(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }

    /// A copy of the history `pristine` at `dir` with a bit of byte `at` of its `file`
    /// flipped: that file's bytes, and every file's, as the copy holds them before opening.
    fn flipped_copy(
        pristine: &Path,
        dir: &Path,
        file: &str,
        at: usize,
    ) -> (Vec<u8>, Vec<(PathBuf, Vec<u8>)>) {
        copy_folder(pristine, dir);
        let path = dir.join(file);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[at] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        (bytes, folder_bytes(dir))
    }

    /// Opens `dir` (retrying while this process's dropped store still holds the lock).
    async fn open_retrying(dir: &Path) -> Result<SledRunStore, StoreError> {
        let mut tries = 0;
        loop {
            match SledRunStore::open(dir).await {
                Err(StoreError::Locked { .. }) if tries < 40 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                other => return other,
            }
        }
    }

    /// One flipped byte, anywhere among records on disk, after a clean close or in the files
    /// a kill -9 leaves, is never a silent loss: the opening is refused with a copy of the
    /// files as they were, leaves every file byte for byte as it found it, and a second
    /// opening reuses that copy; or (a byte nothing reads any more) every run and attempt
    /// is there.
    #[tokio::test]
    async fn a_flipped_byte_among_records_on_disk_is_refused_untouched_or_loses_nothing() {
        let root = tempfile::tempdir().unwrap();
        let closed = root.path().join("closed");
        six_runs(&closed).await;
        // What kill -9 leaves: the files of a store that is still open, after a run's records
        // were flushed and a seventh run began (its records written, not synced).
        let killed = root.path().join("killed");
        {
            let store = open_retrying(&closed).await.unwrap();
            let mut run = ended_run("01R6".into(), "manual");
            run.status = RunStatus::Running;
            store.put_run(&run).await.unwrap();
            store.put_attempt(&marked_attempt("01R6", 0)).await.unwrap();
            store.attempts.write_out_all().unwrap();
            store.db.flush().unwrap();
            copy_folder(&closed, &killed);
            std::fs::remove_file(killed.join("holder")).unwrap();
        }
        let snapshot = |dir: &Path| {
            std::fs::read_dir(dir)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .find(|name| name.starts_with("snap."))
                .unwrap()
        };
        let flips = [
            ("db", "\"id\":\"01R0\"", false, "the first run"),
            ("db", "\"id\":\"01R5\"", true, "the last run"),
            ("db", "marker-01R0-0", false, "the first attempt chunk"),
            ("db", "marker-01R5-1", true, "the last attempt chunk"),
            ("db", "succeeded", true, "the last record"),
        ];
        let mut refused = 0;
        for (state, pristine) in [("clean close", &closed), ("kill -9", &killed)] {
            let mut cases: Vec<(String, usize, String)> = flips
                .iter()
                .map(|&(file, text, from_end, what)| {
                    let bytes = std::fs::read(pristine.join(file)).unwrap();
                    let mut found = bytes
                        .windows(text.len())
                        .enumerate()
                        .filter(|(_, w)| *w == text.as_bytes())
                        .map(|(at, _)| at);
                    let at = if from_end {
                        found.next_back()
                    } else {
                        found.next()
                    };
                    let at = at.unwrap_or_else(|| panic!("{what} is in the log"));
                    (file.to_string(), at + text.len() / 2, what.to_string())
                })
                .collect();
            // sled's own records: a segment header, the snapshot, the configuration.
            cases.push(("db".into(), 5, "the segment header".into()));
            let snap = snapshot(pristine);
            let snap_len = std::fs::metadata(pristine.join(&snap)).unwrap().len() as usize;
            cases.push((snap.clone(), snap_len / 2, "the snapshot".into()));
            cases.push(("conf".into(), 10, "the configuration".into()));
            for (case, (file, at, what)) in cases.into_iter().enumerate() {
                let dir = root
                    .path()
                    .join(format!("{}-{case}", state.replace(' ', "")));
                let (bytes, before) = flipped_copy(pristine, &dir, &file, at);
                let context = format!("{what} ({file} byte {at}) after a {state}");
                match open_retrying(&dir).await {
                    Err(StoreError::Damaged {
                        copy: Some(copy), ..
                    }) => {
                        refused += 1;
                        assert_eq!(folder_bytes(&dir), before, "{context}: files changed");
                        assert_eq!(
                            std::fs::read(copy.join(&file)).unwrap(),
                            bytes,
                            "{context}: the copy holds the files as they were"
                        );
                        match open_retrying(&dir).await {
                            Err(StoreError::Damaged {
                                copy: Some(again), ..
                            }) => assert_eq!(again, copy, "{context}: one copy"),
                            Err(other) => panic!("{context}: then {other:?}"),
                            Ok(_) => panic!("{context}: opened the second time"),
                        }
                        assert_eq!(weft_store_guard::backups(&dir).len(), 1, "{context}");
                        assert_eq!(folder_bytes(&dir), before, "{context}: files changed");
                    }
                    Err(other) => panic!("{context}: {other:?}"),
                    Ok(store) => {
                        for r in 0..6 {
                            let id = format!("01R{r}");
                            let run = store.get_run(&id).await.unwrap();
                            assert!(
                                run.is_some_and(|run| run.status == RunStatus::Succeeded),
                                "{context}: run {id}"
                            );
                            let outputs: Vec<_> = store
                                .attempts(&id)
                                .await
                                .unwrap()
                                .into_iter()
                                .map(|a| a.output)
                                .collect();
                            let expected: Vec<_> =
                                (0..2).map(|seq| marked_attempt(&id, seq).output).collect();
                            assert_eq!(outputs, expected, "{context}: the attempts of {id}");
                        }
                    }
                }
            }
        }
        assert!(refused >= 10, "most flips are refused: {refused}");
        // Unflipped, the files of the kill -9 open with every run (the torn tail is no damage).
        let store = open_retrying(&killed).await.unwrap();
        for r in 0..6 {
            assert_eq!(store.attempts(&format!("01R{r}")).await.unwrap().len(), 2);
        }
        assert!(weft_store_guard::backups(&killed).is_empty());
    }

    /// A daemon writes for a long time without an opening, so its next opening's recovery
    /// replays several of sled's 512 KiB segments: a flipped byte in an earlier one is not a
    /// silent loss either.
    #[tokio::test]
    async fn a_flipped_byte_in_an_earlier_segment_of_a_long_replay_is_not_a_silent_loss() {
        let root = tempfile::tempdir().unwrap();
        let pristine = root.path().join("long");
        let big = "x".repeat(3000);
        let runs = 300;
        {
            let store = SledRunStore::open(&pristine).await.unwrap();
            for r in 0..runs {
                let id = format!("01L{r:04}");
                let mut run = ended_run(id.clone(), "manual");
                run.outputs = Some(serde_json::json!(big));
                store.put_run(&run).await.unwrap();
                for seq in 0..2 {
                    store.put_attempt(&marked_attempt(&id, seq)).await.unwrap();
                }
                store.flush().await.unwrap();
            }
        }
        let len = std::fs::metadata(pristine.join("db")).unwrap().len() as usize;
        assert!(len > 3 * 512 * 1024, "several segments: {len}");
        for at in [600_000, 700_001, 1_100_003, len - 5000] {
            let dir = root.path().join(format!("at-{at}"));
            let (_, before) = flipped_copy(&pristine, &dir, "db", at);
            match open_retrying(&dir).await {
                Err(StoreError::Damaged { copy: Some(_), .. }) => {
                    assert_eq!(folder_bytes(&dir), before, "byte {at}: files changed");
                }
                Err(other) => panic!("byte {at}: {other:?}"),
                Ok(store) => {
                    for r in 0..runs {
                        let id = format!("01L{r:04}");
                        assert!(
                            store.get_run(&id).await.unwrap().is_some(),
                            "byte {at}: {id}"
                        );
                        assert_eq!(
                            store.attempts(&id).await.unwrap().len(),
                            2,
                            "byte {at}: the attempts of {id}"
                        );
                    }
                }
            }
        }
    }

    /// One run of many attempts in one opening, after a snapshot: sled's cleaner relocates
    /// pages and reuses freed segments, so the next opening's recovery replays segments whose
    /// file order is not their log order. A flipped byte in one of them made sled skip the
    /// rest of that segment (as if a reused segment's new header were still unwritten) and
    /// open with part of the run's attempts gone, every page left readable: the opening must
    /// refuse it instead (or, for a byte nothing reads any more, lose nothing).
    #[tokio::test]
    async fn a_flipped_byte_in_a_reused_segment_is_not_a_silent_loss() {
        let root = tempfile::tempdir().unwrap();
        let pristine = root.path().join("reused");
        let attempts = 12_000;
        {
            let store = open_retrying(&pristine).await.unwrap();
            store
                .put_run(&ended_run("01S".into(), "manual"))
                .await
                .unwrap();
            store.flush().await.unwrap();
        }
        {
            // This opening's recovery writes the snapshot the next one replays from.
            let store = open_retrying(&pristine).await.unwrap();
            for seq in 0..attempts {
                store
                    .put_attempt(&marked_attempt("01S", seq))
                    .await
                    .unwrap();
            }
            store.flush().await.unwrap();
        }
        let len = std::fs::metadata(pristine.join("db")).unwrap().len() as usize;
        assert!(len > 4 * 512 * 1024, "several segments: {len}");
        let mut refused = 0;
        for at in (100_003..len).step_by(97 * 1024) {
            let dir = root.path().join(format!("at-{at}"));
            let (_, before) = flipped_copy(&pristine, &dir, "db", at);
            match open_retrying(&dir).await {
                Err(StoreError::Damaged { copy: Some(_), .. }) => {
                    refused += 1;
                    assert_eq!(folder_bytes(&dir), before, "byte {at}: files changed");
                }
                Err(other) => panic!("byte {at}: {other:?}"),
                Ok(store) => {
                    let page = store.attempts_page("01S", None, 0, 1).await.unwrap();
                    let all = store.attempts("01S").await.unwrap();
                    assert_eq!(
                        (page.total, all.len()),
                        (attempts as usize, attempts as usize),
                        "byte {at}: the attempts"
                    );
                }
            }
            std::fs::remove_dir_all(&dir).unwrap();
        }
        assert!(refused > 0, "some flips are refused");
    }

    /// A history too big to be copied and read whole before opening (the limit lowered to
    /// make a small one so): what its opening still refuses, and a damaged record found only
    /// when read, all as damage. Before: a flipped byte in a run record hung the count of
    /// runs (sled's iterator returned its error forever, `Tree::len` counted each), a
    /// shortened `db` panicked in sled's segment accounting, and a damaged old record was
    /// sled's own "Read corrupted data" message.
    #[tokio::test]
    async fn a_history_too_big_to_copy_refuses_damage_without_a_hang_or_a_panic() {
        let root = tempfile::tempdir().unwrap();
        let pristine = root.path().join("big");
        six_runs(&pristine).await;
        // A later opening's records, after the snapshot its recovery wrote.
        six_runs(&pristine).await;
        let open_as_big = |dir: PathBuf| async move {
            tokio::task::spawn_blocking(move || SledRunStore::open_blocking(&dir, 0))
                .await
                .unwrap()
        };
        let db = std::fs::read(pristine.join("db")).unwrap();
        let first_run = db
            .windows(11)
            .position(|w| w == b"\"id\":\"01R0\"")
            .expect("the first run is in the log");
        let (_, before) = flipped_copy(&pristine, &root.path().join("run"), "db", first_run + 8);
        let counted = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            open_as_big(root.path().join("run")),
        )
        .await
        .expect("the count of runs ends");
        assert!(
            matches!(counted, Err(StoreError::Damaged { copy: None, .. })),
            "{:?}",
            counted.err()
        );
        assert!(
            folder_bytes(&root.path().join("run")) == before,
            "files changed"
        );

        // Cut within what the log holds (the file goes on with a segment's unused zeroes).
        let used = db
            .windows(13)
            .rposition(|w| w == b"marker-01R5-1")
            .expect("the last attempts are in the log");
        for eighths in 1..8 {
            let cut = root.path().join(format!("cut-{eighths}"));
            copy_folder(&pristine, &cut);
            shorten_db(&cut, used as u64 * eighths / 8);
            let before = folder_bytes(&cut);
            match open_as_big(cut.clone()).await {
                Err(StoreError::Damaged { copy: None, .. }) => assert!(
                    folder_bytes(&cut) == before,
                    "db cut at {eighths}/8: files changed"
                ),
                other => panic!("db cut at {eighths}/8: {:?}", other.err()),
            }
        }

        let (_, _) = flipped_copy(&pristine, &root.path().join("conf"), "conf", 10);
        match open_as_big(root.path().join("conf")).await {
            Err(StoreError::Damaged {
                damage: Damage::File { file },
                ..
            }) => assert_eq!(file, "conf"),
            other => panic!("a damaged conf: {:?}", other.err()),
        }

        // Attempts in a segment before the snapshot's (written by the second opening's
        // recovery): an opening that does not read every record opens, and reading them says
        // they are damaged.
        let old = root.path().join("old-pristine");
        {
            let store = open_retrying(&old).await.unwrap();
            for seq in 0..2 {
                store
                    .put_attempt(&marked_attempt("01R0", seq))
                    .await
                    .unwrap();
            }
            // Attempts are written out in chunks at a flush: this puts them first in the log.
            store.flush().await.unwrap();
            // 600 KB after them, past a segment.
            for r in 0..6 {
                store
                    .put_run(&run_of_100_kb(format!("01R0{r}")))
                    .await
                    .unwrap();
            }
            store.flush().await.unwrap();
        }
        // As if stopped without closing: the next opening's recovery then writes a snapshot
        // (one of an unchanged history writes none), so the attempts above lie before it.
        forget_clean_close(&old);
        {
            let store = open_retrying(&old).await.unwrap();
            store
                .put_run(&ended_run("01R1".into(), "manual"))
                .await
                .unwrap();
            store.flush().await.unwrap();
        }
        let old_db = std::fs::read(old.join("db")).unwrap();
        let first_attempts = old_db
            .windows(13)
            .position(|w| w == b"marker-01R0-0")
            .expect("the first attempts are in the log");
        let (_, _) = flipped_copy(&old, &root.path().join("old"), "db", first_attempts + 6);
        let store = open_as_big(root.path().join("old")).await.unwrap();
        match store.attempts("01R0").await {
            Err(StoreError::DamagedRecord(Damage::Unreadable { offset: Some(_) })) => {}
            other => panic!("a damaged old record: {other:?}"),
        }
    }

    /// A crash right after a filled segment was synced, before the next one's header was
    /// written: the noted log position counts the segment's cap and padding, and recovery ends
    /// at the cap. That is not a cut log (it was refused so after kill -9s of big runs); a
    /// position past the cap still is.
    #[tokio::test]
    async fn a_crash_after_a_filled_segment_is_not_a_cut_log() {
        const SEGMENT: u64 = 512 * 1024;
        let root = tempfile::tempdir().unwrap();
        let pristine = root.path().join("pristine");
        {
            let store = open_retrying(&pristine).await.unwrap();
            for r in 0..8 {
                store
                    .put_run(&run_of_100_kb(format!("01R{r}")))
                    .await
                    .unwrap();
                store.flush().await.unwrap();
            }
        }
        forget_clean_close(&pristine);
        // The runs whose records the first segment holds: what such a crash leaves.
        let db = std::fs::read(pristine.join("db")).unwrap();
        let first_segment = &db[..SEGMENT as usize];
        let kept: Vec<String> = (0..8)
            .map(|r| format!("01R{r}"))
            .filter(|id| {
                let key = format!("\"id\":\"{id}\"");
                first_segment
                    .windows(key.len())
                    .any(|w| w == key.as_bytes())
            })
            .collect();
        assert!((1..8).contains(&kept.len()), "{kept:?}");
        for (durable, opens) in [(SEGMENT, true), (SEGMENT + 1, false)] {
            let dir = root.path().join(format!("crashed-{durable}"));
            copy_folder(&pristine, &dir);
            shorten_db(&dir, SEGMENT);
            std::fs::write(
                dir.join("record-count"),
                format!("{:020} {durable:020}", kept.len()),
            )
            .unwrap();
            match open_retrying(&dir).await {
                Ok(store) if opens => {
                    let runs = store.list_runs(100).await.unwrap();
                    let mut ids: Vec<String> = runs.into_iter().map(|r| r.id).collect();
                    ids.sort();
                    assert_eq!(ids, kept);
                }
                Err(StoreError::Damaged {
                    damage: Damage::LogCut { .. },
                    ..
                }) if !opens => {}
                other => panic!("noted position {durable}: {:?}", other.err()),
            }
        }
    }

    /// What makes a clean close pay: sled writes nothing after the store's last flush, so the
    /// files still match the mark, and the next opening takes it instead of copying.
    #[tokio::test]
    async fn a_clean_close_leaves_files_that_match_its_mark() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("runs");
        let store = SledRunStore::open(&dir).await.unwrap();
        conformance::run_all(&store).await;
        let runs = store.list_runs(100).await.unwrap().len();
        drop(store);
        // What sled still does once dropped (its flusher thread ends, the lock goes) happens
        // by the time the folder is free.
        let mut tries = 0;
        while weft_store_guard::is_locked(&dir) && tries < 40 {
            std::thread::sleep(std::time::Duration::from_millis(25));
            tries += 1;
        }
        assert!(weft_store_guard::check_clean_close_mark(&dir).is_some());
        let store = SledRunStore::open(&dir).await.unwrap();
        assert!(weft_store_guard::backups(&dir).is_empty());
        assert_eq!(store.list_runs(100).await.unwrap().len(), runs);
    }

    /// The close of a store opened from a clean close reads again only what sled wrote since:
    /// its mark must be the one a close reading every byte writes (were a write of sled's not
    /// noted, the mark would keep a stale checksum and the next opening would copy).
    #[tokio::test]
    async fn a_close_after_a_clean_opening_marks_the_files_as_a_full_read_does() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("runs");
        let wait_unlocked = || {
            let mut tries = 0;
            while weft_store_guard::is_locked(&dir) && tries < 40 {
                std::thread::sleep(std::time::Duration::from_millis(25));
                tries += 1;
            }
        };
        let store = SledRunStore::open(&dir).await.unwrap();
        conformance::run_all(&store).await;
        drop(store);
        wait_unlocked();
        for round in 0..3 {
            let store = SledRunStore::open(&dir).await.unwrap();
            assert!(store.verified.is_some(), "round {round}: opened unchanged");
            let run = ended_run(format!("01C{round:02}"), "manual");
            store.put_run(&run).await.unwrap();
            store.flush().await.unwrap();
            drop(store);
            wait_unlocked();
            let mark = std::fs::read(dir.join("closed-cleanly")).unwrap();
            weft_store_guard::note_clean_close(&dir, None, u64::MAX).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&mark),
                String::from_utf8_lossy(&std::fs::read(dir.join("closed-cleanly")).unwrap()),
                "round {round}"
            );
        }
    }

    /// The scratch area keeps values by key until their prefix is removed, and what a stopped
    /// process left (in its folder, or in the sled tree earlier versions kept it in) is gone
    /// at the next opening, history untouched.
    #[tokio::test]
    async fn the_scratch_area_holds_values_until_removed_and_is_emptied_on_opening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            db.open_tree(SCRATCH_DIR)
                .unwrap()
                .insert("old/0", &b"left by an earlier version"[..])
                .unwrap();
            db.flush().unwrap();
        }
        {
            let store = SledRunStore::open(dir.path()).await.unwrap();
            conformance::run_all(&store).await;
            let area = store.scratch().unwrap();
            area.put(b"run1/0/\x00", b"first").unwrap();
            area.put(b"run1/0/\x01", b"second").unwrap();
            area.put(b"run2/0/\x00", b"other run").unwrap();
            assert_eq!(area.get(b"run1/0/\x01").unwrap().unwrap(), b"second");
            area.remove_prefix(b"run1/").unwrap();
            assert_eq!(area.get(b"run1/0/\x00").unwrap(), None);
            assert_eq!(area.get(b"run2/0/\x00").unwrap().unwrap(), b"other run");
        }
        let store = SledRunStore::open(dir.path()).await.unwrap();
        assert_eq!(store.scratch().unwrap().get(b"run2/0/\x00").unwrap(), None);
        assert!(!store
            .db
            .tree_names()
            .iter()
            .any(|name| name.as_ref() == SCRATCH_DIR.as_bytes()));
        assert_eq!(
            store.list_runs(100).await.unwrap().len(),
            conformance::RUNS_OF_RUN_ALL
        );
    }

    /// Opening an unchanged history writes nothing to it: no snapshot (sled wrote one, synced,
    /// at every opening) and no rewrite of the log's tail; and every run is still there after
    /// many openings, whose recovery replays the log from the last snapshot written.
    #[tokio::test]
    async fn reopening_writes_no_snapshot_and_loses_nothing() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("runs");
        {
            let store = SledRunStore::open(&dir).await.unwrap();
            conformance::run_all(&store).await;
        }
        let files = |dir: &Path| {
            let mut names: Vec<(String, u64)> = std::fs::read_dir(dir)
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("snap."))
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        e.metadata().unwrap().len(),
                    )
                })
                .collect();
            names.sort();
            names
        };
        let db_bytes = || std::fs::read(dir.join("db")).unwrap();
        // The first opening of a history with records writes its first snapshot.
        drop(SledRunStore::open(&dir).await.unwrap());
        let (snapshots, log) = (files(&dir), db_bytes());
        assert_eq!(snapshots.len(), 1);
        let written_at = || {
            std::fs::metadata(dir.join("db"))
                .unwrap()
                .modified()
                .unwrap()
        };
        let last_write = written_at();
        for _ in 0..5 {
            let store = SledRunStore::open(&dir).await.unwrap();
            assert_eq!(
                store.list_runs(100).await.unwrap().len(),
                conformance::RUNS_OF_RUN_ALL
            );
        }
        assert_eq!(files(&dir), snapshots);
        assert!(db_bytes() == log, "opening rewrote the log");
        // Not even with the same bytes (a free segment zeroed again): a write dirties pages
        // that the next sync then writes out.
        assert_eq!(written_at(), last_write, "opening wrote to the log");
        // Runs written between openings are all found, whether a snapshot was written or not.
        for round in 0..40 {
            let store = SledRunStore::open(&dir).await.unwrap();
            let mut run = store.get_run("01A").await.unwrap().unwrap();
            run.id = format!("02R{round:03}");
            run.outputs = Some(serde_json::json!("x".repeat(20_000)));
            store.put_run(&run).await.unwrap();
            store.flush().await.unwrap();
        }
        let store = SledRunStore::open(&dir).await.unwrap();
        assert_eq!(
            store.list_runs(100).await.unwrap().len(),
            conformance::RUNS_OF_RUN_ALL + 40
        );
    }

    /// A process killed (kill -9) while sled wrote a snapshot leaves the snapshot's
    /// `.generating` file, whole or cut, next to the last complete snapshot: the next opening
    /// recovers from the complete one and loses nothing, and the next snapshot removes it.
    #[tokio::test]
    async fn a_snapshot_cut_by_a_kill_while_written_loses_nothing() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("runs");
        {
            let store = SledRunStore::open(&dir).await.unwrap();
            conformance::run_all(&store).await;
        }
        // The first opening of a history with records writes its first snapshot.
        drop(SledRunStore::open(&dir).await.unwrap());
        let snapshots = || {
            let mut names: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with("snap."))
                .collect();
            names.sort();
            names
        };
        let [complete] = &snapshots()[..] else {
            panic!("one snapshot expected: {:?}", snapshots());
        };
        // Its name sorts after the complete one's, as a newer snapshot's does.
        let cut = "snap.7FFFFFFFFFFFFFFF.generating";
        let bytes = std::fs::read(dir.join(complete)).unwrap();
        std::fs::write(dir.join(cut), &bytes[..bytes.len() / 2]).unwrap();
        for round in 0..3 {
            let store = SledRunStore::open(&dir).await.unwrap();
            assert_eq!(
                store.list_runs(100).await.unwrap().len(),
                conformance::RUNS_OF_RUN_ALL + round
            );
            assert_eq!(store.attempts("01A").await.unwrap().len(), 4);
            let mut run = store.get_run("01A").await.unwrap().unwrap();
            run.id = format!("02R{round:03}");
            // Enough log for the next opening to write a snapshot.
            run.outputs = Some(serde_json::json!("x".repeat(20_000)));
            store.put_run(&run).await.unwrap();
            store.flush().await.unwrap();
        }
        let store = SledRunStore::open(&dir).await.unwrap();
        assert_eq!(
            store.list_runs(100).await.unwrap().len(),
            conformance::RUNS_OF_RUN_ALL + 3
        );
        let after = snapshots();
        assert_eq!(after.len(), 1, "{after:?}");
        assert!(!after[0].ends_with(".generating"), "{after:?}");
    }

    /// A history unchanged since its clean close is what that close left: a log position in
    /// `record-count` beyond its end (the sidecar damaged, not the log) refuses nothing.
    #[tokio::test]
    async fn an_unchanged_history_opens_whatever_log_position_its_count_file_says() {
        let dir = tempfile::tempdir().unwrap();
        // Two processes, one run each, each closed cleanly.
        for run in 1..=2 {
            let store = SledRunStore::open(dir.path()).await.unwrap();
            store
                .put_run(&ended_run(format!("01R{run:02}"), "cli"))
                .await
                .unwrap();
            store.flush().await.unwrap();
        }
        let notes = weft_store_guard::read_notes(dir.path()).unwrap();
        let noted = notes.durable_log.expect("a sync notes the log position");
        let raised = format!("{:020} {:020}", 2, noted + 10_000);
        std::fs::write(dir.path().join("record-count"), raised).unwrap();
        let store = SledRunStore::open(dir.path()).await.unwrap();
        assert_eq!(store.list_runs(10).await.unwrap().len(), 2);
        drop(store);
        // Changed since the close (the mark gone), the same position is damage.
        forget_clean_close(dir.path());
        let raised = format!("{:020} {:020}", 2, noted + 10_000);
        std::fs::write(dir.path().join("record-count"), raised).unwrap();
        let refused = SledRunStore::open(dir.path()).await.err();
        assert!(
            matches!(
                refused,
                Some(StoreError::Damaged {
                    damage: Damage::LogCut { .. },
                    ..
                })
            ),
            "{refused:?}"
        );
    }

    /// A history written before `interrupted`, cursors, fires and claims existed still opens
    /// and reads: the record format only grows, with defaults.
    #[tokio::test]
    async fn a_history_in_the_old_format_opens() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            let runs = db.open_tree("runs").unwrap();
            let attempts = db.open_tree("attempts").unwrap();
            // Exactly what the previous version wrote (optional fields left out).
            runs.insert(
                "01OLD",
                br#"{"id":"01OLD","workflow":"w","path":"w.yaml","hash":"h","trigger":{"kind":"manual"},"inputs":{},"status":"failed","error":"interrupted: the weft process (pid 9) stopped before the run finished","started_at":"2026-01-01T00:00:00Z","finished_at":"2026-01-01T00:00:01Z","pid":9}"#.to_vec(),
            )
            .unwrap();
            attempts
                .insert(
                    attempt_key("01OLD", 0),
                    br#"{"run_id":"01OLD","seq":0,"step":"a","attempt":1,"status":"succeeded","input":{},"output":1,"started_at":"2026-01-01T00:00:00Z","duration_us":5}"#.to_vec(),
                )
                .unwrap();
            db.flush().unwrap();
        }
        let store = SledRunStore::open(dir.path()).await.unwrap();
        let run = store.get_run("01OLD").await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(store.completed_attempts("01OLD").await.unwrap().len(), 1);
        assert!(store.unfinished_runs().await.unwrap().is_empty());
    }
}
