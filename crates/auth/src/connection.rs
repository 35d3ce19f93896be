//! A connection: one customer's Confluence site reached through one token family.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{AuthError, Result};
use crate::secret::{AccessToken, RefreshToken};

/// The Atlassian account that consented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Account {
    pub account_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Health of a connection as shown by `weft connections list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ConnectionStatus {
    Healthy,
    /// Transient refresh failures; weft waits until `retry_at` before the next attempt.
    RefreshFailing {
        since: DateTime<Utc>,
        failures: u32,
        last_error: String,
        retry_at: DateTime<Utc>,
    },
    /// A permanent failure: only a new consent helps.
    NeedsReconnect {
        since: DateTime<Utc>,
        reason: String,
    },
}

impl ConnectionStatus {
    pub fn summary(&self) -> String {
        match self {
            ConnectionStatus::Healthy => "healthy".to_string(),
            ConnectionStatus::RefreshFailing { since, failures, last_error, retry_at } => format!(
                "refresh failing since {} ({failures} attempts, last: {last_error}; next attempt after {})",
                since.format("%Y-%m-%d %H:%M UTC"),
                retry_at.format("%H:%M:%S UTC")
            ),
            ConnectionStatus::NeedsReconnect { since, reason } => {
                format!("needs reconnect since {}: {reason}", since.format("%Y-%m-%d %H:%M UTC"))
            }
        }
    }
}

/// The token pair of a connection (only ever written inside the encrypted store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: AccessToken,
    pub refresh_token: RefreshToken,
    pub access_expires_at: DateTime<Utc>,
}

/// Everything weft knows about a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub name: String,
    pub provider: String,
    pub cloud_id: String,
    pub site_url: String,
    pub site_name: String,
    pub account: Account,
    pub granted_scopes: Vec<String>,
    /// Named settings workflows read as `connection.config.<name>` (a customer's space, ...).
    pub config: BTreeMap<String, String>,
    pub tokens: Tokens,
    pub status: ConnectionStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the refresh token last rotated (the 90-day inactivity clock restarts then).
    pub last_rotation_at: DateTime<Utc>,
    /// Set (and flushed) just before the refresh token is sent to Atlassian, cleared once the
    /// answer is stored. Still set at start-up means the process died in between: the
    /// refresh must be redone inside Atlassian's reuse window.
    pub refresh_started_at: Option<DateTime<Utc>>,
}

impl Connection {
    /// The access token when it is usable without a refresh at `now` (margin included).
    pub fn fresh_access_token(
        &self,
        now: DateTime<Utc>,
        margin: chrono::Duration,
    ) -> Option<&AccessToken> {
        let usable = !matches!(self.status, ConnectionStatus::NeedsReconnect { .. })
            && self.tokens.access_expires_at - margin > now;
        usable.then_some(&self.tokens.access_token)
    }
}

/// Connection names are keys and appear in commands and in URL paths (the daemon's API): keep
/// them simple. `.` and `..` alone would name another path.
pub fn validate_connection_name(name: &str) -> Result<()> {
    let valid = (1..=64).contains(&name.len())
        && !matches!(name, "." | "..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(AuthError::InvalidConnectionName(name.to_string()))
    }
}

/// What a store checks before it writes a connection: its name and its settings.
pub fn validate_connection(connection: &Connection) -> Result<()> {
    validate_connection_name(&connection.name)?;
    crate::connection_config::validate_config(&connection.config).map_err(|source| {
        AuthError::InvalidConfig {
            connection: connection.name.clone(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_names() {
        assert!(validate_connection_name("acme-prod_1.eu").is_ok());
        assert!(validate_connection_name("...").is_ok());
        for bad in ["", "has space", "slash/", ".", "..", &"x".repeat(65)] {
            assert!(validate_connection_name(bad).is_err(), "{bad:?}");
        }
    }
}
