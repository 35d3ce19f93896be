//! weft sandbox: a local server that behaves like Atlassian's OAuth 2.0 (3LO) endpoints and the
//! Confluence Cloud REST API (v2 and the v1 parts weft uses), with a lagging search index,
//! points-based rate limits, fault injection, a controllable clock and an admin API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), weft_sandbox::SandboxError> {
//! let sandbox = weft_sandbox::Sandbox::start(Default::default()).await?;
//! let app = sandbox.app();
//! let tokens = sandbox.admin().issue_tokens_for_tests(&app.client_id, &["read:page:confluence"], None)?;
//! // GET {base_url}/ex/confluence/{cloudid}/wiki/api/v2/pages with `Bearer {tokens.access_token}`
//! # let _ = tokens;
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod admin;
mod api_error;
mod cli;
mod clock;
mod config;
mod confluence;
mod cost;
mod error;
mod faults;
mod guard;
mod oauth;
mod pagination;
mod params;
mod ratelimit;
mod realism;
mod reqlog;
mod route_spec;
mod routes;
mod scopes;
mod seed;
mod seed_demo;
mod server;
mod state;

pub use admin::{Admin, NewPage};
pub use cli::run_cli;
pub use config::{SandboxConfig, Seed};
pub use error::SandboxError;
pub use faults::{Fault, FaultRule, FaultWhen};
pub use reqlog::LoggedRequest;
pub use route_spec::{Api, RouteSpec};
pub use routes::served_routes;
pub use scopes::all_scopes;
pub use seed::BUILTIN_CLIENT_SECRET;
pub use state::auth::{RegisteredApp, TokenPair};
pub use state::model::{SiteInfo, User};
pub use state::{BUILTIN_CLIENT_ID, DEFAULT_CALLBACK, SANDBOX_ACCOUNT_ID};

use axum::serve::ListenerExt;
use state::{persist, Inner, Shared};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running sandbox server.
#[derive(Debug)]
pub struct Sandbox {
    shared: Shared,
    addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    saver: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Loads or seeds state, binds the listener and serves until [`Sandbox::shutdown`].
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        if config.user_time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(SandboxError::TimeZone(config.user_time_zone.clone()));
        }
        let shared: Shared = Arc::new(Inner::new(config.clone()));
        let loaded = match &config.data_dir {
            Some(dir) => persist::load(&shared, dir)?,
            None => false,
        };
        if !loaded && config.seed == Seed::Demo {
            seed_demo::demo(&shared);
        }
        seed::base(&shared);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: config.listen,
            source,
        })?;
        *shared.base_url.lock() = format!("http://{addr}");
        // Small JSON responses must not wait for delayed ACKs (Nagle).
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::trace!(error = %e, "could not set TCP_NODELAY");
            }
        });
        let app = server::router(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "sandbox server stopped with an error");
            }
        });
        let saver = config.data_dir.clone().map(|dir| {
            let shared = shared.clone();
            tokio::spawn(async move {
                let mut saved = shared.generation.load(Ordering::Relaxed);
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let now = shared.generation.load(Ordering::Relaxed);
                    if now != saved {
                        let (s, d) = (shared.clone(), dir.clone());
                        match tokio::task::spawn_blocking(move || persist::save(&s, &d)).await {
                            Ok(Err(e)) => tracing::warn!(error = %e, "sandbox autosave failed"),
                            Err(e) => tracing::warn!(error = %e, "sandbox autosave task failed"),
                            Ok(Ok(())) => saved = now,
                        }
                    }
                }
            })
        });
        Ok(Sandbox {
            shared,
            addr,
            stop: Some(tx),
            server,
            saver,
        })
    }

    /// `http://127.0.0.1:PORT`: OAuth, Confluence API and admin API share this origin.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// The built-in app ("sandbox credentials").
    pub fn app(&self) -> RegisteredApp {
        // seed::base always registers it before the server starts.
        self.shared.builtin_app().unwrap_or_else(|| RegisteredApp {
            client_id: BUILTIN_CLIENT_ID.into(),
            client_secret: BUILTIN_CLIENT_SECRET.into(),
            name: String::new(),
            callback_urls: vec![],
            scopes: vec![],
        })
    }

    pub fn admin(&self) -> Admin {
        Admin::new(self.shared.clone())
    }

    /// Stops serving (open connections get up to 2 s) and saves state when a data dir is set.
    /// Dropping a `Sandbox` without calling this also stops the server, without the final save.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if tokio::time::timeout(Duration::from_secs(2), &mut self.server)
            .await
            .is_err()
        {
            self.server.abort();
        }
        if let Some(saver) = self.saver.take() {
            saver.abort();
        }
        if let Some(dir) = &self.shared.config.data_dir {
            if let Err(e) = persist::save(&self.shared, dir) {
                tracing::warn!(error = %e, "could not save sandbox state at shutdown");
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(saver) = self.saver.take() {
            saver.abort();
        }
    }
}
