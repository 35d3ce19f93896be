//! `POST /hooks/{workflow}` through the real router on 127.0.0.1: signatures and bearer
//! tokens, the body limit, bad JSON, `Idempotency-Key` repeats, paused and unknown workflows.
//! Every refused request answers the JSON error shape and records nothing.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::{json, Value};
use weft_daemon::api::hooks::Hooks;
use weft_daemon::api::MAX_BODY_BYTES;
use weft_daemon::api::{self, ApiServer, ApiState, ConnectionSummary};
use weft_daemon::signature::sign as signature;
use weft_daemon::{Dispatcher, RunEnded, WorkflowSet};
use weft_engine::store::{MemoryRunStore, RequestKeyRecord, RunStore, TriggerStore};
use weft_engine::workflow::load_bytes;
use weft_runtime::Runtime;

const SECRET: &str = "s3cret-hook-key";
const TOKEN: &str = "bearer-token-value";

const WORKFLOWS: &[&str] = &[
    "name: signed
trigger:
  webhook:
    secret: HOOK_KEY
steps:
  - id: echo
    uses: core.set
    with:
      value: ${{ trigger.body.n }}
",
    "name: bearer
trigger:
  webhook:
    token: hook_token
steps:
  - id: echo
    uses: core.set
    with:
      value: ${{ trigger.body }}
",
    "name: unconfigured
trigger:
  webhook:
    secret: nobody_set_this
steps:
  - id: echo
    uses: core.set
    with:
      value: 1
",
    "name: manual
steps:
  - id: echo
    uses: core.set
    with:
      value: 1
",
];

struct Harness {
    base: String,
    client: reqwest::Client,
    store: Arc<MemoryRunStore>,
    dispatcher: Dispatcher,
    _server: ApiServer,
}

async fn start() -> Harness {
    let store = Arc::new(MemoryRunStore::default());
    let engine = Runtime::new()
        .unwrap()
        .engine(store.clone(), Arc::new(weft_runtime::action::NoTokens));
    let workflows = WORKFLOWS.iter().map(|yaml| {
        match load_bytes(Path::new("flow.yaml"), yaml.as_bytes(), engine.catalog()) {
            Ok(loaded) => loaded.workflow,
            Err(problems) => panic!("{}", problems.render()),
        }
    });
    let set = WorkflowSet::new(workflows.collect::<Vec<_>>());
    let dispatcher = Dispatcher::new(engine, set, HashMap::new());
    let secrets = HashMap::from([
        ("hook_key".to_string(), SECRET.to_string()),
        ("hook_token".to_string(), TOKEN.to_string()),
    ]);
    let state = ApiState {
        dispatcher: dispatcher.clone(),
        hooks: Hooks {
            secrets: Arc::new(secrets),
        },
        triggers: store.clone(),
        connections: Arc::new(Vec::<ConnectionSummary>::new()),
        polls: Default::default(),
        api_token: None,
        ready: AtomicBool::new(true),
        retries: Default::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = ApiServer::start(listener, api::router(Arc::new(state))).unwrap();
    Harness {
        base: format!("http://{}", server.address()),
        client: reqwest::Client::new(),
        store,
        dispatcher,
        _server: server,
    }
}

impl Harness {
    fn post(&self, workflow: &str, body: &[u8]) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}/hooks/{workflow}", self.base))
            .body(body.to_vec())
    }

    fn signed(&self, workflow: &str, body: &[u8]) -> reqwest::RequestBuilder {
        self.post(workflow, body)
            .header("X-Weft-Signature", signature(SECRET.as_bytes(), body))
    }

    async fn runs(&self) -> usize {
        self.store.list_runs(100).await.unwrap().len()
    }
}

