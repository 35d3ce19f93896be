//! The example orchestrations of `workflows/`, each run against the sandbox's demo data with its
//! results checked, then again with a fifth of the Confluence calls failing (5xx, 429) and every
//! call slowed: the results are the same and nothing is duplicated.
//!
//! One table: [`RUNNABLE`] holds every example; each is run and checked against the sandbox,
//! also with failing and slow calls.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Value};
use weft_engine::exec::{Engine, RunOutcome, RunRequest};
use weft_engine::store::{NoStore, RunStatus};
use weft_engine::workflow::{self, LoadedWorkflow};
use weft_runtime::testing::SandboxConnection;
use weft_runtime::Runtime;
use weft_sandbox::{Fault, FaultRule, FaultWhen, NewPage, SandboxConfig, Seed};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Example {
    RecentChanges,
    TaskStatus,
    WeeklyDigest,
    InviteUsers,
    ArchiveAttachments,
    LabelNewPages,
}

/// Every example: run and checked by both tests.
const RUNNABLE: &[Example] = &[
    Example::RecentChanges,
    Example::TaskStatus,
    Example::WeeklyDigest,
    Example::InviteUsers,
    Example::ArchiveAttachments,
    Example::LabelNewPages,
];

impl Example {
    fn file(self) -> &'static str {
        match self {
            Example::RecentChanges => "confluence-recent-changes.yaml",
            Example::TaskStatus => "confluence-task-status.yaml",
            Example::WeeklyDigest => "confluence-weekly-digest.yaml",
            Example::InviteUsers => "confluence-invite-users.yaml",
            Example::ArchiveAttachments => "confluence-archive-attachments.yaml",
            Example::LabelNewPages => "confluence-label-new-pages.yaml",
        }
    }
}

fn workflows_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows")
}

/// The demo data, a connection `acme` to its site acme with the settings `weft demo` gives it.
struct Demo {
    connection: SandboxConnection,
    engine: Engine,
    dir: tempfile::TempDir,
}

impl Demo {
    async fn start() -> Demo {
        let runtime = Runtime::new().expect("catalogue");
        let dir = tempfile::tempdir().expect("temp dir");
        let scopes = runtime.action_scopes();
        let config = SandboxConfig {
            seed: Seed::Demo,
            ..SandboxConfig::default()
        };
        let connection = SandboxConnection::start(config, &scopes, dir.path()).await;
        let change = weft_auth::connection_config::ConfigChange {
            set: vec![("space".into(), "ENG".into()), ("days".into(), "25".into())],
            unset: vec![],
        };
        weft_auth::connection_config::update_config(
            connection.tokens.store().as_ref(),
            "acme",
            &change,
        )
        .await
        .expect("settings");
        let engine = runtime.engine(Arc::new(NoStore), connection.tokens.clone());
        Demo {
            connection,
            engine,
            dir,
        }
    }

    fn load(&self, file: &str) -> Result<LoadedWorkflow, workflow::FileProblems> {
        let path = workflows_dir().join(file);
        let text = std::fs::read(&path).expect("example file");
        workflow::load_bytes(&path, &text, self.engine.catalog())
    }

    async fn run(&self, example: Example, inputs: Value, trigger: Option<Value>) -> RunOutcome {
        let loaded = self
            .load(example.file())
            .unwrap_or_else(|problems| panic!("{}", problems.render()));
        let Value::Object(inputs) = inputs else {
            panic!("inputs are an object");
        };
        let outcome = self
            .engine
            .run(
                loaded.workflow,
                RunRequest {
                    inputs,
                    trigger,
                    ..RunRequest::default()
                },
            )
            .await;
        assert_eq!(
            outcome.status,
            RunStatus::Succeeded,
            "{example:?}: {:?}",
            outcome.error
        );
        outcome
    }

    /// GET a Confluence path through the connection (`confluence.http_request`).
    /// Attaches a file named `name` (a name Confluence's API accepts, slashes included) to
    /// the page of space ENG titled `title`.
    async fn attach_named(&self, title: &str, name: &str) {
        let pages = self
            .get("/wiki/api/v2/pages", json!({"title": title}))
            .await;
        let id = pages["results"][0]["id"]
            .as_str()
            .expect("page")
            .to_string();
        let sandbox = &self.connection.sandbox;
        let tokens = sandbox
            .admin()
            .issue_tokens_for_tests(&sandbox.app().client_id, &["write:confluence-file"], None)
            .expect("token");
        let cloudid = sandbox.admin().sites()[0].cloudid.clone();
        // A few tries: the fault run refuses some calls (503 and 429, which run nothing).
        let mut refusals = Vec::new();
        for _ in 0..10 {
            let part =
                reqwest::multipart::Part::bytes(b"escaped?".to_vec()).file_name(name.to_string());
            let answer = reqwest::Client::new()
                .post(format!(
                    "{}/ex/confluence/{cloudid}/wiki/rest/api/content/{id}/child/attachment",
                    sandbox.base_url()
                ))
                .bearer_auth(&tokens.access_token)
                .header("X-Atlassian-Token", "no-check")
                .multipart(reqwest::multipart::Form::new().part("file", part))
                .send()
                .await
                .expect("upload");
            if answer.status().is_success() {
                return;
            }
            refusals.push(answer.status());
        }
        panic!("the upload was refused: {refusals:?}");
    }

