//! `weft triggers poll` and `weft triggers test`: one recorded run per new event, a test that
//! records nothing, and clear errors.

use weft_sandbox::NewPage;

use super::connect::Setup;
use super::{stderr, stdout, weft, write};

const POLLED: &str = "name: new-pages
connection: acme
trigger:
  poll:
    source: confluence.page_created
    interval: 1m
    with:
      space: TRIG
steps:
  - id: note
    uses: core.set
    with:
      title: ${{ trigger.title }}
";

#[test]
fn a_workflow_without_a_poll_trigger_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let manual = write(
        dir.path(),
        "manual.yaml",
        "name: manual\nsteps:\n  - id: a\n    uses: core.log\n    with: {message: hi}\n",
    );
    let out = weft(dir.path(), &["triggers", "test", manual.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("has no poll trigger (its trigger is `manual`)"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_records_one_run_per_new_page_and_a_test_records_nothing() {
    let setup = Setup::start().await;
    let scopes = setup
        .weft(&[
            "apps",
            "set",
            "confluence",
            "--add-scope",
            "search:confluence",
        ])
        .await;
    assert_eq!(scopes.status.code(), Some(0), "{}", stderr(&scopes));
    let cloudid = setup.connect_acme_with_space("TRIG", "Triggers").await;
    let admin = setup.sandbox.admin();
    let file = write(&setup.data(), "new-pages.yaml", POLLED);
    let file = file.to_str().unwrap();

    let unknown = setup
        .weft(&["triggers", "poll", file, "--connection", "nope"])
        .await;
    assert_eq!(unknown.status.code(), Some(1));
    let text = stderr(&unknown);
    assert!(text.contains("no connection named `nope`"), "{text}");
    assert!(
        text.contains("hint: list connections with `weft connections list`"),
        "{text}"
    );

    let first = setup.weft(&["triggers", "poll", file]).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(
        stdout(&first).starts_with("0 new event(s)"),
        "{}",
        stdout(&first)
    );

    for title in ["Alpha", "Beta", "Gamma"] {
        admin.create_page(Some(&cloudid), page(title)).unwrap();
    }
    let test = setup.weft(&["triggers", "test", file]).await;
    assert_eq!(test.status.code(), Some(0), "{}", stderr(&test));
    let text = stdout(&test);
    assert!(
        text.starts_with("3 new event(s) through connection `acme` (nothing was run or stored)"),
        "{text}"
    );
    assert!(text.contains("Alpha") && text.contains("Gamma"), "{text}");
    assert_eq!(recorded_runs(&setup).await, 0, "a test runs nothing");

    let poll = setup.weft(&["triggers", "poll", file, "--json"]).await;
    assert_eq!(poll.status.code(), Some(0), "{}", stderr(&poll));
    let report: serde_json::Value = serde_json::from_str(&stdout(&poll)).unwrap();
    assert_eq!(report["events"].as_array().unwrap().len(), 3);
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:?}");

    assert_eq!(recorded_runs(&setup).await, 3);

    // The same file named another way has the same cursor: it finds the page made since.
    admin.create_page(Some(&cloudid), page("Delta")).unwrap();
    let dotted = format!("{}/./new-pages.yaml", setup.data().display());
    let delta = setup.weft(&["triggers", "poll", &dotted]).await;
    let text = stdout(&delta);
    assert!(
        text.starts_with("1 new event(s)") && text.contains("Delta"),
        "{text}"
    );
    let again = setup.weft(&["triggers", "poll", file]).await;
    assert!(
        stdout(&again).starts_with("0 new event(s)"),
        "{}",
        stdout(&again)
    );

    // A source that compares labels rather than walking a window works the same way.
    let labelled = write(&setup.data(), "labelled.yaml", LABELLED);
    let labelled = labelled.to_str().unwrap();
    let baseline = setup.weft(&["triggers", "poll", labelled]).await;
    assert!(
        stdout(&baseline).starts_with("0 new event(s)"),
        "{}",
        stderr(&baseline)
    );
    let epsilon = admin.create_page(Some(&cloudid), page("Epsilon")).unwrap();
    admin.add_label(Some(&cloudid), epsilon, "release").unwrap();
    admin.add_label(Some(&cloudid), epsilon, "other").unwrap();
    let test = setup.weft(&["triggers", "test", labelled]).await;
    let text = stdout(&test);
    assert!(
        text.starts_with("1 new event(s)") && text.contains(&format!("{epsilon}:release")),
        "{text}{}",
        stderr(&test)
    );
    let poll = setup.weft(&["triggers", "poll", labelled]).await;
    assert!(
        stdout(&poll).starts_with("1 new event(s)"),
        "{}",
        stdout(&poll)
    );
    let again = setup.weft(&["triggers", "poll", labelled]).await;
    assert!(
        stdout(&again).starts_with("0 new event(s)"),
        "{}",
        stdout(&again)
    );
    setup.sandbox.shutdown().await;
}

const LABELLED: &str = "name: labelled
connection: acme
trigger:
  poll:
    source: confluence.label_added
    interval: 1m
    with:
      space: TRIG
      labels: [release]
steps:
  - id: note
    uses: core.set
    with:
      label: ${{ trigger.label }}
";

async fn recorded_runs(setup: &Setup) -> usize {
    let runs = setup.weft(&["runs", "list", "--json"]).await;
    let runs: serde_json::Value = serde_json::from_str(&stdout(&runs)).unwrap();
    runs.as_array().expect("a list of runs").len()
}

pub(crate) fn page(title: &str) -> NewPage {
    NewPage {
        space_key: "TRIG".into(),
        title: title.into(),
        body: "<p>x</p>".into(),
        parent_id: None,
        blogpost: false,
    }
}