async fn send(response: reqwest::RequestBuilder) -> (u16, Value) {
    let response = response.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Asserts the one error shape and returns its code.
fn error_code(status: u16, body: &Value) -> String {
    assert_eq!(body["error"]["status"], status, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    body["error"]["code"].as_str().unwrap().to_string()
}

async fn run_ended(ended: &mut tokio::sync::broadcast::Receiver<RunEnded>) -> RunEnded {
    ended.recv().await.unwrap()
}

#[tokio::test]
async fn a_signed_request_starts_a_run_whose_trigger_holds_the_body() {
    let hooks = start().await;
    let mut ended = hooks.dispatcher.subscribe();
    let body = br#"{"n": 41, "text": "hello"}"#;
    let (status, answer) = send(
        hooks
            .signed("signed", body)
            .header("Content-Type", "application/json")
            .header("X-GitHub-Event", "push")
            .header("X-Api-Key", "not-for-the-run")
            .header("Authorization", "Basic dXNlcjpwYXNz"),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["status"], "started");
    let run_id = answer["run_id"].as_str().unwrap();
    let end = run_ended(&mut ended).await;
    assert_eq!(end.run_id, run_id);
    assert_eq!(end.kind, weft_daemon::TriggerKind::Webhook);
    let run = hooks.store.get_run(run_id).await.unwrap().unwrap();
    assert_eq!(run.trigger["kind"], "webhook");
    assert_eq!(run.trigger["body"], json!({"n": 41, "text": "hello"}));
    let headers = run.trigger["headers"].as_object().unwrap();
    assert_eq!(headers["x-github-event"], "push");
    assert_eq!(headers["content-type"], "application/json");
    for hidden in ["x-weft-signature", "x-api-key", "authorization"] {
        assert!(
            !headers.contains_key(hidden),
            "{hidden} exposed: {headers:?}"
        );
    }
    let text = serde_json::to_string(&run.trigger).unwrap();
    assert!(!text.contains("sha256="), "the signature is never recorded");
    let attempts = hooks.store.attempts(run_id).await.unwrap();
    assert_eq!(attempts[0].output, Some(json!({"value": 41})));
}

#[tokio::test]
async fn missing_malformed_and_wrong_signatures_are_refused_and_record_nothing() {
    let hooks = start().await;
    let body = br#"{"n": 1}"#;
    let cases = [
        hooks.post("signed", body),
        hooks
            .post("signed", body)
            .header("X-Weft-Signature", "md5=abc"),
        hooks
            .post("signed", body)
            .header("X-Weft-Signature", "sha256=zz"),
        hooks
            .post("signed", body)
            .header("X-Weft-Signature", signature(b"another secret", body)),
        // Signed for another body.
        hooks
            .post("signed", body)
            .header("X-Weft-Signature", signature(SECRET.as_bytes(), b"{}")),
    ];
    for case in cases {
        let (status, answer) = send(case.header("Idempotency-Key", "k1")).await;
        assert_eq!(status, 401, "{answer}");
        assert_eq!(error_code(status, &answer), "unauthorized");
    }
    assert_eq!(hooks.runs().await, 0);
    let probe = RequestKeyRecord {
        workflow: "signed".into(),
        key: "k1".into(),
        run_id: "probe".into(),
        recorded_at: chrono::Utc::now(),
    };
    assert_eq!(
        hooks.store.record_request_key(&probe).await.unwrap(),
        None,
        "the key of a refused request is not recorded"
    );
}

#[tokio::test]
async fn a_bearer_token_is_checked() {
    let hooks = start().await;
    let mut ended = hooks.dispatcher.subscribe();
    for (authorization, expected) in [
        (None, 401),
        (Some("Bearer wrong"), 401),
        (Some(format!("Bearer {TOKEN}x").as_str()), 401),
        (Some(TOKEN), 401),
        (Some(format!("Bearer {TOKEN}").as_str()), 202),
        // The scheme's name is case-insensitive (RFC 9110, 11.1).
        (Some(format!("bearer {TOKEN}").as_str()), 202),
    ] {
        let mut request = hooks.post("bearer", b"[1, 2]");
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let (status, answer) = send(request).await;
        assert_eq!(status, expected, "{authorization:?}: {answer}");
    }
    run_ended(&mut ended).await;
    run_ended(&mut ended).await;
    assert_eq!(hooks.runs().await, 2);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413_json() {
    let hooks = start().await;
    let mut body = vec![b' '; MAX_BODY_BYTES];
    body.extend_from_slice(b"{}");
    let (status, answer) = send(hooks.signed("signed", &body)).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(error_code(status, &answer), "body_too_large");
    // At the limit exactly, it is taken.
    let mut body = vec![b' '; MAX_BODY_BYTES - 2];
    body.extend_from_slice(b"{}");
    let (status, answer) = send(hooks.signed("signed", &body)).await;
    assert_eq!(status, 202, "{answer}");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused() {
    let hooks = start().await;
    for body in [&b"{not json"[..], b"", b"\xff\xfe"] {
        let (status, answer) = send(hooks.signed("signed", body)).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(error_code(status, &answer), "bad_json");
    }
    assert_eq!(hooks.runs().await, 0);
}

#[tokio::test]
async fn a_repeated_idempotency_key_answers_with_the_first_run() {
    let hooks = start().await;
    let mut ended = hooks.dispatcher.subscribe();
    let body = br#"{"n": 7}"#;
    let send = |key: &str| {
        send(
            hooks
                .signed("signed", body)
                .header("Idempotency-Key", key.to_string()),
        )
    };
    let (status, first) = send("delivery-1").await;
    assert_eq!(status, 202, "{first}");
    let (status, repeat) = send("delivery-1").await;
    assert_eq!(status, 200, "{repeat}");
    assert_eq!(repeat["run_id"], first["run_id"]);
    assert_eq!(repeat["repeat"], true);
    let (status, other) = send("delivery-2").await;
    assert_eq!(status, 202);
    assert_ne!(other["run_id"], first["run_id"]);
    run_ended(&mut ended).await;
    run_ended(&mut ended).await;
    assert_eq!(hooks.runs().await, 2, "the repeat started no run");

    for bad in ["", "has space", &"k".repeat(201)] {
        let (status, answer) = send(bad).await;
        assert_eq!(status, 400, "{bad:?}: {answer}");
        assert_eq!(error_code(status, &answer), "bad_request");
    }
    // Two keys in one request (a proxy adding its own): which delivery it is cannot be told.
    let (status, answer) = crate::send(
        hooks
            .signed("signed", body)
            .header("Idempotency-Key", "delivery-1")
            .header("Idempotency-Key", "delivery-3"),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(error_code(status, &answer), "bad_request");
    assert_eq!(hooks.runs().await, 2, "nothing started");
}

#[tokio::test]
async fn paused_unknown_unconfigured_and_non_webhook_workflows_are_refused() {
    let hooks = start().await;
    let body = br#"{}"#;
    hooks.dispatcher.workflows().set_paused("signed", true);
    let (status, answer) = send(hooks.signed("signed", body)).await;
    assert_eq!(
        (status, error_code(status, &answer)),
        (409, "paused".into())
    );
    // Whether a workflow is paused is told only to a caller with the right signature.
    let (status, answer) = send(hooks.post("signed", body)).await;
    assert_eq!(
        (status, error_code(status, &answer)),
        (401, "unauthorized".into())
    );

    let (status, answer) = send(hooks.signed("nope", body)).await;
    assert_eq!(
        (status, error_code(status, &answer)),
        (404, "not_found".into())
    );
    let (status, answer) = send(hooks.signed("manual", body)).await;
    assert_eq!(
        (status, error_code(status, &answer)),
        (404, "not_found".into())
    );
    let (_, unknown) = send(hooks.signed("nope", body)).await;
    assert_eq!(
        answer["error"]["message"].as_str().unwrap(),
        unknown["error"]["message"]
            .as_str()
            .unwrap()
            .replace("nope", "manual"),
        "before the signature, a workflow without a webhook looks like no workflow"
    );

    let (status, answer) = send(hooks.signed("unconfigured", body)).await;
    assert_eq!(
        (status, error_code(status, &answer)),
        (503, "not_configured".into())
    );
    assert!(!answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("NOBODY_SET_THIS"));

    let get = hooks
        .client
        .get(format!("{}/hooks/signed", hooks.base))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 405);
    assert_eq!(hooks.runs().await, 0);
}

#[tokio::test]
async fn the_secret_that_checks_a_webhook_is_masked_in_the_run_although_no_step_reads_it() {
    let hooks = start().await;
    let mut ended = hooks.dispatcher.subscribe();
    let body = format!(r#"{{"echo": "{TOKEN}-copied"}}"#);
    let (status, answer) = send(
        hooks
            .post("bearer", body.as_bytes())
            .header("Authorization", format!("Bearer {TOKEN}")),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let run_id = answer["run_id"].as_str().unwrap();
    run_ended(&mut ended).await;
    let run = hooks.store.get_run(run_id).await.unwrap().unwrap();
    let attempts = hooks.store.attempts(run_id).await.unwrap();
    let recorded = format!(
        "{} {:?}",
        serde_json::to_string(&run).unwrap(),
        attempts.iter().map(|a| &a.output).collect::<Vec<_>>()
    );
    assert!(!recorded.contains(TOKEN), "{recorded}");
    assert_eq!(run.trigger["body"]["echo"], "***-copied");
}
