//! Encryption at rest: XChaCha20-Poly1305 with a 256-bit master key.
//!
//! Sealed record layout: `version (1) | key id (8) | nonce (24) | ciphertext+tag`. The key id
//! (first 8 bytes of SHA-256 of the key) lets keys rotate: records sealed with a previous key
//! still open while they are re-sealed with the current one. The caller passes the record's
//! identity as associated data, so a record copied under another name does not open.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{AuthError, Result};
use crate::private_fs::create_new_private_file;

const FORMAT_VERSION: u8 = 1;
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;

/// Environment variable holding the master key (64 hex digits or base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "WEFT_MASTER_KEY";
/// Environment variable with previous keys (comma separated) while rotating.
pub const PREVIOUS_KEYS_ENV: &str = "WEFT_MASTER_KEY_PREVIOUS";
/// Key file created in the data directory when no key is given.
pub const KEY_FILE_NAME: &str = "master.key";

/// Identifies a key without revealing it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// One 256-bit key with its cipher ready.
struct MasterKey {
    id: KeyId,
    cipher: XChaCha20Poly1305,
}

impl MasterKey {
    fn from_bytes(bytes: [u8; 32]) -> Self {
        let digest = Sha256::digest(bytes);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Self {
            id: KeyId(id),
            cipher: XChaCha20Poly1305::new(&bytes.into()),
        }
    }

    fn parse(text: &str, source_desc: &str) -> Result<Self> {
        let text = text.trim();
        let invalid = |reason: &str| AuthError::InvalidMasterKey {
            source_desc: source_desc.to_string(),
            reason: reason.to_string(),
        };
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| invalid("not valid hex"))?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| invalid("expected 64 hex digits or base64 of 32 bytes (generate one with `openssl rand -hex 32`)"))?
        };
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| invalid("the key must be exactly 32 bytes (64 hex digits)"))?;
        Ok(Self::from_bytes(bytes))
    }
}

/// Why a sealed record did not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// Sealed with a key we do not have.
    UnknownKey(KeyId),
    /// Truncated, altered, or sealed for another identity.
    Tampered,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::UnknownKey(id) => write!(f, "sealed with unknown key {id}"),
            OpenError::Tampered => f.write_str("authentication failed"),
        }
    }
}

/// The current key plus previous keys that may still open old records.
pub struct Keyring {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|k| k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Keyring {
    /// A keyring from raw key bytes (tests, benchmarks).
    pub fn from_key_bytes(current: [u8; 32], previous: &[[u8; 32]]) -> Self {
        Self {
            current: MasterKey::from_bytes(current),
            previous: previous.iter().map(|k| MasterKey::from_bytes(*k)).collect(),
        }
    }

    /// Loads keys the way weft does at start: `WEFT_MASTER_KEY` (and `WEFT_MASTER_KEY_PREVIOUS`)
    /// from `env`, else `<data_dir>/master.key`, created owner-only with a random key on first use.
    pub fn load(data_dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let current = match env(MASTER_KEY_ENV) {
            Some(text) => MasterKey::parse(&text, MASTER_KEY_ENV)?,
            None => load_or_create_key_file(&data_dir.join(KEY_FILE_NAME))?,
        };
        let previous = env(PREVIOUS_KEYS_ENV)
            .unwrap_or_default()
            .split(',')
            .filter(|part| !part.trim().is_empty())
            .map(|part| MasterKey::parse(part, PREVIOUS_KEYS_ENV))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { current, previous })
    }

    pub fn current_id(&self) -> KeyId {
        self.current.id
    }

