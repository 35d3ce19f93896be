//! The HTTP API in process (the router answered with `oneshot`, in tokio's paused time): every
//! endpoint, its answers and its refusals, and that a refused request records nothing.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tower::ServiceExt;
use weft_daemon::api::{
    self, ApiState, ApiToken, ConnectionList, ConnectionListError, ConnectionState,
    ConnectionSummary,
};
use weft_daemon::{Daemon, ManualClock, Settings};
use weft_engine::exec::Engine;
use weft_engine::store::{AttemptRecord, MemoryRunStore, RunStatus, RunStore, TriggerStore};
use weft_engine::workflow::{load_bytes, CompiledWorkflow};
use weft_runtime::Runtime;

const QUICK: &str = "name: quick
inputs:
  who:
    type: string
    default: world
steps:
  - id: greet
    uses: core.set
    with:
      text: hello ${{ inputs.who }}
outputs:
  greeting: ${{ steps.greet.output.text }}
";

const SLOW: &str = "name: slow
concurrency:
  limit: 1
  policy: queue
steps:
  - id: wait
    uses: core.sleep
    with:
      duration: 1h
";

const FAILING: &str = "name: failing
steps:
  - id: boom
    uses: core.fail
    with:
      message: it broke
";

const SECRET: &str = "name: secret
steps:
  - id: use
    uses: core.set
    with:
      header: Bearer ${{ secrets.api_key }}
";

const NIGHTLY: &str = "name: nightly
trigger:
  cron:
    schedule: '0 3 * * *'
    timezone: Europe/Berlin
steps:
  - id: say
    uses: core.log
    with:
      message: night
";

const TWICE: &str = "name: twice
steps:
  - id: first
    uses: core.set
    with:
      text: fresh
  - id: second
    uses: core.set
    with:
      seen: ${{ steps.first.output.text }}
finally:
  - id: tidy
    uses: core.log
    with:
      message: done
outputs:
  seen: ${{ steps.second.output.seen }}
";

const SECRET_VALUE: &str = "s3cr3t-value-of-the-key";
const TOKEN: &str = "0123456789abcdef0123456789abcdef";

struct Connections(Result<Vec<ConnectionSummary>, String>);

/// A list only: managing a connection is refused (`connection_admin` tests that part).
impl weft_daemon::api::ConnectionAdmin for Connections {}

#[async_trait]
impl ConnectionList for Connections {
    async fn list(&self) -> Result<Vec<ConnectionSummary>, ConnectionListError> {
        self.0.clone().map_err(|e| e.into())
    }
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

struct Api {
    store: Arc<MemoryRunStore>,
    engine: Engine,
    daemon: Daemon,
    state: Arc<ApiState>,
    router: Router,
}

fn workflow(engine: &Engine, yaml: &str) -> Arc<CompiledWorkflow> {
    match load_bytes(Path::new("flow.yaml"), yaml.as_bytes(), engine.catalog()) {
        Ok(loaded) => loaded.workflow,
        Err(problems) => panic!("{}", problems.render()),
    }
}

async fn start_daemon(engine: &Engine, store: &Arc<MemoryRunStore>) -> Daemon {
    let workflows =
        [QUICK, SLOW, FAILING, SECRET, NIGHTLY, TWICE].map(|yaml| workflow(engine, yaml));
    let settings = Settings {
        secrets: [("api_key".to_string(), SECRET_VALUE.to_string())].into(),
        ..Settings::default()
    };
    let clock = Arc::new(ManualClock::new(utc("2026-03-28T12:00:00Z")));
    Daemon::start(engine.clone(), store.clone(), clock, workflows, settings)
        .await
        .unwrap()
}

impl Api {
    async fn new() -> Api {
        Api::with(None, Ok(Vec::new())).await
    }

    async fn with(token: Option<&str>, connections: Result<Vec<ConnectionSummary>, String>) -> Api {
        let store = Arc::new(MemoryRunStore::default());
        let engine = Runtime::new()
            .unwrap()
            .engine(store.clone(), Arc::new(weft_runtime::action::NoTokens));
        Api::on(store, engine, token, connections).await
    }

    /// A daemon stopped, and another started on the same run history.
    async fn restart(self) -> Api {
        self.daemon
            .shutdown(std::time::Duration::from_secs(1))
            .await;
        Api::on(self.store, self.engine, None, Ok(Vec::new())).await
    }

