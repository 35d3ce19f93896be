//! Old webhook `Idempotency-Key`s and old delivered events are removed on the daemon's clock,
//! in batches; events not delivered are kept whatever their age. Time is a manual clock.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use weft_daemon::expiry::{Expiry, Retention};
use weft_daemon::{Clock, ManualClock};
use weft_engine::store::{
    DeliveryStatus, MemoryRunStore, OutboundEvent, OutboxStore, RequestKeyRecord, TriggerStore,
};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const T0: &str = "2026-03-01T00:00:00Z";

fn event(id: &str, status: DeliveryStatus) -> OutboundEvent {
    OutboundEvent {
        id: id.into(),
        kind: "run.failed".into(),
        payload: json!({ "id": id }),
        created_at: utc(T0),
        status,
        attempts: 1,
        next_attempt_at: utc(T0),
        last_error: None,
        delivered_at: None,
    }
}

fn key(workflow: &str, key: &str, at: DateTime<Utc>) -> RequestKeyRecord {
    RequestKeyRecord {
        workflow: workflow.into(),
        key: key.into(),
        run_id: "01RUN".into(),
        recorded_at: at,
    }
}

async fn event_ids(store: &MemoryRunStore) -> Vec<String> {
    let events = store.recent_events(10_000).await.unwrap();
    events.into_iter().map(|e| e.id).collect()
}

#[tokio::test(start_paused = true)]
async fn old_keys_and_delivered_events_are_swept_in_batches_on_the_clock() {
    let store = Arc::new(MemoryRunStore::default());
    // More keys than a batch holds, all of T0, and one of a day later.
    for n in 0..1200 {
        let record = key("deploy", &format!("k{n:04}"), utc(T0));
        assert_eq!(store.record_request_key(&record).await.unwrap(), None);
    }
    let late = key("deploy", "late", utc(T0) + Duration::days(1));
    store.record_request_key(&late).await.unwrap();
    for (id, status) in [
        ("e1", DeliveryStatus::Delivered),
        ("e2", DeliveryStatus::Pending),
        ("e3", DeliveryStatus::GaveUp),
    ] {
        store.put_event(&event(id, status)).await.unwrap();
    }

    let clock = Arc::new(ManualClock::new(utc(T0) + Duration::hours(23)));
    let retention = Retention::default();
    let expiry = Expiry::start(store.clone(), store.clone(), clock.clone(), retention);
    let first = expiry.swept_since(clock.now()).await;
    assert_eq!(
        (first.request_keys, first.delivered_events),
        (0, 0),
        "all younger than their retention"
    );
    let k0000 = key("deploy", "k0000", utc(T0));
    assert!(
        store.record_request_key(&k0000).await.unwrap().is_some(),
        "a key within 24 h is still a repeat"
    );

    // The next sweep comes `every` later, on the clock: past 24 h, keys go, events stay.
    clock.advance(Duration::hours(1) + Duration::minutes(1));
    let swept = expiry.swept_since(clock.now()).await;
    assert_eq!((swept.request_keys, swept.delivered_events), (1200, 0));
    let again = key("deploy", "k0000", clock.now());
    let first = store.record_request_key(&again).await.unwrap();
    assert_eq!(first, None, "a swept key starts a run again");
    let late_repeat = store.record_request_key(&late);
    assert!(
        late_repeat.await.unwrap().is_some(),
        "a younger key is kept"
    );

    // Past 7 days the delivered event goes; pending and given-up ones never do.
    clock.set(utc(T0) + Duration::days(30));
    let swept = expiry.swept_since(clock.now()).await;
    assert_eq!(swept.delivered_events, 1);
    assert_eq!(event_ids(&store).await, ["e3", "e2"]);
    expiry.stop().await;
}
