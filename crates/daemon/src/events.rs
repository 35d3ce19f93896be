//! Outbound events: `run.failed`, `run.succeeded` (from the dispatcher's run-ended
//! announcements) and `connection.needs_reconnect` (published by whoever finds it out, through
//! an [`EventPublisher`]) are POSTed to one configured URL, signed like webhooks
//! (`X-Weft-Signature: sha256=<hex HMAC-SHA256 of the body>`).
//!
//! Each event is put in the store's outbox and synced before its first delivery; each attempt's
//! outcome is recorded. A failed delivery is tried again after a backoff that doubles up to a
//! cap, at most [`EventsSettings::max_attempts`] times; a restarted daemon delivers what is still
//! pending. Delivery is at least once: the receiver de-duplicates by `X-Weft-Delivery` (the
//! event's id).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::{broadcast, watch, Notify};
use tokio_util::sync::CancellationToken;
use weft_engine::exec::new_run_id;
use weft_engine::store::{
    DeliveryStatus, OutboundEvent, OutboxStore, RunStatus, RunStore, StoreError,
};

use crate::clock::Clock;
use crate::dispatch::{Dispatcher, RunEnded};
use crate::signature;

/// Where events go and how hard weft tries.
#[derive(Clone)]
pub struct EventsSettings {
    /// `http` or `https`.
    pub url: reqwest::Url,
    /// Signs each body.
    pub secret: Vec<u8>,
    /// Attempts per event before it is given up (at least 1).
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles after each failure, up to `max_retry_wait`.
    pub first_retry_wait: chrono::Duration,
    pub max_retry_wait: chrono::Duration,
    /// Limit on one attempt (connection, request and answer).
    pub timeout: Duration,
}

impl std::fmt::Debug for EventsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventsSettings")
            .field("url", &self.url.as_str())
            .field("secret", &"<redacted>")
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl EventsSettings {
    /// Defaults: 8 attempts, 1 s doubling up to 5 min (about 8 minutes in all), 10 s per attempt.
    pub fn new(url: reqwest::Url, secret: Vec<u8>) -> Self {
        EventsSettings {
            url,
            secret,
            max_attempts: 8,
            first_retry_wait: chrono::Duration::seconds(1),
            max_retry_wait: chrono::Duration::minutes(5),
            timeout: Duration::from_secs(10),
        }
    }

    /// The wait after the `failed`-th failed attempt.
    fn retry_wait(&self, failed: u32) -> chrono::Duration {
        let doubled = self
            .first_retry_wait
            .checked_mul(1 << failed.saturating_sub(1).min(20))
            .unwrap_or(self.max_retry_wait);
        doubled.min(self.max_retry_wait)
    }
}

