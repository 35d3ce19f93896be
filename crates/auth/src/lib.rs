//! weft-auth: OAuth apps, customer connections, tokens encrypted at rest, and access tokens
//! that are valid whenever a connector asks (single-flight refresh of rotating refresh tokens).

pub mod api;
pub mod app_config;
pub mod clock;
pub mod connect;
pub mod connection;
pub mod connection_config;
pub mod crypto;
pub mod error;
pub mod oauth_client;
mod private_fs;
pub mod provider;
pub mod scopes;
pub mod secret;
pub mod setup;
pub mod store;
pub mod tokens;

pub use app_config::{AppConfig, Credentials, ResolvedApp, SandboxApp, SecretSource};
pub use clock::{Clock, ManualClock, SystemClock};
pub use connect::{
    callback_router, serve_callback, CallbackServer, ConnectFlow, PendingConnect, SiteChooser,
};
pub use connection::{Account, Connection, ConnectionStatus, Tokens};
pub use crypto::Keyring;
pub use error::{AuthError, Result};
pub use oauth_client::OAuthClient;
pub use provider::ProviderEndpoints;
pub use scopes::ScopeSelection;
pub use secret::{AccessToken, AuthorizationCode, ClientSecret, RefreshToken};
pub use store::{ConnectionStore, SledConnectionStore, StoredConnection};
pub use tokens::{
    RefreshObserver, TokenEndpoint, TokenEndpointError, TokenGrant, TokenManager, TokenOptions,
};
