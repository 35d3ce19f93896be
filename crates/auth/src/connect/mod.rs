//! Connecting a customer: authorize URL, callback, code exchange, scope check, site choice,
//! and the stored connection.

mod attempts;
mod callback;
mod site;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use url::Url;

pub use callback::{callback_router, serve_callback, CallbackHandler, CallbackServer};
pub use site::{select_site, NoChoice, SiteChooser};

use crate::api::AtlassianApi;
use crate::app_config::ResolvedApp;
use crate::clock::Clock;
use crate::connection::{validate_connection_name, Connection, ConnectionStatus, Tokens};
use crate::error::{AuthError, Result};
use crate::oauth_client::OAuthClient;
use crate::scopes::missing_scopes;
use crate::secret::AuthorizationCode;
use crate::store::ConnectionStore;
use crate::tokens::{TokenEndpoint, TokenGrant};
pub use attempts::new_state;
use attempts::{Attempt, Attempts};

/// How long a user has to approve before the `state` expires.
pub const DEFAULT_ATTEMPT_TTL: Duration = Duration::from_secs(10 * 60);

/// A code exchanged on the callback, waiting for site choice and storage.
#[derive(Debug)]
pub struct AuthorizedGrant {
    pub connection: String,
    pub site: Option<String>,
    pub grant: TokenGrant,
    pub granted_scopes: Vec<String>,
    /// The browser waits on this for the page to show the real outcome of
    /// [`ConnectFlow::complete`] (dropped unsent: the connection was not completed).
    page: oneshot::Sender<CallbackOutcome>,
}

/// What the browser page of the callback says: the connection stored, or a short description
/// of the failure that holds no secret.
type CallbackOutcome = std::result::Result<String, &'static str>;

/// An attempt started by [`ConnectFlow::begin`]: the URL to open, and the outcome to wait for.
#[derive(Debug)]
pub struct PendingConnect {
    pub authorize_url: Url,
    outcome: oneshot::Receiver<Result<AuthorizedGrant>>,
}

impl PendingConnect {
    /// Waits for the callback of this attempt.
    pub async fn wait(self, timeout: Duration, callback: &Url) -> Result<AuthorizedGrant> {
        let timed_out = || AuthError::CallbackTimeout {
            callback: callback.to_string(),
            waited_secs: timeout.as_secs(),
        };
        match tokio::time::timeout(timeout, self.outcome).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) | Err(_) => Err(timed_out()),
        }
    }
}

/// The connect flow of one app; shared by the CLI's temporary callback server and, later,
/// the daemon's HTTP server (mount [`callback_router`]).
pub struct ConnectFlow {
    app: ResolvedApp,
    oauth: OAuthClient,
    endpoint: Arc<dyn TokenEndpoint>,
    api: AtlassianApi,
    store: Arc<dyn ConnectionStore>,
    clock: Arc<dyn Clock>,
    attempts: Attempts,
    attempt_ttl: Duration,
}

impl std::fmt::Debug for ConnectFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectFlow")
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

impl ConnectFlow {
    pub fn new(
        app: ResolvedApp,
        store: Arc<dyn ConnectionStore>,
        clock: Arc<dyn Clock>,
        http: reqwest::Client,
    ) -> Self {
        let oauth = OAuthClient::new(&app, http.clone());
        let api = AtlassianApi::new(http, app.endpoints.clone());
        Self {
            endpoint: Arc::new(oauth.clone()),
            oauth,
            api,
            app,
            store,
            clock,
            attempts: Attempts::default(),
            attempt_ttl: DEFAULT_ATTEMPT_TTL,
        }
    }

    /// Replaces the token endpoint (a stub in tests; the real one otherwise).
    pub fn with_token_endpoint(mut self, endpoint: Arc<dyn TokenEndpoint>) -> Self {
        self.endpoint = endpoint;
        self
    }

    pub fn app(&self) -> &ResolvedApp {
        &self.app
    }

    /// Starts an attempt: a fresh `state` bound to it, and the authorize URL to open.
    pub fn begin(&self, connection: &str, site: Option<&str>) -> Result<PendingConnect> {
        validate_connection_name(connection)?;
        let state = new_state();
        let authorize_url =
            self.oauth
                .authorize_url(&state, &self.app.requested_scopes, &self.app.callback_url);
        let (waiter, outcome) = oneshot::channel();
        let now = self.clock.now();
        let attempt = Attempt {
            connection: connection.to_string(),
            site: site.map(str::to_string),
            requested_scopes: self.app.requested_scopes.clone(),
            expires_at: now
                + chrono::Duration::from_std(self.attempt_ttl).unwrap_or(chrono::Duration::MAX),
            waiter,
        };
        self.attempts.insert(&state, attempt, now)?;
        Ok(PendingConnect {
            authorize_url,
            outcome,
        })
    }