    /// Encrypts `plaintext` under the current key, bound to `identity`.
    pub fn seal(&self, identity: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: identity,
                },
            )
            .unwrap_or_else(|_| {
                unreachable!("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail")
            });
        let mut sealed = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        sealed.push(FORMAT_VERSION);
        sealed.extend_from_slice(&self.current.id.0);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// The id of the key a sealed record was made with.
    pub fn key_id_of(sealed: &[u8]) -> Option<KeyId> {
        if sealed.len() < HEADER_LEN || sealed[0] != FORMAT_VERSION {
            return None;
        }
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&sealed[1..1 + KEY_ID_LEN]);
        Some(KeyId(id))
    }

    /// Decrypts a sealed record made for `identity`.
    pub fn open(&self, identity: &[u8], sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        let id = Self::key_id_of(sealed).ok_or(OpenError::Tampered)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == id)
            .ok_or(OpenError::UnknownKey(id))?;
        let nonce = XNonce::from_slice(&sealed[1 + KEY_ID_LEN..HEADER_LEN]);
        key.cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed[HEADER_LEN..],
                    aad: identity,
                },
            )
            .map_err(|_| OpenError::Tampered)
    }
}

fn load_or_create_key_file(path: &PathBuf) -> Result<MasterKey> {
    let source_desc = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => return MasterKey::parse(&text, &source_desc),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(AuthError::io(path, "reading the master key file", e));
        }
        Err(_) => {}
    }
    if let Some(parent) = path.parent() {
        crate::private_fs::ensure_private_dir(parent)?;
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let mut file = create_new_private_file(path)
        .map_err(|e| AuthError::io(path, "creating the master key file", e))?;
    file.write_all(hex::encode(bytes).as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| AuthError::io(path, "writing the master key file", e))?;
    Ok(MasterKey::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring(byte: u8) -> Keyring {
        Keyring::from_key_bytes([byte; 32], &[])
    }

    #[test]
    fn seal_and_open_round_trip_with_identity_binding() {
        let keys = keyring(1);
        let sealed = keys.seal(b"conn:acme", b"payload");
        assert_eq!(keys.open(b"conn:acme", &sealed).unwrap(), b"payload");
        assert_eq!(keys.open(b"conn:other", &sealed), Err(OpenError::Tampered));
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(keys.open(b"conn:acme", &altered), Err(OpenError::Tampered));
        assert_eq!(
            keys.open(b"conn:acme", &sealed[..10]),
            Err(OpenError::Tampered)
        );
    }

    #[test]
    fn another_key_is_refused_and_a_previous_key_still_opens() {
        let old = keyring(1);
        let sealed = old.seal(b"id", b"x");
        let new = keyring(2);
        assert_eq!(
            new.open(b"id", &sealed),
            Err(OpenError::UnknownKey(old.current_id()))
        );
        let rotating = Keyring::from_key_bytes([2; 32], &[[1; 32]]);
        assert_eq!(rotating.open(b"id", &sealed).unwrap(), b"x");
        assert_eq!(
            Keyring::key_id_of(&rotating.seal(b"id", b"x")),
            Some(new.current_id())
        );
    }

    #[test]
    fn key_file_is_created_owner_only_once_and_env_key_wins() {
        let tmp = tempfile::tempdir().unwrap();
        let no_env = |_: &str| None;
        let first = Keyring::load(tmp.path(), &no_env).unwrap();
        let second = Keyring::load(tmp.path(), &no_env).unwrap();
        assert_eq!(first.current_id(), second.current_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(tmp.path().join(KEY_FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let hex_key = "ab".repeat(32);
        let env = move |name: &str| (name == MASTER_KEY_ENV).then(|| hex_key.clone());
        let from_env = Keyring::load(tmp.path(), &env).unwrap();
        assert_eq!(from_env.current_id(), keyring(0xab).current_id());
    }

    #[test]
    fn malformed_keys_are_explained_without_echoing_them() {
        let env = |name: &str| (name == MASTER_KEY_ENV).then(|| "tooshort".to_string());
        let err = Keyring::load(Path::new("/nonexistent"), &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("WEFT_MASTER_KEY") && err.contains("32 bytes"),
            "{err}"
        );
        assert!(!err.contains("tooshort"));
        let keys = keyring(7);
        assert!(!format!("{keys:?}").contains("0707"));
    }
}
