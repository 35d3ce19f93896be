//! What every store must do, as one async function the tests of each implementation call on a
//! fresh, empty store (sled and memory today, PostgreSQL later). A failed check panics with
//! what differed, like the assertions of a test.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use super::{
    AttemptRecord, ClaimStore, FireRecord, RunRecord, RunStatus, RunStore, StepStatus,
    TriggerCursor, TriggerKey, TriggerStore,
};
use super::{DeliveryStatus, OutboundEvent, OutboxStore, RequestKeyRecord, SweepCursor, Swept};

/// How many runs [`run_all`] leaves in the store (tests of reopening count them).
pub const RUNS_OF_RUN_ALL: usize = 7;

/// Runs every check on `store`, which must be empty.
pub async fn run_all<S>(store: &S)
where
    S: RunStore + TriggerStore + ClaimStore + ?Sized,
{
    runs_and_attempts(store).await;
    attempt_pages(store).await;
    many_attempts(store).await;
    running_index_and_interrupted(store).await;
    trigger_cursors(store).await;
    cron_fires(store).await;
    paused_workflows(store).await;
    claims(store).await;
    request_keys(store).await;
}

/// The outbox checks, on an empty store.
pub async fn run_outbox<S: OutboxStore + TriggerStore + ?Sized>(store: &S) {
    let event = |id: &str| OutboundEvent {
        id: id.into(),
        kind: "run.failed".into(),
        payload: json!({"run_id": id}),
        created_at: at(1),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: at(1),
        last_error: None,
        delivered_at: None,
    };
    assert!(store.pending_events(10).await.unwrap().is_empty());
    for id in ["e3", "e1", "e2"] {
        store.put_event(&event(id)).await.unwrap();
    }
    let ids =
        |events: Vec<OutboundEvent>| -> Vec<String> { events.into_iter().map(|e| e.id).collect() };
    assert_eq!(
        ids(store.pending_events(10).await.unwrap()),
        ["e1", "e2", "e3"],
        "oldest (lowest id) first"
    );
    assert_eq!(ids(store.pending_events(2).await.unwrap()), ["e1", "e2"]);

    let retried = OutboundEvent {
        attempts: 1,
        next_attempt_at: at(9),
        last_error: Some("HTTP 500".into()),
        ..event("e1")
    };
    store.put_event(&retried).await.unwrap();
    assert_eq!(
        store.pending_events(1).await.unwrap(),
        [retried],
        "an attempt replaces the event"
    );
    let delivered = OutboundEvent {
        status: DeliveryStatus::Delivered,
        attempts: 2,
        delivered_at: Some(at(10)),
        ..event("e1")
    };
    store.put_event(&delivered).await.unwrap();
    store
        .put_event(&OutboundEvent {
            status: DeliveryStatus::GaveUp,
            ..event("e3")
        })
        .await
        .unwrap();
    assert_eq!(
        ids(store.pending_events(10).await.unwrap()),
        ["e2"],
        "delivered and given-up events are no longer pending"
    );
    let recent = store.recent_events(10).await.unwrap();
    assert_eq!(ids(recent.clone()), ["e3", "e2", "e1"], "newest first");
    assert_eq!(recent[2], delivered, "kept, with how it went");
    assert_eq!(ids(store.recent_events(1).await.unwrap()), ["e3"]);

    // Sweeps: e1 (delivered), e2 (pending) and e3 (given up) were created at(1).
    let later = OutboundEvent {
        created_at: at(20),
        status: DeliveryStatus::Delivered,
        ..event("s1")
    };
    store.put_event(&later).await.unwrap();
    let removed = sweep_in_batches(|from| async move {
        store.sweep_delivered_events(at(10), from.as_ref(), 1).await
    })
    .await;
    assert_eq!(
        removed, 1,
        "only the delivered event created before the limit"
    );
    assert_eq!(
        ids(store.recent_events(10).await.unwrap()),
        ["s1", "e3", "e2"],
        "pending and given-up events are kept, and newer delivered ones"
    );

    let key = |workflow: &str, key: &str, second: u32| RequestKeyRecord {
        workflow: workflow.into(),
        key: key.into(),
        run_id: "r".into(),
        recorded_at: at(second),
    };
    for (workflow, name, second) in [("a", "old", 1), ("a", "new", 30), ("b", "old", 2)] {
        let record = key(workflow, name, second);
        assert_eq!(store.record_request_key(&record).await.unwrap(), None);
    }
    let removed =
        sweep_in_batches(
            |from| async move { store.sweep_request_keys(at(10), from.as_ref(), 2).await },
        )
        .await;
    assert_eq!(removed, 2);
    for (workflow, name, kept) in [("a", "old", false), ("a", "new", true), ("b", "old", false)] {
        let again = key(workflow, name, 40);
        let first = store.record_request_key(&again).await.unwrap();
        assert_eq!(first.is_some(), kept, "{workflow} {name}");
    }
}

