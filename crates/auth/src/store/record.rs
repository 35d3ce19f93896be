//! The plaintext form of a stored connection (serialized, then sealed). This is the only place
//! where tokens are serialized.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::connection::{Account, Connection, ConnectionStatus, Tokens};
use crate::secret::{AccessToken, RefreshToken};

#[derive(Serialize, Deserialize)]
pub(super) struct PlainRecord {
    provider: String,
    cloud_id: String,
    site_url: String,
    site_name: String,
    account: Account,
    granted_scopes: Vec<String>,
    #[serde(default)]
    config: std::collections::BTreeMap<String, String>,
    access_token: String,
    refresh_token: String,
    access_expires_at: DateTime<Utc>,
    status: ConnectionStatus,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_rotation_at: DateTime<Utc>,
    #[serde(default)]
    refresh_started_at: Option<DateTime<Utc>>,
}

impl PlainRecord {
    pub(super) fn from_connection(c: &Connection) -> Self {
        Self {
            provider: c.provider.clone(),
            cloud_id: c.cloud_id.clone(),
            site_url: c.site_url.clone(),
            site_name: c.site_name.clone(),
            account: c.account.clone(),
            granted_scopes: c.granted_scopes.clone(),
            config: c.config.clone(),
            access_token: c.tokens.access_token.expose().to_string(),
            refresh_token: c.tokens.refresh_token.expose().to_string(),
            access_expires_at: c.tokens.access_expires_at,
            status: c.status.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            last_rotation_at: c.last_rotation_at,
            refresh_started_at: c.refresh_started_at,
        }
    }

    pub(super) fn into_connection(self, name: &str) -> Connection {
        Connection {
            name: name.to_string(),
            provider: self.provider,
            cloud_id: self.cloud_id,
            site_url: self.site_url,
            site_name: self.site_name,
            account: self.account,
            granted_scopes: self.granted_scopes,
            config: self.config,
            tokens: Tokens {
                access_token: AccessToken::new(self.access_token),
                refresh_token: RefreshToken::new(self.refresh_token),
                access_expires_at: self.access_expires_at,
            },
            status: self.status,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_rotation_at: self.last_rotation_at,
            refresh_started_at: self.refresh_started_at,
        }
    }
}
