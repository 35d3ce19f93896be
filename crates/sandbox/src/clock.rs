//! The sandbox clock: wall time plus an offset that only moves forward (admin `advance_clock`).
//! Every expiry (codes, tokens, reuse window, quota hour, search lag) reads this clock, so tests
//! drive time without sleeping.

use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct SandboxClock {
    offset_ms: AtomicI64,
}

impl SandboxClock {
    pub fn now(&self) -> DateTime<Utc> {
        let offset = chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed));
        Utc::now()
            .checked_add_signed(offset)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Moves the clock forward by `by`, or refuses (leaving it) when that would put it more than
    /// about 10,000 years ahead.
    pub fn try_advance(&self, by: Duration) -> Result<(), BeyondClockRange> {
        let ms = i64::try_from(by.as_millis()).map_err(|_| BeyondClockRange)?;
        self.offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |cur| {
                cur.checked_add(ms).filter(|n| *n <= MAX_OFFSET_MS)
            })
            .map(drop)
            .map_err(|_| BeyondClockRange)
    }

    /// Moves the clock forward, at most to about 10,000 years from now.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(MAX_OFFSET_MS);
        let _ = self
            .offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |cur| {
                Some(cur.saturating_add(ms).min(MAX_OFFSET_MS))
            });
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    pub fn set_offset_ms(&self, ms: i64) {
        self.offset_ms.store(ms, Ordering::Relaxed);
    }
}

/// An advance that would move the clock beyond [`MAX_OFFSET_YEARS`] ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeyondClockRange;

/// How far ahead the clock may go, in years.
pub const MAX_OFFSET_YEARS: i64 = 10_000;

/// Upper bound of the clock offset and of any lifetime, so date arithmetic cannot overflow.
const MAX_OFFSET_MS: i64 = MAX_OFFSET_YEARS * 365 * 24 * 3600 * 1000;

/// Converts a std duration to chrono, capped at about 10,000 years.
pub fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d)
        .unwrap_or(chrono::Duration::MAX)
        .min(chrono::Duration::milliseconds(MAX_OFFSET_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_absurdly_far_saturates_instead_of_panicking() {
        let c = SandboxClock::default();
        let before = c.now();
        c.advance(Duration::from_secs(90));
        assert!(c.now() - before >= chrono::Duration::seconds(90));
        c.advance(Duration::MAX);
        c.advance(Duration::MAX);
        assert!(c.now() > before + chrono::Duration::days(365 * 9_000));
        let _ = c.now() + chrono_duration(Duration::MAX);
    }

    #[test]
    fn a_refused_advance_leaves_the_clock_alone() {
        let c = SandboxClock::default();
        c.try_advance(Duration::from_secs(60)).unwrap();
        let before = c.offset_ms();
        assert_eq!(c.try_advance(Duration::MAX), Err(BeyondClockRange));
        let years = Duration::from_secs(MAX_OFFSET_YEARS as u64 * 365 * 24 * 3600);
        assert_eq!(c.try_advance(years), Err(BeyondClockRange));
        assert_eq!(c.offset_ms(), before);
    }
}