/// Runs a sweep batch after batch to its end; how many records it removed.
async fn sweep_in_batches<F, Fut>(batch: F) -> usize
where
    F: Fn(Option<SweepCursor>) -> Fut,
    Fut: std::future::Future<Output = Result<Swept, super::StoreError>>,
{
    let mut removed = 0;
    let mut from = None;
    for _ in 0..100 {
        let swept = batch(from).await.unwrap();
        removed += swept.removed;
        match swept.next {
            Some(next) => from = Some(next),
            None => return removed,
        }
    }
    panic!("the sweep did not end");
}

async fn request_keys<S: TriggerStore + ?Sized>(store: &S) {
    let record = |workflow: &str, key: &str, run: &str| RequestKeyRecord {
        workflow: workflow.into(),
        key: key.into(),
        run_id: run.into(),
        recorded_at: at(3),
    };
    let first = record("deploy", "k1", "r1");
    assert_eq!(store.record_request_key(&first).await.unwrap(), None);
    assert_eq!(
        store
            .record_request_key(&record("deploy", "k1", "r2"))
            .await
            .unwrap(),
        Some(first.clone()),
        "a repeated key answers with the first record"
    );
    assert_eq!(
        store
            .record_request_key(&record("other", "k1", "r3"))
            .await
            .unwrap(),
        None,
        "keys are per workflow"
    );
    assert_eq!(
        store
            .record_request_key(&record("deploy", "k1\0x", "r4"))
            .await
            .unwrap(),
        None
    );
    store.forget_request_key("deploy", "k1").await.unwrap();
    store.forget_request_key("deploy", "never").await.unwrap();
    assert_eq!(
        store
            .record_request_key(&record("deploy", "k1", "r5"))
            .await
            .unwrap(),
        None,
        "a forgotten key starts a run again"
    );
}

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, second)
        .single()
        .unwrap_or_else(Utc::now)
}

fn run(id: &str, status: RunStatus) -> RunRecord {
    RunRecord {
        id: id.into(),
        workflow: "w".into(),
        path: "w.yaml".into(),
        hash: "h".into(),
        parent: None,
        trigger: json!({"kind": "manual"}),
        inputs: json!({"space": "ENG"}),
        status,
        error: None,
        outputs: None,
        started_at: at(0),
        finished_at: None,
        pid: Some(7),
        truncated: Vec::new(),
        resumes: 0,
        wait: None,
    }
}

fn attempt(run_id: &str, seq: u64, step: &str, status: StepStatus) -> AttemptRecord {
    AttemptRecord {
        run_id: run_id.into(),
        seq,
        step: step.into(),
        iteration: vec![],
        attempt: 1,
        status,
        input: json!({}),
        output: (status == StepStatus::Succeeded).then(|| json!({ "from": step })),
        error: None,
        started_at: at(1),
        duration_us: 3,
        truncated: Vec::new(),
        output_redacted: false,
    }
}

