//! Size and time bounds on what a user hands to the binary: files, pipes, history paging.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{repo_root, stderr, stdout, write};

/// Runs weft and fails the test (instead of hanging it) if it does not finish within `limit`.
fn weft_within(limit: Duration, data_dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("RUST_LOG")
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the weft binary runs");
    // Read while it runs: a full pipe would stop it from finishing.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for weft") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("weft {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

const LIMIT: Duration = Duration::from_secs(20);

#[cfg(unix)]
#[allow(unsafe_code)]
fn make_fifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `name` is a valid NUL-terminated path that outlives the call.
    let made = unsafe { libc::mkfifo(name.as_ptr(), 0o600) };
    assert_eq!(made, 0, "mkfifo {}", path.display());
}

#[cfg(unix)]
#[test]
fn devices_and_fifos_are_refused_without_reading_or_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("flow.yaml");
    make_fifo(&fifo);
    let fifo = fifo.to_str().unwrap();
    for command in ["validate", "run"] {
        for path in ["/dev/zero", fifo] {
            let out = weft_within(LIMIT, dir.path(), &[command, path]);
            assert_eq!(out.status.code(), Some(1), "{command} {path}");
            let text = format!("{}{}", stdout(&out), stderr(&out));
            assert!(
                text.contains("not a regular file"),
                "{command} {path}: {text}"
            );
        }
    }
    for option in ["--inputs-file", "--trigger-event"] {
        for path in ["/dev/zero", fifo] {
            let out = weft_within(
                LIMIT,
                dir.path(),
                &["run", "workflows/hello.yaml", option, path],
            );
            assert_eq!(out.status.code(), Some(2), "{option} {path}");
            assert!(
                stderr(&out).contains(&format!("cannot read {path}: it is a")),
                "{option} {path}: {}",
                stderr(&out)
            );
        }
    }
    let mock = format!("greet={fifo}");
    let out = weft_within(
        LIMIT,
        dir.path(),
        &["run", "workflows/hello.yaml", "--dry-run", "--mock", &mock],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn workflows_over_16_mib_and_inputs_over_4_mib_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = write(dir.path(), "big.yaml", &"#".repeat(16 * 1024 * 1024 + 1));
    let out = weft_within(LIMIT, dir.path(), &["validate", workflow.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("larger than the limit of 16 MiB"),
        "{}",
        stdout(&out)
    );
    let big = "#".repeat(4 * 1024 * 1024 + 1);
    let inputs = write(dir.path(), "inputs.yaml", &big);
    let out = weft_within(
        LIMIT,
        dir.path(),
        &[
            "run",
            "workflows/hello.yaml",
            "--inputs-file",
            inputs.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("larger than the limit of 4 MiB"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn runs_show_prints_a_page_of_attempts_and_says_how_to_see_more() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = write(
        dir.path(),
        "loop.yaml",
        "name: loop
steps:
  - id: first
    uses: core.set
    with: {n: 0}
  - id: each
    for_each: ${{ range(120) }}
    steps:
      - id: sq
        uses: core.set
        with:
          v: ${{ item * item }}
",
    );
    let data = dir.path().join("data");
    let out = weft_within(LIMIT, &data, &["run", workflow.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let id = run["run_id"].as_str().unwrap();

    let shown = stdout(&weft_within(LIMIT, &data, &["runs", "show", id]));
    assert_eq!(
        shown.matches("  attempt 1  succeeded").count(),
        50,
        "{shown}"
    );
    assert!(shown.contains("  first  attempt 1") && shown.contains("  sq[48]  attempt 1"));
    assert!(!shown.contains("sq[49]"), "{shown}");
    assert!(
        shown.contains(&format!(
            "71 more attempts (showing 1 to 50 of 121): `weft runs show {id} --offset 50`"
        )),
        "{shown}"
    );

    let page = stdout(&weft_within(
        LIMIT,
        &data,
        &[
            "runs", "show", id, "--step", "sq", "--offset", "118", "--limit", "5",
        ],
    ));
    assert!(page.contains("attempts of step `sq`:"), "{page}");
    assert!(
        page.contains("sq[118]") && page.contains("sq[119]"),
        "{page}"
    );
    assert_eq!(page.matches("  attempt 1  succeeded").count(), 2, "{page}");
    assert!(!page.contains("more attempts"), "{page}");

    // The loop step itself records nothing: its attempts are its body's, and that is said.
    let of_loop = stdout(&weft_within(
        LIMIT,
        &data,
        &["runs", "show", id, "--step", "each"],
    ));
    assert!(
        of_loop.contains(
            "(none: `each` is a for_each loop: its attempts are recorded under its body steps `sq`; use --step sq)"
        ),
        "{of_loop}"
    );

    let empty_page = weft_within(LIMIT, &data, &["runs", "show", id, "--limit", "0"]);
    assert_eq!(empty_page.status.code(), Some(2), "{}", stderr(&empty_page));

    let json = stdout(&weft_within(
        LIMIT,
        &data,
        &["runs", "show", id, "--step", "sq", "--limit", "3", "--json"],
    ));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["total_attempts"], 120);
    assert_eq!(json["attempts"].as_array().unwrap().len(), 3);
    assert_eq!(json["attempts"][2]["output"], serde_json::json!({"v": 4}));
}

#[test]
fn an_output_over_the_record_cap_is_shown_as_cut_with_its_size_and_hash() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = write(
        dir.path(),
        "big.yaml",
        "name: big
steps:
  - id: big
    uses: core.set
    with:
      items: ${{ range(300000) }}
  - id: count
    uses: core.set
    with:
      n: ${{ len(steps.big.output.items) }}
outputs:
  n: ${{ steps.count.output.n }}
",
    );
    let data = dir.path().join("data");
    let out = weft_within(LIMIT, &data, &["run", workflow.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        run["outputs"]["n"], 300000,
        "later steps see the whole output"
    );
    let id = run["run_id"].as_str().unwrap();
    let shown = stdout(&weft_within(
        LIMIT,
        &data,
        &["runs", "show", id, "--step", "big"],
    ));
    let whole = format!(
        "{{\"items\":[{}]}}",
        (0..300000)
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    assert!(
        shown.contains(&format!(
            "(output is cut: this is the start of {} bytes, sha256 ",
            whole.len()
        )),
        "{}",
        &shown[shown.len().saturating_sub(2000)..]
    );
}

/// Deep nesting is refused at once, wherever it comes from: it used to take 37 s in the data
/// file parser (40,000 `[`) and to overflow the stack in the workflow loader (5,000 `- `).
#[test]
fn deep_nesting_is_refused_in_milliseconds() {
    let fast = Duration::from_secs(5);
    let dir = tempfile::tempdir().unwrap();
    let n = 40_000;
    let brackets = format!("{{\"who\":{}{}}}", "[".repeat(n), "]".repeat(n));
    let dashes = format!("who:\n  {}x\n", "- ".repeat(200_000));
    let flow_yaml = format!("who: {}\n", "[".repeat(200_000));
    for (name, text) in [
        ("deep.json", &brackets),
        ("deep.yaml", &flow_yaml),
        ("dashes.yaml", &dashes),
    ] {
        let file = write(dir.path(), name, text);
        let file = file.to_str().unwrap();
        for flag in ["--inputs-file", "--trigger-event"] {
            let out = weft_within(
                fast,
                dir.path(),
                &["run", "workflows/hello.yaml", "--dry-run", flag, file],
            );
            assert_eq!(
                out.status.code(),
                Some(2),
                "{name} {flag}: {}",
                stderr(&out)
            );
            let err = stderr(&out);
            assert!(
                err.contains("is nested too deeply") && err.contains("at most 128 levels"),
                "{name} {flag}: {err}"
            );
        }
    }
    // A workflow file: a long line of `- ` (block sequences) and of `[` (flow sequences).
    for (name, text) in [
        (
            "wf-dashes.yaml",
            format!("name: x\nsteps:\n  {}x\n", "- ".repeat(200_000)),
        ),
        (
            "wf-flow.yaml",
            format!("{}{}\n", "[".repeat(200_000), "]".repeat(200_000)),
        ),
    ] {
        let file = write(dir.path(), name, &text);
        let out = weft_within(fast, dir.path(), &["validate", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert!(
            stdout(&out).contains("nesting is too deep (more than 64 levels)"),
            "{name}: {}",
            stdout(&out).chars().take(500).collect::<String>()
        );
    }
}

/// Data files nested within the limit still load, as JSON and as YAML.
#[test]
fn data_files_within_the_nesting_limit_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let json = write(dir.path(), "in.json", r#"{"who": "Grace"}"#);
    let yaml = write(dir.path(), "in.yaml", "# inputs\nwho: Lin\n");
    let empty = write(dir.path(), "empty.yaml", "\n");
    for (file, who) in [(json, "Grace"), (yaml, "Lin"), (empty, "Ada")] {
        let out = weft_within(
            LIMIT,
            dir.path(),
            &[
                "run",
                "workflows/hello.yaml",
                "--dry-run",
                "--inputs-file",
                file.to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stdout(&out).contains(who), "{}", stdout(&out));
    }
}
