//! sled-backed [`ConnectionStore`]: one encrypted value per connection, keyed by name, bound to
//! the name through the AEAD associated data.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;

use super::record::PlainRecord;
use super::{ConnectionStore, Revision, StoreError, StoredConnection, VerifiedCopy};
use crate::connection::{validate_connection, Connection};
use crate::crypto::{Keyring, OpenError};
use crate::error::{AuthError, Result};
use crate::private_fs::{ensure_private_dir, restrict_tree};

const CONNECTIONS_TREE: &str = "connections";
const META_TREE: &str = "meta";
const KEY_CHECK: &[u8] = b"key-check";
const KEY_CHECK_IDENTITY: &[u8] = b"weft/key-check/v1";
const KEY_CHECK_PLAINTEXT: &[u8] = b"weft master key check";
/// Directory (below the data directory) that holds the sled database.
pub const STORE_DIR: &str = "connections.db";
/// Verified copies kept next to the store (`connections.db.backup-<time>`).
const KEEP_COPIES: usize = 3;

fn storage(operation: &'static str) -> impl Fn(sled::Error) -> AuthError {
    move |e| {
        AuthError::Store(StoreError::Backend {
            operation,
            source: Box::new(e),
        })
    }
}

fn identity(name: &str) -> Vec<u8> {
    [b"weft/connection/v1/".as_slice(), name.as_bytes()].concat()
}

/// Connections in a sled database below the data directory.
///
/// Never opened in a way that can destroy what it holds (sled drops a damaged record and every
/// later one, and rewrites its log as it opens): the number of connections is kept in a
/// sidecar file (`weft_store_guard`), and before each open the folder is copied aside
/// (`connections.db.backup-<time>`) and the copy opened and counted. A copy that holds every
/// connection is kept (the last three are); one that does not means the store is damaged: the
/// copy is deleted, the store is left unopened and untouched, and the error names the newest
/// verified copy.
pub struct SledConnectionStore {
    db: sled::Db,
    dir: PathBuf,
    connections: sled::Tree,
    /// Connections stored, as in the sidecar; the lock also orders writes that change it.
    count: tokio::sync::Mutex<u64>,
    keys: Keyring,
    /// The last decoding of each connection read, with the sealed bytes it came from: a read
    /// whose stored bytes are the same returns it without decrypting again (every step that
    /// uses a connection reads it twice, for its token and for its API base).
    decoded: parking_lot::Mutex<HashMap<String, StoredConnection>>,
    /// See [`ConnectionStore::writes`].
    writes: AtomicU64,
}

/// At most this many decodings are kept; past it they are all dropped and kept anew.
const MAX_DECODED: usize = 1024;

impl std::fmt::Debug for SledConnectionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledConnectionStore")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

fn guard_error(path: &Path) -> impl Fn(weft_store_guard::GuardError) -> AuthError {
    let path = path.to_path_buf();
    move |e| {
        AuthError::Store(StoreError::Open {
            path: path.clone(),
            source: Box::new(e),
        })
    }
}

/// Opens the sled database at `path`, telling a lock held by another process from other
/// failures.
fn open_db(path: &Path) -> Result<sled::Db> {
    sled::open(path).map_err(|e| match e {
        sled::Error::Io(_) if weft_store_guard::is_locked(path) => {
            AuthError::Store(StoreError::Locked {
                path: path.to_path_buf(),
                holder: weft_store_guard::holder(path).map(|h| h.to_string()),
            })
        }
        other => AuthError::Store(StoreError::Open {
            path: path.to_path_buf(),
            source: Box::new(other),
        }),
    })
}

/// The connections a copy holds, read by opening it (which can only change the copy).
fn connections_in(copy: &Path) -> Result<u64> {
    let db = open_db(copy)?;
    let tree = db
        .open_tree(CONNECTIONS_TREE)
        .map_err(storage("opening the connections tree of a copy"))?;
    Ok(tree.len() as u64)
}

