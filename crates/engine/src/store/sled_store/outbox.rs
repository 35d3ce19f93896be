//! The outbox in sled: events by id (ULIDs sort by creation), and an index of the pending
//! ones so a restart finds them without reading every delivered event.

use std::ops::Bound;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{backend, decode, decode_all, encode, SledRunStore};
use crate::store::{
    DeliveryStatus, OutboundEvent, OutboxStore, RequestKeyRecord, StoreError, SweepCursor, Swept,
};

/// The keys of `tree` after `from` (from the first without).
fn after(tree: &sled::Tree, from: Option<&SweepCursor>) -> sled::Iter {
    match from {
        Some(cursor) => tree.range::<&[u8], _>((Bound::Excluded(&cursor.0[..]), Bound::Unbounded)),
        None => tree.iter(),
    }
}

#[async_trait]
impl OutboxStore for SledRunStore {
    async fn put_event(&self, event: &OutboundEvent) -> Result<(), StoreError> {
        let id = event.id.as_bytes();
        self.events.insert(id, encode(event)?).map_err(backend)?;
        if event.status == DeliveryStatus::Pending {
            self.events_pending.insert(id, &[]).map_err(backend)?;
        } else {
            self.events_pending.remove(id).map_err(backend)?;
        }
        Ok(())
    }

    async fn pending_events(&self, limit: usize) -> Result<Vec<OutboundEvent>, StoreError> {
        let mut out = Vec::new();
        for id in self.events_pending.iter().keys().take(limit) {
            let id = id.map_err(backend)?;
            if let Some(bytes) = self.events.get(&id).map_err(backend)? {
                out.push(decode(&id, &bytes)?);
            }
        }
        Ok(out)
    }

    async fn recent_events(&self, limit: usize) -> Result<Vec<OutboundEvent>, StoreError> {
        decode_all(self.events.iter().rev().take(limit))
    }

    async fn sweep_request_keys(
        &self,
        before: DateTime<Utc>,
        from: Option<&SweepCursor>,
        batch: usize,
    ) -> Result<Swept, StoreError> {
        sweep(
            &self.request_keys,
            from,
            batch,
            |record: RequestKeyRecord| {
                if record.recorded_at < before {
                    Sweep::Remove
                } else {
                    Sweep::Keep
                }
            },
        )
    }

    async fn sweep_delivered_events(
        &self,
        before: DateTime<Utc>,
        from: Option<&SweepCursor>,
        batch: usize,
    ) -> Result<Swept, StoreError> {
        sweep(&self.events, from, batch, |event: OutboundEvent| {
            if event.created_at >= before {
                // Ids sort by creation: the rest are newer still.
                Sweep::Stop
            } else if event.status == DeliveryStatus::Delivered {
                // Delivered events are never pending again.
                Sweep::Remove
            } else {
                Sweep::Keep
            }
        })
    }
}

/// What a sweep does with one record.
enum Sweep {
    Remove,
    Keep,
    Stop,
}

/// Looks at up to `batch` records of `tree` after `from` and removes those `verdict` says to,
/// each only if unchanged meanwhile (a record written again is kept).
fn sweep<T: serde::de::DeserializeOwned>(
    tree: &sled::Tree,
    from: Option<&SweepCursor>,
    batch: usize,
    verdict: impl Fn(T) -> Sweep,
) -> Result<Swept, StoreError> {
    let mut swept = Swept::default();
    let mut looked = 0;
    for entry in after(tree, from) {
        let (key, bytes) = entry.map_err(backend)?;
        match verdict(decode(&key, &bytes)?) {
            Sweep::Stop => break,
            Sweep::Keep => {}
            Sweep::Remove => {
                let removed = tree
                    .compare_and_swap(&key, Some(bytes), None as Option<&[u8]>)
                    .map_err(backend)?;
                swept.removed += usize::from(removed.is_ok());
            }
        }
        looked += 1;
        if looked == batch {
            swept.next = Some(SweepCursor(key.to_vec()));
            break;
        }
    }
    Ok(swept)
}
