//! A connector's action defined outside the engine crates, through the plug-in API alone
//! (`weft_runtime::action`), registered through the runtime and run in a workflow whose
//! connection gets its token from the sandbox's OAuth server.

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};
use weft_engine::exec::RunRequest;
use weft_engine::store::{NoStore, RunStatus};
use weft_engine::workflow;
use weft_runtime::action::{
    ActionContext, ActionError, ActionInfo, ErrorKind, RegistryError, TypedAction,
};
use weft_runtime::testing::SandboxConnection;
use weft_runtime::Runtime;
use weft_sandbox::SandboxConfig;

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

#[tokio::test]
async fn an_action_from_outside_the_engine_runs_with_a_connection_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let SandboxConnection {
        sandbox,
        tokens,
        api_base: site_api,
        ..
    } = SandboxConnection::start(
        SandboxConfig::default(),
        &["read:me", "read:confluence-user"],
        dir.path(),
    )
    .await;
    let runtime = Runtime::extended(|registry, _| registry.add(CurrentUser)).expect("catalogue");
    let spec = runtime
        .registry()
        .get("example.current_user")
        .expect("registered")
        .spec();
    assert_eq!(spec.inputs[0].name, "site_api");
    assert!(spec.inputs[0].required);

    let engine = runtime.engine(Arc::new(NoStore), tokens);
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
