//! Wiring used by the CLI and the daemon: the encrypted store of a data directory and the
//! token manager of an app.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::app_config::{AppConfig, Credentials, ResolvedApp, SecretSource};
use crate::clock::SystemClock;
use crate::crypto::{Keyring, KEY_FILE_NAME, MASTER_KEY_ENV};
use crate::error::{AuthError, Result};
use crate::oauth_client::OAuthClient;
use crate::provider::CONFLUENCE;
use crate::store::{ConnectionStore, SledConnectionStore, STORE_DIR};
use crate::tokens::{TokenManager, TokenOptions};

/// Opens `<data_dir>`'s connection store with the key from `WEFT_MASTER_KEY` (via `env`) or the
/// key file; a wrong key is refused here, at start. A key file is created only for a new store:
/// a store whose key file is gone is refused without writing a key that could not open it.
pub fn open_store(
    data_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn ConnectionStore>> {
    let key_file = data_dir.join(KEY_FILE_NAME);
    let store = data_dir.join(STORE_DIR);
    if env(MASTER_KEY_ENV).is_none() && !key_file.exists() && store.exists() {
        return Err(AuthError::MasterKeyMissing { store, key_file });
    }
    let keys = Keyring::load(data_dir, env)?;
    Ok(Arc::new(SledConnectionStore::open(data_dir, keys)?))
}

/// What a secret file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretFileKind {
    MasterKey,
    ClientSecret,
}

/// A secret file that users other than its owner may read or change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposedSecretFile {
    pub path: PathBuf,
    pub holds: SecretFileKind,
    /// Its permission bits, e.g. `0o644`.
    pub mode: u32,
}

/// The secret files `data_dir` uses (the master key file when `WEFT_MASTER_KEY` is unset, the
/// app's client-secret file) whose mode gives any access to group or others (`mode & 0o077`).
/// Files that do not exist or cannot be read are left to the code that reads them.
pub fn exposed_secret_files(
    data_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<ExposedSecretFile> {
    let mut files = Vec::new();
    if env(MASTER_KEY_ENV).is_none() {
        files.push((data_dir.join(KEY_FILE_NAME), SecretFileKind::MasterKey));
    }
    if let Ok(AppConfig {
        credentials:
            Credentials::Own {
                client_secret: SecretSource::File { path },
                ..
            },
        ..
    }) = AppConfig::load(data_dir, CONFLUENCE)
    {
        files.push((path, SecretFileKind::ClientSecret));
    }
    files
        .into_iter()
        .filter_map(|(path, holds)| {
            let mode = permission_bits(&path)?;
            (mode & 0o077 != 0).then_some(ExposedSecretFile { path, holds, mode })
        })
        .collect()
}

#[cfg(unix)]
fn permission_bits(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    Some(std::fs::metadata(path).ok()?.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn permission_bits(_path: &Path) -> Option<u32> {
    None
}

/// A token manager talking to `app`'s token endpoint, on the system clock.
pub fn token_manager(
    store: Arc<dyn ConnectionStore>,
    app: &ResolvedApp,
    http: reqwest::Client,
) -> TokenManager {
    TokenManager::new(
        store,
        Arc::new(OAuthClient::new(app, http)),
        Arc::new(SystemClock),
        TokenOptions::default(),
    )
    .with_endpoints(app.endpoints.clone())
}

/// Has `manager` refresh with `app`'s credentials and call `app`'s API base from now on (the
/// app changed while the process runs).
pub fn use_app(manager: &TokenManager, app: &ResolvedApp, http: reqwest::Client) {
    manager.use_app(Arc::new(OAuthClient::new(app, http)), app.endpoints.clone());
}

/// The process environment, as the `env` argument above.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The HTTP client for Atlassian calls: bounded timeouts so a hung endpoint cannot stall a refresh.
pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| crate::error::AuthError::HttpClient(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_store_without_its_key_file_is_refused_and_no_key_is_written() {
        let dir = tempfile::tempdir().unwrap();
        drop(open_store(dir.path(), &no_env).unwrap());
        // sled lets go of its folder lock from its own thread, after the drop: wait for it,
        // or the last opening below finds the store in use on a busy machine.
        let mut tries = 0;
        while weft_store_guard::is_locked(&dir.path().join(STORE_DIR)) && tries < 200 {
            std::thread::sleep(std::time::Duration::from_millis(10));
            tries += 1;
        }
        let key_file = dir.path().join(KEY_FILE_NAME);
        std::fs::remove_file(&key_file).unwrap();
        let Err(err) = open_store(dir.path(), &no_env) else {
            panic!("a store without its key file was opened");
        };
        assert!(
            matches!(&err, AuthError::MasterKeyMissing { key_file: k, store } if *k == key_file && *store == dir.path().join(STORE_DIR)),
            "{err}"
        );
        assert!(!key_file.exists(), "no new key was created");
        // The key in the environment is still used (and checked) as before.
        let env = |name: &str| (name == MASTER_KEY_ENV).then(|| "ab".repeat(32));
        let opened = open_store(dir.path(), &env);
        assert!(
            matches!(opened, Err(AuthError::WrongMasterKey { .. })),
            "{:?}",
            opened.err()
        );
        assert!(!key_file.exists());
    }

    #[cfg(unix)]
    #[test]
    fn secret_files_readable_by_others_are_found() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        drop(open_store(dir.path(), &no_env).unwrap());
        assert_eq!(exposed_secret_files(dir.path(), &no_env), []);
        let secret = dir.path().join("client-secret");
        std::fs::write(&secret, "s").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o640)).unwrap();
        let mut app = AppConfig::new(CONFLUENCE).unwrap();
        app.credentials = Credentials::Own {
            client_id: "cid".into(),
            client_secret: SecretSource::File {
                path: secret.clone(),
            },
        };
        app.save(dir.path()).unwrap();
        let key_file = dir.path().join(KEY_FILE_NAME);
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o604)).unwrap();
        assert_eq!(
            exposed_secret_files(dir.path(), &no_env),
            [
                ExposedSecretFile {
                    path: key_file,
                    holds: SecretFileKind::MasterKey,
                    mode: 0o604
                },
                ExposedSecretFile {
                    path: secret.clone(),
                    holds: SecretFileKind::ClientSecret,
                    mode: 0o640
                }
            ]
        );
        // With the key in the environment the key file is not used, so not reported.
        let env = |name: &str| (name == MASTER_KEY_ENV).then(|| "ab".repeat(32));
        assert_eq!(exposed_secret_files(dir.path(), &env).len(), 1);
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(exposed_secret_files(dir.path(), &env), []);
    }
}
