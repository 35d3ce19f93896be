//! One connection through the API, and connecting a new one while the daemon owns the key
//! store: show, delete, change settings, refresh, test; begin an OAuth attempt, follow it,
//! choose its site, and the OAuth callback (forwarded by `weft connect`, or straight from the
//! browser at `GET /oauth/callback`). No answer holds a token or a secret: no type here has a
//! field that could. The process that opens the key store (the CLI) implements
//! [`ConnectionAdmin`]; this crate does not open it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::apps::{AppChanged, AppDetail, AppPatch};
use super::body::{self, ApiPath, ApiQuery, JsonBody, Nothing};
use super::connections::{ConnectionState, ConnectionSummary};
use super::error::ForPeople;
use super::{ApiError, ApiState};

/// The longest `?wait=` of `GET /api/v1/connect-attempts/{id}`.
pub const MAX_PROGRESS_WAIT: Duration = Duration::from_secs(30);
/// Where the daemon receives the browser's redirect back from Atlassian itself.
pub const OAUTH_CALLBACK_PATH: &str = "/oauth/callback";
/// The longest value of a callback parameter (codes and states are far shorter).
pub const MAX_CALLBACK_PARAM_CHARS: usize = 4096;
/// The longest `site` of `POST .../connect` (a site's URL is far shorter).
pub const MAX_SITE_CHARS: usize = 2048;

/// What the API changes of the data folder's connections. Every method has a default that
/// refuses: a fixed list (tests, benchmarks) manages nothing.
#[async_trait]
pub trait ConnectionAdmin: Send + Sync {
    /// One connection in full.
    async fn show(&self, _name: &str) -> Result<ConnectionDetail, ApiError> {
        Err(read_only())
    }
    /// Forgets a connection; its poll triggers stop finding it at their next round.
    async fn delete(&self, _name: &str) -> Result<(), ApiError> {
        Err(read_only())
    }
    /// Changes a connection's settings (`connection.config.*`).
    async fn set_config(
        &self,
        _name: &str,
        _patch: ConfigPatch,
    ) -> Result<ConfigChanged, ApiError> {
        Err(read_only())
    }
    /// Refreshes the access token now (also retries one marked needs-reconnect).
    async fn refresh(&self, _name: &str) -> Result<(), ApiError> {
        Err(read_only())
    }
    /// One real API call with the connection: who it reaches Confluence as.
    async fn test(&self, _name: &str) -> Result<TestedUser, ApiError> {
        Err(read_only())
    }
    /// Starts an OAuth attempt that stores (or reconnects) connection `name`.
    async fn begin_connect(
        &self,
        _name: &str,
        _request: ConnectRequest,
    ) -> Result<ConnectStarted, ApiError> {
        Err(read_only())
    }
    /// Where an attempt stands, once it moved on or `wait` passed.
    async fn connect_progress(
        &self,
        _attempt: &str,
        _wait: Duration,
    ) -> Result<ConnectProgress, ApiError> {
        Err(read_only())
    }
    /// The site the user picked among those an attempt's consent granted (`None`: none).
    async fn choose_site(&self, _attempt: &str, _choice: SiteChoice) -> Result<(), ApiError> {
        Err(read_only())
    }
    /// Gives up an attempt: its callback will find nothing, nothing is stored.
    async fn abandon_connect(&self, _attempt: &str) -> Result<(), ApiError> {
        Err(read_only())
    }
    /// The redirect back from Atlassian: the name of the connection once it is stored.
    async fn callback(&self, _query: CallbackQuery) -> Result<String, ApiError> {
        Err(read_only())
    }
    /// The OAuth app of `provider` (see `apps`).
    async fn app(&self, _provider: &str) -> Result<AppDetail, ApiError> {
        Err(read_only())
    }
    /// Changes the OAuth app of `provider`: saved, and used by later connects and refreshes.
    async fn set_app(&self, _provider: &str, _patch: AppPatch) -> Result<AppChanged, ApiError> {
        Err(read_only())
    }
}

/// A fixed list manages nothing.
impl ConnectionAdmin for Vec<ConnectionSummary> {}

fn read_only() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "connections_read_only",
        "this daemon does not manage connections",
    )
}

