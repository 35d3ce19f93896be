//! One poll of `confluence.page_created` that discovers 10,000 new pages in the sandbox and
//! records 10,000 runs (sled run history): time and peak memory of the poll alone.

use std::sync::Arc;
use std::time::Instant;

use weft_engine::store::SledRunStore;
use weft_engine::trigger::{poll_once, Delivery};
use weft_engine::workflow;
use weft_runtime::testing::SandboxConnection;

use crate::Row;

const PAGES: usize = 10_000;

const WORKFLOW: &str = "name: new-pages
connection: acme
trigger:
  poll:
    source: confluence.page_created
    interval: 1m
    with:
      space: LOAD
steps:
  - id: note
    uses: core.set
    with:
      page: ${{ trigger.id }}
";

/// Resets the process's peak RSS (Linux) and returns the RSS now, so that the next `VmHWM`
/// minus it is what the poll added.
fn reset_peak_memory() -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub async fn poll_new_pages() -> Row {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = crate::weft();
    let config = weft_sandbox::SandboxConfig::default().without_rate_limits();
    let connection = SandboxConnection::start(
        config,
        &["search:confluence", "read:confluence-user"],
        dir.path(),
    )
    .await;
    let admin = connection.sandbox.admin();
    admin.create_space(None, "LOAD", "Load").expect("space");
    let store = Arc::new(
        SledRunStore::open(&dir.path().join("runs"))
            .await
            .expect("open store"),
    );
    let engine = runtime.engine(store.clone(), connection.tokens.clone());
    let path = dir.path().join("new-pages.yaml");
    let flow = workflow::load_bytes(&path, WORKFLOW.as_bytes(), engine.catalog())
        .unwrap_or_else(|p| panic!("{}", p.render()))
        .workflow;
    let first = poll_once(
        &engine,
        store.as_ref(),
        flow.clone(),
        None,
        Delivery::Record,
    )
    .await
    .expect("first poll");
    assert!(first.events.is_empty());
    admin
        .seed_pages(None, "LOAD", PAGES, None)
        .expect("seed pages");
    let rss_before = reset_peak_memory();
    let started = Instant::now();
    let report = poll_once(&engine, store.as_ref(), flow, None, Delivery::Record)
        .await
        .expect("poll");
    let took = started.elapsed();
    assert_eq!(report.runs.len(), PAGES);
    let peak = rss_before
        .zip(crate::vm_hwm_kib())
        .map(|(before, peak)| {
            format!(
                ", peak RSS +{:.0} MB over the {:.0} MB before (the in-process sandbox's answers included)",
                peak.saturating_sub(before) as f64 / 1024.0,
                before as f64 / 1024.0
            )
        })
        .unwrap_or_default();
    connection.sandbox.shutdown().await;
    Row {
        what: "one poll discovering 10,000 new pages, 10,000 runs recorded",
        measured: format!("{:.2} s{peak}", took.as_secs_f64()),
        target: "≤ 5 s and ≤ 100 MB (issue 9)",
        peer: "-",
    }
}
