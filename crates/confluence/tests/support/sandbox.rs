//! A sandbox in realistic mode with space `ENG`, one page in it, and a connection `acme` with every scope the
//! Confluence actions declare; steps run through `weft_runtime::Runtime::new()`.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use weft_engine::exec::{Engine, RunOutcome, RunRequest};
use weft_engine::store::NoStore;
use weft_engine::workflow;
use weft_runtime::testing::SandboxConnection;
use weft_runtime::Runtime;
use weft_sandbox::{NewPage, SandboxConfig};

/// The id the actions' examples use for "a page of space ENG" (see `ConfluenceAction::EXAMPLE`).
pub const EXAMPLE_PAGE_ID: &str = "65601";
/// The id the examples use for "a blog post of space ENG".
pub const EXAMPLE_BLOG_POST_ID: &str = "65701";

pub struct Site {
    pub connection: SandboxConnection,
    pub engine: Engine,
    pub runtime: Runtime,
    /// The page the examples' `65601` stands for.
    pub page_id: String,
    /// The blog post the examples' `65701` stands for.
    pub blog_post_id: String,
    _dir: tempfile::TempDir,
}

/// Every scope a `confluence.*` action declares.
pub fn all_action_scopes(runtime: &Runtime) -> Vec<&'static str> {
    let mut scopes: Vec<&'static str> = runtime
        .registry()
        .iter()
        .filter(|action| action.spec().name.starts_with("confluence."))
        .flat_map(|action| action.spec().scopes.iter().copied())
        .collect();
    scopes.sort_unstable();
    scopes.dedup();
    scopes
}

/// The sandbox as untidy as Confluence Cloud (short pages mid-walk, 429s without `Retry-After`,
/// string error statuses), with a fixed seed so a failure replays.
fn realistic() -> SandboxConfig {
    SandboxConfig {
        realistic: true,
        realistic_seed: 9,
        ..SandboxConfig::default()
    }
}

impl Site {
    /// A site whose connection was granted `scopes` (every action's when `None`).
    pub async fn start(scopes: Option<&[&str]>) -> Site {
        let runtime = Runtime::new().expect("catalogue");
        let dir = tempfile::tempdir().expect("temp dir");
        let all = all_action_scopes(&runtime);
        let scopes = scopes.unwrap_or(&all);
        let connection = SandboxConnection::start(realistic(), scopes, dir.path()).await;
        let admin = connection.sandbox.admin();
        admin
            .create_space(None, "ENG", "Engineering")
            .expect("space ENG");
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
        let blog_post_id = admin
            .create_page(
                None,
                NewPage {
                    space_key: "ENG".into(),
                    title: "Shipping week".into(),
                    body: "<p>Search shipped.</p>".into(),
                    parent_id: None,
                    blogpost: true,
                },
            )
            .expect("blog post")
            .to_string();
        let engine = runtime.engine(Arc::new(NoStore), connection.tokens.clone());
        Site {
            connection,
            engine,
            runtime,
            page_id,
            blog_post_id,
            _dir: dir,
        }
    }

    /// `inputs` with the examples' ids replaced by the real ones.
    pub fn example_input(&self, inputs: &str) -> String {
        inputs
            .replace(EXAMPLE_PAGE_ID, &self.page_id)
            .replace(EXAMPLE_BLOG_POST_ID, &self.blog_post_id)
    }

    /// Runs one step `uses: action` `with: inputs` (a JSON object) on connection `acme`; the
    /// examples' ids are replaced by the real ones.
    pub async fn run_step(&self, action: &str, inputs: &str) -> RunOutcome {
        self.run_step_in(action, inputs, Default::default()).await
    }

    pub async fn run_step_in(&self, action: &str, inputs: &str, request: RunRequest) -> RunOutcome {
        let inputs = self.example_input(inputs);
        let yaml = format!(
            "name: step\nconnection: acme\nsteps:\n  - id: s\n    uses: {action}\n    with: {inputs}\noutputs:\n  result: ${{{{ steps.s.output }}}}\n"
        );
        self.run_yaml(&yaml, request).await
    }

    /// Runs a workflow (its connection must be `acme`).
    pub async fn run_yaml(&self, yaml: &str, request: RunRequest) -> RunOutcome {
        let loaded = workflow::load_bytes(
            Path::new("workflow.yaml"),
            yaml.as_bytes(),
            self.engine.catalog(),
        )
        .unwrap_or_else(|problems| panic!("{}", problems.render()));
        self.engine.run(loaded.workflow, request).await
    }

    /// The Confluence calls the sandbox received since its request log was last cleared, as
    /// `METHOD path`.
    pub fn confluence_calls(&self) -> Vec<String> {
        self.connection
            .sandbox
            .admin()
            .requests()
            .into_iter()
            .filter(|r| r.path.starts_with("/ex/confluence/"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// Runs each `(action, inputs, expected)` step: each must fail with an error containing
    /// `expected`, and none may reach Confluence.
    pub async fn assert_refused_before_sending(&self, cases: &[(&str, &str, &str)]) {
        self.connection.sandbox.admin().clear_requests();
        for (action, inputs, expected) in cases {
            let error = self.failure(action, inputs).await;
            assert!(error.contains(expected), "{action} {inputs}: {error}");
        }
        assert!(
            self.confluence_calls().is_empty(),
            "{:?}",
            self.confluence_calls()
        );
    }

    /// The output of a step that must succeed.
    pub async fn output(&self, action: &str, inputs: &str) -> Value {
        let outcome = self.run_step(action, inputs).await;
        assert_eq!(
            outcome.status,
            weft_engine::store::RunStatus::Succeeded,
            "{action} {inputs}: {:?}",
            outcome.error
        );
        outcome.outputs["result"].clone()
    }

    /// The error of a step that must fail.
    pub async fn failure(&self, action: &str, inputs: &str) -> String {
        let outcome = self.run_step(action, inputs).await;
        assert_eq!(
            outcome.status,
            weft_engine::store::RunStatus::Failed,
            "{action} {inputs} should fail"
        );
        outcome.error.unwrap_or_default()
    }
}
