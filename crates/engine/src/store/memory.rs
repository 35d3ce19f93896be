//! Everything in memory: tests, and tools that need a store but no history.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use super::{
    AttemptJson, AttemptRecord, Claim, ClaimStore, FireRecord, RunRecord, RunStore, ScratchArea,
    StoreError, TriggerCursor, TriggerKey, TriggerStore,
};
use super::{DeliveryStatus, OutboundEvent, OutboxStore, RequestKeyRecord, SweepCursor, Swept};

#[derive(Default)]
pub struct MemoryRunStore {
    state: Mutex<State>,
    /// A memory store's scratch area is memory too: it keeps a big loop's item outputs
    /// encoded, which is smaller than holding them as values, but not bounded.
    scratch: MemoryScratch,
    /// How many times `flush` was called: what a sync would cost on a disk.
    flushes: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
struct MemoryScratch(Mutex<BTreeMap<Vec<u8>, Vec<u8>>>);

impl ScratchArea for MemoryScratch {
    fn put(&self, key: &[u8], bytes: &[u8]) -> Result<(), StoreError> {
        self.0.lock().insert(key.to_vec(), bytes.to_vec());
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.lock().get(key).cloned())
    }

    fn remove_prefix(&self, prefix: &[u8]) -> Result<(), StoreError> {
        self.0.lock().retain(|key, _| !key.starts_with(prefix));
        Ok(())
    }
}

#[derive(Default)]
struct State {
    /// By id: ids are ULIDs, so this is creation order.
    runs: BTreeMap<String, RunRecord>,
    /// By run id, then by seq.
    attempts: BTreeMap<(String, u64), AttemptRecord>,
    cursors: BTreeMap<(String, String, Option<String>), TriggerCursor>,
    fires: BTreeMap<(String, String, DateTime<Utc>), FireRecord>,
    claims: BTreeMap<String, Claim>,
    /// By workflow, then key.
    request_keys: BTreeMap<(String, String), RequestKeyRecord>,
    /// By id: ids are ULIDs, so this is creation order.
    events: BTreeMap<String, OutboundEvent>,
    paused: std::collections::BTreeSet<String>,
}

impl MemoryRunStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many times the store was asked to sync.
    pub fn flushes(&self) -> usize {
        self.flushes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every run, oldest first.
    pub fn all_runs(&self) -> Vec<RunRecord> {
        self.state.lock().runs.values().cloned().collect()
    }

    /// How many entries the scratch area holds (tests of what a run leaves behind).
    pub fn scratch_entries(&self) -> usize {
        self.scratch.0.lock().len()
    }

    /// Every attempt of every run, in recording order within each run.
    pub fn all_attempts(&self) -> Vec<AttemptRecord> {
        self.state.lock().attempts.values().cloned().collect()
    }
}

fn cursor_key(key: &TriggerKey) -> (String, String, Option<String>) {
    (
        key.workflow.clone(),
        key.trigger.clone(),
        key.connection.clone(),
    )
}

#[async_trait]
impl RunStore for MemoryRunStore {
    async fn put_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        self.state.lock().runs.insert(run.id.clone(), run.clone());
        Ok(())
    }

    async fn put_attempt(&self, attempt: &dyn AttemptJson) -> Result<(), StoreError> {
        // Read back from the JSON the stores keep, as the sled store's reads do.
        let mut json = Vec::new();
        attempt.write_json(&mut json);
        let record: AttemptRecord = serde_json::from_slice(&json).map_err(StoreError::Encode)?;
        self.state
            .lock()
            .attempts
            .insert((record.run_id.clone(), record.seq), record);
        Ok(())
    }

    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let state = self.state.lock();
        if let Some(run) = state.runs.get(id) {
            return Ok(Some(run.clone()));
        }
        let mut matches = state
            .runs
            .range(id.to_string()..)
            .take_while(|(key, _)| key.starts_with(id));
        match (matches.next(), matches.next()) {
            (Some((_, run)), None) if !id.is_empty() => Ok(Some(run.clone())),
            _ => Ok(None),
        }
    }

    async fn list_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        Ok(self
            .state
            .lock()
            .runs
            .values()
            .rev()
            .take(limit)
            .cloned()
            .collect())
    }

    async fn list_runs_before(
        &self,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let state = self.state.lock();
        let newest_first = state.runs.values().rev();
        Ok(match before {
            Some(id) => newest_first
                .skip_while(|run| run.id.as_str() >= id)
                .take(limit)
                .cloned()
                .collect(),
            None => newest_first.take(limit).cloned().collect(),
        })
    }

    async fn attempts(&self, run_id: &str) -> Result<Vec<AttemptRecord>, StoreError> {
        Ok(self
            .state
            .lock()
            .attempts
            .range((run_id.to_string(), 0)..=(run_id.to_string(), u64::MAX))
            .map(|(_, attempt)| attempt.clone())
            .collect())
    }

    async fn unfinished_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        Ok(self
            .state
            .lock()
            .runs
            .values()
            .filter(|r| !r.status.is_finished())
            .cloned()
            .collect())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.flushes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    fn scratch(&self) -> Option<&dyn ScratchArea> {
        Some(&self.scratch)
    }
}

