//! A run's attempt records in sled, several to a key: one sled insert per chunk of records
//! instead of one per record (an insert was 38% of a step's instructions). Records of a run
//! wait in memory in its pending chunk, which is written to sled's log when it reaches
//! [`CHUNK_BYTES`], when the store is flushed (so a flush still covers every record put
//! before it), when the run's attempts are read, and at the latest [`WRITE_OUT_EVERY`] after
//! it was started, by a task of the store: a record is in sled's log about as soon as it was
//! when each was inserted on its own, and in its files at sled's next flush.
//!
//! A chunk's key is `<run id>/<highest seq in it>` (big-endian), so a run's chunks are
//! contiguous, and the last key gives the number of attempts (seqs are 0, 1, 2... each
//! recorded once) without reading any record. Its value is [`CHUNK_TAG`], then entries of the
//! record's seq (u64, big-endian), the length of its JSON (u32, big-endian), the JSON, which
//! may leave out the record's `run_id` and `seq` (the key and the entry have them: a fifth of a
//! small step's record). A value that starts with `{` is a record on its own, as earlier
//! versions wrote every record.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::{attempt_key, backend, decode};
use crate::store::{AttemptJson, AttemptPage, AttemptRecord, StoreError};

/// A run's pending records are written as one chunk once they take this much. Measured
/// (`weft-bench scale`): 1 KiB chunks (about 4 records of a small step) already save most of
/// the inserts' cost (a step: 25,700 instructions; 6 KiB chunks: 23,000; one record a key:
/// 40,000); bigger ones keep more in memory, as sled's cache evicts a page only once its shard
/// of the cache has seen enough accesses, and fewer inserts are fewer accesses (a 100,000-item
/// loop peaked at 51 MB with 1 KiB chunks, 118 MB with 6 KiB ones). Since item outputs went to
/// scratch files and records lost their ids: 2 KiB chunks (about 12 records of a loop item)
/// take a loop item's sled insert from 2,800 to 1,500 instructions, the peak of a loop of a
/// million items staying at 38 MB; 4 KiB ones save 700 more but that loop peaked at 71 MB.
const CHUNK_BYTES: usize = 2048;

/// Pending records are written to sled's log at least this often (sled syncs its log every
/// 200 ms on its own).
const WRITE_OUT_EVERY: Duration = Duration::from_millis(100);

/// The first byte of a chunk; a record on its own starts with `{`.
const CHUNK_TAG: u8 = 0;

/// Each entry: the seq, the length of the JSON, the JSON.
const ENTRY_HEADER: usize = 12;

/// The chunk being filled of each run, by run id. Run ids are made by the engine, not read
/// from outside, so a fast hash serves (SipHash was a twentieth of recording an attempt).
type Pending = HashMap<Box<str>, Chunk, foldhash::fast::RandomState>;

pub(super) struct AttemptLog {
    tree: sled::Tree,
    /// Held while pending chunks are written, too.
    pending: Mutex<Pending>,
    /// Wakes the writing task when a run's records start waiting; dropped with the log,
    /// which ends the task.
    started_waiting: mpsc::UnboundedSender<()>,
}

struct Chunk {
    /// [`CHUNK_TAG`] and entries.
    bytes: Vec<u8>,
    highest_seq: u64,
}

impl Chunk {
    fn new() -> Self {
        let mut bytes = Vec::with_capacity(CHUNK_BYTES + 1024);
        bytes.push(CHUNK_TAG);
        Chunk {
            bytes,
            highest_seq: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.bytes.len() <= 1
    }

    /// Adds `record`'s entry, its JSON written straight into the chunk; on an error nothing
    /// is added.
    fn add(&mut self, record: &dyn AttemptJson) -> Result<(), StoreError> {
        let was_empty = self.is_empty();
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&record.seq().to_be_bytes());
        self.bytes.extend_from_slice(&[0; 4]);
        record.write_json_without_ids(&mut self.bytes);
        let len = u32::try_from(self.bytes.len() - start - ENTRY_HEADER)
            .map_err(|_| StoreError::Encode(serde::ser::Error::custom("over 4 GiB")));
        match len {
            Ok(len) => {
                self.bytes[start + 8..start + ENTRY_HEADER].copy_from_slice(&len.to_be_bytes());
                self.highest_seq = if was_empty {
                    record.seq()
                } else {
                    self.highest_seq.max(record.seq())
                };
                Ok(())
            }
            Err(e) => {
                self.bytes.truncate(start);
                Err(e)
            }
        }
    }

