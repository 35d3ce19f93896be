//! sled-backed [`ConnectionStore`]: one encrypted value per connection, keyed by name, bound to
//! the name through the AEAD associated data.

use std::path::{Path, PathBuf};

use super::record::PlainRecord;
use super::{ConnectionStore, Revision, StoredConnection};
use crate::connection::{validate_connection_name, Connection};
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

fn storage(operation: &'static str) -> impl Fn(sled::Error) -> AuthError {
    move |e| AuthError::Storage { operation, reason: e.to_string() }
}

fn identity(name: &str) -> Vec<u8> {
    [b"weft/connection/v1/".as_slice(), name.as_bytes()].concat()
}

/// Connections in a sled database below the data directory.
pub struct SledConnectionStore {
    db: sled::Db,
    connections: sled::Tree,
    keys: Keyring,
}

impl std::fmt::Debug for SledConnectionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledConnectionStore").field("keys", &self.keys).finish_non_exhaustive()
    }
}

impl SledConnectionStore {
    /// Opens (or creates) the store in `data_dir`, checks that `keys` opens it, and re-seals
    /// records made with a previous key. Directory 0700, files 0600.
    pub fn open(data_dir: &Path, keys: Keyring) -> Result<Self> {
        ensure_private_dir(data_dir)?;
        let path: PathBuf = data_dir.join(STORE_DIR);
        let db = sled::open(&path).map_err(|e| AuthError::Storage {
            operation: "opening the connection store",
            reason: format!("{e} (at {}; is another weft process using this data directory?)", path.display()),
        })?;
        let connections = db.open_tree(CONNECTIONS_TREE).map_err(storage("opening the connections tree"))?;
        let store = Self { db, connections, keys };
        store.check_key(data_dir)?;
        store.reseal_old_records()?;
        ensure_private_dir(&path)?;
        restrict_tree(&path)?;
        Ok(store)
    }

    /// Refuses a key that did not create this store, before anything is read or written.
    fn check_key(&self, data_dir: &Path) -> Result<()> {
        let meta = self.db.open_tree(META_TREE).map_err(storage("opening the meta tree"))?;
        match meta.get(KEY_CHECK).map_err(storage("reading the key check"))? {
            None => {
                let sealed = self.keys.seal(KEY_CHECK_IDENTITY, KEY_CHECK_PLAINTEXT);
                meta.insert(KEY_CHECK, sealed).map_err(storage("writing the key check"))?;
            }
            Some(sealed) => {
                let wrong_key = || AuthError::WrongMasterKey {
                    data_dir: data_dir.to_path_buf(),
                    stored_key_id: Keyring::key_id_of(&sealed).map(|id| id.to_string()).unwrap_or_else(|| "unknown".into()),
                    current_key_id: self.keys.current_id().to_string(),
                };
                let plain = self.keys.open(KEY_CHECK_IDENTITY, &sealed).map_err(|_| wrong_key())?;
                if plain != KEY_CHECK_PLAINTEXT {
                    return Err(wrong_key());
                }
                if Keyring::key_id_of(&sealed) != Some(self.keys.current_id()) {
                    let resealed = self.keys.seal(KEY_CHECK_IDENTITY, KEY_CHECK_PLAINTEXT);
                    meta.insert(KEY_CHECK, resealed).map_err(storage("rotating the key check"))?;
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
            self.compare_and_swap(&stored, &stored.connection)?;
        }
        Ok(())
    }

    fn decode(&self, key: &[u8], sealed: &[u8]) -> Result<StoredConnection> {
        let name = String::from_utf8_lossy(key);
        let undecryptable = |reason: String| AuthError::UndecryptableRecord { connection: name.to_string(), reason };
        let plain = self.keys.open(&identity(&name), sealed).map_err(|e| match e {
            OpenError::UnknownKey(id) => undecryptable(format!("sealed with key {id}, which is not configured")),
            OpenError::Tampered => undecryptable(e.to_string()),
        })?;
        let record: PlainRecord =
            serde_json::from_slice(&plain).map_err(|e| undecryptable(format!("unreadable record: {e}")))?;
        Ok(StoredConnection { connection: record.into_connection(&name), revision: Revision(sealed.to_vec()) })
    }

    fn seal(&self, connection: &Connection) -> Result<Vec<u8>> {
        validate_connection_name(&connection.name)?;
        let plain = serde_json::to_vec(&PlainRecord::from_connection(connection))
            .map_err(|e| AuthError::Storage { operation: "serializing a connection", reason: e.to_string() })?;
        Ok(self.keys.seal(&identity(&connection.name), &plain))
    }

    fn flush(&self) -> Result<()> {
        self.db.flush().map(|_| ()).map_err(storage("flushing to disk"))
    }
}

impl ConnectionStore for SledConnectionStore {
    fn get(&self, name: &str) -> Result<Option<StoredConnection>> {
        let sealed = self.connections.get(name.as_bytes()).map_err(storage("reading a connection"))?;
        sealed.map(|sealed| self.decode(name.as_bytes(), &sealed)).transpose()
    }

    fn put(&self, connection: &Connection) -> Result<StoredConnection> {
        let sealed = self.seal(connection)?;
        self.connections
            .insert(connection.name.as_bytes(), sealed.as_slice())
            .map_err(storage("writing a connection"))?;
        self.flush()?;
        Ok(StoredConnection { connection: connection.clone(), revision: Revision(sealed) })
    }

    fn compare_and_swap(&self, expected: &StoredConnection, new: &Connection) -> Result<StoredConnection> {
        if expected.connection.name != new.name {
            return Err(AuthError::StoreConflict(new.name.clone()));
        }
        let sealed = self.seal(new)?;
        self.connections
            .compare_and_swap(new.name.as_bytes(), Some(expected.revision.0.as_slice()), Some(sealed.as_slice()))
            .map_err(storage("updating a connection"))?
            .map_err(|_| AuthError::StoreConflict(new.name.clone()))?;
        self.flush()?;
        Ok(StoredConnection { connection: new.clone(), revision: Revision(sealed) })
    }

    fn list(&self) -> Result<Vec<Connection>> {
        self.connections
            .iter()
            .map(|entry| {
                let (key, sealed) = entry.map_err(storage("scanning connections"))?;
                Ok(self.decode(&key, &sealed)?.connection)
            })
            .collect()
    }

    fn delete(&self, name: &str) -> Result<bool> {
        let removed = self.connections.remove(name.as_bytes()).map_err(storage("deleting a connection"))?;
        self.flush()?;
        Ok(removed.is_some())
    }
}
