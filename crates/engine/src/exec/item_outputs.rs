//! A `for_each` loop's item outputs, held so that a loop's memory does not grow with its
//! length: each output is encoded as compact JSON as its item finishes, and every
//! [`CHUNK_BYTES`] of them go to the run store's scratch area ([`ScratchArea`]). The array that
//! `steps.<loop>.output` reads is built again only when an expression reads it, and kept only
//! while something holds it.
//!
//! Two kinds of value stay in memory: outputs that hold a secret (the scratch area is on disk,
//! and secrets are never written), and everything when the store has no scratch area (a run
//! without history): then at most [`IN_MEMORY_CAP`] bytes, past which the loop fails with a
//! clear error instead of growing without bound.

use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use serde_json::Value;

use super::redact::Redactor;
use crate::store::RunStore;

/// Encoded outputs are written to the scratch area in pieces of about this size.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;
/// Without a scratch area, a loop's encoded outputs may take this much memory.
pub(crate) const IN_MEMORY_CAP: usize = 256 * 1024 * 1024;

/// Each entry: the item's index (u64, little-endian), the length of its JSON (u32), the JSON.
const ENTRY_HEADER: usize = 12;

pub(crate) struct ItemOutputs {
    step: Arc<str>,
    len: usize,
    store: Arc<dyn RunStore>,
    /// Where this loop's chunks are: `<run id>/<loop instance>/`, then the chunk number.
    key: Vec<u8>,
    held: Mutex<Held>,
    /// How much encoded output may stay in memory without a scratch area.
    in_memory_cap: usize,
    /// The record last built, while something still holds it.
    built: Mutex<Weak<Value>>,
}

#[derive(Default)]
struct Held {
    /// Entries not yet written out.
    pending: Vec<u8>,
    /// Chunks written to the scratch area.
    written: u32,
    /// Chunks kept in memory (no scratch area).
    in_memory: Vec<Vec<u8>>,
    in_memory_bytes: usize,
    /// Outputs that hold a secret, by item index.
    secret: Vec<(usize, Value)>,
}

impl ItemOutputs {
    pub fn new(step: Arc<str>, len: usize, store: Arc<dyn RunStore>, key: Vec<u8>) -> Self {
        ItemOutputs {
            step,
            len,
            store,
            key,
            held: Mutex::new(Held::default()),
            in_memory_cap: IN_MEMORY_CAP,
            built: Mutex::new(Weak::new()),
        }
    }

    /// Sets item `index`'s output aside.
    pub fn push(&self, index: usize, value: Value, redactor: &Redactor) -> Result<(), String> {
        let mut held = self.held.lock();
        let start = held.pending.len();
        held.pending
            .extend_from_slice(&(index as u64).to_le_bytes());
        held.pending.extend_from_slice(&[0; 4]);
        // Written masked, in the walk that finds whether there is a secret to mask: when
        // nothing was, the text is the value's own.
        if redactor.write_json(&value, &mut held.pending) {
            held.pending.truncate(start);
            held.secret.push((index, value));
            return Ok(());
        }
        let Ok(json_len) = u32::try_from(held.pending.len() - start - ENTRY_HEADER) else {
            held.pending.truncate(start);
            return Err(format!(
                "the output of item {index} of loop `{}` is larger than 4 GiB",
                self.step
            ));
        };
        held.pending[start + 8..start + ENTRY_HEADER].copy_from_slice(&json_len.to_le_bytes());
        if held.pending.len() >= CHUNK_BYTES {
            self.write_out(&mut held)?;
        }
        Ok(())
    }

