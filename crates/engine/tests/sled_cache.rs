//! The run history's cache holds about its capacity: the attempt records a run has written
//! leave memory once newer ones fill the cache. Counted with a counting allocator over the
//! whole process (sled frees its pages and write buffers on its own threads), so this file
//! holds one test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use weft_engine::store::{AttemptRecord, RunStore, SledRunStore, StepStatus};

/// Bytes the process holds on the heap.
static BYTES: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// A global allocator is an unsafe trait; this one only counts and hands every call to `System`.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        BYTES.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A record of a small step, about 150 bytes of JSON (the benchmark's `core.set` step's).
fn record(seq: u64) -> AttemptRecord {
    AttemptRecord {
        run_id: "01JCACHE".into(),
        seq,
        step: format!("s{seq}"),
        iteration: Vec::new(),
        attempt: 1,
        status: StepStatus::Succeeded,
        input: serde_json::json!({ "n": seq }),
        output: Some(serde_json::json!({ "n": seq })),
        error: None,
        started_at: chrono::Utc::now(),
        duration_us: 3,
        truncated: Vec::new(),
        output_redacted: false,
    }
}

/// 100,000 records (about 15 MB in sled's tree) grow the heap by the cache's capacity (1 MiB)
/// and sled's write buffers, not by the records: each filled leaf of the attempt log used to
/// stay cached for the process's life (a leaf alone in its shard of the cache was never
/// weighed), 2 MB for a run of 10,000 steps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn written_attempt_records_leave_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledRunStore::open(&dir.path().join("runs")).await.unwrap();
    store.flush().await.unwrap();
    let before = BYTES.load(Ordering::Relaxed);
    for seq in 0..100_000 {
        store.put_attempt(&record(seq)).await.unwrap();
    }
    store.flush().await.unwrap();
    let grown = BYTES.load(Ordering::Relaxed) - before;
    assert!(
        grown < 5 * 1024 * 1024,
        "the heap grew by {grown} bytes over 100,000 records"
    );
    // Still all there, read back through the cache.
    let page = store
        .attempts_page("01JCACHE", None, 99_990, 10)
        .await
        .unwrap();
    assert_eq!(page.total, 100_000);
    let last = &page.attempts[9];
    assert_eq!((last.seq, last.step.as_str()), (99_999, "s99999"));
}