/// Copies the store aside and reads the copy back; refuses when the copy is missing
/// connections. Does nothing for a store without a count (new, or from before counts).
fn verify_before_opening(path: &Path) -> Result<()> {
    let Some(expected) = weft_store_guard::read_count(path).map_err(guard_error(path))? else {
        return Ok(());
    };
    if weft_store_guard::is_locked(path) {
        // A copy of a store being written is not consistent; opening reports the holder.
        return Ok(());
    }
    let copy = weft_store_guard::copy_aside(path, Utc::now()).map_err(guard_error(path))?;
    let found = connections_in(&copy.path);
    match found {
        Ok(found) if found >= expected => {
            weft_store_guard::prune_backups(path, KEEP_COPIES).map_err(guard_error(path))?;
            Ok(())
        }
        found => {
            weft_store_guard::remove_backup(&copy).map_err(guard_error(path))?;
            let backup = weft_store_guard::backups(path)
                .into_iter()
                .next()
                .map(|b| VerifiedCopy {
                    path: b.path,
                    taken_at: b.taken_at,
                });
            Err(AuthError::Store(StoreError::Corrupted {
                path: path.to_path_buf(),
                expected,
                found: found.unwrap_or(0),
                backup,
            }))
        }
    }
}

impl SledConnectionStore {
    /// Opens (or creates) the store in `data_dir`, checks that `keys` opens it, and re-seals
    /// records made with a previous key. Directory 0700, files 0600.
    pub fn open(data_dir: &Path, keys: Keyring) -> Result<Self> {
        ensure_private_dir(data_dir)?;
        let path: PathBuf = data_dir.join(STORE_DIR);
        verify_before_opening(&path)?;
        let db = open_db(&path)?;
        weft_store_guard::record_holder(&path).map_err(guard_error(&path))?;
        let connections = db
            .open_tree(CONNECTIONS_TREE)
            .map_err(storage("opening the connections tree"))?;
        let count = connections.len() as u64;
        weft_store_guard::write_count(&path, count).map_err(guard_error(&path))?;
        let store = Self {
            db,
            dir: path.clone(),
            connections,
            count: tokio::sync::Mutex::new(count),
            keys,
            decoded: parking_lot::Mutex::default(),
            writes: AtomicU64::new(0),
        };
        store.check_key(data_dir)?;
        store.reseal_old_records()?;
        ensure_private_dir(&path)?;
        restrict_tree(&path)?;
        Ok(store)
    }

    /// Refuses a key that did not create this store, before anything is read or written.
    fn check_key(&self, data_dir: &Path) -> Result<()> {
        let meta = self
            .db
            .open_tree(META_TREE)
            .map_err(storage("opening the meta tree"))?;
        match meta
            .get(KEY_CHECK)
            .map_err(storage("reading the key check"))?
        {
            None => {
                let sealed = self.keys.seal(KEY_CHECK_IDENTITY, KEY_CHECK_PLAINTEXT);
                meta.insert(KEY_CHECK, sealed)
                    .map_err(storage("writing the key check"))?;
            }
            Some(sealed) => {
                let wrong_key = || AuthError::WrongMasterKey {
                    data_dir: data_dir.to_path_buf(),
                    stored_key_id: Keyring::key_id_of(&sealed)
                        .map(|id| id.to_string())
                        .unwrap_or_else(|| "unknown".into()),
                    current_key_id: self.keys.current_id().to_string(),
                };
                let plain = self
                    .keys
                    .open(KEY_CHECK_IDENTITY, &sealed)
                    .map_err(|_| wrong_key())?;
                if plain != KEY_CHECK_PLAINTEXT {
                    return Err(wrong_key());
                }
                if Keyring::key_id_of(&sealed) != Some(self.keys.current_id()) {
                    let resealed = self.keys.seal(KEY_CHECK_IDENTITY, KEY_CHECK_PLAINTEXT);
                    meta.insert(KEY_CHECK, resealed)
                        .map_err(storage("rotating the key check"))?;
                }
            }
        }
        self.db.flush().map_err(storage("flushing"))?;
        Ok(())
    }

