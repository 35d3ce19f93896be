//! Connection settings (`connection_config:`) and `--live-reads` dry runs, through the runtime
//! with connector actions registered by a test (`Runtime::extended`), a token provider that
//! serves one connection, and a local server that records what reaches it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{json, Value};
use weft_engine::exec::{Mode, RunOutcome, RunRequest};
use weft_engine::store::{NoStore, RunStatus};
use weft_engine::workflow;
use weft_runtime::action::{
    AccessToken, ActionContext, ActionError, ActionInfo, ConnectionInfo, ErrorKind, TokenError,
    TokenProvider, TypedAction,
};
use weft_runtime::Runtime;

/// The connection `acme` with these settings, its API on the local server.
struct OneConnection {
    api_base: String,
    config: BTreeMap<String, String>,
}

#[async_trait]
impl TokenProvider for OneConnection {
    async fn connection_info(&self, connection: &str) -> Result<ConnectionInfo, TokenError> {
        if connection != "acme" {
            return Err(TokenError::Failed {
                connection: connection.into(),
                transient: false,
                source: format!("no connection named `{connection}`").into(),
            });
        }
        Ok(ConnectionInfo {
            name: "acme".into(),
            provider: "confluence".into(),
            cloud_id: "cloud-acme".into(),
            site_url: "https://acme.atlassian.net".into(),
            api_base: self.api_base.clone(),
            granted_scopes: vec!["read:item".into(), "write:item".into()],
            config: self.config.clone(),
        })
    }

    async fn access_token(&self, _: &str) -> Result<AccessToken, TokenError> {
        Ok(AccessToken::new("tok-acme"))
    }

    async fn refresh_rejected(
        &self,
        connection: &str,
        _: &AccessToken,
    ) -> Result<AccessToken, TokenError> {
        self.access_token(connection).await
    }
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct ItemInput {
    /// The item's id.
    id: String,
    /// A new title (writes only).
    #[serde(default)]
    title: Option<String>,
}

/// `GET {api}/items/{id}` through the connection: a connector's read.
struct GetItem;

#[async_trait]
impl TypedAction for GetItem {
    type Input = ItemInput;

    const INFO: ActionInfo = ActionInfo {
        name: "test.get_item",
        description: "Reads an item.",
        output_description: "The item.",
        output_example: r#"{"id": "1", "title": "Example title"}"#,
        writes: false,
        scopes: &["read:item"],
    };

    async fn run(&self, input: ItemInput, ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        item_request(ctx, reqwest::Method::GET, &input).await
    }
}

/// `POST {api}/items/{id}`: a connector's write.
struct RenameItem;

#[async_trait]
impl TypedAction for RenameItem {
    type Input = ItemInput;

    const INFO: ActionInfo = ActionInfo {
        name: "test.rename_item",
        description: "Renames an item.",
        output_description: "The item.",
        output_example: r#"{"id": "1", "title": "Example title"}"#,
        writes: true,
        scopes: &["write:item"],
    };

