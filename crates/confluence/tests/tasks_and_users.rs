//! Task and user-access actions end to end against the sandbox.

mod support;

use serde_json::json;
use weft_action::DryRunEffect;
use weft_engine::exec::{Mode, RunRequest};
use weft_engine::store::RunStatus;
use weft_sandbox::{Fault, FaultRule};

use support::sandbox::Site;

#[tokio::test]
async fn tasks_are_listed_read_completed_and_reopened() {
    let site = Site::start(None).await;
    let task = site
        .add_task_page("Launch checklist", "Book the room")
        .await;
    let other = site.add_task_page("Other checklist", "Order cake").await;

    let read = site
        .output("confluence.get_task", &json!({"task_id": task}).to_string())
        .await;
    assert_eq!(read["status"], "incomplete");
    assert_eq!(read["body"]["storage"]["value"], "Book the room");

    let done = site
        .output(
            "confluence.update_task",
            &json!({"task_id": task, "status": "complete"}).to_string(),
        )
        .await;
    assert_eq!(done["status"], "complete");

    let complete = site
        .output(
            "confluence.list_tasks",
            r#"{"space": "eng", "status": "complete"}"#,
        )
        .await;
    let ids: Vec<&str> = complete["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [task.as_str()]);
    let open = site
        .output("confluence.list_tasks", r#"{"status": "incomplete"}"#)
        .await;
    assert_eq!(open["results"][0]["id"], other.as_str());
    assert_eq!(open["count"], 1);

    let reopened = site
        .output(
            "confluence.update_task",
            &json!({"task_id": task, "status": "incomplete"}).to_string(),
        )
        .await;
    assert_eq!(reopened["status"], "incomplete");
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn users_without_access_are_invited_and_then_have_it() {
    let site = Site::start(None).await;
    let emails = json!({"emails": ["New.Hire@example.com", "other@example.com"]}).to_string();
    let checked = site.output("confluence.check_user_access", &emails).await;
    assert_eq!(
        checked["without_access"],
        json!(["New.Hire@example.com", "other@example.com"])
    );
    assert_eq!(checked["with_access"], json!([]));

    let invited = site
        .output(
            "confluence.invite_user",
            r#"{"emails": ["new.hire@example.com"]}"#,
        )
        .await;
    assert_eq!(invited["invited"], json!(["new.hire@example.com"]));
    let checked = site.output("confluence.check_user_access", &emails).await;
    assert_eq!(checked["with_access"], json!(["New.Hire@example.com"]));
    assert_eq!(checked["without_access"], json!(["other@example.com"]));
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn bad_task_and_user_input_fails_clearly_and_writes_nothing() {
    let site = Site::start(None).await;
    let cases = [
        (
            "confluence.update_task",
            json!({"task_id": "t1", "status": "complete"}),
            "input `task_id` is \"t1\"",
        ),
        (
            "confluence.list_tasks",
            json!({"assignee": "bob smith"}),
            "input `assignee` is \"bob smith\"",
        ),
        (
            "confluence.invite_user",
            json!({"emails": []}),
            "input `emails` has 0 addresses",
        ),
        (
            "confluence.invite_user",
            json!({"emails": ["ok@example.com", "not an email"]}),
            "\"not an email\", which is not an email address",
        ),
    ];
    site.assert_refused(&cases).await;

    let error = site
        .failure(
            "confluence.update_task",
            r#"{"task_id": "999999", "status": "complete"}"#,
        )
        .await;
    assert!(
        error.contains("task 999999 not found, or the connection's account may not see it"),
        "{error}"
    );
    assert!(
        site.writes_received().is_empty(),
        "{:?}",
        site.writes_received()
    );
    site.connection.sandbox.shutdown().await;
}

/// A dry run, with or without `--live-reads`.
fn dry_run(live_reads: bool) -> RunRequest {
    RunRequest {
        mode: Mode::DryRun {
            mocks: Default::default(),
            live_reads,
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn the_access_check_is_a_read_that_live_reads_send_and_retries_repeat() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    let check = "/ex/confluence/*/wiki/api/v2/user/access/check-access-by-email";
    let emails = r#"{"emails": ["ada@example.com"]}"#;
    let posts = || {
        site.confluence_calls()
            .iter()
            .filter(|call| call.starts_with("POST") && call.ends_with("/check-access-by-email"))
            .count()
    };

    admin.clear_requests();
    let shown = site
        .run_step_in("confluence.check_user_access", emails, dry_run(false))
        .await;
    assert_eq!(shown.status, RunStatus::Succeeded, "{:?}", shown.error);
    let report = shown.dry_run.expect("a dry-run report");
    let DryRunEffect::Http { method, writes, .. } = &report.steps[0].effect else {
        panic!("an HTTP effect: {:?}", report.steps[0].effect)
    };
    assert_eq!(
        (method.as_str(), *writes),
        ("POST", false),
        "a POST shown as a read"
    );
    assert_eq!(posts(), 0, "a dry run without --live-reads sends nothing");

    // The first POST fails with 503: a read is sent again.
    admin
        .set_fault(
            FaultRule::sequence(check, vec![Some(Fault::Status { status: 503 })]).method("POST"),
        )
        .expect("fault");
    let live = site
        .run_step_in("confluence.check_user_access", emails, dry_run(true))
        .await;
    assert_eq!(live.status, RunStatus::Succeeded, "{:?}", live.error);
    assert_eq!(
        live.outputs["result"]["without_access"],
        json!(["ada@example.com"])
    );
    assert_eq!(
        posts(),
        2,
        "sent by --live-reads, and once more after the 503"
    );
    site.connection.sandbox.shutdown().await;
}
