//! The endpoints about one connection and connecting one, through the real router on
//! 127.0.0.1 with a recording [`ConnectionAdmin`]: good requests reach it with what they
//! carried; every bad one answers a 4xx in the JSON error shape (the browser's callback: a
//! plain-text page) and reaches nothing. The implementation on the key store is tested end to
//! end (tests/e2e/connect_daemon.rs).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};
use weft_daemon::api::hooks::Hooks;
use weft_daemon::api::{
    self, AccountDetail, ApiError, ApiServer, ApiState, ApiToken, CallbackQuery, ConfigChanged,
    ConfigPatch, ConnectProgress, ConnectRequest, ConnectStarted, ConnectionAdmin,
    ConnectionDetail, ConnectionList, ConnectionListError, ConnectionState, ConnectionSummary,
    SiteChoice, TestedUser,
};
use weft_daemon::{Dispatcher, WorkflowSet};
use weft_engine::store::MemoryRunStore;
use weft_runtime::Runtime;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// Records every call that reached it.
#[derive(Default)]
struct Recording {
    calls: Mutex<Vec<String>>,
}

impl Recording {
    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

fn detail(name: &str) -> ConnectionDetail {
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-28T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    ConnectionDetail {
        name: name.into(),
        provider: "confluence".into(),
        cloud_id: "cloud-1".into(),
        site_url: "https://acme.atlassian.net".into(),
        site_name: "acme".into(),
        account: AccountDetail {
            account_id: "a-1".into(),
            name: "Ada".into(),
            email: None,
        },
        granted_scopes: vec!["read:page:confluence".into()],
        config: BTreeMap::from([("space".into(), "ENG".into())]),
        status: ConnectionState::Healthy,
        status_text: "healthy".into(),
        access_expires_at: at,
        last_rotation_at: at,
        created_at: at,
    }
}

#[async_trait]
impl ConnectionList for Recording {
    async fn list(&self) -> Result<Vec<ConnectionSummary>, ConnectionListError> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl ConnectionAdmin for Recording {
    async fn show(&self, name: &str) -> Result<ConnectionDetail, ApiError> {
        self.record(format!("show {name}"));
        match name {
            "acme" => Ok(detail(name)),
            _ => Err(ApiError::not_found(format!("no connection named `{name}`"))),
        }
    }
    async fn delete(&self, name: &str) -> Result<(), ApiError> {
        self.record(format!("delete {name}"));
        Ok(())
    }
    async fn set_config(&self, name: &str, patch: ConfigPatch) -> Result<ConfigChanged, ApiError> {
        self.record(format!("config {name} {:?} {:?}", patch.set, patch.unset));
        Ok(ConfigChanged {
            connection: detail(name),
            not_set: patch.unset,
        })
    }
    async fn refresh(&self, name: &str) -> Result<(), ApiError> {
        self.record(format!("refresh {name}"));
        Ok(())
    }
    async fn test(&self, name: &str) -> Result<TestedUser, ApiError> {
        self.record(format!("test {name}"));
        Ok(TestedUser {
            display_name: "Ada".into(),
            account_id: "a-1".into(),
        })
    }
    async fn begin_connect(
        &self,
        name: &str,
        request: ConnectRequest,
    ) -> Result<ConnectStarted, ApiError> {
        self.record(format!(
            "connect {name} {} {:?} {:?}",
            request.provider, request.site, request.timeout_seconds
        ));
        Ok(ConnectStarted {
            attempt: "att".into(),
            authorize_url: "https://auth.example/authorize?state=s".into(),
            callback_url: "http://127.0.0.1:8976/callback".into(),
        })
    }
    async fn connect_progress(
        &self,
        attempt: &str,
        wait: Duration,
    ) -> Result<ConnectProgress, ApiError> {
        self.record(format!("progress {attempt} {}", wait.as_secs()));
        Ok(ConnectProgress::Waiting)
    }
    async fn choose_site(&self, attempt: &str, choice: SiteChoice) -> Result<(), ApiError> {
        self.record(format!("site {attempt} {:?}", choice.index));
        Ok(())
    }
    async fn abandon_connect(&self, attempt: &str) -> Result<(), ApiError> {
        self.record(format!("abandon {attempt}"));
        Ok(())
    }
    async fn callback(&self, query: CallbackQuery) -> Result<String, ApiError> {
        self.record(format!("callback {:?} {:?}", query.code, query.state));
        match query.state.as_deref() {
            Some("good") => Ok("acme".into()),
            _ => Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "bad_callback",
                "unknown or already used `state`; start connecting again",
            )),
        }
    }
}

struct Harness {
    base: String,
    client: reqwest::Client,
    admin: Arc<Recording>,
    _server: ApiServer,
}

