//! What `weft daemon`'s HTTP API needs from the process: who may call it (`--api-token-file`),
//! the data folder's connections, read through the store the run's tokens come from, and the
//! token refreshes counted in its metrics.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use weft_auth::RefreshObserver;
use weft_daemon::api::{
    ApiToken, ApiTokenError, ConnectionList, ConnectionListError, ConnectionSummary,
};
use weft_daemon::metrics::Metrics;
use weft_runtime::ConnectionTokens;

/// The token API calls must carry: none on loopback unless given; required elsewhere.
pub fn api_token(listen: SocketAddr, file: Option<&Path>) -> Result<Option<ApiToken>, String> {
    match file {
        Some(file) => ApiToken::read_file(file).map(Some).map_err(|e| {
            let hint = match &e {
                ApiTokenError::Exposed { path, .. } => {
                    format!("; run `chmod 600 {}`", path.display())
                }
                ApiTokenError::Weak { .. } => format!(
                    "; make one with `head -c 32 /dev/urandom | base64 > FILE` (at least {} characters)",
                    weft_daemon::api::MIN_TOKEN_CHARS
                ),
                ApiTokenError::Read { .. } => String::new(),
            };
            format!(
                "{}{hint}",
                weft_runtime::action::http_errors::describe_error_chain(&e)
            )
        }),
        None if listen.ip().is_loopback() => Ok(None),
        None => Err(format!(
            "--listen {listen} is reachable from other machines: give --api-token-file FILE \
             (an owner-only file holding the bearer token API calls must send), or listen on \
             127.0.0.1"
        )),
    }
}

/// The connections of the data folder, for `/api/v1/connections` (managing them:
/// `daemon_connections`).
pub struct FolderConnections {
    pub(super) tokens: Arc<ConnectionTokens>,
    pub(super) connects: super::daemon_connections::Connects,
}

impl FolderConnections {
    pub fn new(tokens: Arc<ConnectionTokens>) -> Self {
        FolderConnections {
            tokens,
            connects: Default::default(),
        }
    }
}

#[async_trait]
impl ConnectionList for FolderConnections {
    async fn list(&self) -> Result<Vec<ConnectionSummary>, ConnectionListError> {
        let connections = self.tokens.connections().await?;
        Ok(connections
            .into_iter()
            .map(|connection| {
                let (status, problem, since) =
                    crate::auth_commands::connection_state(&connection.status);
                ConnectionSummary {
                    name: connection.name,
                    provider: connection.provider,
                    site_url: connection.site_url,
                    site_name: connection.site_name,
                    status,
                    problem,
                    since,
                    granted_scopes: connection.granted_scopes,
                }
            })
            .collect())
    }
}

/// Counts the token manager's refreshes in the daemon's metrics (weft-auth knows no metrics).
pub struct RefreshMetrics(pub Arc<Metrics>);

impl RefreshObserver for RefreshMetrics {
    fn refreshed(&self, connection: &str) {
        self.0.token_refreshed(connection);
    }

    fn refresh_failed(&self, connection: &str) {
        self.0.token_refresh_failed(connection);
    }
}
