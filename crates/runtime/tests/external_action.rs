//! A connector's action defined outside the engine crates, through the plug-in API alone
//! (`weft_runtime::action`), registered through the runtime and run in a workflow whose
//! connection gets its token from the sandbox's OAuth server.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use weft_auth::app_config::{AppConfig, Credentials, SecretSource};
use weft_auth::connect::{CallbackServer, ConnectFlow, NoChoice};
use weft_auth::{Keyring, SledConnectionStore, SystemClock};
use weft_engine::exec::RunRequest;
use weft_engine::store::{NoStore, RunStatus};
use weft_engine::workflow;
use weft_runtime::action::{
    ActionContext, ActionError, ActionInfo, ErrorKind, RegistryError, TypedAction,
};
use weft_runtime::Runtime;
use weft_sandbox::{RegisteredApp, Sandbox, SandboxConfig};

/// `GET /wiki/rest/api/user/current` on the connection's site, with its bearer token.
struct CurrentUser;

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct CurrentUserInput {
    /// The site's API base: `<gateway>/ex/confluence/<cloud id>`.
    site_api: String,
}

#[async_trait::async_trait]
impl TypedAction for CurrentUser {
    type Input = CurrentUserInput;

    const INFO: ActionInfo = ActionInfo {
        name: "example.current_user",
        description: "The Confluence user the connection acts as.",
        output_description: "`account_id` and the call's `idempotency_key`.",
        output_example: r#"{"account_id": "5b10a2844c20165700ede21g", "idempotency_key": "run/me/1"}"#,
        writes: false,
        scopes: &["read:confluence-user"],
    };

    async fn run(
        &self,
        input: CurrentUserInput,
        ctx: &ActionContext<'_>,
    ) -> Result<Value, ActionError> {
        let token = ctx.access_token().await?;
        let url = format!("{}/wiki/rest/api/user/current", input.site_api);
        let answer = ctx
            .http()
            .get(&url)
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(|e| ActionError::new(ErrorKind::Network, e.to_string()))?;
        let status = answer.status().as_u16();
        if status != 200 {
            return Err(ActionError::new(
                ErrorKind::Http { status },
                format!("GET {url} answered {status}"),
            ));
        }
        let user: Value = answer
            .json()
            .await
            .map_err(|e| ActionError::failed(e.to_string()))?;
        Ok(json!({
            "account_id": user["accountId"],
            "idempotency_key": ctx.idempotency_key(),
        }))
    }
}

const CLIENT_ID: &str = "external-action-test";
const CLIENT_SECRET: &str = "external-action-secret-93c1";

