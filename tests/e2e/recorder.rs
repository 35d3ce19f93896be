//! A local HTTP server that records every request it receives.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::response::IntoResponse;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub authorization: Option<String>,
    pub body: String,
}

pub struct Recorder {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Recorded>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

async fn record(
    State(log): State<Arc<Mutex<Vec<Recorded>>>>,
    request: Request,
) -> impl IntoResponse {
    let method = request.method().to_string();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    log.lock().unwrap().push(Recorded {
        method,
        authorization,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    axum::Json(serde_json::json!({ "ok": true }))
}

impl Recorder {
    pub async fn start() -> Recorder {
        let log = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new().fallback(record).with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Recorder {
            addr,
            log,
            shutdown: Some(tx),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
