//! The workflow examples in the docs are real: every ```yaml block whose first line that is not
//! blank or a comment starts with `name:` must pass `weft validate`, a block preceded by
//! `<!-- runs -->` must also run successfully (such examples need no network or secrets), and
//! one preceded by `<!-- dry-runs -->` must dry-run successfully (examples that read a
//! connection, which a fresh data folder does not have).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DOCS: &[&str] = &[
    "docs/workflow-language.md",
    "docs/cli.md",
    "docs/triggers.md",
    "docs/daemon.md",
];
const RUNS_MARKER: &str = "<!-- runs -->";
const DRY_RUNS_MARKER: &str = "<!-- dry-runs -->";

/// What the docs test does with an example besides validating it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Validate,
    Run,
    DryRun,
}

/// One workflow example found in a document.
struct Example {
    doc: &'static str,
    /// 1-based line of the opening fence.
    line: usize,
    text: String,
    check: Check,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The ```yaml blocks of `markdown` that hold a whole workflow.
fn examples(doc: &'static str, markdown: &str) -> Vec<Example> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() != "```yaml" {
            i += 1;
            continue;
        }
        let fence = i;
        let body_end = (fence + 1..lines.len())
            .find(|&j| lines[j].trim_start().starts_with("```"))
            .unwrap_or_else(|| panic!("{doc}:{}: ```yaml block is never closed", fence + 1));
        let body = &lines[fence + 1..body_end];
        let is_workflow = body
            .iter()
            .map(|l| l.trim())
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .is_some_and(|l| l.starts_with("name:"));
        if is_workflow {
            let marker = lines[..fence]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim());
            let check = match marker {
                Some(RUNS_MARKER) => Check::Run,
                Some(DRY_RUNS_MARKER) => Check::DryRun,
                _ => Check::Validate,
            };
            found.push(Example {
                doc,
                line: fence + 1,
                text: body.join("\n") + "\n",
                check,
            });
        }
        i = body_end + 1;
    }
    found
}

fn weft(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("WEFT_DATA_DIR")
        .output()
        .expect("the weft binary starts")
}

/// Why `output` is a failure, or `None` when it exited 0.
fn failure(example: &Example, command: &str, output: &Output) -> Option<String> {
    if output.status.success() {
        return None;
    }
    Some(format!(
        "{}:{}: `weft {command}` exited with {:?}\n--- stdout\n{}--- stderr\n{}",
        example.doc,
        example.line,
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    ))
}

#[test]
fn every_workflow_example_in_the_docs_validates_and_the_marked_ones_run() {
    let root = repo_root();
    let scratch = tempfile::tempdir().expect("a temporary folder");
    let mut all = Vec::new();
    for doc in DOCS {
        let path = root.join(doc);
        let markdown = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        all.extend(examples(doc, &markdown));
    }
    assert!(
        all.len() >= 10,
        "expected the docs to hold at least 10 workflow examples, found {}",
        all.len()
    );
    assert!(
        all.iter().filter(|e| e.check == Check::Run).count() >= 5,
        "expected at least 5 examples marked {RUNS_MARKER}"
    );

    let mut problems = Vec::new();
    for (n, example) in all.iter().enumerate() {
        let file = scratch.path().join(format!("example-{n}.yaml"));
        std::fs::write(&file, &example.text).expect("write the example");
        let file = file.to_str().expect("a UTF-8 temporary path");
        let data_dir = scratch.path().join(format!("data-{n}"));
        let validated = weft(&data_dir, &["validate", file]);
        if let Some(problem) = failure(example, "validate", &validated) {
            problems.push(problem);
            continue;
        }
        let args: &[&str] = match example.check {
            Check::Validate => continue,
            Check::Run => &["run", file],
            Check::DryRun => &["run", file, "--dry-run"],
        };
        let ran = weft(&data_dir, args);
        problems.extend(failure(example, &args.join(" "), &ran));
    }
    assert!(
        problems.is_empty(),
        "{} of {} doc examples failed:\n\n{}",
        problems.len(),
        all.len(),
        problems.join("\n")
    );
}

#[test]
fn example_extraction_finds_workflows_fragments_and_markers() {
    let markdown = "intro\n\n<!-- runs -->\n```yaml\nname: a\nsteps: []\n```\n\n```yaml\n# fragment\ninputs: {}\n```\n\n```yaml\n# comment first\nname: b\n```\n<!-- runs -->\ntext in between\n```yaml\nname: c\n```\n<!-- dry-runs -->\n```yaml\nname: d\n```\n";
    let found = examples("doc.md", markdown);
    let summary: Vec<(usize, Check, &str)> = found
        .iter()
        .map(|e| (e.line, e.check, e.text.lines().last().unwrap_or_default()))
        .collect();
    assert_eq!(
        summary,
        [
            (4, Check::Run, "steps: []"),
            (14, Check::Validate, "name: b"),
            (20, Check::Validate, "name: c"),
            (24, Check::DryRun, "name: d")
        ]
    );
}