async fn attempt_pages<S: RunStore + ?Sized>(store: &S) {
    for seq in 0..10 {
        let step = if seq % 2 == 0 { "even" } else { "odd" };
        store
            .put_attempt(&attempt("01PAGE", seq, step, StepStatus::Succeeded))
            .await
            .unwrap();
    }
    store
        .put_attempt(&attempt("01PAGF", 0, "even", StepStatus::Succeeded))
        .await
        .unwrap();
    let page = |run: &'static str, step: Option<&'static str>, skip, limit| async move {
        let page = store.attempts_page(run, step, skip, limit).await.unwrap();
        (
            page.attempts.iter().map(|a| a.seq).collect::<Vec<_>>(),
            page.total,
        )
    };
    assert_eq!(page("01PAGE", None, 3, 4).await, (vec![3, 4, 5, 6], 10));
    assert_eq!(page("01PAGE", Some("odd"), 1, 2).await, (vec![3, 5], 5));
    assert_eq!(page("01PAGE", Some("odd"), 9, 2).await, (vec![], 5));
    assert_eq!(page("01PAGE", Some("none"), 0, 2).await, (vec![], 0));
}

/// A run of many attempts (more than a store may keep under one key), some recorded late, two
/// runs interleaved, flushed halfway: every page holds exactly its seqs, in order.
async fn many_attempts<S: RunStore + ?Sized>(store: &S) {
    const N: u64 = 300;
    // A tenth of them recorded after the next ones, as a cancelled attempt is.
    let mut order: Vec<u64> = (0..N).collect();
    for pair in order.chunks_mut(10) {
        pair.swap(0, pair.len() - 1);
    }
    for (i, &seq) in order.iter().enumerate() {
        let step = format!("s{}", seq % 3);
        let mut record = attempt("01MANY", seq, &step, StepStatus::Succeeded);
        // Outputs of varied sizes, so records fill stores' pages unevenly.
        record.output = Some(json!({ "text": "x".repeat((seq % 13) as usize * 9) }));
        store.put_attempt(&record).await.unwrap();
        store
            .put_attempt(&attempt("01MANZ", i as u64, "other", StepStatus::Failed))
            .await
            .unwrap();
        if i as u64 == N / 2 {
            store.flush().await.unwrap();
        }
    }
    let all = store.attempts("01MANY").await.unwrap();
    assert_eq!(
        all.iter().map(|a| a.seq).collect::<Vec<_>>(),
        (0..N).collect::<Vec<_>>()
    );
    assert!(all.iter().all(|a| a.run_id == "01MANY"));
    assert_eq!(all[5].output, Some(json!({ "text": "x".repeat(5 * 9) })));
    for (skip, limit) in [
        (0, 1),
        (0, 50),
        (9, 2),
        (133, 100),
        (N as usize - 3, 10),
        (N as usize, 5),
    ] {
        let page = store
            .attempts_page("01MANY", None, skip, limit)
            .await
            .unwrap();
        let end = (skip + limit).min(N as usize) as u64;
        assert_eq!(page.total, N as usize);
        assert_eq!(
            page.attempts.iter().map(|a| a.seq).collect::<Vec<_>>(),
            (skip as u64..end).collect::<Vec<_>>(),
            "skip {skip}, limit {limit}"
        );
        assert_eq!(page.attempts, all[skip.min(N as usize)..end as usize]);
    }
    let page = store
        .attempts_page("01MANY", Some("s1"), 10, 3)
        .await
        .unwrap();
    assert_eq!(page.total, (0..N).filter(|s| s % 3 == 1).count());
    assert_eq!(
        page.attempts.iter().map(|a| a.seq).collect::<Vec<_>>(),
        [31, 34, 37]
    );
    assert_eq!(store.attempts("01MANZ").await.unwrap().len(), N as usize);

    // A seq put again replaces what was recorded under it.
    let again = attempt("01MANY", N - 1, "again", StepStatus::Failed);
    store.put_attempt(&again).await.unwrap();
    store.flush().await.unwrap();
    let all = store.attempts("01MANY").await.unwrap();
    assert_eq!(all.len(), N as usize);
    assert_eq!(all.last(), Some(&again));
}

