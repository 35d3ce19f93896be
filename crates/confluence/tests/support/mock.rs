//! A scripted Confluence stand-in on 127.0.0.1: answers requests in order from a script and
//! records what it received (method, path and query, bearer token, arrival time).

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request as HttpRequest, StatusCode};
use axum::response::Response;
use parking_lot::Mutex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use weft_action::{AccessToken, ActionError, ConnectionInfo};
use weft_confluence::client::Connection;

/// One scripted answer.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Reply {
    pub fn bytes(status: u16, content_type: &str, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", content_type.to_string())],
            body: body.to_string(),
        }
    }

    pub fn json(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json".to_string())],
            body: body.to_string(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

/// What the mock received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub token: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

#[derive(Default)]
struct Script {
    replies: Mutex<VecDeque<Reply>>,
    received: Mutex<Vec<Received>>,
}

pub struct Mock {
    script: Arc<Script>,
    pub base: String,
    stop: CancellationToken,
}

impl Mock {
    pub async fn start(replies: Vec<Reply>) -> Mock {
        let script = Arc::new(Script {
            replies: Mutex::new(replies.into()),
            received: Mutex::default(),
        });
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!(
            "http://{}/ex/confluence/cloud-1",
            listener.local_addr().unwrap()
        );
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stopped.cancelled().await })
                .await
                .unwrap();
        });
        Mock { script, base, stop }
    }

    pub fn received(&self) -> Vec<Received> {
        self.script.received.lock().clone()
    }

    /// A connection to this mock: token `token-1`, refreshed to `token-2` (or refused).
    pub fn connection(&self, refresh_refused: bool) -> MockConnection {
        MockConnection {
            info: ConnectionInfo {
                name: "acme".into(),
                provider: "confluence".into(),
                cloud_id: "cloud-1".into(),
                site_url: "https://acme.atlassian.net".into(),
                api_base: self.base.clone(),
                granted_scopes: vec!["read:page:confluence".into()],
                config: Default::default(),
            },
            refresh_refused,
            revoked: false,
            refreshes: Mutex::new(0),
            http: reqwest::Client::new(),
            cancel: CancellationToken::new(),
        }
    }
}

impl MockConnection {
    /// This connection with its grant revoked: no token can be had.
    pub fn revoked(mut self) -> MockConnection {
        self.revoked = true;
        self
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn answer(State(script): State<Arc<Script>>, request: HttpRequest<Body>) -> Response {
    let headers: &HeaderMap = request.headers();
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim_start_matches("Bearer ")
        .to_string();
    let at = Instant::now();
    let method = request.method().to_string();
    let uri = request.uri().to_string();
    let header_list = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let body = axum::body::to_bytes(request.into_body(), 64 * 1024 * 1024)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    script.received.lock().push(Received {
        method,
        uri,
        token,
        headers: header_list,
        body,
        at,
    });
    let reply = script
        .replies
        .lock()
        .pop_front()
        .unwrap_or_else(|| Reply::json(599, r#"{"message":"the script is used up"}"#));
    let mut response = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (name, value) in reply.headers {
        response = response.header(name, value);
    }
    response.body(Body::from(reply.body)).unwrap()
}

/// What the token layers say of a connection whose grant was revoked (the chain
/// `describe_error_chain` makes of the auth crate's error).
const REVOKED: &str = "connection `acme` has no usable access token: connection `acme` needs to be reconnected: the refresh token is expired, revoked (app uninstalled, password changed) or was rotated out [token endpoint answered 400 (invalid_grant)]";

pub struct MockConnection {
    pub info: ConnectionInfo,
    refresh_refused: bool,
    /// No token can be had at all (a second run after a revoke).
    revoked: bool,
    pub refreshes: Mutex<u32>,
    http: reqwest::Client,
    pub cancel: CancellationToken,
}

#[async_trait]
impl Connection for MockConnection {
    async fn connection_info(&self) -> Result<ConnectionInfo, ActionError> {
        Ok(self.info.clone())
    }
    async fn access_token(&self) -> Result<AccessToken, ActionError> {
        if self.revoked {
            return Err(ActionError::failed(REVOKED));
        }
        Ok(AccessToken::new("token-1"))
    }
    async fn refresh_access_token(&self, _: &AccessToken) -> Result<AccessToken, ActionError> {
        *self.refreshes.lock() += 1;
        if self.refresh_refused {
            return Err(ActionError::failed(REVOKED));
        }
        Ok(AccessToken::new("token-2"))
    }
    fn http(&self) -> &reqwest::Client {
        &self.http
    }
    fn cancel(&self) -> &CancellationToken {
        &self.cancel
    }
}
