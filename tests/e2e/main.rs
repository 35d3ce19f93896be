//! End-to-end tests of the `weft` binary: exit codes, output, and what reaches the network.

mod api;
mod bounds;
mod catalogue;
mod chaos;
mod connect;
mod connect_daemon;
mod daemon;
mod demo;
mod durability;
mod hooks;
mod observe;
mod recorder;
mod reload;
mod secrets;
mod settings;
mod signals;
mod stores;
mod triggers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn weft(data_dir: &Path, args: &[&str]) -> Output {
    weft_with_env(data_dir, args, &[])
}

fn weft_with_env(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_weft"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("RUST_LOG")
        .current_dir(repo_root());
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("the weft binary runs")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn validate_exit_codes_and_positions() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "good.yaml",
        "name: good\nsteps:\n  - id: a\n    uses: core.log\n    with: {message: hi}\n",
    );
    let bad = write(
        dir.path(),
        "bad.yaml",
        "name: bad\nsteps:\n  - id: a\n    uses: core.lgo\n  - id: b\n    uses: core.log\n    with:\n      mesage: x\n",
    );
    let ok = weft(dir.path(), &["validate", good.to_str().unwrap()]);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    assert!(stdout(&ok).starts_with("ok"));

    let out = weft(
        dir.path(),
        &["validate", good.to_str().unwrap(), bad.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("invalid  ") && text.contains("bad.yaml (3 errors)"),
        "{text}"
    );
    assert!(
        text.contains("bad.yaml:4:11"),
        "unknown action position: {text}"
    );
    assert!(text.contains("did you mean `core.log`?"), "{text}");
    assert!(
        text.contains("bad.yaml:8:7"),
        "unknown input position: {text}"
    );
    assert!(text.contains("did you mean `message`?"), "{text}");
    assert!(text.contains("2 files: 1 valid, 1 invalid"), "{text}");

    let missing = weft(dir.path(), &["validate", "no/such/file.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no such file or folder"));
    let usage = weft(dir.path(), &["validate"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn every_example_workflow_validates() {
    let dir = tempfile::tempdir().unwrap();
    let out = weft(dir.path(), &["validate", "workflows"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn run_history_is_kept_across_invocations() {
    let dir = tempfile::tempdir().unwrap();
    let first = weft(dir.path(), &["run", "workflows/hello.yaml", "--json"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let first: Value = serde_json::from_str(&stdout(&first)).unwrap();
    assert_eq!(first["status"], "succeeded");
    assert_eq!(first["outputs"]["squares"], serde_json::json!([1, 4, 9]));

    let second = weft(
        dir.path(),
        &[
            "run",
            "workflows/hello.yaml",
            "--input",
            "who=Grace",
            "--json",
        ],
    );
    let second: Value = serde_json::from_str(&stdout(&second)).unwrap();
    assert_eq!(second["outputs"]["greeting"], "Hello, Grace!");

    let list = weft(dir.path(), &["runs", "list", "--json"]);
    let runs: Vec<Value> = serde_json::from_str(&stdout(&list)).unwrap();
    let ids: Vec<&str> = runs.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            second["run_id"].as_str().unwrap(),
            first["run_id"].as_str().unwrap()
        ]
    );

    let show = weft(dir.path(), &["runs", "show", &ids[1][..12], "--json"]);
    assert_eq!(show.status.code(), Some(0), "{}", stderr(&show));
    let shown: Value = serde_json::from_str(&stdout(&show)).unwrap();
    assert_eq!(shown["run"]["inputs"]["who"], "Ada");
    let steps: Vec<&str> = shown["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps.iter().filter(|s| **s == "square").count(), 3);
    assert!(steps.contains(&"greet"));

    let human = weft(dir.path(), &["runs", "show", ids[0]]);
    assert!(stdout(&human).contains("status    succeeded"));
}

#[test]
fn a_failed_run_exits_1_and_runs_its_handlers() {
    let dir = tempfile::tempdir().unwrap();
    let out = weft(
        dir.path(),
        &["run", "workflows/resilient.yaml", "--input", "fail=true"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("FAIL   maybe_fail"), "{err}");
    assert!(
        err.contains("run failed at maybe_fail"),
        "on_failure ran: {err}"
    );
    assert!(err.contains("cleanup always runs"), "finally ran: {err}");
    assert!(err.contains("✘ failed"), "{err}");
}

#[test]
fn bad_inputs_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = weft(
        dir.path(),
        &["run", "workflows/resilient.yaml", "--input", "fail=maybe"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("input `fail` is boolean: expected true or false, got `maybe`"));
    let unknown = weft(
        dir.path(),
        &["run", "workflows/hello.yaml", "--input", "whom=x", "--json"],
    );
    assert_eq!(unknown.status.code(), Some(1));
    let result: Value = serde_json::from_str(&stdout(&unknown)).unwrap();
    assert!(result["error"]
        .as_str()
        .unwrap()
        .contains("did you mean `who`?"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_sends_nothing_and_shows_the_exact_request() {
    let server = recorder::Recorder::start().await;
    let dir = tempfile::tempdir().unwrap();
    let workflow = write(
        dir.path(),
        "post.yaml",
        &format!(
            r#"name: post
trigger:
  cron:
    schedule: "30 2 * * *"
    timezone: Europe/Paris
steps:
  - id: read
    uses: http.request
    with:
      url: {base}/items
      query: {{space: ENG}}
  - id: write
    uses: http.request
    with:
      method: POST
      url: {base}/items
      headers:
        authorization: "Bearer ${{{{ secrets.token }}}}"
      json:
        count: ${{{{ steps.read.output.status }}}}
"#,
            base = server.base_url()
        ),
    );
    let data = dir.path().join("data");
    let path = workflow.to_str().unwrap().to_string();
    let out = tokio::task::spawn_blocking(move || {
        weft_with_env(
            &data,
            &["run", &path, "--dry-run", "--now", "2026-03-28T12:00:00Z"],
            &[("WEFT_SECRET_TOKEN", "tok-very-secret")],
        )
    })
    .await
    .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.contains(&format!(
            "would send: GET {}/items?space=ENG",
            server.base_url()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "would send (a write, not sent): POST {}/items",
            server.base_url()
        )),
        "{text}"
    );
    assert!(
        text.contains(r#"body: {"count":200}"#),
        "output example feeds later steps: {text}"
    );
    assert!(text.contains("authorization: Bearer ***"), "{text}");
    assert!(!text.contains("tok-very-secret"), "secret leaked: {text}");
    assert!(
        text.contains("2026-03-29 03:00 CEST"),
        "DST gap shown: {text}"
    );
    assert!(text.contains("DST gap"), "{text}");
    assert!(
        server.requests().is_empty(),
        "a dry run sent {:?}",
        server.requests()
    );
    // No history is written by a dry run.
    assert!(!dir.path().join("data/runs").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_run_sends_requests_and_never_records_secrets() {
    let server = recorder::Recorder::start().await;
    let dir = tempfile::tempdir().unwrap();
    let workflow = write(
        dir.path(),
        "post.yaml",
        &format!(
            r#"name: post
steps:
  - id: write
    uses: http.request
    with:
      method: POST
      url: {base}/items
      headers:
        authorization: "Bearer ${{{{ secrets.token }}}}"
      json: {{title: hello}}
"#,
            base = server.base_url()
        ),
    );
    let data = dir.path().join("data");
    let path = workflow.to_str().unwrap().to_string();
    let data2 = data.clone();
    let out = tokio::task::spawn_blocking(move || {
        weft_with_env(
            &data2,
            &["run", &path, "--json", "-vvv"],
            &[("WEFT_SECRET_TOKEN", "tok-very-secret")],
        )
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(
        requests[0].authorization.as_deref(),
        Some("Bearer tok-very-secret")
    );
    assert_eq!(requests[0].body, r#"{"title":"hello"}"#);
    assert!(!stdout(&out).contains("tok-very-secret") && !stderr(&out).contains("tok-very-secret"));

    let history = tokio::task::spawn_blocking(move || weft(&data, &["runs", "list", "--json"]))
        .await
        .unwrap();
    let runs: Vec<Value> = serde_json::from_str(&stdout(&history)).unwrap();
    let id = runs[0]["id"].as_str().unwrap().to_string();
    let data = dir.path().join("data");
    let shown = tokio::task::spawn_blocking(move || weft(&data, &["runs", "show", &id, "--json"]))
        .await
        .unwrap();
    let text = stdout(&shown);
    assert!(text.contains("Bearer ***"), "{text}");
    assert!(!text.contains("tok-very-secret"), "{text}");
    for file in walk(&dir.path().join("data")) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("tok-very-secret"),
            "secret on disk in {}",
            file.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn schema_actions_and_help() {
    let dir = tempfile::tempdir().unwrap();
    let schema: Value = serde_json::from_str(&stdout(&weft(dir.path(), &["schema"]))).unwrap();
    assert!(schema["properties"]["steps"].is_object(), "{schema}");
    assert_eq!(schema["required"], serde_json::json!(["name", "steps"]));

    let list = stdout(&weft(dir.path(), &["actions", "list"]));
    for name in [
        "core.log",
        "core.set",
        "core.fail",
        "core.sleep",
        "http.request",
        "workflow.call",
    ] {
        assert!(list.contains(name), "{list}");
    }
    let show = weft(dir.path(), &["actions", "show", "http.request"]);
    assert!(stdout(&show).contains("fail_on_status"));
    let typo = weft(dir.path(), &["actions", "show", "http.reqest"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(stderr(&typo).contains("did you mean `http.request`?"));
}

#[tokio::test]
async fn a_run_left_running_by_a_killed_process_is_closed_as_interrupted() {
    use weft_engine::store::{
        AttemptRecord, RunRecord, RunStatus, RunStore, SledRunStore, StepStatus,
    };
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let id = "01KILLED0000000000000000000";
    {
        let store = SledRunStore::open(&dir.path().join("runs")).await.unwrap();
        let record = RunRecord {
            id: id.into(),
            workflow: "w".into(),
            path: "w.yaml".into(),
            hash: "h".into(),
            parent: None,
            trigger: serde_json::json!({"kind": "manual"}),
            inputs: serde_json::json!({"space": "ENG"}),
            status: RunStatus::Running,
            error: None,
            outputs: None,
            started_at: chrono::Utc::now(),
            finished_at: None,
            pid: Some(dead_pid),
            truncated: Vec::new(),
            resumes: 0,
            wait: None,
        };
        store.put_run(&record).await.unwrap();
        store
            .put_attempt(&AttemptRecord {
                run_id: id.into(),
                seq: 0,
                step: "first".into(),
                iteration: vec![],
                attempt: 1,
                status: StepStatus::Succeeded,
                input: serde_json::json!({}),
                output: Some(serde_json::json!({"done": 1})),
                error: None,
                started_at: chrono::Utc::now(),
                duration_us: 1,
                truncated: Vec::new(),
                output_redacted: false,
            })
            .await
            .unwrap();
        store.flush().await.unwrap();
    }
    // sled lets go of its lock shortly after the store is dropped.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let list = weft(dir.path(), &["runs", "list", "--json"]);
    let runs: Vec<Value> = serde_json::from_str(&stdout(&list)).unwrap();
    assert_eq!(runs[0]["status"], "interrupted", "{runs:?}");
    let error = runs[0]["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("the weft process (pid {dead_pid}) stopped")),
        "{error}"
    );
    let table = stdout(&weft(dir.path(), &["runs", "list"]));
    assert!(table.contains(&format!("{id}  interrupted")), "{table}");
    // What resuming needs is kept: the inputs and the completed step with its output.
    let show = stdout(&weft(dir.path(), &["runs", "show", id]));
    assert!(show.contains("status    interrupted"), "{show}");
    assert!(show.contains(r#"inputs    {"space":"ENG"}"#), "{show}");
    assert!(show.contains(r#"output  {"done":1}"#), "{show}");
}

/// What editors see: the schema accepts every example and flags a misspelt key.
#[test]
fn the_json_schema_accepts_the_examples_and_rejects_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let schema: Value = serde_json::from_str(&stdout(&weft(dir.path(), &["schema"]))).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid JSON Schema");
    let mut checked = 0;
    for file in walk(&repo_root().join("workflows")) {
        let text = std::fs::read_to_string(&file).unwrap();
        let instance: Value = serde_yaml::from_str(&text).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", file.display());
        checked += 1;
    }
    assert!(checked >= 5);
    let typo: Value =
        serde_yaml::from_str("name: x\nsteps:\n  - id: a\n    uses: core.log\n    neds: [b]\n")
            .unwrap();
    assert!(
        !validator.is_valid(&typo),
        "an unknown step key must be flagged"
    );
    let bad_policy: Value = serde_yaml::from_str(
        "name: x\nsteps:\n  - id: a\n    uses: core.log\n    on_error: ignore\n",
    )
    .unwrap();
    assert!(!validator.is_valid(&bad_policy));
}

#[cfg(unix)]
#[test]
fn the_data_folder_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = weft(&data, &["run", "workflows/hello.yaml", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    for path in [data.clone(), data.join("runs")] {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", path.display());
    }
    for file in walk(&data) {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode & 0o077,
            0,
            "{} is readable by others ({mode:o})",
            file.display()
        );
    }
}
