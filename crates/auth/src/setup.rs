//! Wiring used by the CLI and the daemon: the encrypted store of a data directory and the
//! token manager of an app.

use std::path::Path;
use std::sync::Arc;

use crate::app_config::ResolvedApp;
use crate::clock::SystemClock;
use crate::crypto::Keyring;
use crate::error::Result;
use crate::oauth_client::OAuthClient;
use crate::store::{ConnectionStore, SledConnectionStore};
use crate::tokens::{TokenManager, TokenOptions};

/// Opens `<data_dir>`'s connection store with the key from `WEFT_MASTER_KEY` (via `env`) or the
/// key file; a wrong key is refused here, at start.
pub fn open_store(
    data_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn ConnectionStore>> {
    let keys = Keyring::load(data_dir, env)?;
    Ok(Arc::new(SledConnectionStore::open(data_dir, keys)?))
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
