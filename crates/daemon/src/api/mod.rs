//! The daemon's HTTP API (axum, JSON). One router made of one module per subject; every
//! error answers the same JSON shape ([`ApiError`]). Bound to loopback unless told otherwise.

mod error;
mod health;
pub mod hooks;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::dispatch::Dispatcher;

pub use error::ApiError;

/// What the handlers reach.
pub struct ApiState {
    pub dispatcher: Dispatcher,
    pub hooks: hooks::Hooks,
}

/// Every route of the API.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(hooks::routes())
        .fallback(error::not_found)
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
