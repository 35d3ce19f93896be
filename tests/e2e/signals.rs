//! SIGTERM (what Docker and systemd send) stops weft the way Ctrl-C does: gracefully first.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

use super::{stdout, weft, write};

/// `weft` with piped output, not started yet.
fn weft_command(data_dir: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_weft"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Starts `weft` with piped output.
pub fn spawn_weft(data_dir: &std::path::Path, args: &[&str]) -> Child {
    weft_command(data_dir, args)
        .spawn()
        .expect("the weft binary starts")
}

/// `weft daemon` on `workflows`, its API on a free loopback port, with `extra` arguments.
pub fn spawn_daemon(data_dir: &std::path::Path, workflows: &str, extra: &[&str]) -> Child {
    let mut args = vec![
        "daemon",
        "--workflows",
        workflows,
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    spawn_weft(data_dir, &args)
}

pub fn terminate(child: &Child) {
    signal(child, libc::SIGTERM);
}

#[allow(unsafe_code)]
fn signal(child: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill only sends a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

/// Reads lines until one contains `marker`; returns the lines read so far.
pub fn read_until(reader: &mut impl BufRead, marker: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for line in reader.lines().map_while(Result::ok) {
        let found = line.contains(marker);
        lines.push(line);
        if found {
            return lines;
        }
    }
    panic!("`{marker}` never printed:\n{}", lines.join("\n"));
}

pub fn wait_for_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > within {
            let _ = child.kill();
            panic!("weft did not stop within {within:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn rest(mut reader: BufReader<ChildStderr>) -> String {
    let mut text = String::new();
    reader.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn sigterm_cancels_a_run_gracefully_and_finally_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "slow.yaml",
        r#"name: slow
steps:
  - id: wait
    uses: core.sleep
    with:
      duration: 10m
finally:
  - id: cleanup
    uses: core.log
    with:
      message: "cleanup after ${{ error.message }}"
"#,
    );
    let mut child = spawn_weft(dir.path(), &["run", file.to_str().unwrap()]);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let started = read_until(&mut stderr, "▶ slow (run ");
    let run_id = started
        .last()
        .and_then(|l| l.split("(run ").nth(1))
        .map(|id| id.trim_end_matches(')').to_string())
        .unwrap();
    terminate(&child);
    let status = wait_for_exit(&mut child, Duration::from_secs(20));
    let printed = rest(stderr);
    assert_eq!(status.code(), Some(1), "a cancelled run exits 1: {printed}");
    assert!(printed.contains("interrupted (SIGTERM)"), "{printed}");
    assert!(
        printed.contains("cleanup after cancelled") && printed.contains("ok     cleanup"),
        "finally ran: {printed}"
    );
    assert!(printed.contains("✘ cancelled"), "{printed}");
    let shown = weft(dir.path(), &["runs", "show", &run_id]);
    assert!(
        stdout(&shown).contains("status    cancelled"),
        "{}",
        stdout(&shown)
    );
}

#[test]
fn sigterm_and_ctrl_c_cancel_a_called_workflow_which_runs_its_finally() {
    for (sig, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "Ctrl-C")] {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "child.yaml",
            r#"name: child
steps:
  - id: each
    for_each: ${{ range(600) }}
    steps:
      - id: tick
        uses: core.sleep
        with:
          duration: 100ms
finally:
  - id: cleanup
    uses: core.sleep
    with:
      duration: 300ms
  - id: said
    uses: core.log
    with:
      message: "child cleaned up"
"#,
        );
        let file = write(
            dir.path(),
            "parent.yaml",
            r#"name: parent
steps:
  - id: call
    uses: workflow.call
    with:
      path: child.yaml
"#,
        );
        let mut child = spawn_weft(dir.path(), &["run", file.to_str().unwrap()]);
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        read_until(&mut stderr, "ok     tick[0]");
        signal(&child, sig);
        let status = wait_for_exit(&mut child, Duration::from_secs(20));
        let printed = rest(stderr);
        assert_eq!(status.code(), Some(1), "{name}: {printed}");
        assert!(
            printed.contains(&format!("interrupted ({name})")),
            "{printed}"
        );
        // The child's finally ran to its end before the parent said it was cancelled.
        let cleaned = printed.find("child cleaned up");
        let cancelled = printed.rfind("✘ cancelled");
        assert!(
            cleaned.is_some() && cancelled.is_some() && cleaned < cancelled,
            "{name}: {printed}"
        );
        let list = weft(dir.path(), &["runs", "list", "--json"]);
        let runs: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
        let runs = runs.as_array().unwrap();
        assert_eq!(runs.len(), 2, "{runs:?}");
        for run in runs {
            assert_eq!(run["status"], "cancelled", "{name}: {run}");
        }
    }
}

#[test]
fn sigterm_stops_the_sandbox_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_weft(dir.path(), &["sandbox", "--listen", "127.0.0.1:0"]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    read_until(&mut out, "Press Ctrl-C to stop");
    terminate(&child);
    let status = wait_for_exit(&mut child, Duration::from_secs(20));
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(rest.contains("stopping the sandbox"), "{rest}");
}

/// `name: busy`, first a `core.log` step saying `busy run started`, then `body` (YAML steps at
/// the top level's indentation), then `finally` if given.
fn busy_workflow(body: &str, finally: &str) -> String {
    format!(
        "name: busy\nsteps:\n  - {{id: started, uses: core.log, with: {{message: busy run started}}}}\n{body}{finally}"
    )
}

/// A chain of `n` `core.set` steps, each reading the one before: none of them ever waits.
fn set_chain(n: usize) -> String {
    let mut steps = String::from("  - {id: s0, uses: core.set, with: {n: 0}}\n");
    for i in 1..n {
        let before = i - 1;
        steps.push_str(&format!(
            "  - {{id: s{i}, uses: core.set, with: {{n: \"${{{{ steps.s{before}.output.n + 1 }}}}\"}}}}\n"
        ));
    }
    steps
}

/// A loop over a million items whose body never waits, under `id`.
fn set_loop(id: &str) -> String {
    format!(
        "  - id: {id}\n    for_each: ${{{{ range(1000000) }}}}\n    steps:\n      - {{id: {id}_set, uses: core.set, with: {{n: \"${{{{ item }}}}\"}}}}\n"
    )
}

/// A child's stderr, line by line, read on a thread of its own: a wait for a line has a
/// deadline, so a run that ignores its signals fails the test instead of hanging it.
struct Lines(std::sync::mpsc::Receiver<String>);

impl Lines {
    fn of(stderr: ChildStderr) -> Self {
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Self(receive)
    }

    /// Reads lines until one contains `marker`, which must come within `within`.
    fn until(&self, marker: &str, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.0.recv_timeout(left) {
                Ok(line) if line.contains(marker) => {
                    lines.push(line);
                    return lines;
                }
                Ok(line) => lines.push(line),
                Err(_) => panic!(
                    "`{marker}` not printed within {within:?}:\n{}",
                    lines.join("\n")
                ),
            }
        }
    }

    /// The lines left, once the child has ended.
    fn rest(self) -> String {
        self.0.iter().collect::<Vec<_>>().join("\n")
    }
}

