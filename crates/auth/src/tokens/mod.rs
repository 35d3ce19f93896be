//! Access tokens that are valid whenever a connector asks.

mod backoff;
mod endpoint;
mod manager;
#[cfg(test)]
mod manager_tests;
mod observer;
mod provider;

pub use backoff::Backoff;
pub use endpoint::{TokenEndpoint, TokenEndpointError, TokenErrorKind, TokenGrant};
pub use manager::{KeepAliveReport, TokenManager, TokenOptions};
pub use observer::RefreshObserver;