/// A sandbox with an app, and a connection `acme` made through the real consent flow.
async fn sandbox_connection(data_dir: &Path) -> (Sandbox, Arc<weft_auth::TokenManager>, String) {
    let sandbox = Sandbox::start(SandboxConfig {
        auto_approve: true,
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind callback");
    let callback_url = format!(
        "http://127.0.0.1:{}/callback",
        listener.local_addr().expect("callback address").port()
    );
    let scopes = ["read:me", "read:confluence-user"];
    sandbox
        .admin()
        .register_app(RegisteredApp {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            name: "external action test".into(),
            callback_urls: vec![callback_url.clone()],
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        })
        .expect("register app");
    let secret_file = data_dir.join("client-secret");
    std::fs::write(&secret_file, CLIENT_SECRET).expect("write secret");
    let mut config = AppConfig::new("confluence").expect("app config");
    config.credentials = Credentials::Own {
        client_id: CLIENT_ID.into(),
        client_secret: SecretSource::File { path: secret_file },
    };
    config.set_base_url(&sandbox.base_url()).expect("base url");
    config
        .set_callback_url(&callback_url)
        .expect("callback url");
    for scope in scopes {
        config.scopes.add(scope).expect("scope");
    }
    let app = config.resolve(&|_| None, None).expect("resolve app");
    let store = Arc::new(
        SledConnectionStore::open(
            &data_dir.join("data"),
            Keyring::from_key_bytes([3; 32], &[]),
        )
        .expect("open connection store"),
    );
    let http = reqwest::Client::new();
    let flow = Arc::new(ConnectFlow::new(
        app.clone(),
        store.clone(),
        Arc::new(SystemClock),
        http.clone(),
    ));
    let callback = CallbackServer::start(listener, flow.clone()).expect("callback server");
    let pending = flow.begin("acme", None).expect("begin consent");
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("browser");
    let consent = browser
        .get(pending.authorize_url.clone())
        .send()
        .await
        .expect("authorize");
    let location = consent.headers()["location"]
        .to_str()
        .expect("redirect")
        .to_string();
    // The callback page answers only once the grant is completed: the browser and the
    // completion run together.
    let completed = async {
        let grant = pending
            .wait(Duration::from_secs(10), &app.callback_url)
            .await
            .expect("grant");
        flow.complete(grant, &NoChoice).await.expect("connected")
    };
    let (page, connection) = tokio::join!(browser.get(&location).send(), completed);
    assert_eq!(page.expect("callback").status(), 200);
    callback.shutdown().await;
    let manager = Arc::new(weft_auth::setup::token_manager(store, &app, http));
    let site_api = format!(
        "{}/ex/confluence/{}",
        sandbox.base_url().trim_end_matches('/'),
        connection.cloud_id
    );
    (sandbox, manager, site_api)
}

#[tokio::test]
async fn an_action_from_outside_the_engine_runs_with_a_connection_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (sandbox, manager, site_api) = sandbox_connection(dir.path()).await;
    let runtime = Runtime::extended(|registry, _| registry.add(CurrentUser)).expect("catalogue");
    let spec = runtime
        .registry()
        .get("example.current_user")
        .expect("registered")
        .spec();
    assert_eq!(spec.inputs[0].name, "site_api");
    assert!(spec.inputs[0].required);

    let engine = runtime.engine(Arc::new(NoStore), manager);
    let yaml = format!(
        "name: external\nconnection: acme\nsteps:\n  - id: me\n    uses: example.current_user\n    with:\n      site_api: {site_api}\noutputs:\n  account: ${{{{ steps.me.output.account_id }}}}\n  key: ${{{{ steps.me.output.idempotency_key }}}}\n"
    );
    let loaded = workflow::load_bytes(
        Path::new("external.yaml"),
        yaml.as_bytes(),
        engine.catalog(),
    )
    .unwrap_or_else(|problems| panic!("{}", problems.render()));
    let outcome = engine.run(loaded.workflow, RunRequest::default()).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(
        outcome.outputs["account"],
        json!(sandbox.admin().sandbox_account_id())
    );
    assert_eq!(
        outcome.outputs["key"],
        json!(format!("{}/me/1", outcome.run_id))
    );
    let bearer_calls = sandbox
        .admin()
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/wiki/rest/api/user/current"))
        .count();
    assert_eq!(bearer_calls, 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn without_a_connection_the_action_fails_instead_of_calling_out() {
    let runtime = Runtime::extended(|registry, _| registry.add(CurrentUser)).expect("catalogue");
    let engine = runtime.checking_engine();
    let yaml = "name: no-tokens\nconnection: acme\nsteps:\n  - id: me\n    uses: example.current_user\n    with:\n      site_api: http://127.0.0.1:9\n";
    let loaded = workflow::load_bytes(Path::new("n.yaml"), yaml.as_bytes(), engine.catalog())
        .unwrap_or_else(|problems| panic!("{}", problems.render()));
    let outcome = engine.run(loaded.workflow, RunRequest::default()).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap_or_default();
    assert!(
        error.contains("connections are not available here"),
        "{error}"
    );
}

#[test]
fn registering_an_action_name_twice_is_an_error() {
    let twice = Runtime::extended(|registry, _| {
        registry.add(CurrentUser)?;
        registry.add(CurrentUser)
    });
    assert_eq!(
        twice.err(),
        Some(RegistryError::Duplicate {
            kind: "action",
            name: "example.current_user".into()
        })
    );
    let shadowing_a_builtin =
        Runtime::extended(|registry, _| registry.register(runtime_action("http.request")));
    assert!(matches!(
        shadowing_a_builtin.err(),
        Some(RegistryError::Duplicate { name, .. }) if name == "http.request"
    ));
}

/// A built-in's own object, registered a second time as a connector might by mistake.
fn runtime_action(name: &str) -> Arc<dyn weft_runtime::action::Action> {
    Runtime::new()
        .expect("catalogue")
        .registry()
        .get(name)
        .expect("built-in")
        .clone()
}
