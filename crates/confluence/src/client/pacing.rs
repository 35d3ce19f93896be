//! One pacer per connection (per API base), shared by every step of the process: after
//! Atlassian says the quota is nearly used (`X-RateLimit-NearLimit: true`) requests are spaced
//! out; after a 429 with a wait, every request on the connection holds until it is over.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// The spacing between requests while the quota is nearly used.
pub const NEAR_LIMIT_SPACING: Duration = Duration::from_millis(250);
/// How long one near-limit answer keeps the spacing on.
pub const NEAR_LIMIT_HOLD: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct Pacer {
    state: Mutex<PacerState>,
}

#[derive(Debug, Default)]
struct PacerState {
    /// Spacing is on until then.
    slow_until: Option<Instant>,
    /// The earliest time the next request may go.
    next_slot: Option<Instant>,
}

impl Pacer {
    /// The pacer of the connection whose API base is `api_base`.
    pub fn for_connection(api_base: &str) -> Arc<Pacer> {
        static PACERS: OnceLock<Mutex<HashMap<String, Arc<Pacer>>>> = OnceLock::new();
        let mut pacers = PACERS.get_or_init(Default::default).lock();
        // Looked up before the key is copied: every step of every run asks.
        if let Some(pacer) = pacers.get(api_base) {
            return pacer.clone();
        }
        pacers.entry(api_base.to_string()).or_default().clone()
    }

    /// Waits for this request's turn.
    pub async fn ready(&self) {
        let wait = {
            let mut state = self.state.lock();
            let now = Instant::now();
            let slot = state.next_slot.filter(|slot| *slot > now).unwrap_or(now);
            let slow = state.slow_until.is_some_and(|until| until > now);
            state.next_slot = if slow {
                Some(slot + NEAR_LIMIT_SPACING)
            } else {
                Some(slot)
            };
            slot - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Reads the rate-limit headers of an answer.
    pub fn observe(&self, headers: &HeaderMap) {
        let near = headers
            .get("x-ratelimit-nearlimit")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        if near {
            self.state.lock().slow_until = Some(Instant::now() + NEAR_LIMIT_HOLD);
        }
    }

    /// Holds every request on the connection for `wait` (after a 429).
    pub fn hold(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut state = self.state.lock();
        if state.next_slot.is_none_or(|slot| slot < until) {
            state.next_slot = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn near_the_limit_requests_are_spaced_out() {
        let pacer = Pacer::default();
        let start = Instant::now();
        pacer.ready().await;
        pacer.ready().await;
        assert_eq!(start.elapsed(), Duration::ZERO, "no spacing by default");
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-nearlimit", HeaderValue::from_static("true"));
        pacer.observe(&headers);
        pacer.ready().await;
        pacer.ready().await;
        pacer.ready().await;
        assert_eq!(start.elapsed(), NEAR_LIMIT_SPACING * 2);
        tokio::time::advance(NEAR_LIMIT_HOLD).await;
        let later = Instant::now();
        pacer.ready().await;
        pacer.ready().await;
        assert!(later.elapsed() <= NEAR_LIMIT_SPACING, "spacing ends");
    }

    #[tokio::test(start_paused = true)]
    async fn a_hold_delays_every_request_of_the_connection() {
        let pacer = Pacer::for_connection("http://127.0.0.1:1/ex/confluence/hold-test");
        let same = Pacer::for_connection("http://127.0.0.1:1/ex/confluence/hold-test");
        assert!(Arc::ptr_eq(&pacer, &same));
        let start = Instant::now();
        pacer.hold(Duration::from_secs(3));
        same.ready().await;
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }
}
