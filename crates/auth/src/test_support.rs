//! Helpers shared by the unit tests.

use chrono::{DateTime, Utc};

use crate::connection::{Account, Connection, ConnectionStatus, Tokens};
use crate::secret::{AccessToken, RefreshToken};

pub(crate) fn sample_connection(
    name: &str,
    now: DateTime<Utc>,
    expires_in: chrono::Duration,
) -> Connection {
    Connection {
        name: name.to_string(),
        provider: "confluence".into(),
        cloud_id: format!("cloud-{name}"),
        site_url: format!("https://{name}.atlassian.net"),
        site_name: name.to_string(),
        account: Account {
            account_id: "acc-1".into(),
            name: "Ada".into(),
            email: None,
        },
        granted_scopes: vec!["read:me".into()],
        tokens: Tokens {
            access_token: AccessToken::new(format!("AT-{name}-0")),
            refresh_token: RefreshToken::new(format!("RT-{name}-0")),
            access_expires_at: now + expires_in,
        },
        status: ConnectionStatus::Healthy,
        created_at: now,
        updated_at: now,
        last_rotation_at: now,
        refresh_started_at: None,
    }
}