fn ids(runs: &[RunRecord]) -> Vec<&str> {
    runs.iter().map(|r| r.id.as_str()).collect()
}

fn sorted_ids(runs: &[RunRecord]) -> Vec<&str> {
    let mut ids = ids(runs);
    ids.sort_unstable();
    ids
}

async fn runs_and_attempts<S: RunStore + ?Sized>(store: &S) {
    // Written out of order: listing follows the ids (ULIDs: creation order).
    for id in ["01B", "01A", "01C"] {
        store.put_run(&run(id, RunStatus::Succeeded)).await.unwrap();
    }
    let mut updated = run("01A", RunStatus::Failed);
    updated.error = Some("boom".into());
    store.put_run(&updated).await.unwrap();
    store.flush().await.unwrap();

    let all = store.list_runs(10).await.unwrap();
    assert_eq!(ids(&all), ["01C", "01B", "01A"], "newest first");
    assert_eq!(ids(&store.list_runs(2).await.unwrap()), ["01C", "01B"]);
    assert!(store.list_runs(0).await.unwrap().is_empty(), "limit 0");
    assert_eq!(all[2], updated, "a second put replaces the run");

    // Pages continue below the id they were given, which need not be a stored run's.
    let before = |id: Option<&'static str>, limit| async move {
        let page = store.list_runs_before(id, limit).await.unwrap();
        page.into_iter().map(|r| r.id).collect::<Vec<_>>()
    };
    assert_eq!(before(None, 2).await, ["01C", "01B"]);
    assert_eq!(before(Some("01B"), 2).await, ["01A"]);
    assert_eq!(before(Some("01BZ"), 1).await, ["01B"]);
    assert!(before(Some("01A"), 5).await.is_empty(), "nothing older");
    assert!(before(None, 0).await.is_empty(), "limit 0");

    assert_eq!(store.get_run("01B").await.unwrap().unwrap().id, "01B");
    assert_eq!(
        store.get_run("01").await.unwrap(),
        None,
        "an ambiguous prefix matches nothing"
    );
    assert_eq!(store.get_run("").await.unwrap(), None);
    assert_eq!(store.get_run("02").await.unwrap(), None);

    // Attempts come back in recording order, whatever order they were written in, and only
    // the run's own.
    for (seq, step, status) in [
        (2, "c", StepStatus::Cancelled),
        (0, "a", StepStatus::Succeeded),
        (1, "b", StepStatus::Failed),
        (3, "b", StepStatus::Succeeded),
    ] {
        store
            .put_attempt(&attempt("01A", seq, step, status))
            .await
            .unwrap();
    }
    store
        .put_attempt(&attempt("01AB", 0, "other", StepStatus::Succeeded))
        .await
        .unwrap();
    let steps: Vec<(u64, String)> = store
        .attempts("01A")
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.seq, a.step))
        .collect();
    assert_eq!(
        steps,
        [
            (0, "a".into()),
            (1, "b".into()),
            (2, "c".into()),
            (3, "b".into())
        ]
    );
    assert!(store.attempts("01B").await.unwrap().is_empty());

    // What resuming needs: the completed steps with their outputs, and the request.
    let completed = store.completed_attempts("01A").await.unwrap();
    let outputs: Vec<_> = completed
        .iter()
        .map(|a| (a.step.as_str(), a.output.clone()))
        .collect();
    assert_eq!(
        outputs,
        [
            ("a", Some(json!({"from": "a"}))),
            ("b", Some(json!({"from": "b"})))
        ]
    );
    let kept = store.get_run("01A").await.unwrap().unwrap();
    assert_eq!(
        (kept.inputs, kept.path, kept.hash),
        (json!({"space": "ENG"}), "w.yaml".into(), "h".into())
    );
}