    async fn run(&self, input: ItemInput, ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        item_request(ctx, reqwest::Method::POST, &input).await
    }
}

/// `METHOD {api}/items/{id}` with the connection's token (and the title as the body of a write).
async fn item_request(
    ctx: &ActionContext<'_>,
    method: reqwest::Method,
    input: &ItemInput,
) -> Result<Value, ActionError> {
    let api = ctx.connection_info().await?.api_base;
    let token = ctx.access_token().await?;
    let mut request = ctx
        .http()
        .request(method.clone(), format!("{api}/items/{}", input.id))
        .bearer_auth(token.expose());
    if method != reqwest::Method::GET {
        request = request.json(&json!({ "title": input.title }));
    }
    let answer = request
        .send()
        .await
        .map_err(|e| ActionError::new(ErrorKind::Network, e.to_string()))?;
    answer
        .json()
        .await
        .map_err(|e| ActionError::failed(e.to_string()))
}

/// A local server: `GET /items/{id}` answers a real item; every request is recorded.
struct Server {
    base: String,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    async fn start() -> Server {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let log = log.clone();
            async move {
                let line = format!("{} {}", request.method(), request.uri().path());
                log.lock().unwrap().push(line);
                let id = request
                    .uri()
                    .path()
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_string();
                axum::Json(json!({ "id": id, "title": "Real title" }))
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Server {
            base,
            seen,
            stop: Some(stop),
        }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn runtime() -> Runtime {
    Runtime::extended(|registry, _| {
        registry.add(GetItem)?;
        registry.add(RenameItem)
    })
    .expect("catalogue")
}

async fn run(
    runtime: &Runtime,
    tokens: Option<Arc<dyn TokenProvider>>,
    yaml: &str,
    mode: Mode,
) -> RunOutcome {
    let engine = match tokens {
        Some(tokens) => runtime.engine(Arc::new(NoStore), tokens),
        None => runtime.checking_engine(),
    };
    let loaded = workflow::load_bytes(Path::new("flow.yaml"), yaml.as_bytes(), engine.catalog())
        .unwrap_or_else(|problems| panic!("{}", problems.render()));
    engine
        .run(
            loaded.workflow,
            RunRequest {
                mode,
                ..RunRequest::default()
            },
        )
        .await
}

fn connection(server: &Server, pairs: &[(&str, &str)]) -> Arc<dyn TokenProvider> {
    Arc::new(OneConnection {
        api_base: server.base.clone(),
        config: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    })
}

fn dry(live_reads: bool) -> Mode {
    Mode::DryRun {
        mocks: Default::default(),
        live_reads,
    }
}

const SETTINGS: &str = r#"name: settings
connection: acme
connection_config:
  space: {type: string, description: the space to post to}
  limit: {type: integer, default: 10}
vars:
  where: "${{ connection.config.space }}/${{ connection.name }}"
steps:
  - id: read
    uses: test.get_item
    with:
      id: "item-${{ connection.config.limit }}"
outputs:
  where: ${{ vars.where }}
  next: ${{ connection.config.limit + 1 }}
  title: ${{ steps.read.output.title }}
"#;

#[tokio::test]
async fn settings_are_converted_to_their_types_and_read_by_expressions() {
    let server = Server::start().await;
    let tokens = connection(&server, &[("space", "ENG"), ("limit", "7")]);
    let outcome = run(&runtime(), Some(tokens), SETTINGS, Mode::Live).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(
        outcome.outputs,
        json!({"where": "ENG/acme", "next": 8, "title": "Real title"})
    );
    assert_eq!(server.seen(), ["GET /items/item-7"]);
}

#[tokio::test]
async fn a_run_missing_a_required_setting_fails_before_its_first_step() {
    let server = Server::start().await;
    let outcome = run(
        &runtime(),
        Some(connection(&server, &[("limit", "7")])),
        SETTINGS,
        Mode::Live,
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.error.as_deref(),
        Some("connection `acme` lacks the setting `space` (string: the space to post to) that this workflow reads; set it with `weft connections set acme --config space=VALUE`")
    );
    let malformed = run(
        &runtime(),
        Some(connection(&server, &[("space", "ENG"), ("limit", "abc")])),
        SETTINGS,
        Mode::Live,
    )
    .await;
    assert_eq!(malformed.status, RunStatus::Failed);
    let error = malformed.error.unwrap_or_default();
    assert!(
        error.contains("setting `limit` is `abc`, which is not an integer")
            && error.contains("weft connections set acme --config limit=VALUE"),
        "{error}"
    );
    let elsewhere = run(
        &runtime(),
        Some(connection(&server, &[])),
        &SETTINGS.replace("connection: acme", "connection: globex"),
        Mode::Live,
    )
    .await;
    let error = elsewhere.error.unwrap_or_default();
    assert!(
        error == "cannot read the settings of connection `globex`: no connection named `globex`",
        "{error}"
    );
    assert!(server.seen().is_empty(), "no step ran: {:?}", server.seen());
}

#[tokio::test]
async fn a_dry_run_uses_defaults_and_shows_what_is_not_set() {
    let outcome = run(&runtime(), None, SETTINGS, dry(false)).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(outcome.outputs["where"], "<not set>/acme");
    assert_eq!(outcome.outputs["next"], 11, "the default");
    let report = outcome.dry_run.expect("a report");
    assert_eq!(report.steps[0].input, json!({"id": "item-10"}));
    assert_eq!(report.steps[0].output_from, "example");
}

const READ_THEN_WRITE: &str = r#"name: live
connection: acme
steps:
  - id: read
    uses: test.get_item
    with: {id: "42"}
  - id: rename
    uses: test.rename_item
    with:
      id: "42"
      title: "${{ steps.read.output.title }} (archived)"
  - id: plain_get
    uses: http.request
    with:
      url: "${{ steps.read.output.id }}"
"#;

#[tokio::test]
async fn live_reads_send_connector_reads_and_never_a_write() {
    let server = Server::start().await;
    let yaml = READ_THEN_WRITE.replace(
        "url: \"${{ steps.read.output.id }}\"",
        &format!(
            "url: \"{}/plain/${{{{ steps.read.output.id }}}}\"",
            server.base
        ),
    );
    let tokens = connection(&server, &[]);
    let outcome = run(&runtime(), Some(tokens.clone()), &yaml, dry(true)).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(
        server.seen(),
        ["GET /items/42"],
        "only the connector's read reaches the server"
    );
    let steps = outcome.dry_run.expect("a report").steps;
    let from: Vec<(&str, &str, bool)> = steps
        .iter()
        .map(|s| (s.step.as_str(), s.output_from, s.writes))
        .collect();
    assert_eq!(
        from,
        [
            ("read", "live", false),
            ("rename", "example", true),
            ("plain_get", "example", false)
        ]
    );
    assert_eq!(
        steps[1].input["title"], "Real title (archived)",
        "the write renders with the real data"
    );
    assert_eq!(steps[2].input["url"], format!("{}/plain/42", server.base));

    // Without --live-reads nothing is sent, even with connections at hand.
    let quiet = run(&runtime(), Some(tokens), &yaml, dry(false)).await;
    assert_eq!(quiet.status, RunStatus::Succeeded, "{:?}", quiet.error);
    assert_eq!(server.seen(), ["GET /items/42"], "nothing more was sent");
    let steps = quiet.dry_run.expect("a report").steps;
    assert_eq!(steps[0].output_from, "example");
    assert_eq!(steps[1].input["title"], "Example title (archived)");
}

#[tokio::test]
async fn a_live_read_that_fails_stops_the_dry_run_with_its_error() {
    let outcome = run(&runtime(), None, READ_THEN_WRITE, dry(true)).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap_or_default();
    assert!(
        error.contains("step `read` failed")
            && error.contains("connections are not available here"),
        "{error}"
    );
}

/// With the real Confluence actions and the sandbox: the page a workflow finds through the
/// space its connection names is read live, and the update built from it is shown, not sent.
#[tokio::test]
async fn live_reads_find_the_real_page_and_leave_the_update_unsent() {
    use weft_auth::connection_config::{update_config, ConfigChange};
    use weft_runtime::testing::SandboxConnection;
    use weft_sandbox::{NewPage, SandboxConfig};

    let runtime = Runtime::new().expect("catalogue");
    let mut scopes: Vec<&str> = ["confluence.find_page", "confluence.update_page"]
        .iter()
        .flat_map(|name| {
            runtime
                .registry()
                .get(name)
                .expect("registered")
                .spec()
                .scopes
        })
        .copied()
        .collect();
    scopes.sort_unstable();
    scopes.dedup();
    let dir = tempfile::tempdir().expect("temp dir");
    let site = SandboxConnection::start(SandboxConfig::default(), &scopes, dir.path()).await;
    let admin = site.sandbox.admin();
    admin
        .create_space(None, "ENG", "Engineering")
        .expect("space");
    let page_id = admin
        .create_page(
            None,
            NewPage {
                space_key: "ENG".into(),
                title: "Release notes".into(),
                body: "<p>Shipped.</p>".into(),
                parent_id: None,
                blogpost: false,
            },
        )
        .expect("page")
        .to_string();
    let change = ConfigChange {
        set: vec![("space".into(), "ENG".into())],
        unset: vec![],
    };
    update_config(site.tokens.store().as_ref(), "acme", &change)
        .await
        .expect("settings stored");
    admin.clear_requests();
    let yaml = r#"name: touch-release-notes
connection: acme
connection_config:
  space: {type: string}
steps:
  - id: find
    uses: confluence.find_page
    with:
      space: "${{ connection.config.space }}"
      title: Release notes
  - id: update
    uses: confluence.update_page
    with:
      page_id: "${{ steps.find.output.page.id }}"
      body: "<p>${{ steps.find.output.page.title }}: reviewed.</p>"
"#;
    let outcome = run(&runtime, Some(site.tokens.clone()), yaml, dry(true)).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    let steps = outcome.dry_run.expect("a report").steps;
    assert_eq!(steps[0].output_from, "live");
    assert_eq!(steps[1].output_from, "example");
    assert_eq!(steps[1].input["page_id"], json!(page_id), "the real page");
    assert_eq!(steps[1].input["body"], "<p>Release notes: reviewed.</p>");
    let calls: Vec<String> = admin
        .requests()
        .iter()
        .filter(|r| r.path.contains("/wiki/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(!calls.is_empty(), "the find was sent");
    assert!(
        calls.iter().all(|call| call.starts_with("GET ")),
        "only reads were sent: {calls:?}"
    );
    site.sandbox.shutdown().await;
}