#[async_trait]
impl TriggerStore for MemoryRunStore {
    async fn cursor(&self, key: &TriggerKey) -> Result<Option<TriggerCursor>, StoreError> {
        Ok(self.state.lock().cursors.get(&cursor_key(key)).cloned())
    }

    async fn put_cursor(&self, key: &TriggerKey, cursor: &TriggerCursor) -> Result<(), StoreError> {
        self.state
            .lock()
            .cursors
            .insert(cursor_key(key), cursor.clone());
        Ok(())
    }

    async fn record_fire(&self, fire: &FireRecord) -> Result<bool, StoreError> {
        let key = (
            fire.workflow.clone(),
            fire.trigger.clone(),
            fire.scheduled_at,
        );
        let mut state = self.state.lock();
        if state.fires.contains_key(&key) {
            return Ok(false);
        }
        state.fires.insert(key, fire.clone());
        Ok(true)
    }

    async fn fires_since(
        &self,
        workflow: &str,
        trigger: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<FireRecord>, StoreError> {
        let (workflow, trigger) = (workflow.to_string(), trigger.to_string());
        Ok(self
            .state
            .lock()
            .fires
            .range((workflow.clone(), trigger.clone(), since)..)
            .take_while(|((w, t, _), _)| *w == workflow && *t == trigger)
            .map(|(_, fire)| fire.clone())
            .collect())
    }

    async fn set_paused(&self, workflow: &str, paused: bool) -> Result<(), StoreError> {
        let mut state = self.state.lock();
        if paused {
            state.paused.insert(workflow.to_string());
        } else {
            state.paused.remove(workflow);
        }
        Ok(())
    }

    async fn paused_workflows(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.state.lock().paused.iter().cloned().collect())
    }

    async fn record_request_key(
        &self,
        record: &RequestKeyRecord,
    ) -> Result<Option<RequestKeyRecord>, StoreError> {
        let key = (record.workflow.clone(), record.key.clone());
        let mut state = self.state.lock();
        if let Some(first) = state.request_keys.get(&key) {
            return Ok(Some(first.clone()));
        }
        state.request_keys.insert(key, record.clone());
        Ok(None)
    }

    async fn forget_request_key(&self, workflow: &str, key: &str) -> Result<(), StoreError> {
        self.state
            .lock()
            .request_keys
            .remove(&(workflow.to_string(), key.to_string()));
        Ok(())
    }
}

#[async_trait]
impl OutboxStore for MemoryRunStore {
    async fn put_event(&self, event: &OutboundEvent) -> Result<(), StoreError> {
        self.state
            .lock()
            .events
            .insert(event.id.clone(), event.clone());
        Ok(())
    }

