//! Access tokens for a step's connection, through a trait the auth crate implements.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;

/// A bearer access token. Prints as `[redacted]` and has no `Serialize`: it leaves the process
/// only where code calls [`AccessToken::expose`] (an `Authorization` header).
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The token itself; call only where it must leave the process (an HTTP header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why no token could be had. Never carries a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// This engine has no connections (validation, dry runs, tests without auth).
    #[error("connections are not available here")]
    Unavailable,
    #[error("connection `{connection}` has no usable access token")]
    Failed {
        connection: String,
        /// Whether trying again later can help (a rate limit, a network error).
        transient: bool,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the connections to `{provider}` cannot be listed")]
    List {
        provider: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What a connector needs to know about a connection besides its token. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub name: String,
    pub provider: String,
    /// The site's id at the provider (Atlassian's cloud id).
    pub cloud_id: String,
    /// The site people browse, e.g. `https://acme.atlassian.net`.
    pub site_url: String,
    /// Base of the site's REST API through the gateway, without a trailing `/`:
    /// `https://api.atlassian.com/ex/confluence/{cloud id}` (the sandbox's own for sandbox apps).
    pub api_base: String,
    /// The scopes the account granted.
    pub granted_scopes: Vec<String>,
    /// The connection's settings (`weft connections set NAME --config key=value`).
    pub config: BTreeMap<String, String>,
}

/// Longest name of a connection setting, in bytes.
pub const MAX_SETTING_NAME_LEN: usize = 64;

/// Whether `name` can name a connection setting: `[a-z][a-z0-9_]*`, at most
/// [`MAX_SETTING_NAME_LEN`] bytes. Workflows read it as `connection.config.<name>` and people
/// type it in `weft connections set NAME --config <name>=value`.
pub fn is_setting_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= MAX_SETTING_NAME_LEN
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Hands out access tokens by connection name, refreshed as needed.
#[async_trait]
pub trait TokenProvider: Send + Sync {
    /// Where the connection points and what it was granted.
    async fn connection_info(&self, connection: &str) -> Result<ConnectionInfo, TokenError>;

    /// A valid access token for `connection`.
    async fn access_token(&self, connection: &str) -> Result<AccessToken, TokenError>;

    /// After the provider's API answered 401 to `rejected`: a new token (one refresh, unless
    /// another caller already replaced that token).
    async fn refresh_rejected(
        &self,
        connection: &str,
        rejected: &AccessToken,
    ) -> Result<AccessToken, TokenError>;

    /// The names of the connections to `provider` (`confluence`), for triggers that poll
    /// every connection. Providers without a list of connections have none to give.
    async fn connections(&self, provider: &str) -> Result<Vec<String>, TokenError> {
        let _ = provider;
        Err(TokenError::Unavailable)
    }
}

/// The token provider of an engine without connections.
pub struct NoTokens;

#[async_trait]
impl TokenProvider for NoTokens {
    async fn connection_info(&self, _: &str) -> Result<ConnectionInfo, TokenError> {
        Err(TokenError::Unavailable)
    }

    async fn access_token(&self, _: &str) -> Result<AccessToken, TokenError> {
        Err(TokenError::Unavailable)
    }

    async fn refresh_rejected(&self, _: &str, _: &AccessToken) -> Result<AccessToken, TokenError> {
        Err(TokenError::Unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_never_prints() {
        let token = AccessToken::new("very-secret-value");
        assert_eq!(
            format!("{token} {token:?}"),
            "[redacted] AccessToken([redacted])"
        );
        assert_eq!(token.expose(), "very-secret-value");
    }
}
