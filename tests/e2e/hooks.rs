//! A webhook to a running daemon, and the commands that talk to the daemon owning the data
//! folder instead of failing on its lock: `weft runs list/show`, `weft run FILE` (of a
//! workflow the daemon runs, and a clear refusal for one it does not), `weft connections
//! list`; after `kill -9`, its stale `daemon.json` is ignored and the commands work alone.

use std::io::{BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::signals::{read_until, wait_for_exit};
use super::{stderr, stdout, weft, write};

const SECRET: &str = "e2e-hook-secret";

fn spawn_daemon(data: &std::path::Path, flows: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .arg("--data-dir")
        .arg(data)
        .args(["daemon", "--workflows", flows, "--listen", "127.0.0.1:0"])
        .env_remove("RUST_LOG")
        .env("WEFT_SECRET_HOOK_KEY", SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the weft binary starts")
}

/// One HTTP/1.1 POST; the status and the body.
fn http_post(address: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

#[allow(unsafe_code)]
fn kill_9(child: &Child) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill only sends a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
}

#[test]
fn commands_talk_to_the_daemon_that_owns_the_data_folder_and_ignore_a_dead_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    write(
        &flows,
        "hook.yaml",
        "name: hook\ntrigger:\n  webhook:\n    secret: hook_key\nsteps:\n  - id: echo\n    uses: core.set\n    with:\n      service: ${{ trigger.body.service }}\n",
    );
    let plain = write(
        &flows,
        "plain.yaml",
        "name: plain\ninputs:\n  who: {type: string, default: you}\nsteps:\n  - id: greet\n    uses: core.set\n    with:\n      text: hello ${{ inputs.who }}\noutputs:\n  text: ${{ steps.greet.output.text }}\n",
    );
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let other = write(
        &elsewhere,
        "other.yaml",
        "name: other\nsteps:\n  - id: a\n    uses: core.set\n    with:\n      n: 1\n",
    );
    let (plain, other) = (plain.to_str().unwrap(), other.to_str().unwrap());

    // Before the daemon: a run in the same data folder, by the command itself.
    let local = weft(&data, &["run", plain]);
    assert!(local.status.success(), "{}", stderr(&local));

    let mut daemon = spawn_daemon(&data, flows.to_str().unwrap());
    let mut log = BufReader::new(daemon.stderr.take().unwrap());
    let started = read_until(&mut log, "weft daemon:").join("\n");
    assert!(started.contains("/hooks/<name> for hook"), "{started}");
    let address: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("daemon.json")).unwrap()).unwrap();
    let address = address["address"].as_str().unwrap().to_string();

    let body = r#"{"service": "billing"}"#;
    let signature = weft_daemon::signature::sign(SECRET.as_bytes(), body.as_bytes());
    let (status, answer) = http_post(
        &address,
        "/hooks/hook",
        &[("X-Weft-Signature", &signature), ("Idempotency-Key", "d-1")],
        body,
    );
    assert_eq!(status, 202, "{answer}");
    let hook_run: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let hook_run = hook_run["run_id"].as_str().unwrap().to_string();
    let (status, _) = http_post(
        &address,
        "/hooks/hook",
        &[("X-Weft-Signature", "sha256=00")],
        body,
    );
    assert_eq!(status, 401);

    // `weft run` of a workflow the daemon runs: the daemon runs it, the command reports it.
    let remote = weft(&data, &["run", plain, "--input", "who=daemon"]);
    assert!(remote.status.success(), "{}", stderr(&remote));
    assert!(
        stderr(&remote).contains("run by the daemon at"),
        "{}",
        stderr(&remote)
    );
    assert!(
        stdout(&remote).contains("hello daemon"),
        "{}",
        stdout(&remote)
    );

    // A file the daemon does not run: said so, nothing run.
    let refused = weft(&data, &["run", other]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("does not run workflow `other`"),
        "{}",
        stderr(&refused)
    );

    let listed = weft(&data, &["runs", "list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let listed = stdout(&listed);
    assert!(listed.contains(&hook_run), "{listed}");
    assert_eq!(
        listed.matches("plain").count(),
        2,
        "the local and the daemon's run:\n{listed}"
    );
    assert!(!listed.contains("other"), "{listed}");

    let shown = weft(&data, &["runs", "show", &hook_run]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    assert!(stdout(&shown).contains("billing"), "{}", stdout(&shown));
    assert!(
        stdout(&shown).contains("status    succeeded"),
        "{}",
        stdout(&shown)
    );

    let connections = weft(&data, &["connections", "list"]);
    assert!(connections.status.success(), "{}", stderr(&connections));
    assert!(
        stdout(&connections).contains("no connections yet"),
        "{}",
        stdout(&connections)
    );

    // Killed: daemon.json stays behind, and is ignored.
    kill_9(&daemon);
    wait_for_exit(&mut daemon, Duration::from_secs(10));
    assert!(data.join("daemon.json").exists());
    let alone = weft(&data, &["runs", "list"]);
    assert!(alone.status.success(), "{}", stderr(&alone));
    assert!(stdout(&alone).contains(&hook_run), "{}", stdout(&alone));
    let run_alone = weft(&data, &["run", other]);
    assert!(run_alone.status.success(), "{}", stderr(&run_alone));
}
