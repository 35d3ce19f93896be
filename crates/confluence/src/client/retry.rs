//! When to send a failed request again, and how long to wait first.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::header::HeaderMap;
use weft_action::http_errors::{retry_after, MAX_RETRY_AFTER};

/// The client's own retries of one request (429, 5xx, network errors, idempotent requests only).
/// The step's retry policy applies on top, through the error's kind and `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The first backoff; doubled each attempt.
    pub base_delay: Duration,
    /// The longest single backoff.
    pub max_delay: Duration,
    /// The most the client waits over all attempts; a longer wait asked by the server is left
    /// to the step's retry policy (the error carries it as `retry_after`).
    pub max_total_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            max_total_wait: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff with jitter before attempt `failed + 1`: a random wait between half
    /// and all of `base_delay * 2^(failed-1)`, capped at `max_delay`.
    pub fn backoff(&self, failed: u32) -> Duration {
        let exponent = failed.saturating_sub(1).min(16);
        let full = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let half = full / 2;
        let jitter = rand::rng().random_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter)
    }

    /// The wait before the next attempt: at least what the server asked for, else the backoff.
    pub fn wait(&self, failed: u32, asked: Option<Duration>) -> Duration {
        match asked {
            Some(asked) => asked.max(self.base_delay / 2),
            None => self.backoff(failed),
        }
    }
}

/// The wait an answer asks for: `Retry-After`, else until `X-RateLimit-Reset` (ISO-8601).
pub fn requested_wait(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    if let Some(wait) = retry_after(headers) {
        return Some(wait);
    }
    let reset = headers.get("x-ratelimit-reset")?.to_str().ok()?;
    let reset = DateTime::parse_from_rfc3339(reset.trim()).ok()?;
    let wait = reset
        .with_timezone(&Utc)
        .signed_duration_since(now)
        .to_std()
        .unwrap_or(Duration::ZERO);
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let policy = RetryPolicy::default();
        for _ in 0..50 {
            let first = policy.backoff(1);
            assert!(first >= Duration::from_millis(250) && first <= Duration::from_millis(500));
            let third = policy.backoff(3);
            assert!(third >= Duration::from_secs(1) && third <= Duration::from_secs(2));
            assert!(policy.backoff(30) <= policy.max_delay);
        }
    }

    #[test]
    fn retry_after_wins_then_the_reset_time() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut headers = HeaderMap::new();
        assert_eq!(requested_wait(&headers, now), None);
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("2026-12-01T10:00:30Z"),
        );
        assert_eq!(requested_wait(&headers, now), Some(Duration::from_secs(30)));
        headers.insert("retry-after", HeaderValue::from_static("5"));
        assert_eq!(requested_wait(&headers, now), Some(Duration::from_secs(5)));
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.wait(1, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
    }
}
