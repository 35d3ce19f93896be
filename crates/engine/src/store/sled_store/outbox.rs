//! The outbox in sled: events by id (ULIDs sort by creation), and an index of the pending
//! ones so a restart finds them without reading every delivered event.

use async_trait::async_trait;

use super::{backend, decode, decode_all, encode, SledRunStore};
use crate::store::{DeliveryStatus, OutboundEvent, OutboxStore, StoreError};

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
}