    async fn pending_events(&self, limit: usize) -> Result<Vec<OutboundEvent>, StoreError> {
        Ok(self
            .state
            .lock()
            .events
            .values()
            .filter(|e| e.status == DeliveryStatus::Pending)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn recent_events(&self, limit: usize) -> Result<Vec<OutboundEvent>, StoreError> {
        Ok(self
            .state
            .lock()
            .events
            .values()
            .rev()
            .take(limit)
            .cloned()
            .collect())
    }

    async fn sweep_request_keys(
        &self,
        before: DateTime<Utc>,
        from: Option<&SweepCursor>,
        batch: usize,
    ) -> Result<Swept, StoreError> {
        let start = from.map(memory_cursor::<(String, String)>).transpose()?;
        let mut state = self.state.lock();
        let (old, next) = sweep_batch(&state.request_keys, start, batch, |_, record| {
            Some(record.recorded_at < before)
        });
        for key in &old {
            state.request_keys.remove(key);
        }
        Ok(swept(old.len(), next))
    }

    async fn sweep_delivered_events(
        &self,
        before: DateTime<Utc>,
        from: Option<&SweepCursor>,
        batch: usize,
    ) -> Result<Swept, StoreError> {
        let start = from.map(memory_cursor::<String>).transpose()?;
        let mut state = self.state.lock();
        let (old, next) = sweep_batch(&state.events, start, batch, |_, event| {
            (event.created_at < before).then_some(event.status == DeliveryStatus::Delivered)
        });
        for key in &old {
            state.events.remove(key);
        }
        Ok(swept(old.len(), next))
    }
}

/// One batch of a sweep of `map` after `start`: the keys whose entry `remove` says yes to, and
/// the key to go on after. `remove` answering `None` ends the sweep there.
fn sweep_batch<K: Ord + Clone, V>(
    map: &BTreeMap<K, V>,
    start: Option<K>,
    batch: usize,
    remove: impl Fn(&K, &V) -> Option<bool>,
) -> (Vec<K>, Option<K>) {
    let range = match start {
        Some(start) => map.range((std::ops::Bound::Excluded(start), std::ops::Bound::Unbounded)),
        None => map.range(..),
    };
    let mut old = Vec::new();
    for (looked, (key, value)) in range.enumerate() {
        match remove(key, value) {
            None => return (old, None),
            Some(true) => old.push(key.clone()),
            Some(false) => {}
        }
        if looked + 1 == batch {
            return (old, Some(key.clone()));
        }
    }
    (old, None)
}

/// A memory store's cursor is its map key, as JSON.
fn memory_cursor<K: serde::de::DeserializeOwned>(cursor: &SweepCursor) -> Result<K, StoreError> {
    serde_json::from_slice(&cursor.0).map_err(|source| StoreError::Corrupt {
        key: "sweep cursor".into(),
        source,
    })
}

fn swept<K: serde::Serialize>(removed: usize, next: Option<K>) -> Swept {
    Swept {
        removed,
        // A map key of strings always encodes.
        next: next.and_then(|key| serde_json::to_vec(&key).ok().map(SweepCursor)),
    }
}

#[async_trait]
impl ClaimStore for MemoryRunStore {
    async fn claim(
        &self,
        run_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Option<Claim>, StoreError> {
        let mut state = self.state.lock();
        let claim = Claim::take(state.claims.get(run_id), run_id, owner, now, lease);
        if let Some(claim) = &claim {
            state.claims.insert(run_id.to_string(), claim.clone());
        }
        Ok(claim)
    }

    async fn renew(
        &self,
        claim: &Claim,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Option<Claim>, StoreError> {
        let mut state = self.state.lock();
        let renewed = claim.renewed(state.claims.get(&claim.run_id), now, lease);
        if let Some(renewed) = &renewed {
            state.claims.insert(claim.run_id.clone(), renewed.clone());
        }
        Ok(renewed)
    }

    async fn release(&self, claim: &Claim) -> Result<bool, StoreError> {
        let mut state = self.state.lock();
        if state.claims.get(&claim.run_id) != Some(claim) {
            return Ok(false);
        }
        state.claims.remove(&claim.run_id);
        Ok(true)
    }

    async fn expired_claims(&self, now: DateTime<Utc>) -> Result<Vec<Claim>, StoreError> {
        Ok(self
            .state
            .lock()
            .claims
            .values()
            .filter(|c| c.expires_at <= now)
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn passes_the_conformance_checks() {
        super::super::conformance::run_all(&super::MemoryRunStore::new()).await;
        super::super::conformance::run_outbox(&super::MemoryRunStore::new()).await;
    }
}
