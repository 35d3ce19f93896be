//! `weft demo`: the sandbox, a connection through the OAuth flow and the examples, then nothing
//! left behind (no listening port, no data folder), also when stopped half-way.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use super::signals::{spawn_weft, terminate};
use super::{stderr, stdout, weft};

/// The sandbox's address and the data folder, as the demo prints them.
fn places(out: &str) -> (String, PathBuf) {
    let field = |label: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(label))
            .map(|rest| {
                rest.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .unwrap_or_else(|| panic!("no `{label}` line in:\n{out}"))
    };
    let sandbox = field("sandbox ");
    let addr = sandbox.trim_start_matches("http://").to_string();
    (addr, PathBuf::from(field("data folder ")))
}

fn assert_nothing_left(addr: &str, folder: &std::path::Path) {
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the sandbox still listens on {addr}"
    );
    assert!(!folder.exists(), "{} was left", folder.display());
}

#[test]
fn the_demo_connects_runs_the_examples_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = weft(dir.path(), &["demo"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(
        text.contains(
            "connected    `acme` to https://acme.atlassian.net through the OAuth consent flow"
        ),
        "{text}"
    );
    assert!(
        text.contains("settings     space=ENG days=25 of `acme`"),
        "{text}"
    );
    assert!(
        text.contains("1. confluence-recent-changes.yaml: Lists the pages of a space changed"),
        "{text}"
    );
    assert!(text.contains("   changed: 4"), "{text}");
    let created = text
        .lines()
        .find(|l| l.contains("created page"))
        .unwrap_or_else(|| panic!("no page created:\n{text}"));
    assert!(
        created.contains("\"Recently updated\"  https://acme.atlassian.net/wiki/spaces/ENG/pages/"),
        "{created}"
    );
    assert!(
        text.contains("sandbox stopped, data folder removed."),
        "{text}"
    );
    let (addr, folder) = places(&text);
    assert_nothing_left(&addr, &folder);
}

#[test]
fn keep_keeps_the_data_folder_with_the_run_history() {
    let dir = tempfile::tempdir().unwrap();
    let out = weft(dir.path(), &["demo", "--keep"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    let (addr, folder) = places(&text);
    assert!(
        text.contains(&format!("data folder kept: {}", folder.display())),
        "{text}"
    );
    assert!(std::net::TcpStream::connect(&addr).is_err());
    let runs = stdout(&weft(&folder, &["runs", "list"]));
    // Each run the demo names can be looked up by what it prints.
    let printed: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once("(run ")?.1.strip_suffix(')'))
        .collect();
    assert_eq!(printed.len(), 6, "{text}");
    let shown: Vec<_> = printed
        .iter()
        .map(|id| weft(&folder, &["runs", "show", id]))
        .collect();
    std::fs::remove_dir_all(&folder).unwrap();
    assert!(runs.contains("confluence-recent-changes"), "{runs}");
    for (id, show) in printed.iter().zip(&shown) {
        assert_eq!(show.status.code(), Some(0), "{id}: {}", stderr(show));
    }
}

#[test]
fn a_demo_stopped_half_way_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_weft(dir.path(), &["demo"]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("data folder ") {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "ended early: {seen}");
        seen.push_str(&line);
    }
    terminate(&child);
    out.read_to_string(&mut seen).unwrap();
    let status = child.wait().unwrap();
    // Stopped by SIGTERM (143), or finished just before it arrived.
    assert!(
        matches!(status.code(), Some(143) | Some(0)),
        "{status:?}\n{seen}"
    );
    let (addr, folder) = places(&seen);
    assert_nothing_left(&addr, &folder);
}
