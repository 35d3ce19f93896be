//! The token manager as the plug-in API's `TokenProvider`: what connectors call.

use async_trait::async_trait;
use weft_action::{ConnectionInfo, TokenError, TokenProvider};

use super::{TokenErrorKind, TokenManager};
use crate::error::AuthError;
use crate::secret::AccessToken;

#[async_trait]
impl TokenProvider for TokenManager {
    async fn connection_info(&self, connection: &str) -> Result<ConnectionInfo, TokenError> {
        match self.known(connection).await {
            Ok(known) => Ok(known.info.clone()),
            Err(e) => Err(token_error(connection, e)),
        }
    }

    async fn access_token(&self, connection: &str) -> Result<AccessToken, TokenError> {
        TokenManager::access_token(self, connection)
            .await
            .map_err(|e| token_error(connection, e))
    }

    async fn refresh_rejected(
        &self,
        connection: &str,
        rejected: &AccessToken,
    ) -> Result<AccessToken, TokenError> {
        self.force_refresh(connection, rejected)
            .await
            .map_err(|e| token_error(connection, e))
    }

    async fn connections(&self, provider: &str) -> Result<Vec<String>, TokenError> {
        let all = self.store().list().await.map_err(|e| TokenError::List {
            provider: provider.to_string(),
            source: Box::new(e),
        })?;
        Ok(all
            .into_iter()
            .filter(|c| c.provider == provider)
            .map(|c| c.name)
            .collect())
    }
}

/// Only a failure of the token endpoint that backing off can cure is worth retrying: a missing
/// or revoked connection, or a broken store, stays broken.
pub(crate) fn token_error(connection: &str, error: AuthError) -> TokenError {
    let transient = matches!(
        &error,
        AuthError::TokenEndpoint { source, .. } if source.kind() == TokenErrorKind::Transient
    );
    TokenError::Failed {
        connection: connection.to_string(),
        transient,
        source: Box::new(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::TokenEndpointError;

    #[test]
    fn only_transient_endpoint_failures_are_retryable() {
        let transient = token_error(
            "acme",
            AuthError::TokenEndpoint {
                connection: "acme".into(),
                source: TokenEndpointError::transport("connection refused"),
            },
        );
        assert!(matches!(
            transient,
            TokenError::Failed {
                transient: true,
                ..
            }
        ));
        let missing = token_error("acme", AuthError::ConnectionNotFound("acme".into()));
        assert!(matches!(
            missing,
            TokenError::Failed {
                transient: false,
                ..
            }
        ));
        assert!(weft_action::http_errors::describe_error_chain(&missing)
            .contains("no connection named `acme`"));
    }
}
