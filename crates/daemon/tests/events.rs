//! Outbound events delivered to a receiver on 127.0.0.1: signed, retried after a backoff on
//! a clock moved by hand, given up after the last attempt, recorded in the outbox, and
//! delivered after a restart when the stopped daemon could not.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{TimeZone, Utc};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use weft_daemon::events::{DeliveryProgress, Events, EventsSettings};
use weft_daemon::signature::verify;
use weft_daemon::{Clock, Dispatcher, ManualClock, Submission, TriggerKind, WorkflowSet};
use weft_engine::store::{
    DeliveryStatus, MemoryRunStore, OutboundEvent, OutboxStore, RunStore, SledRunStore,
};
use weft_engine::workflow::load_bytes;
use weft_runtime::Runtime;

const SECRET: &[u8] = b"events-secret";

/// A receiver that answers 500 to its first `failures` requests, then 204.
struct Receiver {
    url: reqwest::Url,
    received: mpsc::UnboundedReceiver<(HeaderMap, Bytes)>,
}

#[derive(Clone)]
struct ReceiverState {
    failures: Arc<Mutex<u32>>,
    sent: mpsc::UnboundedSender<(HeaderMap, Bytes)>,
}

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let _ = state.sent.send((headers, body));
    let mut failures = state.failures.lock();
    if *failures > 0 {
        *failures -= 1;
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

async fn receiver(failures: u32) -> Receiver {
    let (sent, received) = mpsc::unbounded_channel();
    let state = ReceiverState {
        failures: Arc::new(Mutex::new(failures)),
        sent,
    };
    let app = axum::Router::new()
        .route("/events", post(receive))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver {
        url: url.parse().unwrap(),
        received,
    }
}

fn dispatcher(store: Arc<dyn RunStore>) -> Dispatcher {
    let engine = Runtime::new()
        .unwrap()
        .engine(store, Arc::new(weft_runtime::action::NoTokens));
    let workflows = [
        "name: ok\nsteps:\n  - id: a\n    uses: core.set\n    with: {value: 1}\n",
        "name: broken\nsteps:\n  - id: a\n    uses: core.fail\n    with: {message: on purpose}\n",
    ]
    .map(
        |yaml| match load_bytes(Path::new("flow.yaml"), yaml.as_bytes(), engine.catalog()) {
            Ok(loaded) => loaded.workflow,
            Err(problems) => panic!("{}", problems.render()),
        },
    );
    Dispatcher::new(engine, WorkflowSet::new(workflows), HashMap::new())
}

fn start_events(
    url: reqwest::Url,
    store: Arc<dyn OutboxStore>,
    sync_store: Arc<dyn RunStore>,
    clock: Arc<ManualClock>,
    dispatcher: &Dispatcher,
    max_attempts: u32,
) -> Events {
    let settings = EventsSettings {
        max_attempts,
        ..EventsSettings::new(url, SECRET.to_vec())
    };
    Events::start(settings, store, sync_store, clock, dispatcher).unwrap()
}

/// Waits for the delivery rounds until the outbox's events satisfy `done`.
async fn until(
    progress: &mut watch::Receiver<DeliveryProgress>,
    outbox: &dyn OutboxStore,
    done: impl Fn(&[OutboundEvent]) -> bool,
) -> Vec<OutboundEvent> {
    loop {
        let events = outbox.recent_events(100).await.unwrap();
        if done(&events) {
            return events;
        }
        progress.changed().await.unwrap();
    }
}

fn start_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap(),
    ))
}

#[tokio::test]
async fn run_ends_are_delivered_signed_and_recorded() {
    let mut receiver = receiver(0).await;
    let store = Arc::new(MemoryRunStore::new());
    let dispatcher = dispatcher(store.clone());
    let clock = start_clock();
    let events = start_events(
        receiver.url.clone(),
        store.clone(),
        store.clone(),
        clock.clone(),
        &dispatcher,
        3,
    );
    let ok = dispatcher
        .submit(
            "ok",
            Submission::new(TriggerKind::Api, json!({"kind": "api"})),
        )
        .unwrap();
    let broken = dispatcher
        .submit(
            "broken",
            Submission::new(TriggerKind::Api, json!({"kind": "api"})),
        )
        .unwrap();
    let mut bodies = HashMap::new();
    for _ in 0..2 {
        let (headers, body) = receiver.received.recv().await.unwrap();
        let signature = headers["x-weft-signature"].as_bytes();
        assert_eq!(
            verify(SECRET, &body, signature),
            Ok(()),
            "signed with the secret"
        );
        assert!(verify(b"another", &body, signature).is_err());
        let payload: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(headers["x-weft-event"], payload["kind"].as_str().unwrap());
        assert_eq!(headers["x-weft-delivery"], payload["id"].as_str().unwrap());
        bodies.insert(payload["kind"].as_str().unwrap().to_string(), payload);
    }
    let succeeded = &bodies["run.succeeded"]["data"];
    assert_eq!(succeeded["run_id"], ok.run_id());
    assert_eq!(succeeded["workflow"], "ok");
    assert_eq!(succeeded["trigger"], "api");
    let failed = &bodies["run.failed"]["data"];
    assert_eq!(failed["run_id"], broken.run_id());
    assert!(
        failed["error"].as_str().unwrap().contains("on purpose"),
        "{failed}"
    );

    let mut progress = events.progress();
    let recorded = until(&mut progress, store.as_ref(), |events| {
        events.len() == 2 && events.iter().all(|e| e.status == DeliveryStatus::Delivered)
    })
    .await;
    for event in recorded {
        assert_eq!(event.attempts, 1);
        assert_eq!(event.delivered_at, Some(clock.now()));
    }
    events.stop().await;
}