/// How `child` ended (within `within`), with its whole stdout and the rest of its stderr.
fn finish(
    child: &mut Child,
    stderr: Lines,
    within: Duration,
) -> (std::process::ExitStatus, String, String) {
    let status = wait_for_exit(child, within);
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    (status, out, stderr.rest())
}

/// `weft run --json FILE` with its `core.log` lines on stderr, once its first step has logged:
/// from then on the run is busy with steps that never wait.
fn start_busy_run(dir: &std::path::Path, workflow: &str) -> (Child, Lines) {
    let file = write(dir, "busy.yaml", workflow);
    let mut child = weft_command(dir, &["run", "--json", file.to_str().unwrap()])
        .env("RUST_LOG", "warn,weft::log=info")
        .spawn()
        .expect("the weft binary starts");
    let stderr = Lines::of(child.stderr.take().unwrap());
    // Generous: a debug build compiles the 20,000 steps first.
    stderr.until("busy run started", Duration::from_secs(120));
    (child, stderr)
}

/// Steps that never wait still let the signal task in (the engine yields between steps, on the
/// one thread of `weft run` too): the first signal cancels the run, which ends `cancelled`.
#[test]
fn sigterm_and_ctrl_c_cancel_a_busy_json_run_of_steps_that_never_wait() {
    // Long enough to be still running when the signal comes: tens of seconds in a debug build.
    let bodies = [("sequence", set_chain(20_000)), ("loop", set_loop("each"))];
    for (kind, body) in &bodies {
        for (sig, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "Ctrl-C")] {
            let dir = tempfile::tempdir().unwrap();
            let (mut child, stderr) = start_busy_run(dir.path(), &busy_workflow(body, ""));
            signal(&child, sig);
            let (status, out, printed) = finish(&mut child, stderr, Duration::from_secs(60));
            assert_eq!(status.code(), Some(1), "{kind}, {name}: {printed}");
            assert!(
                printed.contains(&format!("interrupted ({name})")),
                "{printed}"
            );
            let result: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(result["status"], "cancelled", "{kind}, {name}: {out}");
        }
    }
}