    /// Handles the redirect back from Atlassian: the grant (or the error) goes to whoever waits
    /// on the attempt, and the answer waits until they have completed the connection, so the
    /// browser is told the real outcome. Returns the connection name once it is stored.
    pub async fn handle_callback(&self, params: CallbackParams) -> Result<String> {
        let state = params
            .state
            .as_deref()
            .ok_or(AuthError::StateRejected("the callback carries no `state`"))?;
        let attempt = self.attempts.take(state, self.clock.now())?;
        let (page, page_outcome) = oneshot::channel();
        let outcome = self.exchange(&attempt, params, page).await;
        let exchange_failure = outcome.as_ref().err().map(leak_free_summary);
        let _ = attempt.waiter.send(outcome);
        if let Some(summary) = exchange_failure {
            return Err(AuthError::NotConnected(summary));
        }
        match page_outcome.await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(summary)) => Err(AuthError::NotConnected(summary)),
            Err(_) => Err(AuthError::NotConnected(
                "the connection was not completed; see the terminal",
            )),
        }
    }

    async fn exchange(
        &self,
        attempt: &Attempt,
        params: CallbackParams,
        page: oneshot::Sender<CallbackOutcome>,
    ) -> Result<AuthorizedGrant> {
        if let Some(error) = params.error {
            return Err(AuthError::AuthorizationDenied {
                error,
                description: params.error_description,
            });
        }
        let code = params
            .code
            .ok_or(AuthError::StateRejected("the callback carries no `code`"))?;
        let grant = self
            .endpoint
            .exchange_code(
                &AuthorizationCode::new(code),
                self.app.callback_url.as_str(),
            )
            .await
            .map_err(AuthError::CodeExchange)?;
        if grant.refresh_token.is_none() {
            return Err(AuthError::NoRefreshToken);
        }
        let granted_scopes = grant
            .scopes
            .clone()
            .unwrap_or_else(|| attempt.requested_scopes.clone());
        let missing = missing_scopes(&attempt.requested_scopes, &granted_scopes);
        if !missing.is_empty() {
            return Err(AuthError::MissingScopes {
                missing,
                granted: granted_scopes,
            });
        }
        Ok(AuthorizedGrant {
            connection: attempt.connection.clone(),
            site: attempt.site.clone(),
            grant,
            granted_scopes,
            page,
        })
    }

    /// Picks the site, reads the account, and stores the connection (replacing one with the
    /// same name: reconnecting); the browser page then shows the outcome.
    pub async fn complete(
        &self,
        authorized: AuthorizedGrant,
        chooser: &dyn SiteChooser,
    ) -> Result<Connection> {
        let AuthorizedGrant {
            connection: name,
            site,
            grant,
            granted_scopes,
            page,
        } = authorized;
        let stored = self
            .store_connection(name, site, grant, granted_scopes, chooser)
            .await;
        let _ = page.send(match &stored {
            Ok(connection) => Ok(connection.name.clone()),
            Err(e) => Err(leak_free_summary(e)),
        });
        stored
    }

    async fn store_connection(
        &self,
        name: String,
        site: Option<String>,
        grant: TokenGrant,
        granted_scopes: Vec<String>,
        chooser: &dyn SiteChooser,
    ) -> Result<Connection> {
        let resources = self.api.accessible_resources(&grant.access_token).await?;
        let chosen = select_site(resources, site.as_deref(), chooser).await?;
        let account = if granted_scopes.iter().any(|s| s == "read:me") {
            self.api.me(&grant.access_token).await?
        } else {
            crate::connection::Account::default()
        };
        let now = self.clock.now();
        // Reconnecting keeps what the connection was: its age and its settings.
        let previous = self.store.get(&name).await?.map(|s| s.connection);
        let created_at = previous.as_ref().map_or(now, |c| c.created_at);
        let config = previous.map(|c| c.config).unwrap_or_default();
        let refresh_token = grant.refresh_token.ok_or(AuthError::NoRefreshToken)?;
        let connection = Connection {
            name,
            provider: self.app.provider.clone(),
            cloud_id: chosen.id,
            site_url: chosen.url,
            site_name: chosen.name,
            account,
            granted_scopes,
            config,
            tokens: Tokens {
                access_token: grant.access_token,
                refresh_token,
                access_expires_at: now
                    + chrono::Duration::from_std(grant.expires_in)
                        .unwrap_or(chrono::Duration::zero()),
            },
            status: ConnectionStatus::Healthy,
            created_at,
            updated_at: now,
            last_rotation_at: now,
            refresh_started_at: None,
        };
        self.store.put(&connection).await?;
        tracing::info!(connection = %connection.name, site = %connection.site_url, "connection stored");
        Ok(connection)
    }
}