/// The kinds of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    RunFailed,
    RunSucceeded,
    ConnectionNeedsReconnect,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::RunFailed => "run.failed",
            EventKind::RunSucceeded => "run.succeeded",
            EventKind::ConnectionNeedsReconnect => "connection.needs_reconnect",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("the events URL must be http or https, not `{0}`")]
    Scheme(String),
    #[error("cannot make the HTTP client for events")]
    Client(#[source] reqwest::Error),
    #[error("the event could not be put in the outbox")]
    Store(#[source] StoreError),
    #[error("the event could not be synced to disk")]
    Sync(#[source] StoreError),
}

/// Puts events in the outbox and wakes the delivery. Cheap to clone: hand one to whatever
/// finds out about a connection that needs reconnecting.
#[derive(Clone)]
pub struct EventPublisher {
    shared: Arc<Shared>,
}

struct Shared {
    outbox: Arc<dyn OutboxStore>,
    /// Synced after the outbox is written (its group commit shares syncs among writers).
    durable: Arc<dyn RunStore>,
    clock: Arc<dyn Clock>,
    wake: Notify,
}

impl EventPublisher {
    /// Records an event (durably) for delivery.
    pub async fn publish(&self, kind: EventKind, data: Value) -> Result<String, EventsError> {
        let id = new_run_id();
        let now = self.shared.clock.now();
        let event = OutboundEvent {
            payload: json!({
                "id": id,
                "kind": kind.as_str(),
                "created_at": now.to_rfc3339(),
                "data": data,
            }),
            id: id.clone(),
            kind: kind.as_str().to_string(),
            created_at: now,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            delivered_at: None,
        };
        self.shared
            .outbox
            .put_event(&event)
            .await
            .map_err(EventsError::Store)?;
        self.shared
            .durable
            .flush()
            .await
            .map_err(EventsError::Sync)?;
        self.shared.wake.notify_one();
        Ok(id)
    }

    /// `connection.needs_reconnect`: `reason` says why (no token or secret in it).
    pub async fn connection_needs_reconnect(
        &self,
        connection: &str,
        reason: &str,
    ) -> Result<String, EventsError> {
        let data = json!({ "connection": connection, "reason": reason });
        self.publish(EventKind::ConnectionNeedsReconnect, data)
            .await
    }
}

/// The event of a run that ended, if its end is one (cancelled and interrupted runs are not).
fn run_event(ended: &RunEnded) -> Option<(EventKind, Value)> {
    let kind = match ended.status {
        RunStatus::Succeeded => EventKind::RunSucceeded,
        RunStatus::Failed => EventKind::RunFailed,
        _ => return None,
    };
    let data = json!({
        "workflow": ended.workflow,
        "run_id": ended.run_id,
        "trigger": ended.kind.as_str(),
        "status": ended.status.as_str(),
        "error": ended.error.as_deref().map(shortened),
        "duration_ms": u64::try_from(ended.duration.as_millis()).unwrap_or(u64::MAX),
    });
    Some((kind, data))
}

/// The longest run error an event carries; the whole is in the run's record.
const MAX_ERROR_CHARS: usize = 2000;

fn shortened(error: &str) -> String {
    match weft_action::text::cut(error, MAX_ERROR_CHARS, usize::MAX) {
        Some(start) => format!("{start}… (cut: see the run)"),
        None => error.to_string(),
    }
}

/// How far delivery got: a round is one pass over the due events, their outcomes synced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryProgress {
    pub rounds: u64,
    /// When the earliest pending event is due again.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Events read from the outbox per round, oldest first (while the oldest wait for a retry,
/// newer ones past them wait too: the receiver is most likely down for all).
const ROUND: usize = 256;
/// Deliveries in flight at once.
const PARALLEL: usize = 8;

/// The running outbound events: the task that turns run ends into events and the one that
/// delivers them.
pub struct Events {
    publisher: EventPublisher,
    progress: watch::Receiver<DeliveryProgress>,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Events {
    /// Starts delivering what the outbox holds, and events of the runs `dispatcher` ends.
    pub fn start(
        settings: EventsSettings,
        outbox: Arc<dyn OutboxStore>,
        durable: Arc<dyn RunStore>,
        clock: Arc<dyn Clock>,
        dispatcher: &Dispatcher,
    ) -> Result<Events, EventsError> {
        if !matches!(settings.url.scheme(), "http" | "https") {
            return Err(EventsError::Scheme(settings.url.scheme().to_string()));
        }
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(EventsError::Client)?;
        let publisher = EventPublisher {
            shared: Arc::new(Shared {
                outbox,
                durable,
                clock,
                wake: Notify::new(),
            }),
        };
        let stop = CancellationToken::new();
        let (progress_tx, progress) = watch::channel(DeliveryProgress::default());
        let delivery = Delivery {
            settings,
            client,
            publisher: publisher.clone(),
            progress: progress_tx,
        };
        let tasks = vec![
            tokio::spawn(delivery.run(stop.clone())),
            tokio::spawn(publish_run_ends(
                dispatcher.subscribe(),
                publisher.clone(),
                stop.clone(),
            )),
        ];
        Ok(Events {
            publisher,
            progress,
            stop,
            tasks,
        })
    }

    pub fn publisher(&self) -> EventPublisher {
        self.publisher.clone()
    }

    /// Follows the delivery rounds (tests and metrics).
    pub fn progress(&self) -> watch::Receiver<DeliveryProgress> {
        self.progress.clone()
    }

    /// Stops delivering; what is pending stays in the outbox for the next start.
    pub async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            if let Err(e) = task.await {
                tracing::error!("an events task ended abnormally: {e}");
            }
        }
    }
}

async fn publish_run_ends(
    mut ended: broadcast::Receiver<RunEnded>,
    publisher: EventPublisher,
    stop: CancellationToken,
) {
    loop {
        let run = tokio::select! {
            biased;
            _ = stop.cancelled() => {
                // Runs that ended before the stop still get their events.
                while let Ok(run) = ended.try_recv() {
                    publish_run_end(&publisher, &run).await;
                }
                return;
            }
            run = ended.recv() => run,
        };
        match run {
            Ok(run) => publish_run_end(&publisher, &run).await,
            Err(broadcast::error::RecvError::Lagged(missed)) => tracing::error!(
                "{missed} run end(s) came faster than their events could be recorded: no event is sent for them"
            ),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn publish_run_end(publisher: &EventPublisher, run: &RunEnded) {
    let Some((kind, data)) = run_event(run) else {
        return;
    };
    if let Err(e) = publisher.publish(kind, data).await {
        tracing::error!(
            run = %run.run_id,
            "the {} event is not sent: {}",
            kind.as_str(),
            weft_action::http_errors::describe_error_chain(&e)
        );
    }
}

struct Delivery {
    settings: EventsSettings,
    client: reqwest::Client,
    publisher: EventPublisher,
    progress: watch::Sender<DeliveryProgress>,
}

impl Delivery {
    async fn run(self, stop: CancellationToken) {
        let shared = &self.publisher.shared;
        loop {
            let next = match self.round().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(
                        "outbound events: the outbox could not be read or updated: {}",
                        weft_action::http_errors::describe_error_chain(&e)
                    );
                    Some(shared.clock.now() + self.settings.first_retry_wait)
                }
            };
            self.progress.send_modify(|progress| {
                progress.rounds += 1;
                progress.next_attempt_at = next;
            });
            let sleep: BoxFuture<'static, ()> = match next {
                Some(at) => shared.clock.sleep_until(at),
                None => Box::pin(std::future::pending()),
            };
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                _ = shared.wake.notified() => {}
                _ = sleep => {}
            }
        }
    }

    /// Attempts every due event, records the outcomes (one sync) and says when the next
    /// pending one is due.
    async fn round(&self) -> Result<Option<DateTime<Utc>>, EventsError> {
        let shared = &self.publisher.shared;
        let now = shared.clock.now();
        let pending = shared
            .outbox
            .pending_events(ROUND)
            .await
            .map_err(EventsError::Store)?;
        let full = pending.len() == ROUND;
        let (due, later): (Vec<_>, Vec<_>) =
            pending.into_iter().partition(|e| e.next_attempt_at <= now);
        let mut next = later.iter().map(|e| e.next_attempt_at).min();
        if due.is_empty() {
            return Ok(next);
        }
        let mut attempts = futures::stream::iter(due)
            .map(|event| self.attempt(event, now))
            .buffer_unordered(PARALLEL);
        while let Some(event) = attempts.next().await {
            shared
                .outbox
                .put_event(&event)
                .await
                .map_err(EventsError::Store)?;
            if event.status == DeliveryStatus::Pending {
                next = Some(next.map_or(event.next_attempt_at, |n| n.min(event.next_attempt_at)));
            }
        }
        shared.durable.flush().await.map_err(EventsError::Sync)?;
        // A full round may have left more due events behind it: go again at once.
        Ok(if full { Some(now) } else { next })
    }

    /// One delivery attempt; the event as it stands after it.
    async fn attempt(&self, mut event: OutboundEvent, now: DateTime<Utc>) -> OutboundEvent {
        let body = match serde_json::to_vec(&event.payload) {
            Ok(body) => body,
            Err(e) => {
                event.status = DeliveryStatus::GaveUp;
                event.last_error = Some(format!("the event cannot be encoded: {e}"));
                return event;
            }
        };
        let sent = self
            .client
            .post(self.settings.url.clone())
            .header("content-type", "application/json")
            .header("x-weft-event", &event.kind)
            .header("x-weft-delivery", &event.id)
            .header(
                signature::HEADER,
                signature::sign(&self.settings.secret, &body),
            )
            .body(body)
            .send()
            .await;
        event.attempts += 1;
        let failure = match sent {
            Ok(answer) if answer.status().is_success() => None,
            Ok(answer) => Some(format!("the receiver answered HTTP {}", answer.status())),
            Err(e) => Some(weft_action::http_errors::describe_error_chain(&e)),
        };
        match failure {
            None => {
                event.status = DeliveryStatus::Delivered;
                event.delivered_at = Some(now);
                event.last_error = None;
            }
            Some(error) => {
                tracing::warn!(
                    event = %event.id,
                    kind = %event.kind,
                    attempt = event.attempts,
                    "outbound event not delivered: {error}"
                );
                event.last_error = Some(error);
                if event.attempts >= self.settings.max_attempts {
                    event.status = DeliveryStatus::GaveUp;
                } else {
                    event.next_attempt_at = now + self.settings.retry_wait(event.attempts);
                }
            }
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_run_error_is_cut_on_a_character() {
        assert_eq!(shortened("short"), "short");
        let long = "é".repeat(MAX_ERROR_CHARS + 5);
        let cut = shortened(&long);
        assert!(cut.starts_with(&"é".repeat(MAX_ERROR_CHARS)));
        assert!(cut.ends_with("… (cut: see the run)"));
        assert_eq!(cut.chars().filter(|c| *c == 'é').count(), MAX_ERROR_CHARS);
    }
}