/// A second signal while `finally` is busy quits at once with the shell's code of that signal.
#[test]
fn a_second_signal_quits_a_busy_json_run_during_its_finally() {
    for (sig, name, code) in [
        (libc::SIGTERM, "SIGTERM", 143),
        (libc::SIGINT, "Ctrl-C", 130),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let workflow = busy_workflow(
            &set_loop("each"),
            &format!("finally:\n{}", set_loop("last")),
        );
        let (mut child, stderr) = start_busy_run(dir.path(), &workflow);
        signal(&child, sig);
        stderr.until(&format!("interrupted ({name})"), Duration::from_secs(60));
        signal(&child, sig);
        let status = wait_for_exit(&mut child, Duration::from_secs(60));
        let printed = stderr.rest();
        assert_eq!(status.code(), Some(code), "{name}: {printed}");
        assert!(
            printed.contains("interrupted again: quitting without waiting"),
            "{printed}"
        );
    }
}

/// A loop's `timeout` fires while its items never wait: the timer gets its turn between steps
/// (before, the loop ran to its end, whatever its limit).
#[test]
fn a_busy_loop_stops_at_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let timed = set_loop("each").replacen("    for_each:", "    timeout: 1s\n    for_each:", 1);
    let (mut child, stderr) = start_busy_run(dir.path(), &busy_workflow(&timed, ""));
    let (status, out, printed) = finish(&mut child, stderr, Duration::from_secs(60));
    assert_eq!(status.code(), Some(1), "{printed}");
    let result: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(result["status"], "failed", "{out}");
    assert!(
        result["error"]
            .as_str()
            .unwrap_or_default()
            .contains("timed out after 1s"),
        "{out}"
    );
}

/// A signal while a workflow of 100,000 steps is still being read and checked (a second in a
/// release build, much longer in a debug one) ends weft at once with the signal's code, saying
/// where it stopped; before, the signal's default ended the process without a word.
#[test]
fn a_signal_while_the_workflow_is_read_stops_weft_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "big.yaml",
        &busy_workflow(&set_chain(100_000), ""),
    );
    let file = file.to_str().unwrap();
    let cases = [
        (
            ["run", "--json", file],
            "reading the workflow",
            libc::SIGTERM,
            "interrupted (SIGTERM): stopped before the run started; no run was recorded",
            143,
        ),
        (
            ["validate", file, file],
            "checking the workflow",
            libc::SIGINT,
            "interrupted (Ctrl-C): stopped checking",
            130,
        ),
    ];
    for (args, reading, sig, said, code) in cases {
        let mut child = weft_command(dir.path(), &args)
            .env("RUST_LOG", "info")
            .spawn()
            .expect("the weft binary starts");
        let stderr = Lines::of(child.stderr.take().unwrap());
        stderr.until(reading, Duration::from_secs(60));
        signal(&child, sig);
        let (status, out, printed) = finish(&mut child, stderr, Duration::from_secs(60));
        assert_eq!(status.code(), Some(code), "{args:?}: {printed}");
        assert!(printed.contains(said), "{args:?}: {printed}");
        assert_eq!(out, "", "{args:?}");
    }
    let list = weft(dir.path(), &["runs", "list", "--json"]);
    let runs: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
    assert_eq!(runs, serde_json::json!([]), "no run was recorded");
}

/// A signal while `weft run --dry-run` writes its report (after the run, on the runtime's one
/// thread, where the runtime's listener cannot run) ends weft with the signal's code, saying
/// where it stopped; it was swallowed, and weft exited 0 once the report was written.
#[test]
fn a_signal_while_a_dry_run_writes_its_report_stops_weft_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    // Its report is about 250 KB: more than a pipe holds.
    let file = write(
        dir.path(),
        "chain.yaml",
        &busy_workflow(&set_chain(2_000), ""),
    );
    let mut child = spawn_weft(dir.path(), &["run", "--dry-run", file.to_str().unwrap()]);
    let stderr = Lines::of(child.stderr.take().unwrap());
    let mut out = BufReader::new(child.stdout.take().unwrap());
    // The report has begun; unread, the rest fills the pipe and weft waits to write it.
    read_until(&mut out, "Dry run of `busy`");
    terminate(&child);
    let status = wait_for_exit(&mut child, Duration::from_secs(60));
    let printed = stderr.rest();
    assert_eq!(status.code(), Some(143), "{printed}");
    assert!(
        printed.contains(
            "interrupted (SIGTERM): stopped writing the dry run's report; nothing was recorded"
        ),
        "{printed}"
    );
}
