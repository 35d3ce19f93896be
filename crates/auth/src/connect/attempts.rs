//! Pending authorization attempts, keyed by their `state`: unguessable (256 random bits),
//! single use, bound to one attempt, expiring, and at most [`MAX_PENDING`] at once.
//!
//! The map is keyed by the SHA-256 of the state, never the state itself: how long a lookup
//! takes then depends on the digest of what the caller sent, which tells nothing about a
//! pending state (the check is constant-time in effect, whatever the map compares).

use std::collections::HashMap;

use base64::Engine;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rand::RngCore;
use sha2::{Digest, Sha256};
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

/// Attempts waiting for their callback at once: more is someone starting flows in a loop.
pub(crate) const MAX_PENDING: usize = 64;

#[derive(Debug, Default)]
pub(crate) struct Attempts {
    by_state: Mutex<HashMap<[u8; 32], Attempt>>,
}

fn key(state: &str) -> [u8; 32] {
    Sha256::digest(state.as_bytes()).into()
}

/// 256 random bits, URL-safe: an OAuth `state`, or any other name nobody can guess.
pub fn new_state() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Attempts {
    pub fn insert(&self, state: &str, attempt: Attempt, now: DateTime<Utc>) -> Result<()> {
        let mut map = self.by_state.lock();
        // Forget attempts nobody finished or waits for.
        map.retain(|_, a| a.expires_at > now && !a.waiter.is_closed());
        if map.len() >= MAX_PENDING {
            return Err(AuthError::TooManyAttempts {
                pending: MAX_PENDING,
            });
        }
        map.insert(key(state), attempt);
        Ok(())
    }

    /// Takes the attempt for `state` (so a replay finds nothing) and checks it has not expired.
    /// An attempt nobody waits for any more (abandoned) is no attempt: its code is not
    /// exchanged.
    pub fn take(&self, state: &str, now: DateTime<Utc>) -> Result<Attempt> {
        let attempt = self
            .by_state
            .lock()
            .remove(&key(state))
            .filter(|attempt| !attempt.waiter.is_closed())
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
        attempts.insert("s1", a, now).unwrap();
        assert!(attempts.take("wrong", now).is_err());
        assert!(attempts.take("s1", now).is_ok());
        assert!(
            matches!(attempts.take("s1", now), Err(AuthError::StateRejected(m)) if m.contains("already used"))
        );
        let (abandoned, rx) = attempt(now + chrono::Duration::minutes(10));
        attempts.insert("gone", abandoned, now).unwrap();
        drop(rx);
        assert!(
            matches!(attempts.take("gone", now), Err(AuthError::StateRejected(m)) if m.contains("unknown"))
        );
        let (b, _rx2) = attempt(now + chrono::Duration::minutes(10));
        attempts.insert("s2", b, now).unwrap();
        let later = now + chrono::Duration::minutes(11);
        assert!(
            matches!(attempts.take("s2", later), Err(AuthError::StateRejected(m)) if m.contains("expired"))
        );
    }

    #[test]
    fn pending_attempts_are_capped_and_finished_ones_make_room() {
        let attempts = Attempts::default();
        let now = Utc::now();
        let mut waiting = Vec::new();
        for i in 0..MAX_PENDING {
            let (a, rx) = attempt(now + chrono::Duration::minutes(10));
            attempts.insert(&format!("s{i}"), a, now).unwrap();
            waiting.push(rx);
        }
        let (extra, _rx) = attempt(now + chrono::Duration::minutes(10));
        assert!(matches!(
            attempts.insert("extra", extra, now),
            Err(AuthError::TooManyAttempts {
                pending: MAX_PENDING
            })
        ));
        // Nobody waits for the first one any more: its room is taken back.
        drop(waiting.remove(0));
        let (extra, _rx) = attempt(now + chrono::Duration::minutes(10));
        attempts.insert("extra", extra, now).unwrap();
        assert!(attempts.take("s0", now).is_err());
        assert!(attempts.take("extra", now).is_ok());
    }
}
