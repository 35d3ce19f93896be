//! How long to leave the token endpoint alone after a transient failure.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff with jitter: the n-th consecutive failure waits a random time between
/// half and all of `base * 2^(n-1)`, capped at `max`, and never less than a server's `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(30),
            max: Duration::from_secs(30 * 60),
        }
    }
}

impl Backoff {
    pub fn delay(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        let exponent = failures.saturating_sub(1).min(20);
        let ceiling = self.base.saturating_mul(1 << exponent).min(self.max);
        let jittered = ceiling.mul_f64(rand::rng().random_range(0.5..=1.0));
        jittered.max(retry_after.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_grows_is_capped_jittered_and_honours_retry_after() {
        let backoff = Backoff {
            base: Duration::from_secs(10),
            max: Duration::from_secs(60),
        };
        for _ in 0..100 {
            let first = backoff.delay(1, None);
            assert!(
                (Duration::from_secs(5)..=Duration::from_secs(10)).contains(&first),
                "{first:?}"
            );
            let third = backoff.delay(3, None);
            assert!(
                (Duration::from_secs(20)..=Duration::from_secs(40)).contains(&third),
                "{third:?}"
            );
            assert!(backoff.delay(30, None) <= Duration::from_secs(60));
        }
        assert!(backoff.delay(1, Some(Duration::from_secs(600))) >= Duration::from_secs(600));
        let distinct: std::collections::BTreeSet<_> =
            (0..20).map(|_| backoff.delay(4, None)).collect();
        assert!(distinct.len() > 1, "jitter must spread retries");
    }
}
