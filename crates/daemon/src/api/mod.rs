//! The daemon's HTTP API (axum, JSON). One router made of one module per subject; every
//! error answers the same JSON shape ([`ApiError`]). Bound to loopback unless told otherwise.

mod access;
mod apps;
mod body;
mod connection_admin;
mod connections;
mod error;
mod health;
pub mod hooks;
mod observe;
mod runs;
mod workflows;

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::dispatch::Dispatcher;
use crate::poller::PollStatus;
use crate::retry::Retries;
use weft_engine::store::TriggerStore;

pub use access::{ApiToken, ApiTokenError, MIN_TOKEN_CHARS};
pub use apps::{AppChanged, AppCredentials, AppDetail, AppPatch, AppScope};
pub use connection_admin::{
    AccountDetail, CallbackQuery, ConfigChanged, ConfigPatch, ConnectProgress, ConnectRequest,
    ConnectStarted, ConnectionAdmin, ConnectionDetail, SiteChoice, SiteOption, TestedUser,
    MAX_PROGRESS_WAIT, OAUTH_CALLBACK_PATH,
};
pub use connections::{ConnectionList, ConnectionListError, ConnectionState, ConnectionSummary};
pub use error::{ApiError, MAX_URI_BYTES};

/// The largest request body read: a run's inputs are small.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the handlers reach.
pub struct ApiState {
    pub dispatcher: Dispatcher,
    pub hooks: hooks::Hooks,
    /// Where paused flags are kept (with the fires).
    pub triggers: Arc<dyn TriggerStore>,
    /// The connections of the data folder.
    pub connections: Arc<dyn ConnectionList>,
    /// Where each poll trigger stands, per connection (`Daemon::poll_status`).
    pub polls: PollStatus,
    /// The bearer token `/api/v1/*` and `/metrics` requests must carry; `None` when the
    /// API is bound to loopback.
    pub api_token: Option<ApiToken>,
    /// Set by the process once its workflows are loaded and their triggers run (`/readyz`
    /// also answers not ready once the dispatcher is stopping).
    pub ready: AtomicBool,
    /// Retry requests, taken one at a time (`POST /api/v1/runs/{id}/retry`).
    pub retries: Retries,
}

/// Every route of the API.
pub fn router(state: Arc<ApiState>) -> Router {
    let guarded = Router::new()
        .merge(observe::guarded_routes())
        .merge(runs::routes())
        .merge(workflows::routes())
        .merge(connections::routes())
        .merge(connection_admin::routes())
        .merge(apps::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::require_token,
        ));
    Router::new()
        .merge(health::routes())
        .merge(hooks::routes())
        .merge(observe::routes())
        .merge(connection_admin::public_routes())
        .merge(guarded)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(error::limit_uri))
        .layer(axum::middleware::map_response(error::json_errors))
        .with_state(state)
}

/// A listening API server.
pub struct ApiServer {
    address: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl ApiServer {
    /// Serves `router` on `listener` until [`ApiServer::stop`].
    pub fn start(listener: TcpListener, router: Router) -> std::io::Result<ApiServer> {
        let address = listener.local_addr()?;
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stopped.cancelled().await });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "the API server stopped with an error");
            }
        });
        Ok(ApiServer {
            address,
            stop,
            task,
        })
    }

    /// The address it listens on (the port chosen when asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops taking connections and lets the requests being answered finish.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            tracing::error!("the API server task ended abnormally: {e}");
        }
    }
}
