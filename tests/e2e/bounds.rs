//! Size and time bounds on what a user hands to the binary: files, pipes, history paging.

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
    let started = Instant::now();
    while child.try_wait().expect("waiting for weft").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("weft {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("weft's output")
}

const LIMIT: Duration = Duration::from_secs(20);

#[cfg(unix)]
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
fn files_over_four_mib_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = "#".repeat(4 * 1024 * 1024 + 1);
    let workflow = write(dir.path(), "big.yaml", &big);
    let out = weft_within(LIMIT, dir.path(), &["validate", workflow.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("larger than the limit of 4 MiB"),
        "{}",
        stdout(&out)
    );
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