    /// Key rotation: records sealed with a previous key are sealed again with the current one.
    fn reseal_old_records(&self) -> Result<()> {
        let current = Some(self.keys.current_id());
        for entry in self.connections.iter() {
            let (key, sealed) = entry.map_err(storage("scanning connections"))?;
            if Keyring::key_id_of(&sealed) == current {
                continue;
            }
            let stored = self.decode(&key, &sealed)?;
            self.swap(&stored, &stored.connection)?;
        }
        self.flush_blocking()
    }

    fn decode(&self, key: &[u8], sealed: &[u8]) -> Result<StoredConnection> {
        let name = String::from_utf8_lossy(key);
        let undecryptable = |reason: String| AuthError::UndecryptableRecord {
            connection: name.to_string(),
            reason,
        };
        let plain = self
            .keys
            .open(&identity(&name), sealed)
            .map_err(|e| match e {
                OpenError::UnknownKey(id) => {
                    undecryptable(format!("sealed with key {id}, which is not configured"))
                }
                OpenError::Tampered => undecryptable(e.to_string()),
            })?;
        let record: PlainRecord = serde_json::from_slice(&plain)
            .map_err(|e| undecryptable(format!("unreadable record: {e}")))?;
        Ok(StoredConnection {
            connection: record.into_connection(&name),
            revision: Revision(sealed.to_vec()),
        })
    }

    fn seal(&self, connection: &Connection) -> Result<Vec<u8>> {
        validate_connection(connection)?;
        let plain = serde_json::to_vec(&PlainRecord::from_connection(connection))
            .map_err(|e| AuthError::Store(StoreError::Encode(e)))?;
        Ok(self.keys.seal(&identity(&connection.name), &plain))
    }

    fn flush_blocking(&self) -> Result<()> {
        self.db
            .flush()
            .map(|_| ())
            .map_err(storage("flushing to disk"))
    }

    /// Syncs to disk on the blocking pool, then records `count` in the sidecar if given.
    async fn flush(&self, count: Option<u64>) -> Result<()> {
        let (db, dir) = (self.db.clone(), self.dir.clone());
        tokio::task::spawn_blocking(move || {
            db.flush().map_err(storage("flushing to disk"))?;
            match count {
                Some(count) => {
                    weft_store_guard::write_count(&dir, count).map_err(guard_error(&dir))
                }
                None => Ok(()),
            }
        })
        .await
        .map_err(|e| {
            AuthError::Store(StoreError::Backend {
                operation: "flushing to disk",
                source: Box::new(e),
            })
        })?
    }

    /// Compare-and-swap without the flush.
    fn swap(&self, expected: &StoredConnection, new: &Connection) -> Result<StoredConnection> {
        if expected.connection.name != new.name {
            return Err(AuthError::StoreConflict(new.name.clone()));
        }
        let sealed = self.seal(new)?;
        self.connections
            .compare_and_swap(
                new.name.as_bytes(),
                Some(expected.revision.0.as_slice()),
                Some(sealed.as_slice()),
            )
            .map_err(storage("updating a connection"))?
            .map_err(|_| AuthError::StoreConflict(new.name.clone()))?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(StoredConnection {
            connection: new.clone(),
            revision: Revision(sealed),
        })
    }
}

#[async_trait::async_trait]
impl ConnectionStore for SledConnectionStore {
    async fn get(&self, name: &str) -> Result<Option<StoredConnection>> {
        let sealed = self
            .connections
            .get(name.as_bytes())
            .map_err(storage("reading a connection"))?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        if let Some(known) = self.decoded.lock().get(name) {
            if known.revision.0 == sealed.as_ref() {
                return Ok(Some(known.clone()));
            }
        }
        let stored = self.decode(name.as_bytes(), &sealed)?;
        let mut decoded = self.decoded.lock();
        if decoded.len() >= MAX_DECODED {
            decoded.clear();
        }
        decoded.insert(name.to_string(), stored.clone());
        Ok(Some(stored))
    }