/// The query of the redirect back from Atlassian (serialized when forwarded to a daemon).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A short, static description for the browser page (the terminal gets the full error).
fn leak_free_summary(error: &AuthError) -> &'static str {
    match error {
        AuthError::AuthorizationDenied { .. } => {
            "Atlassian did not authorize the connection; see the terminal"
        }
        AuthError::MissingScopes { .. } => {
            "Atlassian granted fewer scopes than requested; see the terminal"
        }
        AuthError::NoRefreshToken => "Atlassian returned no refresh token; see the terminal",
        AuthError::CodeExchange(_) => "exchanging the authorization code failed; see the terminal",
        AuthError::SiteChoiceRequired { .. } => {
            "the consent granted several sites and none was chosen; see the terminal"
        }
        AuthError::SiteNotGranted { .. } => {
            "the site asked for was not granted on the consent screen; see the terminal"
        }
        AuthError::NoAccessibleSite => "the consent granted no Confluence site; see the terminal",
        _ => "the connection could not be completed; see the terminal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_config::{AppConfig, Credentials, SecretSource};
    use crate::clock::ManualClock;
    use crate::crypto::Keyring;
    use crate::secret::{AccessToken, RefreshToken};
    use crate::store::SledConnectionStore;
    use crate::tokens::TokenEndpointError;

    /// Grants fewer scopes than asked, or no refresh token.
    struct StingyEndpoint {
        scopes: Vec<String>,
        refresh_token: bool,
    }

    #[async_trait::async_trait]
    impl TokenEndpoint for StingyEndpoint {
        async fn exchange_code(
            &self,
            _: &AuthorizationCode,
            _: &str,
        ) -> Result<TokenGrant, TokenEndpointError> {
            Ok(TokenGrant {
                access_token: AccessToken::new("at"),
                refresh_token: self.refresh_token.then(|| RefreshToken::new("rt")),
                expires_in: Duration::from_secs(3600),
                scopes: Some(self.scopes.clone()),
            })
        }
        async fn refresh(&self, _: &RefreshToken) -> Result<TokenGrant, TokenEndpointError> {
            Err(TokenEndpointError::transport("unused"))
        }
    }

    fn flow(dir: &std::path::Path, endpoint: StingyEndpoint) -> ConnectFlow {
        let mut config = AppConfig::new("confluence").unwrap();
        config.credentials = Credentials::Own {
            client_id: "cid".into(),
            client_secret: SecretSource::Env { var: "S".into() },
        };
        config.scopes.add("read:page:confluence").unwrap();
        config
            .scopes
            .add_custom("read:unsupported:confluence")
            .unwrap();
        let app = config
            .resolve(&|_| Some("secret".to_string()), None)
            .unwrap();
        let store = Arc::new(
            SledConnectionStore::open(dir, Keyring::from_key_bytes([1; 32], &[])).unwrap(),
        );
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        ConnectFlow::new(app, store, clock, reqwest::Client::new())
            .with_token_endpoint(Arc::new(endpoint))
    }

    async fn callback_outcome(flow: &ConnectFlow) -> (Result<String>, Result<AuthorizedGrant>) {
        let pending = flow.begin("acme", None).unwrap();
        let state = pending
            .authorize_url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        let params = CallbackParams {
            code: Some("code".into()),
            state: Some(state),
            ..Default::default()
        };
        let reply = flow.handle_callback(params).await;
        let waited = pending
            .wait(Duration::from_secs(1), &flow.app().callback_url)
            .await;
        (reply, waited)
    }

    #[tokio::test]
    async fn missing_scopes_are_named_with_the_two_usual_causes() {
        let dir = tempfile::tempdir().unwrap();
        let granted = vec!["offline_access".to_string(), "read:me".to_string()];
        let flow = flow(
            dir.path(),
            StingyEndpoint {
                scopes: granted,
                refresh_token: true,
            },
        );
        let (reply, waited) = callback_outcome(&flow).await;
        assert!(reply.is_err(), "the browser page reports the failure");
        let err = waited.unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(&err, AuthError::MissingScopes { missing, .. }
                if missing == &["read:page:confluence".to_string(), "read:unsupported:confluence".to_string()]),
            "{message}"
        );
        assert!(
            message.contains("not added to the app in the Atlassian developer console"),
            "{message}"
        );
        assert!(
            message.contains("custom scope Atlassian does not support"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_grant_without_refresh_token_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let flow = flow(
            dir.path(),
            StingyEndpoint {
                scopes: vec![],
                refresh_token: false,
            },
        );
        let (_, waited) = callback_outcome(&flow).await;
        assert!(matches!(waited, Err(AuthError::NoRefreshToken)));
    }
}