async fn running_index_and_interrupted<S: RunStore + ?Sized>(store: &S) {
    store
        .put_run(&run("01D", RunStatus::Running))
        .await
        .unwrap();
    store
        .put_run(&run("01E", RunStatus::Running))
        .await
        .unwrap();
    store
        .put_run(&run("01E", RunStatus::Succeeded))
        .await
        .unwrap();
    store
        .put_run(&run("01F", RunStatus::Waiting))
        .await
        .unwrap();
    assert_eq!(
        sorted_ids(&store.unfinished_runs().await.unwrap()),
        ["01D", "01F"]
    );

    store
        .put_run(&run("01G", RunStatus::Running))
        .await
        .unwrap();
    let mut last = attempt("01G", 1, "b", StepStatus::Succeeded);
    last.started_at = at(5);
    last.duration_us = 2_000_000;
    for record in [attempt("01G", 0, "a", StepStatus::Succeeded), last] {
        store.put_attempt(&record).await.unwrap();
    }

    // A waiting run is parked, not orphaned: it stays waiting.
    let closed = super::close_interrupted_runs(store).await.unwrap();
    assert_eq!(closed, 2);
    let closed_run = store.get_run("01D").await.unwrap().unwrap();
    assert_eq!(closed_run.status, RunStatus::Interrupted);
    // Closed when last known to run, not when found: its start (it recorded nothing), and
    // the end of the last attempt recorded.
    assert_eq!(closed_run.finished_at, Some(at(0)));
    let closed_run = store.get_run("01G").await.unwrap().unwrap();
    assert_eq!(closed_run.finished_at, Some(at(7)));
    let mut finished = closed_run;
    finished.status = RunStatus::Failed;
    store.put_run(&finished).await.unwrap();
    // Interrupted and waiting runs can still be resumed: they stay listed until they finish.
    assert_eq!(
        sorted_ids(&store.unfinished_runs().await.unwrap()),
        ["01D", "01F"]
    );
    let mut finished = store.get_run("01D").await.unwrap().unwrap();
    finished.status = RunStatus::Failed;
    store.put_run(&finished).await.unwrap();
    store
        .put_run(&run("01F", RunStatus::Succeeded))
        .await
        .unwrap();
    assert!(store.unfinished_runs().await.unwrap().is_empty());
}

async fn trigger_cursors<S: TriggerStore + ?Sized>(store: &S) {
    let key = |connection: Option<&str>| TriggerKey {
        workflow: "sync".into(),
        trigger: "page_updated".into(),
        connection: connection.map(str::to_string),
    };
    assert_eq!(store.cursor(&key(Some("acme"))).await.unwrap(), None);
    let first = TriggerCursor {
        cursor: json!("2026-03-29T01:00:00Z"),
        seen: vec!["page-1".into()],
        owed: vec![],
        updated_at: at(1),
    };
    store.put_cursor(&key(Some("acme")), &first).await.unwrap();
    let second = TriggerCursor {
        cursor: json!("2026-03-29T01:05:00Z"),
        seen: vec![],
        owed: vec![],
        updated_at: at(2),
    };
    store
        .put_cursor(&key(Some("globex")), &second)
        .await
        .unwrap();
    assert_eq!(
        store.cursor(&key(Some("acme"))).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.cursor(&key(Some("globex"))).await.unwrap(),
        Some(second.clone()),
        "each connection has its own cursor"
    );
    assert_eq!(store.cursor(&key(None)).await.unwrap(), None);
    store.put_cursor(&key(None), &first).await.unwrap();
    assert_eq!(
        store.cursor(&key(Some(""))).await.unwrap(),
        None,
        "no connection is not an empty connection name"
    );
    store.put_cursor(&key(Some("acme")), &second).await.unwrap();
    assert_eq!(
        store.cursor(&key(Some("acme"))).await.unwrap(),
        Some(second)
    );
}