/// One connection, without its tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionDetail {
    pub name: String,
    pub provider: String,
    pub cloud_id: String,
    pub site_url: String,
    pub site_name: String,
    pub account: AccountDetail,
    pub granted_scopes: Vec<String>,
    pub config: BTreeMap<String, String>,
    pub status: ConnectionState,
    /// The status in words, with its reason and since when.
    pub status_text: String,
    pub access_expires_at: DateTime<Utc>,
    pub last_rotation_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// The Atlassian account a connection acts as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDetail {
    pub account_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `PATCH .../config`: settings to set and names to remove (removals first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigPatch {
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    #[serde(default)]
    pub unset: Vec<String>,
}

/// The connection once changed, and the names to remove that were not set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigChanged {
    pub connection: ConnectionDetail,
    pub not_set: Vec<String>,
}

/// Who a connection reaches Confluence as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestedUser {
    pub display_name: String,
    pub account_id: String,
}

/// `POST .../connect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    /// Only `confluence`.
    pub provider: String,
    /// The site to connect when the consent grants several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// How long the attempt waits for the browser (at most the attempt's lifetime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

/// An attempt begun: the URL the customer opens, and where Atlassian sends the browser back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectStarted {
    /// Names the attempt in `/api/v1/connect-attempts/{attempt}`.
    pub attempt: String,
    pub authorize_url: String,
    pub callback_url: String,
}

/// Where an attempt stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectProgress {
    /// Waiting for the browser to come back.
    Waiting,
    /// The consent granted several sites: `POST .../site` says which.
    ChooseSite {
        sites: Vec<SiteOption>,
    },
    Connected {
        connection: Box<ConnectionDetail>,
    },
    /// Nothing was stored; `message` says why and what to do.
    Failed {
        message: String,
    },
}

/// A site a consent granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteOption {
    pub id: String,
    pub name: String,
    pub url: String,
}

/// `POST .../site`: an index into the sites offered, or none (the attempt then fails).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteChoice {
    #[serde(default)]
    pub index: Option<usize>,
}

/// The redirect back from Atlassian (other parameters are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl CallbackQuery {
    fn checked(self) -> Result<CallbackQuery, ApiError> {
        for (name, value) in [
            ("code", &self.code),
            ("state", &self.state),
            ("error", &self.error),
            ("error_description", &self.error_description),
        ] {
            if value
                .as_ref()
                .is_some_and(|v| v.len() > MAX_CALLBACK_PARAM_CHARS)
            {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_callback",
                    format!("`{name}` is longer than {MAX_CALLBACK_PARAM_CHARS} characters"),
                ));
            }
        }
        Ok(self)
    }
}

/// Routes behind the API token.
pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/api/v1/connections/{name}", get(show).delete(delete))
        .route("/api/v1/connections/{name}/config", patch(set_config))
        .route("/api/v1/connections/{name}/refresh", post(refresh))
        .route("/api/v1/connections/{name}/test", post(test))
        .route("/api/v1/connections/{name}/connect", post(begin_connect))
        .route(
            "/api/v1/connect-attempts/{attempt}",
            get(progress).delete(abandon),
        )
        .route("/api/v1/connect-attempts/{attempt}/site", post(choose_site))
        .route("/api/v1/oauth/callback", post(forwarded_callback))
}

/// The browser's way back from Atlassian: no API token (a browser has none); the single-use
/// `state` is what guards it.
pub(super) fn public_routes() -> Router<Arc<ApiState>> {
    Router::new().route(OAUTH_CALLBACK_PATH, get(browser_callback))
}

async fn show(
    State(state): State<Arc<ApiState>>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(Nothing {}): ApiQuery<Nothing>,
) -> Result<Json<Value>, ApiError> {
    let connection = state.connections.show(&name).await?;
    Ok(Json(json!({ "connection": connection })))
}

async fn delete(
    State(state): State<Arc<ApiState>>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(Nothing {}): ApiQuery<Nothing>,
) -> Result<Json<Value>, ApiError> {
    state.connections.delete(&name).await?;
    Ok(Json(json!({ "deleted": name })))
}

