//! The token endpoint as the rest of the crate sees it, and how its errors are classified.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::secret::{AccessToken, AuthorizationCode, RefreshToken};

/// A successful answer of the token endpoint.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub access_token: AccessToken,
    /// Absent when the server keeps the current refresh token.
    pub refresh_token: Option<RefreshToken>,
    pub expires_in: Duration,
    /// The granted scopes, when the server said.
    pub scopes: Option<Vec<String>>,
}

/// Codes that mean the grant is dead: only a new consent helps.
const PERMANENT_CODES: &[&str] = &["invalid_grant", "unauthorized_client", "access_denied"];

/// Whether retrying can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenErrorKind {
    /// The grant is revoked, expired or rotated out: stop and ask the user to reconnect.
    Permanent,
    /// Rate limit, server error, network, or an answer weft does not understand: back off.
    Transient,
}

/// A failed call to the token endpoint, with the status and headers that matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEndpointError {
    pub status: Option<u16>,
    /// The OAuth `error` code, when the body had one.
    pub code: Option<String>,
    /// The OAuth `error_description` (never contains a secret).
    pub description: Option<String>,
    /// From a `Retry-After` header.
    pub retry_after: Option<Duration>,
    /// Network or parse failure, when there was no usable answer.
    pub transport: Option<String>,
}

impl TokenEndpointError {
    pub fn kind(&self) -> TokenErrorKind {
        let client_error = self
            .status
            .is_some_and(|s| (400..500).contains(&s) && s != 429);
        let permanent_code = self
            .code
            .as_deref()
            .is_some_and(|c| PERMANENT_CODES.contains(&c));
        if client_error && permanent_code {
            TokenErrorKind::Permanent
        } else {
            TokenErrorKind::Transient
        }
    }

    /// No answer, or a success status with an unreadable body: the server may have rotated
    /// the refresh token without us learning the new one.
    pub fn outcome_unknown(&self) -> bool {
        self.status.is_none_or(|s| (200..300).contains(&s))
    }

    pub fn transport(reason: impl Into<String>) -> Self {
        Self {
            status: None,
            code: None,
            description: None,
            retry_after: None,
            transport: Some(reason.into()),
        }
    }

    /// What the user should understand from a permanent failure.
    pub fn reconnect_reason(&self) -> String {
        let hint = match self.code.as_deref() {
            Some("invalid_grant") => "the refresh token is expired, revoked (app uninstalled, password changed) or was rotated out",
            Some("unauthorized_client") => "Atlassian no longer accepts this refresh token (rotated out or the token family was revoked)",
            Some("access_denied") => "Atlassian refused the app's credentials or the user's access (the client secret may have changed)",
            _ => "the grant is no longer valid",
        };
        format!("{hint} [{self}]")
    }
}

impl fmt::Display for TokenEndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.status, &self.transport) {
            (Some(status), _) => {
                write!(f, "token endpoint answered {status}")?;
                if self.code.is_none() && self.transport.is_none() {
                    if let Some(phrase) = reqwest::StatusCode::from_u16(status)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                    {
                        write!(f, " {phrase}")?;
                    }
                }
            }
            (None, Some(reason)) => write!(f, "token endpoint unreachable: {reason}")?,
            (None, None) => f.write_str("token endpoint failed")?,
        }
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(description) = &self.description {
            write!(f, ": {description}")?;
        }
        match (self.status, &self.transport) {
            (Some(status), Some(reason)) if (200..300).contains(&status) => {
                write!(f, " with {reason}")?;
            }
            (Some(_), Some(reason)) => write!(f, " ({reason})")?,
            _ => {}
        }
        if let Some(wait) = self.retry_after {
            write!(f, " (Retry-After {} s)", wait.as_secs())?;
        }
        Ok(())
    }
}

impl std::error::Error for TokenEndpointError {}

/// The OAuth token endpoint: code exchange and refresh.
#[async_trait]
pub trait TokenEndpoint: Send + Sync + 'static {
    async fn exchange_code(
        &self,
        code: &AuthorizationCode,
        redirect_uri: &str,
    ) -> Result<TokenGrant, TokenEndpointError>;
    async fn refresh(&self, refresh_token: &RefreshToken)
        -> Result<TokenGrant, TokenEndpointError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: u16, code: &str) -> TokenEndpointError {
        TokenEndpointError {
            status: Some(status),
            code: Some(code.into()),
            description: None,
            retry_after: None,
            transport: None,
        }
    }

    #[test]
    fn classification_follows_atlassian_rules() {
        assert_eq!(
            error(403, "invalid_grant").kind(),
            TokenErrorKind::Permanent
        );
        assert_eq!(
            error(403, "unauthorized_client").kind(),
            TokenErrorKind::Permanent
        );
        assert_eq!(
            error(401, "access_denied").kind(),
            TokenErrorKind::Permanent
        );
        assert_eq!(
            error(429, "invalid_grant").kind(),
            TokenErrorKind::Transient
        );
        assert_eq!(error(500, "server_error").kind(), TokenErrorKind::Transient);
        assert_eq!(
            error(400, "invalid_request").kind(),
            TokenErrorKind::Transient
        );
        assert_eq!(
            TokenEndpointError::transport("connection refused").kind(),
            TokenErrorKind::Transient
        );
    }

    #[test]
    fn display_names_status_code_and_description() {
        let mut e = error(403, "invalid_grant");
        e.description = Some("Unknown or invalid refresh token.".into());
        assert_eq!(
            e.to_string(),
            "token endpoint answered 403 invalid_grant: Unknown or invalid refresh token."
        );
        assert!(e.reconnect_reason().contains("expired, revoked"));
    }
}