    /// Appends the entries of `other` (a chunk that could not be written, put back).
    fn absorb(&mut self, other: Chunk) {
        if other.is_empty() {
            return;
        }
        self.highest_seq = if self.is_empty() {
            other.highest_seq
        } else {
            self.highest_seq.max(other.highest_seq)
        };
        self.bytes.extend_from_slice(&other.bytes[1..]);
    }
}

/// A chunk that could not be written joins the run's pending one, for the next try.
fn wait_again(pending: &mut Pending, run_id: &str, chunk: Chunk) {
    pending
        .entry(run_id.into())
        .or_insert_with(Chunk::new)
        .absorb(chunk);
}

/// One stored record: its seq, and its JSON.
struct Entry<'a> {
    seq: u64,
    json: &'a [u8],
}

/// The records of a stored value (a chunk, or a record on its own), in the order written.
fn entries<'a>(key: &[u8], value: &'a [u8]) -> Result<Vec<Entry<'a>>, StoreError> {
    let damaged = || StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        source: serde::de::Error::custom("a chunk of attempt records is cut short"),
    };
    match value.split_first() {
        Some((&CHUNK_TAG, mut rest)) => {
            let mut found = Vec::new();
            while !rest.is_empty() {
                let header = rest.get(..ENTRY_HEADER).ok_or_else(damaged)?;
                let seq = u64::from_be_bytes(header[..8].try_into().map_err(|_| damaged())?);
                let len = u32::from_be_bytes(header[8..].try_into().map_err(|_| damaged())?);
                let end = ENTRY_HEADER + len as usize;
                let json = rest.get(ENTRY_HEADER..end).ok_or_else(damaged)?;
                found.push(Entry { seq, json });
                rest = &rest[end..];
            }
            Ok(found)
        }
        _ => Ok(vec![Entry {
            seq: super::seq_of(key).ok_or_else(damaged)?,
            json: value,
        }]),
    }
}

impl Entry<'_> {
    /// The record, its run id and seq from where they are kept.
    fn record(&self, run_id: &str, key: &[u8]) -> Result<AttemptRecord, StoreError> {
        let mut record: AttemptRecord = decode(key, self.json)?;
        record.seq = self.seq;
        if record.run_id.is_empty() {
            record.run_id = run_id.to_string();
        }
        Ok(record)
    }
}

/// Sorts by seq; of two records with one seq (put twice), the one written later is kept.
fn in_seq_order(mut records: Vec<AttemptRecord>) -> Vec<AttemptRecord> {
    records.reverse();
    records.sort_by_key(|r| r.seq);
    records.dedup_by_key(|r| r.seq);
    records
}

/// An attempt record read for its step name alone.
#[derive(serde::Deserialize)]
struct StepOnly {
    step: String,
}

