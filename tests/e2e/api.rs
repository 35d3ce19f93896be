//! `weft daemon`'s HTTP API end to end: off loopback it refuses to start without an owner-only
//! token file; with one, calls need the token; a run started through the API is answered and
//! listed, and a workflow paused through it is still paused after a restart.

use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use serde_json::Value;

use super::signals::{read_until, rest, spawn_daemon, terminate, wait_for_exit};
use super::{stderr, weft, write};

const TOKEN: &str = "e2e-token-0123456789abcdef0123456789";

const QUICK: &str = "name: quick
inputs:
  who:
    type: string
    default: world
steps:
  - id: greet
    uses: core.set
    with:
      text: hello ${{ inputs.who }}
outputs:
  greeting: ${{ steps.greet.output.text }}
";

/// One HTTP/1.1 request with the token (when given) and a JSON body (when given): the status
/// and the body.
pub(super) fn call(
    address: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}

pub(super) fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Starts the daemon on a free loopback port; its address once it serves.
pub(super) fn start(
    data: &Path,
    flows: &str,
    token_file: &str,
) -> (Child, BufReader<std::process::ChildStderr>, String) {
    let mut daemon = spawn_daemon(data, flows, &["--api-token-file", token_file]);
    let mut log = BufReader::new(daemon.stderr.take().unwrap());
    read_until(&mut log, "weft daemon: ");
    let address: Value =
        serde_json::from_slice(&std::fs::read(data.join("daemon.json")).unwrap()).unwrap();
    let address = address["address"].as_str().unwrap().to_string();
    (daemon, log, address)
}

pub(super) fn stop(mut daemon: Child, log: BufReader<std::process::ChildStderr>) {
    terminate(&daemon);
    let status = wait_for_exit(&mut daemon, Duration::from_secs(10));
    let text = rest(log);
    assert!(status.success(), "{status:?}\n{text}");
}

#[cfg(unix)]
pub(super) fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
#[test]
fn the_api_needs_its_token_runs_workflows_and_keeps_a_pause_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    write(&flows, "quick.yaml", QUICK);
    let flows = flows.to_str().unwrap();
    let token_file = write(dir.path(), "api-token", &format!("{TOKEN}\n"));
    let token_arg = token_file.to_str().unwrap();

    // Reachable from other machines without a token: refused.
    let open = weft(
        &data,
        &["daemon", "--workflows", flows, "--listen", "0.0.0.0:0"],
    );
    assert_eq!(open.status.code(), Some(2), "{}", stderr(&open));
    assert!(
        stderr(&open).contains("--api-token-file"),
        "{}",
        stderr(&open)
    );
    // A token others can read: refused, with what to do.
    set_mode(&token_file, 0o644);
    let exposed = weft(
        &data,
        &[
            "daemon",
            "--workflows",
            flows,
            "--listen",
            "0.0.0.0:0",
            "--api-token-file",
            token_arg,
        ],
    );
    assert_eq!(exposed.status.code(), Some(2), "{}", stderr(&exposed));
    assert!(
        stderr(&exposed).contains("chmod 600"),
        "{}",
        stderr(&exposed)
    );
    assert!(
        !stderr(&exposed).contains(TOKEN),
        "the token is never printed"
    );
    set_mode(&token_file, 0o600);

    let (daemon, log, address) = start(&data, flows, token_arg);
    let (status, _) = call(&address, "GET", "/readyz", None, None);
    assert_eq!(status, 200);
    let (status, body) = call(&address, "GET", "/api/v1/runs", None, None);
    assert_eq!(status, 401, "{body}");
    assert_eq!(json(&body)["error"]["code"], "unauthorized");

    let token = Some(TOKEN);
    let (status, body) = call(
        &address,
        "POST",
        "/api/v1/workflows/quick/runs?wait=30s",
        token,
        Some(r#"{"inputs": {"who": "Ada"}}"#),
    );
    assert_eq!(status, 200, "{body}");
    let run = json(&body);
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["outputs"]["greeting"], "hello Ada");
    let (status, body) = call(&address, "GET", "/api/v1/runs?workflow=quick", token, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["runs"][0]["run_id"], run["run_id"]);
    let (status, body) = call(
        &address,
        "POST",
        "/api/v1/workflows/quick/runs",
        token,
        Some("{oops"),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(json(&body)["error"]["code"], "bad_json");
    let (status, body) = call(&address, "GET", "/api/v1/connections", token, None);
    assert_eq!(
        (status, json(&body)),
        (200, serde_json::json!({ "connections": [] }))
    );
    let (status, metrics) = call(&address, "GET", "/metrics", token, None);
    assert_eq!(status, 200);
    assert!(
        metrics.contains(r#"weft_runs_total{workflow="quick",status="succeeded"} 1"#),
        "{metrics}"
    );
    // `weft` commands of the same user find the token through `daemon.json`.
    let listed = weft(&data, &["runs", "list", "--json"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(listed.contains(run["run_id"].as_str().unwrap()), "{listed}");
    assert!(!listed.contains(TOKEN));
    let address_file = std::fs::read_to_string(data.join("daemon.json")).unwrap();
    assert!(!address_file.contains(TOKEN), "{address_file}");
    let (status, body) = call(
        &address,
        "POST",
        "/api/v1/workflows/quick/pause",
        token,
        None,
    );
    assert_eq!(status, 200, "{body}");
    stop(daemon, log);

    let (daemon, log, address) = start(&data, flows, token_arg);
    let (status, body) = call(&address, "GET", "/api/v1/workflows", token, None);
    assert_eq!(status, 200, "{body}");
    let workflows = json(&body);
    assert_eq!(workflows["workflows"][0]["name"], "quick");
    assert_eq!(workflows["workflows"][0]["paused"], true, "{workflows}");
    let (status, body) = call(
        &address,
        "POST",
        "/api/v1/workflows/quick/runs",
        token,
        None,
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(json(&body)["error"]["code"], "paused");
    stop(daemon, log);
}

/// The key that signs outbound events is refused, as the API token is, when other users may
/// read it: they could sign events the receiver trusts. Never printed.
#[cfg(unix)]
#[test]
fn an_events_secret_file_others_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    write(&flows, "quick.yaml", QUICK);
    let secret = write(dir.path(), "events-secret", "events-s3cr3t-value\n");
    set_mode(&secret, 0o644);
    // Spawned, not waited for: a daemon that took the file would run until killed.
    let mut daemon = spawn_daemon(
        &data,
        flows.to_str().unwrap(),
        &[
            "--events-url",
            "http://127.0.0.1:9/events",
            "--events-secret-file",
            secret.to_str().unwrap(),
        ],
    );
    let status = wait_for_exit(&mut daemon, Duration::from_secs(30));
    let mut said = String::new();
    daemon
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    assert_eq!(status.code(), Some(2), "{said}");
    assert!(said.contains("chmod 600"), "{said}");
    assert!(
        !said.contains("events-s3cr3t-value"),
        "never printed: {said}"
    );
}
