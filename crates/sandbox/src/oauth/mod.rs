//! Atlassian OAuth 2.0 (3LO) endpoints: authorize (consent page), token, accessible-resources, me.

mod authorize;
mod identity;
mod token;

use crate::state::Shared;
use axum::routing::{get, post};
use axum::Router;

pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/authorize", get(authorize::show).post(authorize::decide))
        .route("/oauth/token", post(token::token))
        .route(
            "/oauth/token/accessible-resources",
            get(identity::accessible_resources),
        )
        .route("/me", get(identity::me))
        .with_state(shared)
}
