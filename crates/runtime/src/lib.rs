//! weft-runtime: the one place that decides what a weft process is made of — the catalogue of
//! actions and polling sources (built-ins, then one cargo feature per connector crate), and the
//! engine every command, the bench, the tests and the daemon use.
//!
//! Listing and validating use [`Runtime::checking_engine`], which opens nothing on disk: no run
//! history, no key store. Live runs get [`Runtime::engine`] with a run store and a token
//! provider; [`ConnectionTokens`] opens the key store only when a step first asks for a token.

pub use weft_action as action;

#[cfg(feature = "test-support")]
pub mod testing;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::OnceCell;
use weft_action::{
    AccessToken, ConnectionInfo, Registry, RegistryError, SourceCatalog, TokenError, TokenProvider,
};
use weft_auth::{AppConfig, SandboxApp, TokenManager};
use weft_engine::exec::Engine;
use weft_engine::store::{NoStore, RunStore};
use weft_engine::workflow::Catalog;

/// The catalogue of a process; engines made from it share it.
#[derive(Clone)]
pub struct Runtime {
    registry: Arc<Registry>,
    sources: Arc<SourceCatalog>,
}

impl Runtime {
    /// The built-in actions and the connectors compiled in.
    pub fn new() -> Result<Runtime, RegistryError> {
        Runtime::extended(|_, _| Ok(()))
    }

    /// As [`Runtime::new`], plus what `extend` registers (an embedding program's own actions,
    /// tests). A name registered twice is an error.
    pub fn extended(
        extend: impl FnOnce(&mut Registry, &mut SourceCatalog) -> Result<(), RegistryError>,
    ) -> Result<Runtime, RegistryError> {
        let mut registry = Registry::default();
        let mut sources = SourceCatalog::default();
        register_connectors(&mut registry, &mut sources)?;
        extend(&mut registry, &mut sources)?;
        Ok(Runtime {
            registry: Arc::new(registry),
            sources: Arc::new(sources),
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn sources(&self) -> &SourceCatalog {
        &self.sources
    }

    /// What workflows are checked against: the actions and sources of this build.
    pub fn catalog(&self) -> Catalog<'_> {
        Catalog {
            actions: &self.registry,
            sources: &self.sources,
        }
    }

    /// Every OAuth scope the actions of this build declare, sorted, once each: what an app that
    /// can run any workflow asks for.
    pub fn action_scopes(&self) -> Vec<&'static str> {
        let mut scopes: Vec<&'static str> = self
            .registry
            .iter()
            .flat_map(|action| action.spec().scopes.iter().copied())
            .collect();
        scopes.sort_unstable();
        scopes.dedup();
        scopes
    }

    /// For listing, validating and dry runs: no run history and no connections.
    pub fn checking_engine(&self) -> Engine {
        self.engine(Arc::new(NoStore), Arc::new(weft_action::NoTokens))
    }

    /// For live runs: runs recorded in `store`, tokens from `tokens`.
    pub fn engine(&self, store: Arc<dyn RunStore>, tokens: Arc<dyn TokenProvider>) -> Engine {
        Engine::new(self.registry.clone(), self.sources.clone(), store).with_tokens(tokens)
    }
}

/// Every action and source of this build. A connector crate exports
/// `register(&mut Registry, &mut SourceCatalog)`; adding one is a feature in Cargo.toml
/// (`my-connector = ["dep:weft-my-connector"]`) and one line here:
/// `#[cfg(feature = "my-connector")] weft_my_connector::register(registry, sources)?;`
#[cfg_attr(not(feature = "confluence"), allow(unused_variables))]
fn register_connectors(
    registry: &mut Registry,
    sources: &mut SourceCatalog,
) -> Result<(), RegistryError> {
    weft_engine::actions::register_builtin(registry)?;
    #[cfg(feature = "confluence")]
    weft_confluence::register(registry, sources)?;
    Ok(())
}

/// The connections of a data folder as a token provider. The key store is opened on the first
/// request for a token, so a workflow without connections never needs a master key.
pub struct ConnectionTokens {
    data_dir: PathBuf,
    /// The sandbox's built-in app, for an app configured with `--sandbox`.
    sandbox: Option<SandboxApp>,
    manager: OnceCell<TokenManager>,
    /// Given to the token manager when it is opened.
    refresh_observer: Option<Arc<dyn weft_auth::RefreshObserver>>,
}

impl ConnectionTokens {
    pub fn new(data_dir: PathBuf, sandbox: Option<SandboxApp>) -> Self {
        ConnectionTokens {
            data_dir,
            sandbox,
            manager: OnceCell::new(),
            refresh_observer: None,
        }
    }

    /// Tells `observer` of every refresh of every connection (the daemon counts them).
    pub fn with_refresh_observer(mut self, observer: Arc<dyn weft_auth::RefreshObserver>) -> Self {
        self.refresh_observer = Some(observer);
        self
    }

    async fn manager(&self, connection: &str) -> Result<&TokenManager, TokenError> {
        self.open()
            .await
            .map_err(|error: weft_auth::AuthError| TokenError::Failed {
                connection: connection.to_string(),
                transient: false,
                source: Box::new(error),
            })
    }

    /// The token manager, on the key store opened at the first call (the daemon's API
    /// manages connections through it: one process opens the store once).
    pub async fn open(&self) -> Result<&TokenManager, weft_auth::AuthError> {
        self.manager
            .get_or_try_init(|| async {
                let app = self.app()?;
                let store =
                    weft_auth::setup::open_store(&self.data_dir, &weft_auth::setup::process_env)?;
                let http = weft_auth::setup::http_client()?;
                let manager = weft_auth::setup::token_manager(store, &app, http);
                Ok(match &self.refresh_observer {
                    Some(observer) => manager.with_observer(observer.clone()),
                    None => manager,
                })
            })
            .await
    }

