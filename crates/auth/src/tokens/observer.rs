//! Who hears of refreshes: the process installs an observer (the daemon counts them in its
//! metrics), so every refresh is seen, whoever caused it — a step, a poll, keep-alive, a
//! command. This crate knows nothing of what the observer does with it.

/// Told of every refresh the token manager sends to the token endpoint, once it is settled.
/// Called on the refreshing task: keep it quick, and never block.
pub trait RefreshObserver: Send + Sync {
    /// The endpoint answered with new tokens, and they are stored.
    fn refreshed(&self, connection: &str);
    /// The refresh failed: for now (backing off) or for good (needs reconnecting), or its new
    /// tokens could not be stored.
    fn refresh_failed(&self, connection: &str);
}
