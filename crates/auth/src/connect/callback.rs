//! The OAuth callback as an axum router (mountable in the daemon's server) and a temporary
//! 127.0.0.1 server for `weft connect`.

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

use super::{CallbackParams, ConnectFlow};
use crate::error::{AuthError, Result};

/// `GET <callback path>` handled by `flow`.
pub fn callback_router(flow: Arc<ConnectFlow>) -> Router {
    let path = flow.app().callback_url.path().to_string();
    Router::new()
        .route(&path, get(handle_callback))
        .with_state(flow)
}

async fn handle_callback(
    State(flow): State<Arc<ConnectFlow>>,
    Query(params): Query<CallbackParams>,
) -> (StatusCode, Html<String>) {
    match flow.handle_callback(params).await {
        Ok(connection) => (
            StatusCode::OK,
            page(
                "Connected",
                &format!("weft stored the connection “{connection}”. You can close this window."),
            ),
        ),
        Err(error) => (
            StatusCode::BAD_REQUEST,
            page("Not connected", &error.to_string()),
        ),
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
    /// Serves `flow`'s callback on an already bound listener.
    pub fn start(listener: TcpListener, flow: Arc<ConnectFlow>) -> Result<Self> {
        let addr = listener
            .local_addr()
            .map_err(|source| AuthError::CallbackServer {
                addr: "listener".into(),
                source,
            })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = callback_router(flow);
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

/// Binds the callback URL's loopback address and serves the callback (`weft connect`).
pub async fn serve_callback(flow: Arc<ConnectFlow>) -> Result<CallbackServer> {
    let url = &flow.app().callback_url;
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
    CallbackServer::start(listener, flow)
}