    async fn get(&self, path: &str, query: Value) -> Value {
        let yaml = format!(
            "name: get\nconnection: acme\nsteps:\n  - id: get\n    uses: confluence.http_request\n    with:\n      method: GET\n      path: \"{path}\"\n      query: {query}\noutputs:\n  body: ${{{{ steps.get.output.body }}}}\n"
        );
        let loaded = workflow::load_bytes(
            Path::new("get.yaml"),
            yaml.as_bytes(),
            self.engine.catalog(),
        )
        .unwrap_or_else(|problems| panic!("{}", problems.render()));
        let outcome = self
            .engine
            .run(loaded.workflow, RunRequest::default())
            .await;
        assert_eq!(
            outcome.status,
            RunStatus::Succeeded,
            "GET {path}: {:?}",
            outcome.error
        );
        outcome.outputs["body"].clone()
    }

    /// The current pages of space ENG with this title.
    async fn pages_titled(&self, title: &str) -> Vec<Value> {
        self.titled("pages", title).await
    }

    /// The current items of space ENG with this title in a v2 listing (`pages`, `blogposts`).
    async fn titled(&self, listing: &str, title: &str) -> Vec<Value> {
        let space = self
            .get("/wiki/api/v2/spaces", json!({"keys": "ENG"}))
            .await;
        let space_id = space["results"][0]["id"].as_str().expect("ENG").to_string();
        let found = self
            .get(
                &format!("/wiki/api/v2/{listing}"),
                json!({"space-id": space_id, "title": title, "body-format": "storage"}),
            )
            .await;
        found["results"].as_array().cloned().unwrap_or_default()
    }