impl AttemptLog {
    /// The log over `tree`, and the task that writes what waits, on the runtime the store is
    /// opened in; it ends when the log is dropped. A task, not a thread of its own: starting
    /// a thread cost a one-step `weft run` 0.15 ms, where the opening waited for it.
    pub fn start(tree: sled::Tree) -> Arc<Self> {
        let (started_waiting, wakes) = mpsc::unbounded_channel();
        let log = Arc::new(AttemptLog {
            tree,
            pending: Mutex::default(),
            started_waiting,
        });
        // Without a runtime (the store opens in one) records still reach sled at the next
        // flush or a full chunk.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(write_out_soon(Arc::downgrade(&log), wakes));
        }
        log
    }

    pub fn put(&self, record: &dyn AttemptJson) -> Result<(), StoreError> {
        let run_id = record.run_id();
        let mut pending = self.pending.lock();
        let chunk = match pending.get_mut(run_id) {
            Some(chunk) => chunk,
            None => {
                let _ = self.started_waiting.send(());
                pending.entry(run_id.into()).or_insert_with(Chunk::new)
            }
        };
        chunk.add(record)?;
        if chunk.bytes.len() >= CHUNK_BYTES {
            let full = std::mem::replace(chunk, Chunk::new());
            self.write(&mut pending, run_id, full)?;
        }
        Ok(())
    }

    /// Writes every pending chunk to sled's log. Chunks are written with the lock held: a
    /// flush or a read that comes meanwhile waits for them instead of missing records that
    /// were taken out to be written.
    pub fn write_out_all(&self) -> Result<(), StoreError> {
        let mut pending = self.pending.lock();
        let mut chunks = std::mem::take(&mut *pending).into_iter();
        while let Some((run_id, chunk)) = chunks.next() {
            if let Err(e) = self.write(&mut pending, &run_id, chunk) {
                for (run_id, chunk) in chunks {
                    wait_again(&mut pending, &run_id, chunk);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    fn write_out(&self, run_id: &str) -> Result<(), StoreError> {
        let mut pending = self.pending.lock();
        match pending.remove(run_id) {
            Some(chunk) => self.write(&mut pending, run_id, chunk),
            None => Ok(()),
        }
    }

    /// Inserts `chunk`; when another chunk of the run ends at the same seq (a seq put twice),
    /// the two become one, so neither is lost. A chunk that cannot be written waits again.
    fn write(&self, pending: &mut Pending, run_id: &str, chunk: Chunk) -> Result<(), StoreError> {
        if chunk.is_empty() {
            return Ok(());
        }
        let key = attempt_key(run_id, chunk.highest_seq);
        let previous = match self.tree.insert(&key, chunk.bytes.as_slice()) {
            Ok(previous) => previous,
            Err(e) => {
                wait_again(pending, run_id, chunk);
                return Err(backend(e));
            }
        };
        let Some(previous) = previous else {
            return Ok(());
        };
        let mut joined = Chunk::new();
        joined.highest_seq = chunk.highest_seq;
        for entry in entries(&key, &previous)? {
            joined.bytes.extend_from_slice(&entry.seq.to_be_bytes());
            joined
                .bytes
                .extend_from_slice(&(entry.json.len() as u32).to_be_bytes());
            joined.bytes.extend_from_slice(entry.json);
        }
        joined.bytes.extend_from_slice(&chunk.bytes[1..]);
        if let Err(e) = self.tree.insert(&key, joined.bytes.as_slice()) {
            wait_again(pending, run_id, joined);
            return Err(backend(e));
        }
        Ok(())
    }

    /// Every attempt of the run, in seq order.
    pub fn all(&self, run_id: &str) -> Result<Vec<AttemptRecord>, StoreError> {
        self.write_out(run_id)?;
        let mut records = Vec::new();
        for stored in self.tree.scan_prefix(prefix(run_id)) {
            let (key, value) = stored.map_err(backend)?;
            for entry in entries(&key, &value)? {
                records.push(entry.record(run_id, &key)?);
            }
        }
        Ok(in_seq_order(records))
    }

    /// A page of the run's attempts (of one step when `step` is given).
    pub fn page(
        &self,
        run_id: &str,
        step: Option<&str>,
        skip: usize,
        limit: usize,
    ) -> Result<AttemptPage, StoreError> {
        self.write_out(run_id)?;
        let prefix = prefix(run_id);
        let Some(step) = step else {
            return self.page_by_seq(run_id, &prefix, skip, limit);
        };
        let mut matching = Vec::new();
        for stored in self.tree.scan_prefix(&prefix) {
            let (key, value) = stored.map_err(backend)?;
            for entry in entries(&key, &value)? {
                // Only the step name is parsed of the attempts of other steps.
                let StepOnly { step: name } = decode(&key, entry.json)?;
                if name == step {
                    matching.push(entry.record(run_id, &key)?);
                }
            }
        }
        let matching = in_seq_order(matching);
        let total = matching.len();
        let attempts = matching.into_iter().skip(skip).take(limit).collect();
        Ok(AttemptPage { attempts, total })
    }

    /// The page of seqs `skip..skip + limit`: a run's attempts are numbered 0, 1, 2... each
    /// recorded once, so the last chunk's key gives the count, and the page is in the chunks
    /// from the one whose highest seq is `skip` on: `runs show` of a run of a million attempts
    /// reads one page, not every attempt.
    fn page_by_seq(
        &self,
        run_id: &str,
        prefix: &[u8],
        skip: usize,
        limit: usize,
    ) -> Result<AttemptPage, StoreError> {
        let total = match self.tree.scan_prefix(prefix).next_back() {
            Some(stored) => {
                let (key, _) = stored.map_err(backend)?;
                super::seq_of(&key).map_or(0, |seq| seq as usize + 1)
            }
            None => 0,
        };
        let wanted = limit.min(total.saturating_sub(skip));
        let window = skip as u64..(skip as u64).saturating_add(limit as u64);
        let mut records = Vec::new();
        for stored in self.tree.range(attempt_key(run_id, skip as u64)..) {
            let (key, value) = stored.map_err(backend)?;
            if !key.starts_with(prefix) || records.len() >= wanted {
                break;
            }
            for entry in entries(&key, &value)? {
                if window.contains(&entry.seq) {
                    records.push(entry.record(run_id, &key)?);
                }
            }
        }
        Ok(AttemptPage {
            attempts: in_seq_order(records),
            total,
        })
    }
}

fn prefix(run_id: &str) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(run_id.len() + 1);
    prefix.extend_from_slice(run_id.as_bytes());
    prefix.push(b'/');
    prefix
}

/// The log's task: [`WRITE_OUT_EVERY`] after records start waiting, writes them. Idle while
/// nothing waits; ends when the log is dropped (its sender with it).
async fn write_out_soon(log: Weak<AttemptLog>, mut wakes: mpsc::UnboundedReceiver<()>) {
    while wakes.recv().await.is_some() {
        tokio::time::sleep(WRITE_OUT_EVERY).await;
        while wakes.try_recv().is_ok() {}
        let Some(log) = log.upgrade() else { return };
        // A failure is the store's next flush's to report: the chunk waits for it.
        let _ = log.write_out_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64) -> AttemptRecord {
        AttemptRecord {
            run_id: "01R".into(),
            seq,
            step: format!("s{seq}"),
            iteration: Vec::new(),
            attempt: 1,
            status: crate::store::StepStatus::Succeeded,
            input: serde_json::json!({ "n": seq }),
            output: Some(serde_json::json!({ "n": seq })),
            error: None,
            started_at: chrono::DateTime::from_timestamp(1_764_590_400, 123_000).unwrap(),
            duration_us: 1,
            truncated: Vec::new(),
            output_redacted: false,
        }
    }

    /// A chunk reads back as its records in the order written, and one cut short anywhere is
    /// reported damaged instead of read as fewer records.
    #[test]
    fn a_chunk_holds_its_records_and_a_cut_one_is_damaged() {
        let mut chunk = Chunk::new();
        for seq in [4, 2, 9] {
            chunk.add(&record(seq)).unwrap();
        }
        assert_eq!(chunk.highest_seq, 9);
        let key = attempt_key("01R", 9);
        let read: Vec<u64> = entries(&key, &chunk.bytes)
            .unwrap()
            .iter()
            .map(|entry| {
                assert_eq!(entry.record("01R", &key).unwrap(), record(entry.seq));
                entry.seq
            })
            .collect();
        assert_eq!(read, [4, 2, 9]);
        for cut in [
            chunk.bytes.len() - 1,
            ENTRY_HEADER - 3,
            1 + ENTRY_HEADER + 5,
        ] {
            assert!(
                matches!(
                    entries(&key, &chunk.bytes[..cut]),
                    Err(StoreError::Corrupt { .. })
                ),
                "cut at {cut}"
            );
        }
    }

    /// Records that wait are written to sled's log [`WRITE_OUT_EVERY`] after they started
    /// waiting, by the log's task, with no flush (paused clock).
    #[tokio::test(start_paused = true)]
    async fn waiting_records_are_written_out_soon() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("attempts").unwrap();
        let log = AttemptLog::start(tree.clone());
        log.put(&record(1)).unwrap();
        log.put(&record(2)).unwrap();
        tokio::time::sleep(WRITE_OUT_EVERY - Duration::from_millis(1)).await;
        assert!(tree.is_empty(), "written before their time");
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(tree.len(), 1, "one chunk of both records");
        log.put(&record(3)).unwrap();
        drop(log);
        tokio::time::sleep(WRITE_OUT_EVERY * 2).await;
        assert_eq!(tree.len(), 1, "the task ends with its log");
    }

    /// A record whose JSON leaves out its run id and seq (as the engine writes them into a
    /// chunk) reads back with those of its key and entry.
    #[test]
    fn a_record_without_its_ids_reads_back_with_them() {
        let mut json = serde_json::to_value(record(5)).unwrap();
        let fields = json.as_object_mut().unwrap();
        fields.remove("run_id");
        fields.remove("seq");
        let json = serde_json::to_vec(&json).unwrap();
        let mut chunk = Chunk::new();
        chunk.bytes.extend_from_slice(&5u64.to_be_bytes());
        chunk
            .bytes
            .extend_from_slice(&(json.len() as u32).to_be_bytes());
        chunk.bytes.extend_from_slice(&json);
        let key = attempt_key("01R", 5);
        let found = entries(&key, &chunk.bytes).unwrap();
        assert_eq!(found[0].record("01R", &key).unwrap(), record(5));
    }

    /// A record stored on its own (as earlier versions wrote each) is one entry, its seq the
    /// key's.
    #[test]
    fn a_record_on_its_own_is_one_entry() {
        let key = attempt_key("01R", 7);
        let json = serde_json::to_vec(&record(7)).unwrap();
        let found = entries(&key, &json).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].seq, found[0].json), (7, json.as_slice()));
    }
}
