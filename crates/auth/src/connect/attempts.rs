//! Pending authorization attempts, keyed by their `state`: unguessable (256 random bits),
//! single use, bound to one attempt, expiring.

use std::collections::HashMap;

use base64::Engine;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rand::RngCore;
use tokio::sync::oneshot;

use super::AuthorizedGrant;
use crate::error::{AuthError, Result};

/// What the callback needs to know about the attempt that produced a `state`.
#[derive(Debug)]
pub(crate) struct Attempt {
    pub connection: String,
    pub site: Option<String>,
    pub requested_scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub waiter: oneshot::Sender<Result<AuthorizedGrant>>,
}

#[derive(Debug, Default)]
pub(crate) struct Attempts {
    by_state: Mutex<HashMap<String, Attempt>>,
}

pub(crate) fn new_state() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Attempts {
    pub fn insert(&self, state: String, attempt: Attempt, now: DateTime<Utc>) {
        let mut map = self.by_state.lock();
        // Forget attempts nobody finished, so the map cannot grow without bound.
        map.retain(|_, a| a.expires_at > now && !a.waiter.is_closed());
        map.insert(state, attempt);
    }

    /// Takes the attempt for `state` (so a replay finds nothing) and checks it has not expired.
    pub fn take(&self, state: &str, now: DateTime<Utc>) -> Result<Attempt> {
        let attempt = self
            .by_state
            .lock()
            .remove(state)
            .ok_or(AuthError::StateRejected(
                "unknown or already used `state`; start connecting again",
            ))?;
        if attempt.expires_at <= now {
            let _ = attempt.waiter.send(Err(AuthError::StateRejected(
                "the authorization attempt expired",
            )));
            return Err(AuthError::StateRejected(
                "the authorization attempt expired; start connecting again",
            ));
        }
        Ok(attempt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(expires_at: DateTime<Utc>) -> (Attempt, oneshot::Receiver<Result<AuthorizedGrant>>) {
        let (tx, rx) = oneshot::channel();
        let a = Attempt {
            connection: "c".into(),
            site: None,
            requested_scopes: vec![],
            expires_at,
            waiter: tx,
        };
        (a, rx)
    }

    #[test]
    fn states_are_long_and_distinct() {
        let a = new_state();
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_state());
    }

    #[test]
    fn a_state_is_single_use_and_expires() {
        let attempts = Attempts::default();
        let now = Utc::now();
        let (a, _rx) = attempt(now + chrono::Duration::minutes(10));
        attempts.insert("s1".into(), a, now);
        assert!(attempts.take("wrong", now).is_err());
        assert!(attempts.take("s1", now).is_ok());
        assert!(
            matches!(attempts.take("s1", now), Err(AuthError::StateRejected(m)) if m.contains("already used"))
        );
        let (b, _rx2) = attempt(now + chrono::Duration::minutes(10));
        attempts.insert("s2".into(), b, now);
        let later = now + chrono::Duration::minutes(11);
        assert!(
            matches!(attempts.take("s2", later), Err(AuthError::StateRejected(m)) if m.contains("expired"))
        );
    }
}
