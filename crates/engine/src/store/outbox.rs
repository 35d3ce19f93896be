//! What the daemon's webhooks and outbound events keep: the `Idempotency-Key` of a webhook
//! request with the run it started ([`RequestKeyRecord`], in the [`super::TriggerStore`]),
//! and the outbox of events for the configured events URL ([`OutboxStore`]): an event is
//! stored before its first delivery and kept, with each attempt's outcome, until delivered or
//! given up, so a restarted daemon delivers what the stopped one had not.
//!
//! Neither is kept for good: the daemon sweeps old request keys and old delivered events in
//! batches ([`OutboxStore::sweep_request_keys`], [`OutboxStore::sweep_delivered_events`]).
//! An event not delivered (pending, or given up) is never swept.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::StoreError;

/// A webhook request's `Idempotency-Key` (unique per workflow) and the run it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestKeyRecord {
    pub workflow: String,
    /// The key as the caller chooses to keep it (the daemon keeps its SHA-256).
    pub key: String,
    pub run_id: String,
    pub recorded_at: DateTime<Utc>,
}

/// Where an outbound event's delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not delivered yet: tried again at `next_attempt_at`.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed; kept for the record, not tried again.
    GaveUp,
}

/// One event for the events URL, with its delivery so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundEvent {
    /// A ULID: events sort by creation.
    pub id: String,
    /// `run.failed`, `run.succeeded`, `connection.needs_reconnect`.
    pub kind: String,
    /// The JSON body sent (without secrets).
    pub payload: Value,
    pub created_at: DateTime<Utc>,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Where a sweep goes on from: the store's own key of the last record looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepCursor(pub(crate) Vec<u8>);

/// One batch of a sweep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    /// Records removed by this batch.
    pub removed: usize,
    /// Where the next batch starts; `None` once the sweep has looked at every record it may
    /// remove.
    pub next: Option<SweepCursor>,
}

/// The outbox of outbound events (and the webhook request keys, which it sweeps). Writes are
/// made durable by the store's flush, like runs.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Adds an event or replaces the one with the same id (after an attempt).
    async fn put_event(&self, event: &OutboundEvent) -> Result<(), StoreError>;
    /// Up to `limit` events still pending, oldest first, without reading the delivered ones.
    async fn pending_events(&self, limit: usize) -> Result<Vec<OutboundEvent>, StoreError>;
    /// Up to `limit` events, newest first, whatever their status.
    async fn recent_events(&self, limit: usize) -> Result<Vec<OutboundEvent>, StoreError>;
    /// Looks at up to `batch` webhook request keys after `from` (from the first without),
    /// in the store's order, and removes those recorded before `before`.
    async fn sweep_request_keys(
        &self,
        before: DateTime<Utc>,
        from: Option<&SweepCursor>,
        batch: usize,
    ) -> Result<Swept, StoreError>;
    /// Looks at up to `batch` events after `from`, oldest first, and removes the delivered
    /// ones created before `before`; the sweep ends at the first event created at or after
    /// `before`. Pending and given-up events are kept.
    async fn sweep_delivered_events(
        &self,
        before: DateTime<Utc>,
        from: Option<&SweepCursor>,
        batch: usize,
    ) -> Result<Swept, StoreError>;
}