    fn write_out(&self, held: &mut Held) -> Result<(), String> {
        let chunk = std::mem::take(&mut held.pending);
        match self.store.scratch() {
            Some(area) => {
                area.put(&self.chunk_key(held.written), &chunk)
                    .map_err(|e| {
                        format!(
                            "the outputs of loop `{}` could not be set aside in the run history: {}",
                            self.step,
                            e.with_causes()
                        )
                    })?;
                held.written += 1;
            }
            None => {
                held.in_memory_bytes += chunk.len();
                if held.in_memory_bytes > self.in_memory_cap {
                    return Err(format!(
                        "the outputs of loop `{}` take more than {} MB, and this run keeps no history to set them aside in: loop over fewer items, or give the loop `outputs` that keep less of each item",
                        self.step,
                        self.in_memory_cap / (1024 * 1024)
                    ));
                }
                held.in_memory.push(chunk);
            }
        }
        Ok(())
    }

    fn chunk_key(&self, chunk: u32) -> Vec<u8> {
        let mut key = self.key.clone();
        key.extend_from_slice(&chunk.to_be_bytes());
        key
    }

    /// Whether an item's output holds a secret or a value computed from one.
    pub fn holds_secret(&self, redactor: &Redactor) -> bool {
        let held = self.held.lock();
        held.secret
            .iter()
            .any(|(_, value)| redactor.holds_secret(value, true))
    }

    /// The loop's step record, its output the array of every item's output in item order (an
    /// item without one is `null`).
    pub fn record(&self) -> Result<Arc<Value>, String> {
        if let Some(built) = self.built.lock().upgrade() {
            return Ok(built);
        }
        let mut values = vec![Value::Null; self.len];
        let held = self.held.lock();
        let unreadable = |detail: String| {
            format!(
                "the outputs of loop `{}` could not be read back from the run history: {detail}",
                self.step
            )
        };
        for chunk in 0..held.written {
            let bytes = self
                .store
                .scratch()
                .ok_or_else(|| unreadable("the store has no scratch area".into()))?
                .get(&self.chunk_key(chunk))
                .map_err(|e| unreadable(e.with_causes()))?
                .ok_or_else(|| unreadable(format!("chunk {chunk} is missing")))?;
            decode_into(&bytes, &mut values).map_err(unreadable)?;
        }
        for chunk in held.in_memory.iter().chain([&held.pending]) {
            decode_into(chunk, &mut values).map_err(unreadable)?;
        }
        for (index, value) in &held.secret {
            if let Some(slot) = values.get_mut(*index) {
                *slot = value.clone();
            }
        }
        let record = Arc::new(serde_json::json!({
            "status": "succeeded", "output": Value::Array(values), "error": null, "attempts": 1
        }));
        *self.built.lock() = Arc::downgrade(&record);
        Ok(record)
    }

    /// How many item outputs are held as values (not encoded): what a loop keeps in memory
    /// beyond its encoded chunks.
    #[cfg(test)]
    pub fn values_held(&self) -> usize {
        self.held.lock().secret.len()
    }

    /// Bytes of encoded outputs held in memory.
    #[cfg(test)]
    pub fn bytes_held(&self) -> usize {
        let held = self.held.lock();
        held.pending.len() + held.in_memory_bytes
    }
}

impl Drop for ItemOutputs {
    fn drop(&mut self) {
        let written = self.held.get_mut().written;
        if let (true, Some(area)) = (written > 0, self.store.scratch()) {
            // Best effort: what is left is removed when the run ends or the store next opens.
            let _ = area.remove_prefix(&self.key);
        }
    }
}

