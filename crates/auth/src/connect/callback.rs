//! The OAuth callback as an axum router and a temporary 127.0.0.1 server for `weft connect`.
//! What handles it is a [`CallbackHandler`]: the [`ConnectFlow`] itself, or (while a daemon
//! owns the key store) a forwarder to the daemon's flow.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use url::Url;

use super::{CallbackParams, ConnectFlow};
use crate::error::{AuthError, Result};

/// What answers the redirect back from Atlassian.
#[async_trait::async_trait]
pub trait CallbackHandler: Send + Sync {
    /// The name of the connection stored, or what the browser page says went wrong (words
    /// that hold no secret).
    async fn handle(&self, params: CallbackParams) -> std::result::Result<String, String>;
}

#[async_trait::async_trait]
impl CallbackHandler for ConnectFlow {
    async fn handle(&self, params: CallbackParams) -> std::result::Result<String, String> {
        self.handle_callback(params)
            .await
            .map_err(|e| e.to_string())
    }
}

/// `GET <path>` handled by `handler`.
pub fn callback_router(path: &str, handler: Arc<dyn CallbackHandler>) -> Router {
    Router::new()
        .route(path, get(handle_callback))
        .with_state(handler)
}

async fn handle_callback(
    State(handler): State<Arc<dyn CallbackHandler>>,
    Query(params): Query<CallbackParams>,
) -> (StatusCode, Html<String>) {
    match handler.handle(params).await {
        Ok(connection) => (
            StatusCode::OK,
            page(
                "Connected",
                &format!("weft stored the connection “{connection}”. You can close this window."),
            ),
        ),
        Err(message) => (StatusCode::BAD_REQUEST, page("Not connected", &message)),
    }
}

fn page(title: &str, message: &str) -> Html<String> {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>weft: {0}</title></head><body><h1>{0}</h1><p>{1}</p></body></html>",
        escape(title),
        escape(message)
    ))
}

/// A running callback server; stop it with [`CallbackServer::shutdown`].
#[derive(Debug)]
pub struct CallbackServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl CallbackServer {
    /// Serves `flow`'s callback (at the path of its app's callback URL) on an already bound
    /// listener.
    pub fn start(listener: TcpListener, flow: Arc<ConnectFlow>) -> Result<Self> {
        let path = flow.app().callback_url.path().to_string();
        Self::start_at(listener, &path, flow)
    }

    /// Serves `handler` at `path` on an already bound listener.
    pub fn start_at(
        listener: TcpListener,
        path: &str,
        handler: Arc<dyn CallbackHandler>,
    ) -> Result<Self> {
        let addr = listener
            .local_addr()
            .map_err(|source| AuthError::CallbackServer {
                addr: "listener".into(),
                source,
            })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = callback_router(path, handler);
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = served.await {
                tracing::warn!(error = %e, "callback server stopped");
            }
        });
        Ok(Self { addr, stop, task })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Binds the loopback address of `url` (the app's callback URL) and serves the callback there
/// with `handler` (`weft connect`).
pub async fn serve_callback(
    url: &Url,
    handler: Arc<dyn CallbackHandler>,
) -> Result<CallbackServer> {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    let ip = match host {
        "127.0.0.1" | "localhost" => "127.0.0.1",
        "[::1]" => "::1",
        other => {
            return Err(AuthError::CallbackNotLoopback {
                url: url.to_string(),
                host: other.to_string(),
            })
        }
    };
    let addr = format!("{ip}:{port}");
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| AuthError::CallbackServer {
            addr: addr.clone(),
            source,
        })?;
    CallbackServer::start_at(listener, url.path(), handler)
}