    /// The data folder's OAuth app as configured now, its client secret read.
    pub fn app(&self) -> Result<weft_auth::ResolvedApp, weft_auth::AuthError> {
        AppConfig::load(&self.data_dir, weft_auth::provider::CONFLUENCE)?
            .resolve(&weft_auth::setup::process_env, self.sandbox.as_ref())
    }

    /// The data folder whose connections these are.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// The app's settings changed on disk (`weft apps set` through the daemon): later
    /// refreshes and API calls use them. A manager not opened yet reads them when it opens.
    pub fn app_changed(&self) -> Result<(), weft_auth::AuthError> {
        if let Some(manager) = self.manager.get() {
            let app = self.app()?;
            weft_auth::setup::use_app(manager, &app, weft_auth::setup::http_client()?);
        }
        Ok(())
    }

    /// Every connection of the data folder (none when it has no connection store), read
    /// through the store the tokens come from: a process opens the store once.
    pub async fn connections(&self) -> Result<Vec<weft_auth::Connection>, weft_auth::AuthError> {
        if !self.data_dir.join(weft_auth::store::STORE_DIR).exists() {
            return Ok(Vec::new());
        }
        self.open().await?.store().list().await
    }
}

#[async_trait]
impl TokenProvider for ConnectionTokens {
    async fn connection_info(&self, connection: &str) -> Result<ConnectionInfo, TokenError> {
        self.manager(connection)
            .await?
            .connection_info(connection)
            .await
    }

    async fn access_token(&self, connection: &str) -> Result<AccessToken, TokenError> {
        TokenProvider::access_token(self.manager(connection).await?, connection).await
    }

    async fn refresh_rejected(
        &self,
        connection: &str,
        rejected: &AccessToken,
    ) -> Result<AccessToken, TokenError> {
        self.manager(connection)
            .await?
            .refresh_rejected(connection, rejected)
            .await
    }

    async fn connections(&self, provider: &str) -> Result<Vec<String>, TokenError> {
        // `provider` names no connection: a failure to open is the listing's.
        let manager = self.open().await.map_err(|error| TokenError::List {
            provider: provider.to_string(),
            source: Box::new(error),
        })?;
        manager.connections(provider).await
    }
}

/// One malloc arena (glibc) per core the process may run on, at least two, instead of glibc's
/// eight per core: each thread still keeps its own cache of small blocks, and a daemon on a
/// large machine keeps an arena per core for its busy threads. glibc gives each new thread an
/// arena of its own while it may (a 64 MiB reservation, then `mprotect`s as it grows, under the
/// lock of the process's memory map), and a short command starts about ten threads at once.
/// Call it first in `main`, before any thread is started.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let arenas = libc::c_int::try_from(usable_cores().max(2)).unwrap_or(libc::c_int::MAX);
        #[allow(unsafe_code)]
        // SAFETY: mallopt changes an allocator setting; the caller starts no thread before.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

/// Blocks of at least this size get a mapping of their own, given back to the system when
/// freed. glibc starts at 128 KiB but raises its threshold to the size of each such block
/// freed (up to 32 MiB): after sled freed its first 512 KiB write buffer, every later one, and
/// every big `Vec` of compiling, came from the heap, where freed they left holes the process
/// kept (`weft-bench scale seq 100000`: 47 MB free in the heap at the run's end, peak RSS 129 →
/// 105 MB with a fixed threshold; 10,000 steps 22.6 → 20.3 MB).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD_BYTES: libc::c_int = 256 * 1024;

/// Fixes malloc's (glibc) threshold for blocks mapped on their own at
/// [`MMAP_THRESHOLD_BYTES`]: big blocks then leave no holes in the heap when freed. Call it
/// first in `main`, with [`limit_malloc_arenas`].
pub fn keep_big_blocks_mapped() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        #[allow(unsafe_code)]
        // SAFETY: mallopt changes an allocator setting; the caller starts no thread before.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
        }
    }
}

/// The cores this process may run on (its affinity mask), 2 when unknown. Not
/// `available_parallelism`: that also reads the cgroup's CPU quota (five files, ten system
/// calls at every start), and a quota limits CPU time, not how many threads run on their
/// own cores at once, which is what an arena per core is for.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn usable_cores() -> usize {
    #[allow(unsafe_code)]
    // SAFETY: `set` is a zeroed `cpu_set_t` the kernel fills; its size is passed with it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return 2;
        }
        usize::try_from(libc::CPU_COUNT(&set)).unwrap_or(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_holds_the_builtins_once() {
        let runtime = Runtime::new().unwrap();
        assert!(runtime.registry().get("http.request").is_some());
        let again =
            Runtime::extended(|registry, _| weft_engine::actions::register_builtin(registry));
        assert!(matches!(again, Err(RegistryError::Duplicate { .. })));
    }

    #[tokio::test]
    async fn tokens_of_a_folder_without_an_app_fail_cleanly_and_create_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let tokens = ConnectionTokens::new(data_dir.clone(), None);
        let error = TokenProvider::access_token(&tokens, "acme")
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                TokenError::Failed {
                    transient: false,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(!data_dir.exists(), "nothing is created on disk");
    }

    #[tokio::test]
    async fn listing_a_provider_without_an_app_is_a_listing_error_naming_the_provider() {
        let dir = tempfile::tempdir().unwrap();
        let tokens = ConnectionTokens::new(dir.path().join("data"), None);
        let error = TokenProvider::connections(&tokens, "confluence")
            .await
            .unwrap_err();
        assert!(
            matches!(&error, TokenError::List { provider, .. } if provider == "confluence"),
            "{error:?}"
        );
    }
}