fn decode_into(mut bytes: &[u8], values: &mut [Value]) -> Result<(), String> {
    while !bytes.is_empty() {
        if bytes.len() < ENTRY_HEADER {
            return Err("an entry is cut short".into());
        }
        let (header, rest) = bytes.split_at(ENTRY_HEADER);
        let index = u64::from_le_bytes(header[..8].try_into().unwrap_or_default()) as usize;
        let len = u32::from_le_bytes(header[8..].try_into().unwrap_or_default()) as usize;
        if rest.len() < len {
            return Err("an entry is cut short".into());
        }
        let (json, rest) = rest.split_at(len);
        let value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
        match values.get_mut(index) {
            Some(slot) => *slot = value,
            None => return Err(format!("an entry names item {index}, past the loop's end")),
        }
        bytes = rest;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryRunStore, NoStore};
    use serde_json::json;

    fn outputs(store: Arc<dyn RunStore>, len: usize) -> ItemOutputs {
        ItemOutputs::new(Arc::from("each"), len, store, b"run/0/".to_vec())
    }

    #[test]
    fn outputs_go_to_the_scratch_area_as_they_finish_and_come_back_in_item_order() {
        let store = Arc::new(MemoryRunStore::new());
        let items = 50_000;
        let loop_outputs = outputs(store.clone(), items);
        let redactor = Redactor::default();
        // Items finish out of order (concurrency): odd ones first, then even ones.
        for index in (1..items).step_by(2).chain((0..items).step_by(2)) {
            let value = json!({ "item": index, "name": format!("page {index}") });
            loop_outputs.push(index, value, &redactor).unwrap();
            // Never more than one chunk's worth held in memory, whatever the loop's length.
            assert!(loop_outputs.bytes_held() < CHUNK_BYTES + 100);
        }
        assert!(store.scratch_entries() > 5, "{}", store.scratch_entries());
        assert_eq!(loop_outputs.values_held(), 0);
        let record = loop_outputs.record().unwrap();
        let array = record["output"].as_array().unwrap();
        assert_eq!(array.len(), items);
        for (index, value) in array.iter().enumerate() {
            assert_eq!(value["item"], index, "{value}");
        }
        assert_eq!(record["status"], "succeeded");
        drop(record);
        drop(loop_outputs);
        assert_eq!(store.scratch_entries(), 0, "dropped loops leave nothing");
    }

    #[test]
    fn an_item_without_an_output_reads_as_null_and_a_built_record_is_shared_while_held() {
        let loop_outputs = outputs(Arc::new(MemoryRunStore::new()), 3);
        loop_outputs
            .push(1, json!("b"), &Redactor::default())
            .unwrap();
        let first = loop_outputs.record().unwrap();
        assert_eq!(first["output"], json!([null, "b", null]));
        let second = loop_outputs.record().unwrap();
        assert!(Arc::ptr_eq(&first, &second));
    }

    #[test]
    fn outputs_holding_a_secret_never_reach_the_scratch_area() {
        let store = Arc::new(MemoryRunStore::new());
        let loop_outputs = outputs(store.clone(), 20_000);
        let redactor = Redactor::new(["hunter2-secret".to_string()]);
        let padding = "x".repeat(100);
        for index in 0..20_000 {
            let value = if index == 7 {
                json!({ "token": "hunter2-secret" })
            } else {
                json!({ "pad": padding })
            };
            loop_outputs.push(index, value, &redactor).unwrap();
        }
        assert!(store.scratch_entries() > 0);
        assert_eq!(loop_outputs.values_held(), 1);
        let record = loop_outputs.record().unwrap();
        assert_eq!(record["output"][7]["token"], "hunter2-secret");
        assert_eq!(record["output"][8]["pad"], padding);
    }

    #[test]
    fn without_a_scratch_area_outputs_stay_in_memory_up_to_a_cap_then_the_loop_fails() {
        let mut loop_outputs = outputs(Arc::new(NoStore), 100_000);
        loop_outputs.in_memory_cap = 2 * 1024 * 1024;
        let padding = "x".repeat(1000);
        let error = (0..100_000)
            .find_map(|index| {
                loop_outputs
                    .push(index, json!(padding), &Redactor::default())
                    .err()
            })
            .expect("the cap is reached");
        assert!(
            error.contains("the outputs of loop `each` take more than 2 MB")
                && error.contains("keeps no history"),
            "{error}"
        );
        assert!(loop_outputs.bytes_held() <= 2 * 1024 * 1024 + CHUNK_BYTES);
    }
}
