//! Webhook-triggered runs through the daemon's real API on 127.0.0.1: signed requests with an
//! `Idempotency-Key` each, from 64 keep-alive connections, into the sled run history. The
//! figure is runs per second from the first request to the end of the last run (every run's
//! record synced: the engine reports a run ended once it is on disk).

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use weft_daemon::api::hooks::Hooks;
use weft_daemon::api::{self, ApiServer, ApiState, ConnectionSummary};
use weft_daemon::signature::sign;
use weft_daemon::{Dispatcher, WorkflowSet};
use weft_engine::store::{RunStatus, RunStore, SledRunStore};
use weft_engine::workflow;

use crate::Row;

const RUNS: usize = 20_000;
const CONNECTIONS: usize = 64;
const SECRET: &str = "bench-hook-secret";

const WORKFLOW: &str = "name: hook
trigger:
  webhook:
    secret: hook_key
concurrency:
  limit: 100000
steps:
  - id: note
    uses: core.set
    with:
      n: ${{ trigger.body.n }}
";

pub async fn webhook_runs() -> Row {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(
        SledRunStore::open(&dir.path().join("runs"))
            .await
            .expect("open store"),
    );
    let engine = crate::weft().engine(store.clone(), Arc::new(weft_runtime::action::NoTokens));
    let flow = workflow::load_bytes(
        &dir.path().join("hook.yaml"),
        WORKFLOW.as_bytes(),
        engine.catalog(),
    )
    .unwrap_or_else(|p| panic!("{}", p.render()))
    .workflow;
    let dispatcher = Dispatcher::new(engine, WorkflowSet::new([flow]), HashMap::new());
    let secrets = HashMap::from([("hook_key".to_string(), SECRET.to_string())]);
    let state = ApiState {
        dispatcher: dispatcher.clone(),
        hooks: Hooks {
            secrets: Arc::new(secrets),
        },
        triggers: store.clone(),
        connections: Arc::new(Vec::<ConnectionSummary>::new()),
        // No poll trigger here.
        polls: Default::default(),
        api_token: None,
        ready: AtomicBool::new(true),
        retries: Default::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let server = ApiServer::start(listener, api::router(Arc::new(state))).expect("serve");
    let url = format!("http://{}/hooks/hook", server.address());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .expect("client");

    let mut ended = dispatcher.subscribe();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let senders: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (client, url, next) = (client.clone(), url.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= RUNS {
                        return;
                    }
                    let body = format!("{{\"n\": {n}}}");
                    let answer = client
                        .post(&url)
                        .header("X-Weft-Signature", sign(SECRET.as_bytes(), body.as_bytes()))
                        .header("Idempotency-Key", format!("delivery-{n}"))
                        .body(body)
                        .send()
                        .await
                        .expect("request");
                    assert_eq!(answer.status().as_u16(), 202, "request {n}");
                }
            })
        })
        .collect();
    let mut succeeded = 0;
    for _ in 0..RUNS {
        let end = ended.recv().await.expect("run ends announced");
        if end.status == RunStatus::Succeeded {
            succeeded += 1;
        }
    }
    let took = started.elapsed();
    for sender in senders {
        sender.await.expect("sender");
    }
    assert_eq!(succeeded, RUNS, "every run succeeded");
    assert_eq!(
        store.list_runs(RUNS + 1).await.expect("list").len(),
        RUNS,
        "every run recorded"
    );
    server.stop().await;
    Row {
        what: "webhook-triggered one-step runs (signed, Idempotency-Key, 64 connections, 20,000 runs, sled history synced)",
        measured: format!("{:.0} runs/s", RUNS as f64 / took.as_secs_f64()),
        target: "≥ 2,000 runs/s (issue 10)",
        peer: "-",
    }
}