async fn cron_fires<S: TriggerStore + ?Sized>(store: &S) {
    let fire = |trigger: &str, second: u32, run: &str| FireRecord {
        workflow: "report".into(),
        trigger: trigger.into(),
        scheduled_at: at(second),
        run_id: Some(run.into()),
        recorded_at: at(59),
    };
    assert!(store.record_fire(&fire("daily", 10, "r1")).await.unwrap());
    assert!(
        !store.record_fire(&fire("daily", 10, "r2")).await.unwrap(),
        "the same scheduled instant is recorded once"
    );
    assert!(store.record_fire(&fire("daily", 5, "r3")).await.unwrap());
    assert!(store.record_fire(&fire("daily", 20, "r4")).await.unwrap());
    assert!(store.record_fire(&fire("hourly", 10, "r5")).await.unwrap());

    let runs = |fires: Vec<FireRecord>| -> Vec<String> {
        fires.into_iter().filter_map(|f| f.run_id).collect()
    };
    assert_eq!(
        runs(store.fires_since("report", "daily", at(0)).await.unwrap()),
        ["r3", "r1", "r4"],
        "oldest first, the first record kept"
    );
    assert_eq!(
        runs(store.fires_since("report", "daily", at(10)).await.unwrap()),
        ["r1", "r4"]
    );
    assert!(store
        .fires_since("report", "weekly", at(0))
        .await
        .unwrap()
        .is_empty());
    let last = store.last_fire("report", "daily").await.unwrap();
    assert_eq!(
        last.and_then(|f| f.run_id).as_deref(),
        Some("r4"),
        "the latest scheduled instant, whatever the order of recording"
    );
    assert_eq!(store.last_fire("report", "weekly").await.unwrap(), None);
}

async fn paused_workflows<S: TriggerStore + ?Sized>(store: &S) {
    assert!(store.paused_workflows().await.unwrap().is_empty());
    store.set_paused("report", true).await.unwrap();
    store.set_paused("digest", true).await.unwrap();
    store.set_paused("report", true).await.unwrap();
    assert_eq!(
        store.paused_workflows().await.unwrap(),
        ["digest", "report"],
        "by name, each once"
    );
    store.set_paused("digest", false).await.unwrap();
    store.set_paused("never-paused", false).await.unwrap();
    assert_eq!(store.paused_workflows().await.unwrap(), ["report"]);
}

async fn claims<S: ClaimStore + ?Sized>(store: &S) {
    let lease = Duration::seconds(30);
    let mine = store
        .claim("01R", "a", at(0), lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((mine.owner.as_str(), mine.expires_at), ("a", at(30)));
    assert_eq!(
        store.claim("01R", "b", at(29), lease).await.unwrap(),
        None,
        "held until the lease ends"
    );
    let mine = store.renew(&mine, at(20), lease).await.unwrap().unwrap();
    assert_eq!(mine.expires_at, at(50));
    assert_eq!(store.claim("01R", "b", at(40), lease).await.unwrap(), None);
    assert!(store.expired_claims(at(49)).await.unwrap().is_empty());
    assert_eq!(
        store.expired_claims(at(50)).await.unwrap(),
        std::slice::from_ref(&mine)
    );

    // Expired: another owner takes it over, and the first can no longer renew or release.
    let theirs = store
        .claim("01R", "b", at(51), lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(theirs.owner, "b");
    assert_eq!(store.renew(&mine, at(52), lease).await.unwrap(), None);
    assert!(!store.release(&mine).await.unwrap());
    assert!(store.release(&theirs).await.unwrap());
    assert!(!store.release(&theirs).await.unwrap(), "released once");
    assert!(store.expired_claims(at(59)).await.unwrap().is_empty());
    let again = store.claim("01R", "a", at(53), lease).await.unwrap();
    assert!(again.is_some(), "a released run can be claimed at once");
}
