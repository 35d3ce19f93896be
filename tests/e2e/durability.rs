//! What weft reports done is on disk: a step printed as finished survives `kill -9`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};

use serde_json::Value;

use super::signals::spawn_weft;
use super::{stdout, weft, write};

#[tokio::test]
async fn every_step_reported_before_kill_9_is_in_the_history() {
    use weft_engine::store::{RunStore, SledRunStore, StepStatus};

    let dir = tempfile::tempdir().unwrap();
    // Runs before, each in a process that opens the history again: an opening writes no
    // snapshot and leaves the log as it found it, so the killed run's recovery below replays
    // the log from an older snapshot, through all of them.
    let one = write(
        dir.path(),
        "one.yaml",
        "name: one\nsteps:\n  - id: a\n    uses: core.set\n    with:\n      v: 1\n",
    );
    for _ in 0..5 {
        let ran = weft(dir.path(), &["run", one.to_str().unwrap()]);
        assert!(ran.status.success(), "{}", super::stderr(&ran));
    }
    // More progress lines than a pipe holds: weft blocks on stderr until the test reads, so
    // the run is still going when it is killed.
    let mut text = String::from("name: many\nsteps:\n");
    for i in 0..5000 {
        let value = match i {
            0 => "0".to_string(),
            _ => format!("${{{{ steps.s{}.output.n + 1 }}}}", i - 1),
        };
        text.push_str(&format!(
            "  - id: s{i}\n    uses: core.set\n    with:\n      n: {value}\n"
        ));
    }
    let file = write(dir.path(), "many.yaml", &text);
    let mut child = spawn_weft(dir.path(), &["run", file.to_str().unwrap()]);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut printed = Vec::new();
    let mut line = String::new();
    while printed
        .iter()
        .filter(|l: &&String| l.contains(" ok "))
        .count()
        < 300
    {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "{printed:?}");
        printed.push(line.trim_end().to_string());
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // What it printed before it died is reported too.
    printed.extend(stderr.lines().map_while(Result::ok));

    let run_id = printed[0]
        .split("(run ")
        .nth(1)
        .map(|id| id.trim_end_matches(')').to_string())
        .unwrap_or_else(|| panic!("{printed:?}"));
    let reported: BTreeSet<String> = printed
        .iter()
        .filter_map(|l| l.trim_start().strip_prefix("ok"))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect();
    assert!(reported.len() >= 300, "{printed:?}");
    assert!(
        !reported.contains("s4999"),
        "the run ended before it was killed"
    );

    // Reopening closes the run as interrupted.
    let list = weft(dir.path(), &["runs", "list", "--json"]);
    let runs: Vec<Value> = serde_json::from_str(&stdout(&list)).unwrap();
    assert_eq!(runs[0]["id"], run_id.as_str());
    assert_eq!(runs[0]["status"], "interrupted", "{runs:?}");
    let earlier: Vec<&Value> = runs.iter().filter(|r| r["workflow"] == "one").collect();
    assert_eq!(earlier.len(), 5, "{runs:?}");
    assert!(
        earlier.iter().all(|r| r["status"] == "succeeded"),
        "{runs:?}"
    );

    let store = SledRunStore::open(&dir.path().join("runs")).await.unwrap();
    let recorded: BTreeSet<String> = store
        .attempts(&run_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.status == StepStatus::Succeeded)
        .map(|a| a.step)
        .collect();
    let lost: Vec<&String> = reported.difference(&recorded).collect();
    assert!(
        lost.is_empty(),
        "{} steps reported done are not in the history: {lost:?}",
        lost.len()
    );
}
