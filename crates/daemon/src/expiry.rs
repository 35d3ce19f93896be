//! Old webhook `Idempotency-Key`s and old delivered outbound events are removed: each has a
//! retention, and one task sweeps both on the daemon's clock, in batches (a pause between
//! batches lets other work through), then sleeps until the next sweep. An event not delivered
//! (pending, or given up) is never removed. A key is kept at least its retention: a repeat of a
//! request within it answers with the first run; after it (once swept), a repeat starts a run.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use weft_engine::store::{OutboxStore, RunStore, StoreError, SweepCursor, Swept};

use crate::clock::Clock;

/// How long what the daemon keeps for webhooks and events is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// A webhook request's `Idempotency-Key`, from when it was recorded.
    pub request_keys: chrono::Duration,
    /// A delivered outbound event, from when it was created.
    pub delivered_events: chrono::Duration,
    /// Time between two sweeps.
    pub every: chrono::Duration,
    /// Records looked at per batch.
    pub batch: usize,
}

impl Default for Retention {
    /// Keys 24 hours, delivered events 7 days, a sweep every 10 minutes, 500 records a batch.
    fn default() -> Self {
        Retention {
            request_keys: chrono::Duration::hours(24),
            delivered_events: chrono::Duration::days(7),
            every: chrono::Duration::minutes(10),
            batch: 500,
        }
    }
}

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// When the sweep began, on the daemon's clock.
    pub at: Option<DateTime<Utc>>,
    pub request_keys: usize,
    pub delivered_events: usize,
}

/// The running sweeper.
pub struct Expiry {
    stop: CancellationToken,
    task: JoinHandle<()>,
    last: watch::Receiver<SweepReport>,
}

impl Expiry {
    /// Sweeps now, then every `retention.every`. Removals are made durable with `durable`'s
    /// flush (in weft, the one store of the data folder).
    pub fn start(
        outbox: Arc<dyn OutboxStore>,
        durable: Arc<dyn RunStore>,
        clock: Arc<dyn Clock>,
        retention: Retention,
    ) -> Expiry {
        let stop = CancellationToken::new();
        let (report, last) = watch::channel(SweepReport::default());
        let sweeper = Sweeper {
            outbox,
            durable,
            retention,
        };
        let task = tokio::spawn(sweeper.run(clock, report, stop.clone()));
        Expiry { stop, task, last }
    }

    /// The last sweep that began at or after `at`, once it is done.
    pub async fn swept_since(&self, at: DateTime<Utc>) -> SweepReport {
        let mut last = self.last.clone();
        let report = last
            .wait_for(|report| report.at.is_some_and(|began| began >= at))
            .await
            .map(|report| *report);
        // The task ended (stopped): what it did last.
        report.unwrap_or_else(|_| *self.last.borrow())
    }

    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            tracing::error!("the task removing old request keys and events ended abnormally: {e}");
        }
    }
}

struct Sweeper {
    outbox: Arc<dyn OutboxStore>,
    durable: Arc<dyn RunStore>,
    retention: Retention,
}

impl Sweeper {
    async fn run(
        self,
        clock: Arc<dyn Clock>,
        report: watch::Sender<SweepReport>,
        stop: CancellationToken,
    ) {
        loop {
            let now = clock.now();
            match self.sweep(now).await {
                Ok(swept) => {
                    if swept.request_keys + swept.delivered_events > 0 {
                        tracing::debug!(
                            "removed {} old Idempotency-Key(s) and {} old delivered event(s)",
                            swept.request_keys,
                            swept.delivered_events
                        );
                    }
                    report.send_replace(swept);
                }
                Err(e) => tracing::warn!(
                    "old Idempotency-Keys and delivered events could not be removed (tried again in {} min): {}",
                    self.retention.every.num_minutes(),
                    e.with_causes()
                ),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = clock.sleep_until(now.checked_add_signed(self.retention.every).unwrap_or(DateTime::<Utc>::MAX_UTC)) => {}
            }
        }
    }

    async fn sweep(&self, now: DateTime<Utc>) -> Result<SweepReport, StoreError> {
        let outbox = self.outbox.as_ref();
        let batch = self.retention.batch.max(1);
        let keys_before = older_than(now, self.retention.request_keys);
        let request_keys = in_batches(|from| async move {
            outbox
                .sweep_request_keys(keys_before, from.as_ref(), batch)
                .await
        })
        .await?;
        let events_before = older_than(now, self.retention.delivered_events);
        let delivered_events = in_batches(|from| async move {
            outbox
                .sweep_delivered_events(events_before, from.as_ref(), batch)
                .await
        })
        .await?;
        if request_keys + delivered_events > 0 {
            self.durable.flush().await?;
        }
        Ok(SweepReport {
            at: Some(now),
            request_keys,
            delivered_events,
        })
    }
}

/// The instant records older than `retention` were made before (none for a retention longer
/// than the calendar).
fn older_than(now: DateTime<Utc>, retention: chrono::Duration) -> DateTime<Utc> {
    now.checked_sub_signed(retention)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Runs a sweep batch after batch to its end, letting other tasks run between batches; how
/// many records it removed.
async fn in_batches<F, Fut>(batch: F) -> Result<usize, StoreError>
where
    F: Fn(Option<SweepCursor>) -> Fut,
    Fut: std::future::Future<Output = Result<Swept, StoreError>>,
{
    let mut removed = 0;
    let mut from = None;
    loop {
        let swept = batch(from).await?;
        removed += swept.removed;
        match swept.next {
            Some(next) => from = Some(next),
            None => return Ok(removed),
        }
        tokio::task::yield_now().await;
    }
}