async fn set_config(
    State(state): State<Arc<ApiState>>,
    ApiPath(name): ApiPath<String>,
    JsonBody(patch): JsonBody<ConfigPatch>,
) -> Result<Json<ConfigChanged>, ApiError> {
    if patch.set.is_empty() && patch.unset.is_empty() {
        return Err(ApiError::bad_request(
            "give `set` (an object of settings) or `unset` (a list of names)",
        ));
    }
    Ok(Json(state.connections.set_config(&name, patch).await?))
}

async fn refresh(
    State(state): State<Arc<ApiState>>,
    ApiPath(name): ApiPath<String>,
    JsonBody(Nothing {}): JsonBody<Nothing>,
) -> Result<Json<Value>, ApiError> {
    state.connections.refresh(&name).await?;
    Ok(Json(json!({ "refreshed": name })))
}

async fn test(
    State(state): State<Arc<ApiState>>,
    ApiPath(name): ApiPath<String>,
    JsonBody(Nothing {}): JsonBody<Nothing>,
) -> Result<Json<TestedUser>, ApiError> {
    Ok(Json(state.connections.test(&name).await?))
}

async fn begin_connect(
    State(state): State<Arc<ApiState>>,
    ApiPath(name): ApiPath<String>,
    JsonBody(request): JsonBody<ConnectRequest>,
) -> Result<(StatusCode, Json<ConnectStarted>), ApiError> {
    if request
        .site
        .as_ref()
        .is_some_and(|site| site.len() > MAX_SITE_CHARS)
    {
        return Err(ApiError::bad_request(format!(
            "`site` is longer than {MAX_SITE_CHARS} characters: give the site's URL"
        )));
    }
    let started = state.connections.begin_connect(&name, request).await?;
    Ok((StatusCode::CREATED, Json(started)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgressQuery {
    /// How long to wait for the attempt to move on, e.g. `20s`.
    wait: Option<String>,
}

async fn progress(
    State(state): State<Arc<ApiState>>,
    ApiPath(attempt): ApiPath<String>,
    ApiQuery(query): ApiQuery<ProgressQuery>,
) -> Result<Json<ConnectProgress>, ApiError> {
    let wait = match &query.wait {
        Some(text) => body::duration("wait", text, MAX_PROGRESS_WAIT)?,
        None => Duration::ZERO,
    };
    Ok(Json(
        state.connections.connect_progress(&attempt, wait).await?,
    ))
}

async fn choose_site(
    State(state): State<Arc<ApiState>>,
    ApiPath(attempt): ApiPath<String>,
    JsonBody(choice): JsonBody<SiteChoice>,
) -> Result<Json<Value>, ApiError> {
    state.connections.choose_site(&attempt, choice).await?;
    Ok(Json(json!({ "chosen": true })))
}

async fn abandon(
    State(state): State<Arc<ApiState>>,
    ApiPath(attempt): ApiPath<String>,
    ApiQuery(Nothing {}): ApiQuery<Nothing>,
) -> Result<Json<Value>, ApiError> {
    state.connections.abandon_connect(&attempt).await?;
    Ok(Json(json!({ "abandoned": true })))
}

async fn forwarded_callback(
    State(state): State<Arc<ApiState>>,
    JsonBody(query): JsonBody<CallbackQuery>,
) -> Result<Json<Value>, ApiError> {
    let connection = state.connections.callback(query.checked()?).await?;
    Ok(Json(json!({ "connection": connection })))
}

/// A plain-text page: what the browser shows needs no markup, so nothing needs escaping.
async fn browser_callback(
    State(state): State<Arc<ApiState>>,
    query: Result<axum::extract::Query<CallbackQuery>, axum::extract::rejection::QueryRejection>,
) -> impl IntoResponse {
    let outcome = match query {
        Ok(query) => match query.0.checked() {
            Ok(query) => state.connections.callback(query).await,
            Err(e) => Err(e),
        },
        Err(rejection) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_callback",
            rejection.body_text(),
        )),
    };
    let (status, text) = match outcome {
        Ok(connection) => (
            StatusCode::OK,
            format!(
                "weft: Connected\n\nweft stored the connection “{connection}”. You can close this window.\n"
            ),
        ),
        Err(e) => (e.status, format!("weft: Not connected\n\n{}\n", e.message)),
    };
    (
        status,
        axum::Extension(ForPeople),
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
}
