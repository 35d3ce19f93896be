//! Realistic mode: the untidy parts of Confluence Cloud that a client tested only against a tidy
//! emulator breaks on (search totals that are estimates, result pages shorter than `limit` in the
//! middle of a walk, `429`s without `Retry-After`, a v2 error `status` sent as a string).
//!
//! Every choice comes from one seeded sequence, so a test that makes the same requests in the
//! same order sees the same answers.

use std::sync::atomic::{AtomicU64, Ordering};

/// How often (in percent) each untidy behaviour shows when realistic mode is on.
const SHORT_PAGE_PERCENT: u64 = 35;
const NO_RETRY_AFTER_PERCENT: u64 = 50;
const STRING_STATUS_PERCENT: u64 = 35;

#[derive(Debug)]
pub struct Realism {
    on: bool,
    seed: u64,
    draws: AtomicU64,
}

/// splitmix64: a small, well-mixed step function, enough for reproducible test variation.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Realism {
    pub fn new(on: bool, seed: u64) -> Self {
        Realism {
            on,
            seed,
            draws: AtomicU64::new(0),
        }
    }

    /// The next number of the seeded sequence, or None when realistic mode is off.
    fn draw(&self) -> Option<u64> {
        self.on.then(|| {
            let n = self.draws.fetch_add(1, Ordering::Relaxed);
            mix(self.seed ^ mix(n))
        })
    }

    fn chance(&self, percent: u64) -> bool {
        self.draw().is_some_and(|r| r % 100 < percent)
    }

    /// How many items this page holds: `limit`, or sometimes fewer (at least one).
    pub fn page_size(&self, limit: usize) -> usize {
        if limit < 2 || !self.chance(SHORT_PAGE_PERCENT) {
            return limit;
        }
        let r = self.draw().unwrap_or(0);
        1 + (r % (limit as u64 - 1)) as usize
    }

    /// Search `totalSize`: exact when off; otherwise an estimate within -25%..+50%, never
    /// exact when there are results.
    pub fn estimate(&self, total: usize) -> usize {
        let Some(r) = self.draw() else {
            return total;
        };
        if total == 0 {
            return 0;
        }
        let estimate = total * (75 + (r % 76) as usize) / 100;
        if estimate == total {
            total + 1
        } else {
            estimate.max(1)
        }
    }

    /// Whether this 429 loses its `Retry-After` header.
    pub fn drop_retry_after(&self) -> bool {
        self.chance(NO_RETRY_AFTER_PERCENT)
    }

    /// Whether this v2 error sends its `status` as a string (`"409"`).
    pub fn status_as_string(&self) -> bool {
        self.chance(STRING_STATUS_PERCENT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_is_tidy_and_on_is_reproducible() {
        let off = Realism::new(false, 7);
        assert_eq!(off.page_size(25), 25);
        assert_eq!(off.estimate(40), 40);
        assert!(!off.drop_retry_after() && !off.status_as_string());
        let run = |seed| {
            let r = Realism::new(true, seed);
            (0..200)
                .map(|_| (r.page_size(25), r.estimate(40)))
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7), "same seed, same answers");
        assert_ne!(a, run(8), "another seed, other answers");
        assert!(a.iter().any(|(n, _)| *n < 25) && a.iter().any(|(n, _)| *n == 25));
        assert!(a
            .iter()
            .all(|(n, e)| (1..=25).contains(n) && *e != 40 && *e >= 30 && *e <= 60));
    }
}