    /// Runs the example `runs` times (at least twice) and checks its results: what it writes is
    /// written once, then kept up to date.
    async fn check(&self, example: Example, runs: usize) {
        match example {
            Example::RecentChanges => {
                // Links go to the site's pages, under /wiki (a search result's `url` is
                // relative to it).
                let wants = &[
                    "Release 1.1",
                    "Team tasks",
                    "Release notes",
                    "Release 1.0",
                    r#"href="/wiki/spaces/ENG/pages/"#,
                ];
                self.check_page_kept(
                    example,
                    runs,
                    "Recently updated",
                    wants,
                    &["Architecture", "On-call"],
                )
                .await
            }
            Example::TaskStatus => {
                self.check_page_kept(
                    example,
                    runs,
                    "Task status",
                    &["1 completed tasks", "Rotate the staging credentials"],
                    &["Review the deploy runbook"],
                )
                .await
            }
            Example::WeeklyDigest => {
                let outcome = self.run(example, json!({}), None).await;
                let id = outcome.outputs["pages"][0]["id"]
                    .as_str()
                    .expect("post id")
                    .to_string();
                let post = self
                    .get(
                        &format!("/wiki/api/v2/blogposts/{id}"),
                        json!({"body-format": "storage"}),
                    )
                    .await;
                let title = post["title"].as_str().unwrap_or_default();
                assert!(title.starts_with("Weekly digest"), "{post}");
                assert_eq!(
                    self.titled("blogposts", title).await.len(),
                    1,
                    "one {title}"
                );
                let body = post["body"]["storage"]["value"]
                    .as_str()
                    .unwrap_or_default();
                assert!(
                    body.contains("Release 1.1") && body.contains("Postmortem: cache outage"),
                    "{body}"
                );
                assert!(body.contains(r#"href="/wiki/spaces/ENG/"#), "{body}");
                assert!(!body.contains(r#"href="/spaces/"#), "{body}");
            }
            Example::InviteUsers => {
                let emails = json!({"emails": ["ada@example.com", "contractor@example.com"]});
                let outcome = self.run(example, emails, None).await;
                assert_eq!(
                    outcome.outputs["invited"],
                    json!(["contractor@example.com"])
                );
                assert_eq!(outcome.outputs["already"], json!(["ada@example.com"]));
            }
            Example::ArchiveAttachments => {
                let folder = self.dir.path().join("archive");
                std::fs::create_dir_all(&folder).expect("folder");
                let inputs = json!({"space": "ENG", "title": "Deploy", "folder": folder.display().to_string()});
                self.attach_named("Deploy", "../escape.txt").await;
                for _ in 0..runs {
                    self.run(example, inputs.clone(), None).await;
                }
                let file = std::fs::read(folder.join("deploy.sh")).expect("downloaded");
                assert_eq!(file, b"#!/bin/sh\nmake deploy\n");
                // A file name is the attachment's title with its slashes made `_`: whoever
                // names an attachment cannot make the example write outside the folder.
                assert_eq!(
                    std::fs::read(folder.join(".._escape.txt")).expect("downloaded"),
                    b"escaped?"
                );
                assert!(!self.dir.path().join("escape.txt").exists());
                assert_eq!(std::fs::read_dir(&folder).expect("folder").count(), 2);
            }
            Example::LabelNewPages => {
                let admin = self.connection.sandbox.admin();
                let id = admin
                    .create_page(
                        None,
                        NewPage {
                            space_key: "ENG".into(),
                            title: "Brand new page".into(),
                            body: "<p>New.</p>".into(),
                            parent_id: None,
                            blogpost: false,
                        },
                    )
                    .expect("page")
                    .to_string();
                let event = json!({"kind": "page_created", "id": id, "version": 1, "title": "Brand new page", "space": {"key": "ENG"}, "content": {"id": id, "title": "Brand new page"}});
                for _ in 0..runs {
                    self.run(example, json!({}), Some(event.clone())).await;
                }
                let labels = self
                    .get(&format!("/wiki/api/v2/pages/{id}/labels"), json!({}))
                    .await;
                let names: Vec<&str> = labels["results"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l["name"].as_str())
                    .collect();
                assert_eq!(names, ["needs-review"]);
                let comments = self
                    .get(
                        &format!("/wiki/api/v2/pages/{id}/footer-comments"),
                        json!({}),
                    )
                    .await;
                assert_eq!(
                    comments["results"].as_array().map(Vec::len),
                    Some(runs),
                    "one comment per run: {comments}"
                );
            }
        }
    }

    /// Runs an example that writes one page: created by the first run, updated by the others.
    async fn check_page_kept(
        &self,
        example: Example,
        runs: usize,
        title: &str,
        has: &[&str],
        lacks: &[&str],
    ) {
        let first = self.run(example, json!({}), None).await;
        let created = &first.outputs["pages"][0];
        assert_eq!(created["did"], "created", "{first:?}");
        assert_eq!(created["title"], title);
        for _ in 1..runs {
            let again = self.run(example, json!({}), None).await;
            let updated = &again.outputs["pages"][0];
            assert_eq!(updated["did"], "updated", "{again:?}");
            assert_eq!(updated["id"], created["id"]);
        }
        let pages = self.pages_titled(title).await;
        assert_eq!(pages.len(), 1, "one page titled {title}: {pages:?}");
        assert_eq!(pages[0]["version"]["number"], runs);
        let body = pages[0]["body"]["storage"]["value"]
            .as_str()
            .unwrap_or_default();
        for text in has {
            assert!(body.contains(text), "{title} lacks {text}: {body}");
        }
        for text in lacks {
            assert!(!body.contains(text), "{title} has {text}: {body}");
        }
    }
}

#[tokio::test]
async fn runnable_examples_finish_with_their_results() {
    let demo = Demo::start().await;
    for example in RUNNABLE {
        demo.check(*example, 2).await;
    }
    demo.connection.sandbox.shutdown().await;
}

/// One Confluence call in five fails (503, or 429 without Retry-After), the others are slowed;
/// a fixed pattern rather than chance, so the test cannot pass by luck.
#[tokio::test]
async fn runnable_examples_survive_failing_and_slow_calls_without_duplicates() {
    let demo = Demo::start().await;
    let admin = demo.connection.sandbox.admin();
    let api = "/ex/confluence/*";
    let mut one_in_five = vec![None; 10];
    one_in_five[0] = Some(Fault::Status { status: 503 });
    one_in_five[5] = Some(Fault::RateLimited {
        retry_after_secs: None,
    });
    let failing = FaultRule {
        method: None,
        path: api.into(),
        trigger: FaultWhen::Sequence {
            steps: one_in_five,
            repeat: true,
        },
    };
    for rule in [failing, FaultRule::always(api, Fault::Latency { ms: 5 })] {
        admin.set_fault(rule).expect("fault rule");
    }
    for example in RUNNABLE {
        demo.check(*example, 5).await;
    }
    let log = admin.requests();
    let api_calls = log
        .iter()
        .filter(|r| r.path.starts_with("/ex/confluence/"))
        .count();
    let failed = log
        .iter()
        .filter(|r| r.status == 503 || r.status == 429)
        .count();
    assert!(api_calls >= 25, "{api_calls} calls");
    assert_eq!(failed, api_calls.div_ceil(5), "one call in five failed");
    demo.connection.sandbox.shutdown().await;
}