#[tokio::test]
async fn a_failed_delivery_is_retried_after_a_doubling_wait() {
    let mut receiver = receiver(2).await;
    let store = Arc::new(MemoryRunStore::new());
    let dispatcher = dispatcher(store.clone());
    let clock = start_clock();
    let start = clock.now();
    let events = start_events(
        receiver.url.clone(),
        store.clone(),
        store.clone(),
        clock.clone(),
        &dispatcher,
        5,
    );
    let mut progress = events.progress();
    let id = events
        .publisher()
        .connection_needs_reconnect("acme", "the refresh token was revoked")
        .await
        .unwrap();

    receiver.received.recv().await.unwrap();
    let after_first = until(&mut progress, store.as_ref(), |e| e[0].attempts == 1).await;
    assert_eq!(after_first[0].id, id);
    assert_eq!(after_first[0].status, DeliveryStatus::Pending);
    assert_eq!(
        after_first[0].next_attempt_at,
        start + chrono::Duration::seconds(1)
    );
    assert!(after_first[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("500"));
    assert!(
        receiver.received.try_recv().is_err(),
        "nothing is sent again before the wait is over"
    );

    clock.advance(chrono::Duration::seconds(1));
    receiver.received.recv().await.unwrap();
    let after_second = until(&mut progress, store.as_ref(), |e| e[0].attempts == 2).await;
    assert_eq!(
        after_second[0].next_attempt_at,
        start + chrono::Duration::seconds(3),
        "the wait doubled"
    );

    clock.advance(chrono::Duration::seconds(2));
    let (_, body) = receiver.received.recv().await.unwrap();
    let payload: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(payload["kind"], "connection.needs_reconnect");
    assert_eq!(payload["data"]["connection"], "acme");
    let delivered = until(&mut progress, store.as_ref(), |e| {
        e[0].status == DeliveryStatus::Delivered
    })
    .await;
    assert_eq!(delivered[0].attempts, 3);
    assert_eq!(delivered[0].last_error, None);
    events.stop().await;
}

#[tokio::test]
async fn an_event_is_given_up_after_the_last_attempt() {
    let mut receiver = receiver(u32::MAX).await;
    let store = Arc::new(MemoryRunStore::new());
    let dispatcher = dispatcher(store.clone());
    let clock = start_clock();
    let events = start_events(
        receiver.url.clone(),
        store.clone(),
        store.clone(),
        clock.clone(),
        &dispatcher,
        2,
    );
    let mut progress = events.progress();
    events
        .publisher()
        .connection_needs_reconnect("acme", "revoked")
        .await
        .unwrap();
    receiver.received.recv().await.unwrap();
    until(&mut progress, store.as_ref(), |e| e[0].attempts == 1).await;
    clock.advance(chrono::Duration::seconds(1));
    receiver.received.recv().await.unwrap();
    let gave_up = until(&mut progress, store.as_ref(), |e| {
        e[0].status == DeliveryStatus::GaveUp
    })
    .await;
    assert_eq!(gave_up[0].attempts, 2);
    assert!(gave_up[0].last_error.as_deref().unwrap().contains("500"));
    assert!(store.pending_events(10).await.unwrap().is_empty());
    progress
        .wait_for(|p| p.next_attempt_at.is_none())
        .await
        .expect("nothing is left to try");
    assert!(receiver.received.try_recv().is_err(), "not sent again");
    events.stop().await;
}

#[tokio::test]
async fn events_left_pending_are_delivered_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on: the first daemon cannot deliver.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/events", listener.local_addr().unwrap())
    };
    let clock = start_clock();
    let id = {
        let store = Arc::new(SledRunStore::open(dir.path()).await.unwrap());
        let dispatcher = dispatcher(store.clone());
        let events = start_events(
            closed.parse().unwrap(),
            store.clone(),
            store.clone(),
            clock.clone(),
            &dispatcher,
            5,
        );
        let mut progress = events.progress();
        let id = events
            .publisher()
            .connection_needs_reconnect("acme", "revoked")
            .await
            .unwrap();
        let failed = until(&mut progress, store.as_ref(), |e| e[0].attempts == 1).await;
        assert_eq!(failed[0].status, DeliveryStatus::Pending);
        events.stop().await;
        drop(dispatcher);
        id
    };
    let mut receiver = receiver(0).await;
    let store = Arc::new(SledRunStore::open(dir.path()).await.unwrap());
    let dispatcher = dispatcher(store.clone());
    let events = start_events(
        receiver.url.clone(),
        store.clone(),
        store.clone(),
        clock.clone(),
        &dispatcher,
        5,
    );
    clock.advance(chrono::Duration::seconds(1));
    let (headers, _) = receiver.received.recv().await.unwrap();
    assert_eq!(headers["x-weft-delivery"], id.as_str());
    let mut progress = events.progress();
    let delivered = until(&mut progress, store.as_ref(), |e| {
        e[0].status == DeliveryStatus::Delivered
    })
    .await;
    assert_eq!(
        delivered[0].attempts, 2,
        "the attempt before the restart counts"
    );
    events.stop().await;
}
