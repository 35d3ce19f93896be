//! Connection settings end to end: `weft connections set`, shown by `list` and `show`, read by
//! a run as `connection.config.<name>`, checked by `validate`, and a run on a connection that
//! lacks one refused before its first step.

use std::path::Path;

use serde_json::Value;

use weft_auth::ConnectionStore;

use super::stores::{connection, open_connections, KEY_HEX};
use super::{stderr, stdout, weft_with_env, write};

fn weft_keyed(data_dir: &Path, args: &[&str]) -> std::process::Output {
    weft_with_env(data_dir, args, &[("WEFT_MASTER_KEY", KEY_HEX)])
}

/// A data folder with the sandbox app configured and a connection `acme` (no network needed).
fn data_folder_with_acme() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open_connections(dir.path());
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(store.put(&connection("acme"))).unwrap();
    }
    let app = weft_keyed(dir.path(), &["apps", "set", "confluence", "--sandbox"]);
    assert_eq!(app.status.code(), Some(0), "{}", stderr(&app));
    dir
}

/// `weft connections set`, retried while the store this test process dropped still holds
/// sled's lock (its flusher lets go within a moment).
fn set(data_dir: &Path, args: &[&str]) -> std::process::Output {
    let args: Vec<&str> = ["connections", "set", "acme"]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    for _ in 0..100 {
        let out = weft_keyed(data_dir, &args);
        if !stderr(&out).contains("another weft process") {
            return out;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("the connection store stayed locked")
}

const WORKFLOW: &str = r#"name: post
connection: acme
connection_config:
  space: {type: string, description: the space to post to}
  limit: {type: integer, default: 10}
steps:
  - id: say
    uses: core.log
    with:
      message: "posting to ${{ connection.config.space }}"
outputs:
  space: ${{ connection.config.space }}
  limit: ${{ connection.config.limit }}
"#;

#[test]
fn settings_are_set_shown_and_read_by_runs() {
    let dir = data_folder_with_acme();
    let data = dir.path();
    let done = set(
        data,
        &[
            "--config",
            "space=ENG",
            "--config",
            "limit=25",
            "--config",
            "title=Team notes",
        ],
    );
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    assert_eq!(
        stdout(&done),
        "saved the settings of `acme`\nconfig:\n  limit = 25\n  space = ENG\n  title = Team notes\n"
    );
    let list = weft_keyed(data, &["connections", "list"]);
    assert!(
        stdout(&list).contains(r#"healthy  config: limit=25 space=ENG title="Team notes""#),
        "{}",
        stdout(&list)
    );
    let show = weft_keyed(data, &["connections", "show", "acme"]);
    assert!(
        stdout(&show).contains(
            "config:\n  limit = 25\n  space = ENG\n  title = Team notes\nstatus: healthy"
        ),
        "{}",
        stdout(&show)
    );

    let file = write(data, "post.yaml", WORKFLOW);
    let file = file.to_str().unwrap();
    let ran = weft_keyed(data, &["run", file, "--json"]);
    assert_eq!(ran.status.code(), Some(0), "{}", stderr(&ran));
    let result: Value = serde_json::from_str(&stdout(&ran)).unwrap();
    assert_eq!(
        result["outputs"],
        serde_json::json!({"space": "ENG", "limit": 25})
    );
    // A plain dry run opens no connection store; with --live-reads it reads the real settings.
    let plain = weft_keyed(data, &["run", file, "--dry-run"]);
    assert!(
        stdout(&plain).contains(r#""message": "posting to <not set>""#),
        "{}",
        stdout(&plain)
    );
    let live = weft_keyed(data, &["run", file, "--dry-run", "--live-reads"]);
    assert_eq!(live.status.code(), Some(0), "{}", stderr(&live));
    assert!(
        stdout(&live).contains(r#""message": "posting to ENG""#),
        "{}",
        stdout(&live)
    );

    // A malformed value for the declared type is refused by the run, naming the fix.
    let done = set(data, &["--config", "limit=many"]);
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    let refused = weft_keyed(data, &["run", file, "--json"]);
    assert_eq!(refused.status.code(), Some(1));
    let result: Value = serde_json::from_str(&stdout(&refused)).unwrap();
    let error = result["error"].as_str().unwrap();
    assert!(
        error.contains("setting `limit` is `many`, which is not an integer")
            && error.contains("weft connections set acme --config limit=VALUE"),
        "{error}"
    );

    // Without the required setting the run stops before its first step.
    let done = set(
        data,
        &[
            "--unset", "space", "--unset", "limit", "--unset", "title", "--unset", "never",
        ],
    );
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    assert!(
        stdout(&done).starts_with("note: `never` was not set\n"),
        "{}",
        stdout(&done)
    );
    let refused = weft_keyed(data, &["run", file]);
    let err = stderr(&refused);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(
        err.contains("connection `acme` lacks the setting `space` (string: the space to post to)")
            && err.contains("weft connections set acme --config space=VALUE"),
        "{err}"
    );
    assert!(!err.contains("posting to"), "no step ran: {err}");

    // A dry run never fails on it: defaults, and `<not set>` for the rest.
    let dry = weft_keyed(data, &["run", file, "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    assert!(
        stdout(&dry).contains("connection: acme\n  space = <not set>\n  limit = 10\n"),
        "{}",
        stdout(&dry)
    );
    assert!(
        stdout(&dry).contains(r#""message": "posting to <not set>""#),
        "{}",
        stdout(&dry)
    );
}

#[test]
fn bad_settings_are_refused_with_what_is_allowed() {
    let dir = data_folder_with_acme();
    let data = dir.path();
    let bad_name = set(data, &["--config", "Space=ENG"]);
    assert_eq!(bad_name.status.code(), Some(1));
    assert!(
        stderr(&bad_name).contains(
            "connection `acme`: invalid setting name `Space`: use 1-64 lowercase letters"
        ),
        "{}",
        stderr(&bad_name)
    );
    let long = format!("body={}", "x".repeat(5000));
    let too_long = set(data, &["--config", &long]);
    assert!(
        stderr(&too_long)
            .contains("setting `body` is 5000 bytes long; a value holds at most 4096 bytes"),
        "{}",
        stderr(&too_long)
    );
    let no_value = set(data, &["--config", "space"]);
    assert!(
        stderr(&no_value).contains("`--config space` must be KEY=VALUE"),
        "{}",
        stderr(&no_value)
    );
    let nothing = weft_keyed(data, &["connections", "set", "acme"]);
    assert_eq!(nothing.status.code(), Some(2), "a change is required");
    let unknown = weft_keyed(data, &["connections", "set", "globex", "--config", "a=1"]);
    assert!(
        stderr(&unknown).contains("no connection named `globex`"),
        "{}",
        stderr(&unknown)
    );
    let show = weft_keyed(data, &["connections", "show", "acme"]);
    assert!(
        stdout(&show).contains("config: none (weft connections set acme --config key=value)"),
        "nothing was stored: {}",
        stdout(&show)
    );
}

#[test]
fn validate_checks_setting_references_and_live_reads_need_a_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "typo.yaml",
        &WORKFLOW.replace(
            "connection.config.space }}\"",
            "connection.config.spcae }}\"",
        ),
    );
    let file = file.to_str().unwrap();
    let out = weft_keyed(dir.path(), &["validate", file]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("unknown connection setting `spcae`")
            && text.contains("typo.yaml:10:32")
            && text.contains("did you mean `space`?"),
        "{text}"
    );
    let live = weft_keyed(dir.path(), &["run", file, "--live-reads"]);
    assert_eq!(live.status.code(), Some(2));
    assert!(stderr(&live).contains("--dry-run"), "{}", stderr(&live));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_reads_never_send_an_http_request_step() {
    let server = super::recorder::Recorder::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "get.yaml",
        &format!(
            "name: get\nsteps:\n  - id: read\n    uses: http.request\n    with:\n      url: {}/items\n",
            server.base_url()
        ),
    );
    let data = dir.path().join("data");
    let path = file.to_str().unwrap().to_string();
    let out = tokio::task::spawn_blocking(move || {
        weft_keyed(&data, &["run", &path, "--dry-run", "--live-reads"])
    })
    .await
    .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.contains("read-only connector steps are sent through their connection (--live-reads); no write is sent")
            && text.contains(&format!("would send: GET {}/items", server.base_url())),
        "{text}"
    );
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    assert!(
        !dir.path().join("data/runs").exists(),
        "a dry run records no history"
    );
}
