//! The data folder's OAuth app through the API, so that `weft apps show` and `weft apps set`
//! work while a daemon runs and a change applies to its later connects and refreshes without a
//! restart. No answer holds a secret: the client secret is named by where it is read from
//! (an environment variable or a file, read by the daemon), never sent nor shown. The process
//! that reads and writes the app's file (the CLI) implements it, through [`ConnectionAdmin`].
//!
//! [`ConnectionAdmin`]: super::ConnectionAdmin

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::body::{ApiPath, ApiQuery, JsonBody, Nothing};
use super::{ApiError, ApiState};

/// An OAuth app as `weft apps show` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppDetail {
    pub provider: String,
    /// To paste into the provider's developer console.
    pub callback_url: String,
    pub credentials: AppCredentials,
    pub auth_base: String,
    pub api_base: String,
    /// The scopes asked for at a connect, in order, each with what it is.
    pub scopes: Vec<AppScope>,
}

/// Whose app connects, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum AppCredentials {
    /// Not set up yet.
    None,
    /// The user's own app.
    Own {
        client_id: String,
        /// Where the secret is read from (`environment variable X`, `file P`).
        client_secret_from: String,
        /// Why the process answering cannot read it now; `None` when it can.
        client_secret_unreadable: Option<String>,
    },
    /// The sandbox's built-in app.
    Sandbox { client_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppScope {
    pub scope: String,
    /// `mandatory`, `custom`, or the catalogue's kind (`classic`, `granular`).
    pub kind: String,
}

/// `PATCH /api/v1/apps/{provider}`: what `weft apps set` changes, as its options say. The
/// secret is never sent: `client_secret_env` and `client_secret_file` say where the daemon
/// reads it (an environment variable of the daemon, a file it can read).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppPatch {
    pub client_id: Option<String>,
    pub client_secret_env: Option<String>,
    /// An absolute path.
    pub client_secret_file: Option<PathBuf>,
    pub sandbox: bool,
    pub base_url: Option<String>,
    pub auth_base_url: Option<String>,
    pub api_base_url: Option<String>,
    pub atlassian: bool,
    pub callback_url: Option<String>,
    pub add_scopes: Vec<String>,
    pub custom_scopes: Vec<String>,
    pub remove_scopes: Vec<String>,
}

/// The app once changed, and notes on the change (a scope to remove that was not there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppChanged {
    pub app: AppDetail,
    #[serde(default)]
    pub notes: Vec<String>,
}

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new().route("/api/v1/apps/{provider}", get(show).patch(set))
}

async fn show(
    State(state): State<Arc<ApiState>>,
    ApiPath(provider): ApiPath<String>,
    ApiQuery(Nothing {}): ApiQuery<Nothing>,
) -> Result<Json<AppDetail>, ApiError> {
    Ok(Json(state.connections.app(&provider).await?))
}

async fn set(
    State(state): State<Arc<ApiState>>,
    ApiPath(provider): ApiPath<String>,
    JsonBody(patch): JsonBody<AppPatch>,
) -> Result<Json<AppChanged>, ApiError> {
    Ok(Json(state.connections.set_app(&provider, patch).await?))
}
