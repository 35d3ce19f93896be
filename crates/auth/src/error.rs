//! The auth crate's error type. Every message says what happened and where; what to do about
//! it (a command to run, a flag to add) is worded by the front end from the variant's fields,
//! so a web page or an API client can phrase it its own way. No variant carries a token or a
//! client secret.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use weft_action::text::echo;

use crate::tokens::TokenEndpointError;

/// Everything that can go wrong in weft-auth.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("unknown provider `{0}`: weft knows `confluence`")]
    UnknownProvider(String),

    #[error("invalid {what} `{value}`: {reason}")]
    InvalidSetting {
        what: &'static str,
        value: String,
        reason: String,
    },

    #[error("scope `offline_access` cannot be removed: without it Atlassian issues no refresh token, so every connection would stop working an hour after it was made")]
    MandatoryScope,

    #[error("unknown scope `{scope}`: it is not in the catalogue of Confluence classic and granular scopes{hint}")]
    UnknownScope { scope: String, hint: String },

    #[error("the confluence app has no credentials yet")]
    AppNotConfigured,

    #[error("cannot read the client secret from {source_desc}: {reason}")]
    ClientSecretUnavailable { source_desc: String, reason: String },

    #[error("{path}: {action} failed: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: {reason}")]
    InvalidFile { path: PathBuf, reason: String },

    #[error("invalid master key from {source_desc}: {reason}")]
    InvalidMasterKey { source_desc: String, reason: String },

    /// A store exists but the key file that opens it is gone; no new key was made.
    #[error("the connection store {store} exists but its master key {key_file} is missing (and WEFT_MASTER_KEY is not set); weft did not create a new key, which could not open it")]
    MasterKeyMissing { store: PathBuf, key_file: PathBuf },

    #[error("the master key does not open this data directory ({data_dir}): the data was encrypted with key {stored_key_id}, the key in use is {current_key_id}. Set WEFT_MASTER_KEY to the key this directory was created with (or put the old key in WEFT_MASTER_KEY_PREVIOUS to rotate)")]
    WrongMasterKey {
        data_dir: PathBuf,
        stored_key_id: String,
        current_key_id: String,
    },

    #[error("connection `{connection}`: the stored record cannot be decrypted ({reason}); it was altered or copied from another record")]
    UndecryptableRecord { connection: String, reason: String },

    #[error("connection store: {operation} failed: {reason}")]
    Storage {
        operation: &'static str,
        reason: String,
    },

    #[error(transparent)]
    Store(#[from] crate::store::StoreError),

    #[error("connection `{0}` was changed by someone else while it was being updated; retry")]
    StoreConflict(String),

    #[error("no connection named `{}`", echo(.0))]
    ConnectionNotFound(String),

    #[error("invalid connection name `{}`: use 1-64 letters, digits, `-`, `_` or `.` (not `.` or `..` alone)", echo(.0))]
    InvalidConnectionName(String),

    #[error("connection `{connection}`: {source}")]
    InvalidConfig {
        connection: String,
        #[source]
        source: crate::connection_config::ConfigError,
    },

    #[error("connection `{connection}` needs to be reconnected: {reason}")]
    NeedsReconnect { connection: String, reason: String },

    #[error("connection `{connection}`: refreshing the access token keeps failing ({last_error}); weft waits until {retry_at} before asking Atlassian again")]
    RefreshCoolingDown {
        connection: String,
        last_error: String,
        retry_at: DateTime<Utc>,
    },

    #[error("connection `{connection}`: {source}")]
    TokenEndpoint {
        connection: String,
        #[source]
        source: TokenEndpointError,
    },

    #[error("the authorization callback was rejected: {0}")]
    StateRejected(&'static str),

    /// What the browser is told when a connect attempt failed (the full error goes to whoever
    /// completes the attempt).
    #[error("the connection was not made: {0}")]
    NotConnected(&'static str),

    #[error("Atlassian did not authorize the connection: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    AuthorizationDenied {
        error: String,
        description: Option<String>,
    },

    #[error("code exchange failed: {0}")]
    CodeExchange(#[source] TokenEndpointError),

    #[error("Atlassian granted fewer scopes than weft asked for; missing: {}. The two usual causes: (1) the scope is not added to the app in the Atlassian developer console (Permissions > Confluence API > Edit scopes); add it there and connect again; (2) it is a custom scope Atlassian does not support", missing.join(", "))]
    MissingScopes {
        missing: Vec<String>,
        granted: Vec<String>,
    },

    #[error("Atlassian returned no refresh token: `offline_access` was not granted, so the connection would die within an hour. Check that the authorize URL carried `offline_access` and connect again")]
    NoRefreshToken,

    #[error("the user granted access to no Confluence site; connect again and pick a site on the consent screen")]
    NoAccessibleSite,

    #[error("site `{site}` was not granted; the user granted: {}", available.join(", "))]
    SiteNotGranted {
        site: String,
        available: Vec<String>,
    },

    #[error("{pending} connection attempts are already waiting for their browser; finish or abandon one (they expire after 10 minutes)")]
    TooManyAttempts { pending: usize },

    #[error("the user granted several sites ({}) and none was chosen", sites.join(", "))]
    SiteChoiceRequired { sites: Vec<String> },

    #[error("no authorization arrived on {callback} within {waited_secs} s; open the URL again and approve, or check that the callback URL on the app matches exactly")]
    CallbackTimeout { callback: String, waited_secs: u64 },

    #[error("cannot listen for the callback on {addr}: {source}")]
    CallbackServer {
        addr: String,
        #[source]
        source: std::io::Error,
    },

    #[error("the callback URL {url} is not on this machine (`{host}`): a callback server for it can only listen on 127.0.0.1 or ::1")]
    CallbackNotLoopback { url: String, host: String },

    #[error("cannot set up the HTTP client: {0}")]
    HttpClient(String),

    #[error("{method} {url}: {reason}")]
    Api {
        method: &'static str,
        url: String,
        reason: String,
    },
}

impl AuthError {
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        action: &'static str,
        source: std::io::Error,
    ) -> Self {
        AuthError::Io {
            path: path.into(),
            action,
            source,
        }
    }
}

pub type Result<T, E = AuthError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_name_is_not_repeated_whole() {
        let long = "x".repeat(8000);
        for error in [
            AuthError::ConnectionNotFound(long.clone()),
            AuthError::InvalidConnectionName(long.clone()),
        ] {
            let message = error.to_string();
            assert!(message.len() < 300, "{message}");
            assert!(message.contains('…'), "{message}");
        }
    }
}
