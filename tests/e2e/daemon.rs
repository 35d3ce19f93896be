//! `weft daemon`: invalid files reported as `weft validate` reports them and skipped, one
//! daemon per data folder, and a clean stop on SIGTERM.

use std::io::BufReader;
use std::time::Duration;

use super::signals::{read_until, rest, spawn_daemon, terminate, wait_for_exit};
use super::{stderr, weft, write};

#[test]
fn the_daemon_skips_invalid_files_refuses_a_second_daemon_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    write(
        &flows,
        "nightly.yaml",
        "name: nightly\ntrigger:\n  cron:\n    schedule: \"0 3 * * *\"\nsteps:\n  - id: say\n    uses: core.log\n    with:\n      message: hi\n",
    );
    write(
        &flows,
        "broken.yaml",
        "name: broken\nsteps:\n  - id: say\n    uses: core.logg\n",
    );
    let flows_arg = flows.to_str().unwrap();
    let validated = weft(&data, &["validate", flows_arg]);

    let mut daemon = spawn_daemon(&data, flows_arg, &[]);
    let mut log = BufReader::new(daemon.stderr.take().unwrap());
    let started = read_until(&mut log, "weft daemon: 1 workflow(s) on cron").join("\n");
    assert!(
        started.contains("broken.yaml is skipped"),
        "the invalid file is skipped:\n{started}"
    );
    // Every line but validate's count of files.
    for line in super::stdout(&validated)
        .lines()
        .filter(|l| !l.contains(" files: "))
    {
        assert!(
            started.contains(line),
            "the diagnostics of `weft validate` are shown (`{line}`):\n{started}"
        );
    }

    let address: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("daemon.json")).unwrap()).unwrap();
    let address = address["address"].as_str().unwrap().to_string();
    assert!(
        started.contains(&format!("API on http://{address}")),
        "{started}"
    );
    let health = http_get(&address, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with(r#"{"status":"ok"}"#), "{health}");
    let missing = http_get(&address, "/nope");
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert!(missing.contains(r#""code":"not_found""#), "{missing}");

    let second = weft(&data, &["daemon", "--workflows", flows_arg]);
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("one weft daemon per data folder"),
        "{}",
        stderr(&second)
    );
    // Refused first: none of the workflows' lines (the broken file's diagnostics) before it.
    assert_eq!(
        stderr(&second).trim().lines().count(),
        1,
        "{}",
        stderr(&second)
    );

    terminate(&daemon);
    let status = wait_for_exit(&mut daemon, Duration::from_secs(10));
    let stopping = rest(log);
    assert!(status.success(), "{status:?}\n{stopping}");
    assert!(stopping.contains("SIGTERM: stopping"), "{stopping}");
    assert!(stopping.contains("stopped"), "{stopping}");
    assert!(
        !data.join("daemon.json").exists(),
        "a clean stop removes the address file"
    );
}

/// The master key readable by other users is said at start, as other commands say it.
#[cfg(unix)]
#[test]
fn the_daemon_warns_of_a_master_key_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    write(
        &flows,
        "nightly.yaml",
        "name: nightly\ntrigger:\n  cron:\n    schedule: \"0 3 * * *\"\nsteps:\n  - id: say\n    uses: core.log\n    with:\n      message: hi\n",
    );
    let key = write(&data, "master.key", "not read before a token is needed\n");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut daemon = spawn_daemon(&data, flows.to_str().unwrap(), &[]);
    let mut log = BufReader::new(daemon.stderr.take().unwrap());
    let started = read_until(&mut log, "weft daemon: ").join("\n");
    terminate(&daemon);
    wait_for_exit(&mut daemon, Duration::from_secs(10));
    assert!(
        started.contains("holds the master key and other users may read it (mode 644)")
            && started.contains(&format!("chmod 600 {}", key.display())),
        "{started}"
    );
    assert!(!started.contains("not read before"), "{started}");
}

/// One HTTP/1.1 GET, the whole answer as text.
fn http_get(address: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}