    async fn on(
        store: Arc<MemoryRunStore>,
        engine: Engine,
        token: Option<&str>,
        connections: Result<Vec<ConnectionSummary>, String>,
    ) -> Api {
        let daemon = start_daemon(&engine, &store).await;
        let state = Arc::new(ApiState {
            dispatcher: daemon.dispatcher().clone(),
            triggers: store.clone(),
            connections: Arc::new(Connections(connections)),
            polls: daemon.poll_status().clone(),
            api_token: token.map(|t| ApiToken::new(t).unwrap()),
            ready: AtomicBool::new(true),
            retries: Default::default(),
            hooks: weft_daemon::api::hooks::Hooks {
                secrets: Default::default(),
            },
        });
        Api {
            router: api::router(state.clone()),
            store,
            engine,
            daemon,
            state,
        }
    }

    async fn call(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, body)
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.call(request(Method::GET, uri, None)).await
    }

    async fn post(&self, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(request(Method::POST, uri, body.map(|b| b.to_string())))
            .await
    }

    /// Starts a run of `workflow` and waits for its end (paused time: at no real cost).
    async fn run(&self, workflow: &str, inputs: Value) -> String {
        let uri = format!("/api/v1/workflows/{workflow}/runs?wait=5m");
        let (status, body) = self.post(&uri, Some(json!({ "inputs": inputs }))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["run_id"].as_str().unwrap().to_string()
    }

    async fn runs_recorded(&self) -> usize {
        self.store.list_runs(usize::MAX).await.unwrap().len()
    }
}

fn request(method: Method, uri: &str, json_body: Option<String>) -> Request<Body> {
    let builder = Request::builder().method(method).uri(uri);
    match json_body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

fn assert_error(answer: &(StatusCode, Value), status: StatusCode, code: &str) {
    let (got, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert_eq!(body["error"]["status"], status.as_u16(), "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_started_and_waited_for_answers_its_outcome() {
    let api = Api::new().await;
    let (status, body) = api
        .post(
            "/api/v1/workflows/quick/runs?wait=30s",
            Some(json!({ "inputs": { "who": "Ada" } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "succeeded");
    assert_eq!(body["workflow"], "quick");
    assert_eq!(body["trigger"], "api");
    assert_eq!(body["outputs"]["greeting"], "hello Ada");

    // Without a wait: 201 and where to read it.
    let response = api
        .router
        .clone()
        .oneshot(request(Method::POST, "/api/v1/workflows/quick/runs", None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    assert!(location.starts_with("/api/v1/runs/"), "{location}");
}

#[tokio::test(start_paused = true)]
async fn a_wait_that_ends_first_answers_202_and_a_queued_run_says_so() {
    let api = Api::new().await;
    let (status, first) = api.post("/api/v1/workflows/slow/runs?wait=2s", None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["status"], "running");
    let (status, second) = api.post("/api/v1/workflows/slow/runs", None).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["status"], "queued");
    let queued = second["run_id"].as_str().unwrap();
    let (status, shown) = api.get(&format!("/api/v1/runs/{queued}")).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["run"]["status"], "queued");
}

#[tokio::test(start_paused = true)]
async fn bad_starts_are_refused_and_record_nothing() {
    let api = Api::new().await;
    let runs = "/api/v1/workflows/quick/runs";
    let cases = [
        (
            api.post(runs, Some(json!({ "inputs": { "whom": 1 } })))
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_inputs",
        ),
        (
            api.post(runs, Some(json!({ "inputs": { "who": 7 } })))
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_inputs",
        ),
        (
            api.post(runs, Some(json!({ "input": {} }))).await,
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            api.call(request(Method::POST, runs, Some("{\"inputs\": ".into())))
                .await,
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            api.call(
                Request::post(runs)
                    .header(header::CONTENT_TYPE, "text/plain")
                    .body(Body::from("{}"))
                    .unwrap(),
            )
            .await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            api.call(request(
                Method::POST,
                runs,
                Some(format!(
                    "{{\"inputs\": {{\"who\": \"{}\"}}}}",
                    "a".repeat(api::MAX_BODY_BYTES)
                )),
            ))
            .await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            api.post(&format!("{runs}?wait=1h"), None).await,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            api.post(&format!("{runs}?wait=soon"), None).await,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            api.post(&format!("{runs}?priority=high"), None).await,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            api.post("/api/v1/workflows/nope/runs", None).await,
            StatusCode::NOT_FOUND,
            "unknown_workflow",
        ),
        (
            api.post("/api/v1/workflows/%FF%FE/runs", None).await,
            StatusCode::BAD_REQUEST,
            "bad_path",
        ),
        (
            api.get(runs).await,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (answer, status, code) in &cases {
        assert_error(answer, *status, code);
    }
    assert_eq!(api.runs_recorded().await, 0, "nothing recorded");
    assert_eq!(api.daemon.runs_going(), 0);
}

#[tokio::test(start_paused = true)]
async fn runs_are_listed_newest_first_page_by_page_and_filtered() {
    let api = Api::new().await;
    let mut quick = Vec::new();
    for n in 0..5 {
        quick.push(api.run("quick", json!({ "who": format!("n{n}") })).await);
    }
    let failed = api.run("failing", json!({})).await;
    let mut all = quick.clone();
    all.push(failed.clone());
    all.reverse();

    let mut listed = Vec::new();
    let mut uri = "/api/v1/runs?limit=2".to_string();
    loop {
        let (status, page) = api.get(&uri).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let runs = page["runs"].as_array().unwrap();
        assert!(runs.len() <= 2);
        listed.extend(
            runs.iter()
                .map(|r| r["run_id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/api/v1/runs?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(listed, all, "every run once, newest first");

    let (_, page) = api.get("/api/v1/runs?status=failed").await;
    let runs = page["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["run_id"], failed.as_str());
    assert_eq!(
        runs[0]["error"].as_str().map(|e| e.contains("it broke")),
        Some(true)
    );
    let (_, page) = api.get("/api/v1/runs?workflow=quick&limit=10").await;
    assert_eq!(page["runs"].as_array().unwrap().len(), 5);
    assert_eq!(page["next_cursor"], Value::Null);
    let (_, page) = api.get("/api/v1/runs?since=2999-01-01T00:00:00Z").await;
    assert_eq!(page, json!({ "runs": [], "next_cursor": null }));
    let (_, page) = api
        .get("/api/v1/runs?since=2000-01-01T00:00:00%2B02:00")
        .await;
    assert_eq!(page["runs"].as_array().unwrap().len(), 6);

    for (uri, code) in [
        ("/api/v1/runs?limit=0", "bad_query"),
        ("/api/v1/runs?limit=501", "bad_query"),
        ("/api/v1/runs?limit=many", "bad_query"),
        ("/api/v1/runs?status=great", "bad_query"),
        ("/api/v1/runs?since=yesterday", "bad_query"),
        ("/api/v1/runs?sort=asc", "bad_query"),
        ("/api/v1/runs?cursor=not-a-cursor", "bad_cursor"),
    ] {
        assert_error(&api.get(uri).await, StatusCode::BAD_REQUEST, code);
    }
}

#[tokio::test(start_paused = true)]
async fn a_run_is_shown_with_its_attempts_and_its_secrets_redacted() {
    let api = Api::new().await;
    let id = api.run("secret", json!({})).await;
    let (status, shown) = api.get(&format!("/api/v1/runs/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["run"]["status"], "succeeded");
    assert_eq!(shown["attempts_total"], 1);
    assert_eq!(shown["attempts"][0]["step"], "use");
    let text = shown.to_string();
    assert!(!text.contains(SECRET_VALUE), "{text}");
    assert!(text.contains("Bearer ***"), "{text}");

    let (_, page) = api
        .get(&format!(
            "/api/v1/runs/{id}?attempt_offset=1&attempt_limit=5"
        ))
        .await;
    assert_eq!(page["attempts"], json!([]));
    assert_eq!(page["attempts_total"], 1);

    let lower = id.to_lowercase();
    let (status, _) = api.get(&format!("/api/v1/runs/{lower}")).await;
    assert_eq!(status, StatusCode::OK, "ids are read in either case");
    let missing = weft_engine::exec::new_run_id();
    assert_error(
        &api.get(&format!("/api/v1/runs/{missing}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let prefix = &id[..10];
    for uri in [
        format!("/api/v1/runs/{prefix}"),
        "/api/v1/runs/..%2F..%2Fetc".to_string(),
        format!("/api/v1/runs/{id}x"),
    ] {
        assert_error(&api.get(&uri).await, StatusCode::BAD_REQUEST, "bad_run_id");
    }
    assert_error(
        &api.get(&format!("/api/v1/runs/{id}?attempt_limit=100000"))
            .await,
        StatusCode::BAD_REQUEST,
        "bad_query",
    );
    assert_error(
        &api.call(request(Method::DELETE, &format!("/api/v1/runs/{id}"), None))
            .await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
}

#[tokio::test(start_paused = true)]
async fn runs_going_and_waiting_are_cancelled_ended_ones_are_not() {
    let api = Api::new().await;
    let mut ended = api.daemon.dispatcher().subscribe();
    let (_, going) = api.post("/api/v1/workflows/slow/runs", None).await;
    let (_, waiting) = api.post("/api/v1/workflows/slow/runs", None).await;
    let going = going["run_id"].as_str().unwrap();
    let waiting = waiting["run_id"].as_str().unwrap();
    tokio::task::yield_now().await;

    let (status, body) = api
        .post(&format!("/api/v1/runs/{waiting}/cancel"), None)
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );
    let (status, body) = api
        .post(&format!("/api/v1/runs/{going}/cancel"), None)
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::ACCEPTED, Some("cancelling"))
    );
    for run in [waiting, going] {
        let end = ended.recv().await.unwrap();
        assert_eq!(
            (end.run_id.as_str(), end.status),
            (run, RunStatus::Cancelled)
        );
    }
    let withdrawn = api.store.get_run(waiting).await.unwrap().unwrap();
    assert_eq!(
        (withdrawn.status, withdrawn.error.as_deref()),
        (RunStatus::Cancelled, Some("cancelled before it started")),
        "the withdrawn run never started, and says so"
    );
    assert_eq!(api.daemon.runs_going(), 0);

    assert_error(
        &api.post(&format!("/api/v1/runs/{going}/cancel"), None)
            .await,
        StatusCode::CONFLICT,
        "not_going",
    );
    assert_error(
        &api.post(&format!("/api/v1/runs/{waiting}/cancel"), None)
            .await,
        StatusCode::CONFLICT,
        "not_going",
    );
    assert_error(
        &api.post(
            &format!("/api/v1/runs/{}/cancel", weft_engine::exec::new_run_id()),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &api.post("/api/v1/runs/nope/cancel", None).await,
        StatusCode::BAD_REQUEST,
        "bad_run_id",
    );
    assert_error(
        &api.post(
            &format!("/api/v1/runs/{going}/cancel"),
            Some(json!({ "force": true })),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_json",
    );
}

#[tokio::test(start_paused = true)]
async fn a_replay_is_a_new_run_with_the_same_inputs_and_trigger() {
    let api = Api::new().await;
    let first = api.run("quick", json!({ "who": "Grace" })).await;
    let (status, body) = api
        .post(&format!("/api/v1/runs/{first}/replay?wait=1m"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["replay_of"], first.as_str());
    assert_eq!(body["outputs"]["greeting"], "hello Grace");
    let replay = body["run_id"].as_str().unwrap();
    assert_ne!(replay, first);
    let original = api.store.get_run(&first).await.unwrap().unwrap();
    let again = api.store.get_run(replay).await.unwrap().unwrap();
    assert_eq!(again.inputs, original.inputs);
    assert_eq!(again.trigger, original.trigger);

    // A recorded input that held a secret is masked: replaying it would send the mask.
    let mut masked = original.clone();
    masked.id = weft_engine::exec::new_run_id();
    masked.inputs = json!({ "who": "Bearer ***" });
    api.store.put_run(&masked).await.unwrap();
    let before = api.runs_recorded().await;
    assert_error(
        &api.post(&format!("/api/v1/runs/{}/replay", masked.id), None)
            .await,
        StatusCode::CONFLICT,
        "inputs_redacted",
    );
    let missing = weft_engine::exec::new_run_id();
    assert_error(
        &api.post(&format!("/api/v1/runs/{missing}/replay"), None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(api.runs_recorded().await, before, "nothing recorded");
}

#[tokio::test(start_paused = true)]
async fn workflows_are_listed_and_a_pause_survives_a_restart() {
    let api = Api::new().await;
    let id = api.run("quick", json!({})).await;
    let (status, body) = api.get("/api/v1/workflows").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let workflows = body["workflows"].as_array().unwrap();
    let names: Vec<_> = workflows
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["failing", "nightly", "quick", "secret", "slow", "twice"]
    );
    let quick = &workflows[2];
    assert_eq!(quick["trigger"]["kind"], "manual");
    assert_eq!(quick["last_run"]["run_id"], id.as_str());
    assert_eq!(quick["last_run"]["status"], "succeeded");
    assert_eq!(quick["paused"], false);
    assert!(
        quick.get("polls").is_none(),
        "only a poll trigger has polls"
    );
    let (status, shown) = api.get("/api/v1/workflows/quick").await;
    assert_eq!((status, &shown), (StatusCode::OK, quick));
    assert_error(
        &api.get("/api/v1/workflows/nope").await,
        StatusCode::NOT_FOUND,
        "unknown_workflow",
    );
    assert_error(
        &api.get("/api/v1/workflows/quick?verbose=1").await,
        StatusCode::BAD_REQUEST,
        "bad_query",
    );
    let nightly = &workflows[1];
    assert_eq!(nightly["trigger"]["kind"], "cron");
    assert_eq!(nightly["trigger"]["timezone"], "Europe/Berlin");
    let next = nightly["trigger"]["next_fires"].as_array().unwrap();
    assert_eq!(next.len(), 3);
    assert!(next
        .windows(2)
        .all(|pair| pair[0].as_str() < pair[1].as_str()));
    assert_eq!(
        workflows[4]["concurrency"],
        json!({ "limit": 1, "policy": "queue" })
    );

    let (status, body) = api.post("/api/v1/workflows/quick/pause", None).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({ "name": "quick", "paused": true }))
    );
    assert_eq!(api.store.paused_workflows().await.unwrap(), ["quick"]);
    assert_error(
        &api.post("/api/v1/workflows/quick/runs", None).await,
        StatusCode::CONFLICT,
        "paused",
    );

    // A new daemon on the same store: still paused.
    let restarted = start_daemon(&api.engine, &api.store).await;
    assert!(restarted.workflows().get("quick").unwrap().paused());
    assert!(!restarted.workflows().get("slow").unwrap().paused());

    let (status, body) = api.post("/api/v1/workflows/quick/resume", None).await;
    assert_eq!(
        (status, body["paused"].clone()),
        (StatusCode::OK, json!(false))
    );
    assert!(api.store.paused_workflows().await.unwrap().is_empty());
    let (status, _) = api.post("/api/v1/workflows/quick/runs", None).await;
    assert_eq!(status, StatusCode::CREATED);

    assert_error(
        &api.post("/api/v1/workflows/nope/pause", None).await,
        StatusCode::NOT_FOUND,
        "unknown_workflow",
    );
    assert_error(
        &api.post(
            "/api/v1/workflows/quick/pause",
            Some(json!({ "until": "monday" })),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_json",
    );
    assert_error(
        &api.get("/api/v1/workflows/quick/pause").await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    assert_error(
        &api.get("/api/v1/workflows?page=2").await,
        StatusCode::BAD_REQUEST,
        "bad_query",
    );
}

fn reconnect_needed() -> ConnectionSummary {
    ConnectionSummary {
        name: "acme".into(),
        provider: "confluence".into(),
        site_url: "https://acme.atlassian.net".into(),
        site_name: "acme".into(),
        status: ConnectionState::NeedsReconnect,
        problem: Some("the refresh token was revoked".into()),
        since: Some(utc("2026-03-28T10:00:00Z")),
        granted_scopes: vec!["read:page:confluence".into()],
    }
}

#[tokio::test(start_paused = true)]
async fn connections_are_listed_with_their_status_and_a_failing_store_is_a_503() {
    let api = Api::with(None, Ok(vec![reconnect_needed()])).await;
    let (status, body) = api.get("/api/v1/connections").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({ "connections": [{
            "name": "acme",
            "provider": "confluence",
            "site_url": "https://acme.atlassian.net",
            "site_name": "acme",
            "status": "needs_reconnect",
            "problem": "the refresh token was revoked",
            "since": "2026-03-28T10:00:00Z",
            "granted_scopes": ["read:page:confluence"],
            // No poll trigger here (see tests/poll.rs).
            "paused_triggers": [],
        }]})
    );
    assert_error(
        &api.post("/api/v1/connections", None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    assert_error(
        &api.get("/api/v1/connections?with_tokens=1").await,
        StatusCode::BAD_REQUEST,
        "bad_query",
    );
    let failing = Api::with(None, Err("the key store is damaged".into())).await;
    assert_error(
        &failing.get("/api/v1/connections").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "connections_unavailable",
    );
}

#[tokio::test(start_paused = true)]
async fn with_a_token_every_api_call_needs_it_and_health_checks_do_not() {
    let api = Api::with(Some(TOKEN), Ok(Vec::new())).await;
    let with = |auth: &str| {
        Request::get("/api/v1/runs")
            .header(header::AUTHORIZATION, auth)
            .body(Body::empty())
            .unwrap()
    };
    for uri in [
        "/api/v1/runs",
        "/api/v1/workflows",
        "/api/v1/workflows/quick",
        "/api/v1/connections",
        "/metrics",
    ] {
        assert_error(
            &api.get(uri).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
    }
    let wrong = format!("Bearer {}", TOKEN.replace('0', "1"));
    for auth in [wrong.as_str(), TOKEN, "Bearer ", "Basic YWRtaW46YWRtaW4="] {
        assert_error(
            &api.call(with(auth)).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
    }
    assert_error(
        &api.post("/api/v1/workflows/quick/runs", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    assert_eq!(api.runs_recorded().await, 0);
    let (status, body) = api.call(with(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The scheme's name is case-insensitive (RFC 9110, 11.1): clients write `bearer` too.
    for scheme in ["bearer", "BEARER"] {
        let (status, body) = api.call(with(&format!("{scheme} {TOKEN}"))).await;
        assert_eq!(status, StatusCode::OK, "{scheme}: {body}");
    }
    assert_eq!(api.get("/healthz").await.0, StatusCode::OK);
    assert_eq!(api.get("/readyz").await.0, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn ready_once_started_not_while_stopping_and_unknown_paths_are_json_404s() {
    let api = Api::new().await;
    let (status, body) = api.get("/readyz").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
    api.state.ready.store(false, Ordering::Release);
    assert_error(
        &api.get("/readyz").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "starting",
    );
    api.state.ready.store(true, Ordering::Release);
    assert_error(
        &api.get("/api/v1/nothing").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &api.post("/readyz", None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    api.daemon
        .dispatcher()
        .shutdown(std::time::Duration::from_secs(1))
        .await;
    assert_error(
        &api.get("/readyz").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "stopping",
    );
    assert_error(
        &api.post("/api/v1/workflows/quick/runs", None).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "stopping",
    );
}

#[tokio::test(start_paused = true)]
async fn metrics_count_runs_by_workflow_and_status_and_time_steps() {
    let api = Api::new().await;
    api.run("quick", json!({})).await;
    api.run("quick", json!({})).await;
    api.run("failing", json!({})).await;
    api.post("/api/v1/workflows/slow/runs", None).await;
    api.post("/api/v1/workflows/slow/runs", None).await;
    let response = api
        .router
        .clone()
        .oneshot(request(Method::GET, "/metrics", None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    for line in [
        r#"weft_runs_total{workflow="quick",status="succeeded"} 2"#,
        r#"weft_runs_total{workflow="failing",status="failed"} 1"#,
        "weft_runs_going 1",
        r#"weft_step_duration_seconds_count{status="succeeded"} 2"#,
        r#"weft_step_duration_seconds_count{status="failed"} 1"#,
        r#"weft_queue_depth{workflow="slow"} 1"#,
        r#"weft_queue_depth{workflow="quick"} 0"#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
}

/// A failed run of `twice` as a daemon would have recorded it: `first` succeeded (with an
/// output the real step would not give), `second` failed, `finally` ran.
async fn failed_twice(api: &Api, hash: &str) -> String {
    let id = weft_engine::exec::new_run_id();
    let run = json!({
        "id": id, "workflow": "twice", "path": "flow.yaml", "hash": hash,
        "trigger": { "kind": "api" }, "inputs": {}, "status": "failed",
        "error": "step `second` failed: boom", "started_at": "2026-03-28T11:00:00Z",
        "finished_at": "2026-03-28T11:00:01Z",
    });
    let attempt = |seq: u64, step: &str, status: &str, output: Value| {
        json!({
            "run_id": id, "seq": seq, "step": step, "attempt": 1, "status": status,
            "input": {}, "output": output, "started_at": "2026-03-28T11:00:00Z", "duration_us": 5,
        })
    };
    let store = &api.store;
    store
        .put_run(&serde_json::from_value(run).unwrap())
        .await
        .unwrap();
    for record in [
        attempt(
            0,
            "first",
            "succeeded",
            json!({ "text": "from the first run" }),
        ),
        attempt(1, "second", "failed", Value::Null),
        attempt(2, "tidy", "succeeded", json!({})),
    ] {
        store
            .put_attempt(&serde_json::from_value::<AttemptRecord>(record).unwrap())
            .await
            .unwrap();
    }
    id
}

#[tokio::test(start_paused = true)]
async fn a_retry_goes_on_from_the_failed_step_with_the_earlier_outputs() {
    let api = Api::new().await;
    let hash = workflow(&api.engine, TWICE).hash.clone();
    let failed = failed_twice(&api, &hash).await;
    let (status, body) = api
        .post(&format!("/api/v1/runs/{failed}/retry?wait=1m"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["retry_of"], failed.as_str());
    assert_eq!(body["status"], "succeeded");
    assert_eq!(
        body["outputs"]["seen"], "from the first run",
        "the step that succeeded is not run again: its output is read back"
    );
    let retry = body["run_id"].as_str().unwrap();
    let (_, shown) = api.get(&format!("/api/v1/runs/{retry}")).await;
    let steps: Vec<_> = shown["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["seq"].as_u64().unwrap(),
                a["step"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            (0, "first".to_string()),
            (1, "second".to_string()),
            (2, "tidy".to_string())
        ],
        "the finished step copied, then the failed step and `finally` run"
    );
    assert_eq!(shown["run"]["inputs"], json!({}));
    let original = api.store.get_run(&failed).await.unwrap().unwrap();
    assert_eq!(
        original.status,
        RunStatus::Failed,
        "the failed run is left as it was"
    );

    let before = api.runs_recorded().await;
    assert_error(
        &api.post(&format!("/api/v1/runs/{retry}/retry"), None).await,
        StatusCode::CONFLICT,
        "not_failed",
    );
    let changed = failed_twice(&api, "another-version").await;
    assert_error(
        &api.post(&format!("/api/v1/runs/{changed}/retry"), None)
            .await,
        StatusCode::CONFLICT,
        "workflow_changed",
    );
    let missing = weft_engine::exec::new_run_id();
    assert_error(
        &api.post(&format!("/api/v1/runs/{missing}/retry"), None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &api.post("/api/v1/runs/x/retry", None).await,
        StatusCode::BAD_REQUEST,
        "bad_run_id",
    );
    assert_error(
        &api.post(
            &format!("/api/v1/runs/{failed}/retry"),
            Some(json!({ "from": "second" })),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_json",
    );
    assert_eq!(
        api.runs_recorded().await,
        before + 1,
        "only the changed run was added, by this test"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_run_whose_recorded_inputs_hold_a_masked_secret_is_not_retried() {
    let api = Api::new().await;
    let hash = workflow(&api.engine, TWICE).hash.clone();
    let failed = failed_twice(&api, &hash).await;
    let mut masked = api.store.get_run(&failed).await.unwrap().unwrap();
    // The history masks an input that held a secret: a retry would run on with the mask.
    masked.inputs = json!({ "who": "Bearer ***" });
    api.store.put_run(&masked).await.unwrap();
    let before = api.runs_recorded().await;
    assert_error(
        &api.post(&format!("/api/v1/runs/{failed}/retry"), None)
            .await,
        StatusCode::CONFLICT,
        "inputs_redacted",
    );
    assert_eq!(api.runs_recorded().await, before, "nothing recorded");
}

#[tokio::test(start_paused = true)]
async fn a_failed_run_is_retried_once_and_a_repeat_answers_that_retry() {
    let api = Api::new().await;
    let hash = workflow(&api.engine, TWICE).hash.clone();
    let failed = failed_twice(&api, &hash).await;
    let before = api.runs_recorded().await;
    let uri = format!("/api/v1/runs/{failed}/retry");
    // Two requests at once: one makes the retry, the other answers it.
    let (one, two) = tokio::join!(api.post(&uri, None), api.post(&uri, None));
    let mut answers = [one, two];
    answers.sort_by_key(|(status, _)| *status);
    let [(repeat_status, repeat), (made_status, made)] = answers;
    assert_eq!(repeat_status, StatusCode::OK, "{repeat}");
    assert_eq!(made_status, StatusCode::CREATED, "{made}");
    let retry = made["run_id"].as_str().unwrap().to_string();
    assert_eq!(repeat["run_id"], retry.as_str(), "{repeat}");
    assert_eq!(repeat["repeat"], true);
    assert_eq!(repeat["retry_of"], failed.as_str());
    assert_eq!(api.runs_recorded().await, before + 1, "one retry recorded");

    // Later, and after a restart: the same retry.
    let api = api.restart().await;
    let (status, again) = api.post(&uri, None).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["run_id"], retry.as_str());
    assert_eq!(again["status"], "succeeded", "{again}");
    assert_eq!(api.runs_recorded().await, before + 1);

    // Replays are not limited: each makes a new run.
    for _ in 0..2 {
        let (status, body) = api
            .post(&format!("/api/v1/runs/{failed}/replay?wait=1m"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(api.runs_recorded().await, before + 3);
}

#[tokio::test(start_paused = true)]
async fn the_app_endpoints_refuse_what_they_cannot_do() {
    let api = Api::new().await;
    // A fixed connection list manages no app.
    assert_error(
        &api.get("/api/v1/apps/confluence").await,
        StatusCode::NOT_IMPLEMENTED,
        "connections_read_only",
    );
    let answer = api
        .call(request(
            Method::PATCH,
            "/api/v1/apps/confluence",
            Some(json!({ "client_secret": "s3cr3t" }).to_string()),
        ))
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "bad_json");
    assert!(
        !answer.1.to_string().contains("s3cr3t"),
        "a secret sent by mistake is not echoed: {}",
        answer.1
    );
}

#[tokio::test(start_paused = true)]
async fn every_refusal_has_the_json_shape_with_a_clear_message() {
    let api = Api::new().await;
    let runs = "/api/v1/workflows/quick/runs";
    let message = |answer: &(StatusCode, Value)| answer.1["error"]["message"].to_string();

    // A body that is not an object, and `inputs` that are not one.
    for body in ["[{\"inputs\": {}}]", "[]", "\"inputs\"", "7", "null"] {
        let answer = api
            .call(request(Method::POST, runs, Some(body.into())))
            .await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "bad_json");
        assert!(
            message(&answer).contains("must be a JSON object"),
            "{body}: {answer:?}"
        );
    }
    for inputs in [json!(["who", "Ada"]), json!("Ada"), json!(1)] {
        let answer = api.post(runs, Some(json!({ "inputs": inputs }))).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "bad_json");
        assert!(
            message(&answer).contains("`inputs` must be a JSON object"),
            "{answer:?}"
        );
    }
    // A wait without a unit.
    let answer = api.post(&format!("{runs}?wait=5"), None).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "bad_query");
    assert!(message(&answer).contains("`5s`"), "{answer:?}");

    // A path over the limit.
    let long = format!("/api/v1/runs/{}", "7".repeat(api::MAX_URI_BYTES));
    let answer = api.get(&long).await;
    assert_error(&answer, StatusCode::URI_TOO_LONG, "uri_too_long");
    let answer = api
        .post(&format!("/hooks/{}", "h".repeat(api::MAX_URI_BYTES)), None)
        .await;
    assert_error(&answer, StatusCode::URI_TOO_LONG, "uri_too_long");

    // A name just under the limit is repeated only by its start.
    let name = "n".repeat(api::MAX_URI_BYTES - 100);
    for (method, uri) in [
        (Method::POST, format!("/api/v1/workflows/{name}/runs")),
        (Method::GET, format!("/api/v1/workflows/{name}")),
        (Method::POST, format!("/api/v1/workflows/{name}/pause")),
        (Method::POST, format!("/hooks/{name}")),
        (Method::GET, format!("/{name}")),
        (Method::DELETE, format!("/api/v1/workflows/{name}/runs")),
        (Method::GET, format!("/api/v1/runs?status={name}")),
    ] {
        let (status, body) = api.call(request(method, &uri, None)).await;
        assert!(status.is_client_error(), "{uri}: {status}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.len() < 400 && message.contains("nnn…"),
            "{status}: {message}"
        );
    }

    // What the framework answers by itself: a method a route does not take, an unknown route,
    // a path parameter that is not UTF-8 (webhooks read it with the framework's extractor).
    let routes = [
        ("/healthz", Method::GET),
        ("/readyz", Method::GET),
        ("/metrics", Method::GET),
        ("/hooks/deploy", Method::POST),
        ("/api/v1/workflows", Method::GET),
        ("/api/v1/workflows/quick/runs", Method::POST),
        ("/api/v1/workflows/quick/pause", Method::POST),
        ("/api/v1/workflows/quick/resume", Method::POST),
        ("/api/v1/runs", Method::GET),
        ("/api/v1/runs/01M8RPQTDR6RD5S654YEDSGEAV", Method::GET),
        (
            "/api/v1/runs/01M8RPQTDR6RD5S654YEDSGEAV/cancel",
            Method::POST,
        ),
        (
            "/api/v1/runs/01M8RPQTDR6RD5S654YEDSGEAV/replay",
            Method::POST,
        ),
        (
            "/api/v1/runs/01M8RPQTDR6RD5S654YEDSGEAV/retry",
            Method::POST,
        ),
        ("/api/v1/connections", Method::GET),
    ];
    for (path, takes) in routes {
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
        ] {
            if method == takes {
                continue;
            }
            let answer = api.call(request(method.clone(), path, None)).await;
            assert_error(
                &answer,
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
            );
            assert!(
                message(&answer).contains(method.as_str()),
                "{path}: {answer:?}"
            );
        }
    }
    for path in [
        "/",
        "/api",
        "/api/v2/runs",
        "/hooks",
        "/hooks/a/b",
        "/api/v1/runs/x/y",
    ] {
        assert_error(&api.get(path).await, StatusCode::NOT_FOUND, "not_found");
    }
    let answer = api.post("/hooks/%FF%FE", Some(json!({}))).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(api.runs_recorded().await, 0, "nothing recorded");
}
