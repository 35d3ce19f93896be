//! When to retry an attempt and how long to wait.

use std::time::Duration;

use rand::Rng;
use weft_action::http_errors::MAX_RETRY_AFTER;

use crate::actions::{ActionError, ErrorKind};
use crate::workflow::model::{Backoff, RetryOn};
use crate::workflow::RetryPlan;

pub(crate) fn should_retry(on: &[RetryOn], error: &ActionError) -> bool {
    on.iter().any(|class| match (class, error.kind) {
        (_, ErrorKind::Cancelled | ErrorKind::InvalidInput) => false,
        (RetryOn::Any, _) => true,
        (RetryOn::Transient, ErrorKind::Timeout | ErrorKind::Network) => true,
        (RetryOn::Transient, ErrorKind::Http { status }) => status == 429 || status >= 500,
        (RetryOn::Timeout, ErrorKind::Timeout) => true,
        (RetryOn::Network, ErrorKind::Network) => true,
        (RetryOn::Http429, ErrorKind::Http { status }) => status == 429,
        (RetryOn::Http5xx, ErrorKind::Http { status }) => status >= 500,
        (RetryOn::Http4xx, ErrorKind::Http { status }) => (400..500).contains(&status),
        _ => false,
    })
}

/// The wait after failed attempt number `attempt` (1-based). A server's `Retry-After` wins
/// when it asks for longer.
pub(crate) fn delay(plan: &RetryPlan, attempt: u32, retry_after: Option<Duration>) -> Duration {
    let base = match plan.backoff {
        Backoff::Constant => plan.initial_delay,
        Backoff::Exponential => {
            let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
            plan.initial_delay.saturating_mul(factor)
        }
    }
    .min(plan.max_delay);
    let jittered = if plan.jitter && !base.is_zero() {
        // Equal jitter: half fixed, half random, so retries spread out but never collapse to 0.
        let half = base / 2;
        half + Duration::from_nanos(
            rand::rng().random_range(0..=half.as_nanos().min(u64::MAX as u128) as u64),
        )
    } else {
        base
    };
    // A server may ask for a longer wait, but not for an unbounded one.
    retry_after.map_or(jittered, |wait| jittered.max(wait.min(MAX_RETRY_AFTER)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(backoff: Backoff, jitter: bool) -> RetryPlan {
        RetryPlan {
            max_attempts: 5,
            backoff,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
            jitter,
            deadline: None,
            on: vec![RetryOn::Transient],
        }
    }

    #[test]
    fn exponential_backoff_doubles_up_to_the_cap() {
        let p = plan(Backoff::Exponential, false);
        let delays: Vec<u64> = (1..=5).map(|a| delay(&p, a, None).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 5, 5]);
        assert_eq!(
            delay(&plan(Backoff::Constant, false), 4, None),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn jitter_stays_between_half_and_whole() {
        let p = plan(Backoff::Exponential, true);
        for _ in 0..200 {
            let d = delay(&p, 3, None);
            assert!(
                d >= Duration::from_secs(2) && d <= Duration::from_secs(4),
                "{d:?}"
            );
        }
    }

    #[test]
    fn retry_after_wins_when_longer() {
        let p = plan(Backoff::Constant, false);
        assert_eq!(
            delay(&p, 1, Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn classes_of_errors() {
        let http = |status| ActionError::new(ErrorKind::Http { status }, "x");
        assert!(should_retry(&[RetryOn::Transient], &http(503)));
        assert!(should_retry(&[RetryOn::Transient], &http(429)));
        assert!(!should_retry(&[RetryOn::Transient], &http(404)));
        assert!(!should_retry(
            &[RetryOn::Transient],
            &ActionError::failed("x")
        ));
        assert!(should_retry(&[RetryOn::Any], &ActionError::failed("x")));
        assert!(!should_retry(
            &[RetryOn::Any],
            &ActionError::invalid_input("x")
        ));
        assert!(should_retry(&[RetryOn::Http4xx], &http(404)));
    }
}