async fn start(connections: Arc<dyn ConnectionList>, admin: Arc<Recording>) -> Harness {
    let store = Arc::new(MemoryRunStore::default());
    let engine = Runtime::new()
        .unwrap()
        .engine(store.clone(), Arc::new(weft_runtime::action::NoTokens));
    let dispatcher = Dispatcher::new(engine, WorkflowSet::new(Vec::new()), HashMap::new());
    let state = ApiState {
        dispatcher,
        hooks: Hooks {
            secrets: Arc::new(HashMap::new()),
        },
        triggers: store,
        connections,
        polls: weft_daemon::PollStatus::default(),
        api_token: Some(ApiToken::new(TOKEN).unwrap()),
        ready: AtomicBool::new(true),
        retries: Default::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = ApiServer::start(listener, api::router(Arc::new(state))).unwrap();
    Harness {
        base: format!("http://{}", server.address()),
        client: reqwest::Client::new(),
        admin,
        _server: server,
    }
}

async fn recording() -> Harness {
    let admin = Arc::new(Recording::default());
    start(admin.clone(), admin).await
}

impl Harness {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
    }

    fn calls(&self) -> Vec<String> {
        self.admin.calls.lock().unwrap().clone()
    }
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

use reqwest::Method;

#[tokio::test]
async fn each_endpoint_reaches_the_admin_with_what_it_carried() {
    let api = recording().await;
    let (status, body) = send(api.request(Method::GET, "/api/v1/connections/acme")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["connection"]["site_url"], "https://acme.atlassian.net");
    assert_eq!(body["connection"]["status"], "healthy");
    let (status, body) = send(api.request(Method::GET, "/api/v1/connections/other")).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("not_found"))
    );

    let (status, body) = send(
        api.request(Method::PATCH, "/api/v1/connections/acme/config")
            .json(&json!({"set": {"space": "OPS"}, "unset": ["old"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["not_set"], json!(["old"]));
    for (method, path, status) in [
        (Method::POST, "/api/v1/connections/acme/refresh", 200),
        (Method::POST, "/api/v1/connections/acme/test", 200),
        (Method::DELETE, "/api/v1/connections/acme", 200),
        (Method::GET, "/api/v1/connect-attempts/att?wait=5s", 200),
        (Method::DELETE, "/api/v1/connect-attempts/att", 200),
    ] {
        let (got, body) = send(api.request(method.clone(), path)).await;
        assert_eq!(got, status, "{method} {path}: {body}");
    }
    let (status, body) = send(
        api.request(Method::POST, "/api/v1/connections/acme/connect")
            .json(&json!({"provider": "confluence", "site": "https://acme.atlassian.net", "timeout_seconds": 30})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["attempt"], "att");
    let (status, _) = send(
        api.request(Method::POST, "/api/v1/connect-attempts/att/site")
            .json(&json!({"index": 1})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = send(
        api.request(Method::POST, "/api/v1/oauth/callback")
            .json(&json!({"code": "c", "state": "good"})),
    )
    .await;
    assert_eq!((status, body["connection"].clone()), (200, json!("acme")));
    // The browser's way back carries no API token.
    let page = api
        .client
        .get(format!("{}/oauth/callback?code=c&state=good", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("weft stored the connection “acme”"));
    let page = api
        .client
        .get(format!("{}/oauth/callback?code=c&state=stale", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 400);
    assert!(page.text().await.unwrap().contains("already used `state`"));

    assert_eq!(
        api.calls(),
        [
            "show acme",
            "show other",
            r#"config acme {"space": "OPS"} ["old"]"#,
            "refresh acme",
            "test acme",
            "delete acme",
            "progress att 5",
            "abandon att",
            r#"connect acme confluence Some("https://acme.atlassian.net") Some(30)"#,
            "site att Some(1)",
            r#"callback Some("c") Some("good")"#,
            r#"callback Some("c") Some("good")"#,
            r#"callback Some("c") Some("stale")"#,
        ]
    );
}

#[tokio::test]
async fn bad_requests_are_refused_in_the_error_shape_and_reach_nothing() {
    let api = recording().await;
    let long = "x".repeat(5000);
    let refused: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            api.request(Method::PATCH, "/api/v1/connections/acme/config"),
            400,
            "bad_request",
        ),
        (
            api.request(Method::PATCH, "/api/v1/connections/acme/config")
                .json(&json!({"sett": {"a": "b"}})),
            400,
            "bad_json",
        ),
        (
            api.request(Method::PATCH, "/api/v1/connections/acme/config")
                .json(&json!({"set": {"a": 1}})),
            400,
            "bad_json",
        ),
        (
            api.request(Method::PATCH, "/api/v1/connections/acme/config")
                .body("set=a"),
            415,
            "unsupported_media_type",
        ),
        (
            api.request(Method::PATCH, "/api/v1/connections/acme/config")
                .header("content-type", "application/json")
                .body(vec![b' '; 2 * 1024 * 1024]),
            413,
            "body_too_large",
        ),
        (
            api.request(Method::GET, "/api/v1/connections/acme?verbose=1"),
            400,
            "bad_query",
        ),
        (
            api.request(Method::POST, "/api/v1/connections/acme/refresh")
                .json(&json!({"all": true})),
            400,
            "bad_json",
        ),
        (
            api.request(Method::POST, "/api/v1/connections/acme/test")
                .json(&json!({"x": 1})),
            400,
            "bad_json",
        ),
        (
            api.request(Method::PUT, "/api/v1/connections/acme"),
            405,
            "method_not_allowed",
        ),
        (
            api.request(Method::POST, "/api/v1/connections/acme/connect")
                .json(&json!({"site": "x"})),
            400,
            "bad_json",
        ),
        (
            api.request(Method::POST, "/api/v1/connections/acme/connect")
                .json(&json!({"provider": "confluence", "scopes": []})),
            400,
            "bad_json",
        ),
        (
            api.request(Method::GET, "/api/v1/connect-attempts/att?wait=5m"),
            400,
            "bad_query",
        ),
        (
            api.request(Method::GET, "/api/v1/connect-attempts/att?wait=soon"),
            400,
            "bad_query",
        ),
        (
            api.request(Method::POST, "/api/v1/connect-attempts/att/site")
                .json(&json!({"index": "first"})),
            400,
            "bad_json",
        ),
        (
            api.request(Method::POST, "/api/v1/connect-attempts/att/site")
                .json(&json!({"index": -1})),
            400,
            "bad_json",
        ),
        (
            api.request(Method::POST, "/api/v1/oauth/callback")
                .json(&json!({"code": "c", "state": long})),
            400,
            "bad_callback",
        ),
        (
            api.client
                .get(format!("{}/api/v1/connections/acme", api.base)),
            401,
            "unauthorized",
        ),
        (
            api.client
                .post(format!("{}/api/v1/oauth/callback", api.base))
                .json(&json!({"code": "c", "state": "good"})),
            401,
            "unauthorized",
        ),
    ];
    for (request, status, code) in refused {
        let (got, body) = send(request).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert_eq!(body["error"]["status"], status, "{body}");
    }
    let page = api
        .client
        .get(format!("{}/oauth/callback?code=c&state={long}", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 400);
    assert!(page.text().await.unwrap().contains("longer than 4096"));
    assert_eq!(
        api.calls(),
        Vec::<String>::new(),
        "nothing reached the admin"
    );
}

#[tokio::test]
async fn a_fixed_list_manages_nothing() {
    let api = start(
        Arc::new(Vec::<ConnectionSummary>::new()),
        Arc::new(Recording::default()),
    )
    .await;
    let (status, body) = send(api.request(Method::GET, "/api/v1/connections/acme")).await;
    assert_eq!(status, 501, "{body}");
    assert_eq!(body["error"]["code"], "connections_read_only");
}

/// Review: the API's JSON error shape was also given to the browser's refusal page, which a
/// person reads: it showed `{"error": ...}` with `\n` escapes instead of the page.
#[tokio::test]
async fn a_refused_browser_callback_is_a_plain_text_page_not_the_json_shape() {
    let api = recording().await;
    let long = "s".repeat(5000);
    for query in ["code=c&state=stale".to_string(), format!("state={long}")] {
        let page = api
            .client
            .get(format!("{}/oauth/callback?{query}", api.base))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status().as_u16(), 400);
        let content_type = page.headers()[reqwest::header::CONTENT_TYPE].clone();
        assert_eq!(content_type, "text/plain; charset=utf-8");
        let text = page.text().await.unwrap();
        assert!(text.starts_with("weft: Not connected\n\n"), "{text}");
    }
}

/// Review: `site` was taken at any length (up to the body's 1 MiB), kept with the attempt and
/// echoed whole in its failure message.
#[tokio::test]
async fn a_connect_with_an_overlong_site_is_refused_and_begins_nothing() {
    let api = recording().await;
    let site = format!("https://{}.atlassian.net", "x".repeat(5000));
    let (status, body) = send(
        api.request(Method::POST, "/api/v1/connections/acme/connect")
            .json(&json!({"provider": "confluence", "site": site})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "bad_request", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.len() < 200, "{message}");
    assert_eq!(api.calls(), Vec::<String>::new(), "nothing began");
}