    async fn put(&self, connection: &Connection) -> Result<StoredConnection> {
        let sealed = self.seal(connection)?;
        let mut count = self.count.lock().await;
        let previous = self
            .connections
            .insert(connection.name.as_bytes(), sealed.as_slice())
            .map_err(storage("writing a connection"))?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        // Raised once the new record is durable: a crash in between never looks like loss.
        let raised = previous.is_none().then_some(*count + 1);
        self.flush(raised).await?;
        if let Some(raised) = raised {
            *count = raised;
        }
        Ok(StoredConnection {
            connection: connection.clone(),
            revision: Revision(sealed),
        })
    }

    async fn compare_and_swap(
        &self,
        expected: &StoredConnection,
        new: &Connection,
    ) -> Result<StoredConnection> {
        let stored = self.swap(expected, new)?;
        self.flush(None).await?;
        Ok(stored)
    }

    async fn list(&self) -> Result<Vec<Connection>> {
        self.connections
            .iter()
            .map(|entry| {
                let (key, sealed) = entry.map_err(storage("scanning connections"))?;
                Ok(self.decode(&key, &sealed)?.connection)
            })
            .collect()
    }

    fn writes(&self) -> Option<u64> {
        Some(self.writes.load(Ordering::SeqCst))
    }

    async fn delete(&self, name: &str) -> Result<bool> {
        let mut count = self.count.lock().await;
        let exists = self
            .connections
            .contains_key(name.as_bytes())
            .map_err(storage("reading a connection"))?;
        if !exists {
            return Ok(false);
        }
        // Lowered before the record goes: a crash in between never looks like loss.
        *count = count.saturating_sub(1);
        let (dir, lowered) = (self.dir.clone(), *count);
        tokio::task::spawn_blocking(move || {
            weft_store_guard::write_count(&dir, lowered).map_err(guard_error(&dir))
        })
        .await
        .map_err(|e| {
            AuthError::Store(StoreError::Backend {
                operation: "recording the count",
                source: Box::new(e),
            })
        })??;
        self.connections
            .remove(name.as_bytes())
            .map_err(storage("deleting a connection"))?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        // Its secrets are not kept in memory after it is gone.
        self.decoded.lock().remove(name);
        self.flush(None).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::sample_connection;
    use chrono::{Duration, Utc};

    fn open(dir: &Path, key: u8) -> Result<SledConnectionStore> {
        SledConnectionStore::open(dir, Keyring::from_key_bytes([key; 32], &[]))
    }

    #[tokio::test]
    async fn passes_the_conformance_checks() {
        let tmp = tempfile::tempdir().unwrap();
        crate::store::conformance::run_all(&open(tmp.path(), 1).unwrap()).await;
    }

    #[tokio::test]
    async fn a_read_decodes_again_whenever_the_stored_bytes_changed() {
        let tmp = tempfile::tempdir().unwrap();
        let store = open(tmp.path(), 1).unwrap();
        let conn = sample_connection("acme", Utc::now(), Duration::hours(1));
        store.put(&conn).await.unwrap();
        let first = store.get("acme").await.unwrap().unwrap();
        let again = store.get("acme").await.unwrap().unwrap();
        assert_eq!(again.revision, first.revision);
        assert_eq!(again.connection.cloud_id, conn.cloud_id);
        // Bytes changed behind the store's back are decrypted (and refused), not served stale.
        store
            .connections
            .insert("acme".as_bytes(), b"not a sealed record".as_slice())
            .unwrap();
        let error = store.get("acme").await.unwrap_err();
        assert!(
            matches!(error, AuthError::UndecryptableRecord { .. }),
            "{error:?}"
        );
        let mut renamed = conn.clone();
        renamed.site_url = "https://renamed.atlassian.net".into();
        store.put(&renamed).await.unwrap();
        let read = store.get("acme").await.unwrap().unwrap();
        assert_eq!(read.connection.site_url, "https://renamed.atlassian.net");
        assert!(store.delete("acme").await.unwrap());
        assert!(store.get("acme").await.unwrap().is_none());
        assert!(
            store.decoded.lock().is_empty(),
            "no secrets kept after delete"
        );
    }

    #[tokio::test]
    async fn the_record_count_follows_puts_and_deletes() {
        let tmp = tempfile::tempdir().unwrap();
        let store = open(tmp.path(), 1).unwrap();
        let path = tmp.path().join(STORE_DIR);
        let count = || weft_store_guard::read_count(&path).unwrap();
        assert_eq!(count(), Some(0));
        let conn = sample_connection("acme", Utc::now(), Duration::hours(1));
        store.put(&conn).await.unwrap();
        store.put(&conn).await.unwrap();
        assert_eq!(count(), Some(1), "a replaced record is not counted twice");
        store
            .put(&sample_connection("globex", Utc::now(), Duration::hours(1)))
            .await
            .unwrap();
        assert_eq!(count(), Some(2));
        assert!(store.delete("acme").await.unwrap());
        assert!(!store.delete("acme").await.unwrap());
        assert_eq!(count(), Some(1));
    }

    #[tokio::test]
    async fn tokens_are_not_on_disk_in_clear() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let store = open(tmp.path(), 1).unwrap();
            store
                .put(&sample_connection("acme", Utc::now(), Duration::hours(1)))
                .await
                .unwrap();
        }
        let mut haystack = Vec::new();
        for entry in walk(&tmp.path().join(STORE_DIR)) {
            haystack.extend(std::fs::read(entry).unwrap());
        }
        assert!(!haystack.is_empty());
        for needle in [b"AT-acme-0".as_slice(), b"RT-acme-0", b"acme.atlassian.net"] {
            assert!(
                !haystack.windows(needle.len()).any(|w| w == needle),
                "{} found on disk",
                String::from_utf8_lossy(needle)
            );
        }
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
        files
    }

    #[tokio::test]
    async fn a_record_copied_under_another_name_does_not_open() {
        let tmp = tempfile::tempdir().unwrap();
        let store = open(tmp.path(), 1).unwrap();
        store
            .put(&sample_connection("acme", Utc::now(), Duration::hours(1)))
            .await
            .unwrap();
        let sealed = store.connections.get("acme").unwrap().unwrap();
        store.connections.insert("evil", sealed).unwrap();
        let err = store.get("evil").await.unwrap_err();
        assert!(
            matches!(err, AuthError::UndecryptableRecord { ref connection, .. } if connection == "evil"),
            "{err}"
        );
        assert!(store.get("acme").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_wrong_key_is_refused_at_open_and_a_rotated_key_reseals() {
        let tmp = tempfile::tempdir().unwrap();
        let conn = sample_connection("acme", Utc::now(), Duration::hours(1));
        open(tmp.path(), 1).unwrap().put(&conn).await.unwrap();
        let err = open(tmp.path(), 2).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, AuthError::WrongMasterKey { .. }), "{message}");
        assert!(
            message.contains("WEFT_MASTER_KEY") && message.contains("does not open"),
            "{message}"
        );

        let rotating = Keyring::from_key_bytes([2; 32], &[[1; 32]]);
        let store = SledConnectionStore::open(tmp.path(), rotating).unwrap();
        assert_eq!(store.get("acme").await.unwrap().unwrap().connection, conn);
        drop(store);
        // After re-sealing, the new key alone is enough and the old one no longer opens it.
        assert_eq!(
            open(tmp.path(), 2)
                .unwrap()
                .get("acme")
                .await
                .unwrap()
                .unwrap()
                .connection,
            conn
        );
        assert!(matches!(
            open(tmp.path(), 1),
            Err(AuthError::WrongMasterKey { .. })
        ));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn data_directory_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        open(&data, 1)
            .unwrap()
            .put(&sample_connection("acme", Utc::now(), Duration::hours(1)))
            .await
            .unwrap();
        assert_eq!(
            std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
            0o700
        );
        for file in walk(&data.join(STORE_DIR)) {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", file.display());
        }
    }
}
