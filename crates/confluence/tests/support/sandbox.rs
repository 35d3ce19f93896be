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
/// The ids the examples use for a footer comment, an attachment and a task of that page, and
/// the folder their local files are in; [`Site::seed_examples`] makes them.
pub const EXAMPLE_COMMENT_ID: &str = "65751";
pub const EXAMPLE_ATTACHMENT_ID: &str = "att65801";
pub const EXAMPLE_TASK_ID: &str = "65901";
pub const EXAMPLE_DIR: &str = "/tmp/weft-files";

pub struct Site {
    pub connection: SandboxConnection,
    pub engine: Engine,
    pub runtime: Runtime,
    /// The page the examples' `65601` stands for.
    pub page_id: String,
    /// The blog post the examples' `65701` stands for.
    pub blog_post_id: String,
    /// (id in the examples, id on this site), added by [`Site::seed_examples`].
    example_ids: Vec<(&'static str, String)>,
    pub dir: tempfile::TempDir,
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
            example_ids: Vec::new(),
            dir,
        }
    }

    /// Makes what the examples of the comment, attachment and task actions name: a footer
    /// comment on the page, a file of the example folder attached to it, and a page of space
    /// ENG with a task.
    pub async fn seed_examples(&mut self) {
        let page = self.page_id.clone();
        let comment = self
            .output(
                "confluence.add_comment",
                &serde_json::json!({"page_id": page, "body": "<p>Looks good.</p>"}).to_string(),
            )
            .await;
        self.example_ids.push((
            EXAMPLE_COMMENT_ID,
            comment["id"].as_str().expect("id").into(),
        ));
        self.example_ids
            .push((EXAMPLE_DIR, self.dir.path().display().to_string()));
        // The file the upload example sends; the attachment the other examples name is another.
        std::fs::write(
            self.dir.path().join("release-notes.txt"),
            "Shipped: search and filters.\n",
        )
        .expect("example file");
        let file = self.dir.path().join("handbook.txt");
        std::fs::write(&file, "How we work.\n").expect("example file");
        let attachment = self
            .output(
                "confluence.upload_attachment",
                &serde_json::json!({"page_id": page, "file": file}).to_string(),
            )
            .await;
        self.example_ids.push((
            EXAMPLE_ATTACHMENT_ID,
            attachment["id"].as_str().expect("id").into(),
        ));
        let task = self.add_task_page("Checklist", "Write the notes").await;
        self.example_ids.push((EXAMPLE_TASK_ID, task));
    }

    /// Adds a page to space ENG with one incomplete task; returns the task's id.
    pub async fn add_task_page(&self, title: &str, task: &str) -> String {
        let page = self
            .connection
            .sandbox
            .admin()
            .create_page(
                None,
                NewPage {
                    space_key: "ENG".into(),
                    title: title.into(),
                    body: format!("<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>incomplete</ac:task-status><ac:task-body>{task}</ac:task-body></ac:task></ac:task-list>"),
                    parent_id: None,
                    blogpost: false,
                },
            )
            .expect("page");
        let tasks = self
            .output(
                "confluence.list_tasks",
                &serde_json::json!({"page_id": page.to_string()}).to_string(),
            )
            .await;
        tasks["results"][0]["id"].as_str().expect("a task").into()
    }

    /// `inputs` with the examples' ids and folder replaced by this site's.
    pub fn example_input(&self, inputs: &str) -> String {
        let mut inputs = inputs
            .replace(EXAMPLE_PAGE_ID, &self.page_id)
            .replace(EXAMPLE_BLOG_POST_ID, &self.blog_post_id);
        for (example, real) in &self.example_ids {
            inputs = inputs.replace(example, real);
        }
        inputs
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
    /// `expected`, and none may reach Confluence. A number outside an input's declared range
    /// is given as `${{ N }}`: written literally, the checker refuses it before any run.
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

    /// Runs each `(action, inputs, expected part of the error)`, which must fail with it, and
    /// checks that none of them sent a write.
    pub async fn assert_refused(&self, cases: &[(&str, Value, &str)]) {
        self.connection.sandbox.admin().clear_requests();
        for (action, inputs, expected) in cases {
            let error = self.failure(action, &inputs.to_string()).await;
            assert!(error.contains(expected), "{action}: {error}");
        }
        assert!(
            self.writes_received().is_empty(),
            "{:?}",
            self.writes_received()
        );
    }

    /// The Confluence requests the sandbox received that were not reads (`POST /ex/...`).
    pub fn writes_received(&self) -> Vec<String> {
        self.connection
            .sandbox
            .admin()
            .requests()
            .into_iter()
            .filter(|r| r.path.starts_with("/ex/confluence/") && r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}
