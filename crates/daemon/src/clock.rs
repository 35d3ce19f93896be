//! The scheduler's time: the wall clock in production, a clock moved by hand in tests, so
//! tests cross DST nights and hours of downtime without waiting.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use tokio::sync::watch;

/// Source of the current instant, and a way to wait for one.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    /// Resolves at `at` or earlier: callers read [`Clock::now`] again after waking.
    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()>;
}

/// Resolves once `clock` has reached `at` ([`Clock::sleep_until`] may wake earlier).
pub(crate) async fn reach(clock: &dyn Clock, at: DateTime<Utc>) {
    while clock.now() < at {
        clock.sleep_until(at).await;
    }
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

/// The longest single wait: the wall clock can be set, or the machine suspended, while the
/// process sleeps on a monotonic timer, so a long wait is cut and the time read again.
const LONGEST_WAIT: StdDuration = StdDuration::from_secs(60);

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let wait = (at - Utc::now())
            .to_std()
            .unwrap_or_default()
            .min(LONGEST_WAIT);
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that moves only when told to; waiters wake when it passes their instant.
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            now: watch::Sender::new(start),
        }
    }

    pub fn set(&self, to: DateTime<Utc>) {
        self.now.send_replace(to);
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.now.send_modify(|now| *now += by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let mut now = self.now.subscribe();
        Box::pin(async move {
            // An error means the clock is gone: nothing will ever wake this waiter.
            if now.wait_for(|now| *now >= at).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[tokio::test]
    async fn a_manual_clock_wakes_its_waiters_when_it_passes_their_instant() {
        let start = Utc::now();
        let clock = ManualClock::new(start);
        let mut wait = clock.sleep_until(start + Duration::minutes(10));
        assert!(futures::poll!(&mut wait).is_pending());
        clock.advance(Duration::minutes(9));
        assert!(futures::poll!(&mut wait).is_pending());
        clock.advance(Duration::minutes(1));
        assert!(futures::poll!(&mut wait).is_ready());
        assert_eq!(clock.now(), start + Duration::minutes(10));
    }

    /// Wakes its sleepers at once, a minute later each time (the system clock cuts long
    /// waits the same way).
    struct Impatient(ManualClock);

    impl Clock for Impatient {
        fn now(&self) -> DateTime<Utc> {
            self.0.now()
        }

        fn sleep_until(&self, _at: DateTime<Utc>) -> BoxFuture<'static, ()> {
            self.0.advance(Duration::minutes(1));
            Box::pin(std::future::ready(()))
        }
    }

    #[tokio::test]
    async fn reach_waits_through_early_wake_ups() {
        let start = Utc::now();
        let clock = Impatient(ManualClock::new(start));
        reach(&clock, start + Duration::seconds(150)).await;
        assert_eq!(clock.now(), start + Duration::minutes(3));
        reach(&clock, start).await;
        assert_eq!(
            clock.now(),
            start + Duration::minutes(3),
            "no wait for a past instant"
        );
    }
}
