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
/// Polls measured, each finding PAGES new pages.
const POLLS: usize = 3;

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
    let store = Arc::new(
        SledRunStore::open(&dir.path().join("runs"))
            .await
            .expect("open store"),
    );
    let engine = runtime.engine(store.clone(), connection.tokens.clone());
    // Each poll is of its own workflow and space, and finds the 10,000 pages seeded just before
    // it (a search of one space would find the earlier polls' pages again, inside its window's
    // overlap); the figures are the median and range of POLLS polls, the sandbox's work (in this
    // process, on the same cores) included.
    let (mut times, mut peaks) = (Vec::new(), Vec::new());
    for poll in 0..POLLS {
        let space = format!("LOAD{poll}");
        admin.create_space(None, &space, "Load").expect("space");
        let path = dir.path().join(format!("new-pages-{poll}.yaml"));
        let text = WORKFLOW.replace("space: LOAD", &format!("space: {space}"));
        let flow = workflow::load_bytes(&path, text.as_bytes(), engine.catalog())
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
            .seed_pages(None, &space, PAGES, None)
            .expect("seed pages");
        let rss_before = reset_peak_memory();
        let started = Instant::now();
        let report = poll_once(
            &engine,
            store.as_ref(),
            flow.clone(),
            None,
            Delivery::Record,
        )
        .await
        .expect("poll");
        times.push(started.elapsed());
        assert_eq!(report.runs.len(), PAGES);
        drop(report);
        if let Some((before, peak)) = rss_before.zip(crate::vm_hwm_kib()) {
            peaks.push((peak.saturating_sub(before), before));
        }
    }
    times.sort();
    peaks.sort();
    let seconds = |d: &std::time::Duration| d.as_secs_f64();
    let mb = |kib: u64| kib as f64 / 1024.0;
    let peak = match (peaks.first(), peaks.get(peaks.len() / 2), peaks.last()) {
        (Some(low), Some(median), Some(high)) => format!(
            ", peak RSS +{:.0} MB ({:.0}–{:.0}) over the {:.0} MB before (the in-process sandbox's answers included)",
            mb(median.0),
            mb(low.0),
            mb(high.0),
            mb(median.1)
        ),
        _ => String::new(),
    };
    connection.sandbox.shutdown().await;
    Row {
        what: "one poll discovering 10,000 new pages, 10,000 runs recorded (sled history)",
        measured: format!(
            "{:.2} s ({:.2}–{:.2}, median of {POLLS} polls){peak}",
            seconds(&times[POLLS / 2]),
            seconds(&times[0]),
            seconds(&times[POLLS - 1])
        ),
        target: "≤ 5 s and ≤ 100 MB (issue 9)",
        peer: "-",
    }
}
