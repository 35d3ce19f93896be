//! Page actions end to end: workflows run through `weft_runtime::Runtime::new()` on a
//! connection made through the sandbox's OAuth flow.

mod support;

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use weft_action::{
    ActionContext, ActionError, DryRunEffect, ErrorKind, LogLevel, StepLog, WorkflowCaller,
};
use weft_engine::exec::{Mode, RunRequest};
use weft_engine::store::RunStatus;
use weft_sandbox::{Fault, FaultRule};

use support::sandbox::Site;

#[tokio::test]
async fn a_page_is_created_read_updated_listed_and_found() {
    let site = Site::start(None).await;
    let created = site
        .output(
            "confluence.create_page",
            r#"{"space": "eng", "title": "Weekly <report>", "body": "a & b\n\nsecond", "body_format": "plain"}"#,
        )
        .await;
    let id = created["id"].as_str().expect("an id").to_string();
    assert_eq!(created["title"], "Weekly <report>");

    let read = site
        .output("confluence.get_page", &json!({"page_id": id}).to_string())
        .await;
    assert_eq!(
        read["body"]["storage"]["value"],
        "<p>a &amp; b</p><p>second</p>"
    );
    assert_eq!(read["version"]["number"], 1);

    let updated = site
        .output(
            "confluence.update_page",
            &json!({"page_id": id, "body": "<p>v2</p>", "version_message": "second"}).to_string(),
        )
        .await;
    assert_eq!(updated["version"]["number"], 2);
    assert_eq!(updated["title"], "Weekly <report>", "the title stays");

    let listed = site
        .output(
            "confluence.list_pages",
            r#"{"space": "ENG", "title": "weekly <REPORT>"}"#,
        )
        .await;
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["results"][0]["id"], id.as_str());
    assert_eq!(listed["truncated"], false);

    let found = site
        .output(
            "confluence.search",
            r#"{"cql": "title = \"Release notes\""}"#,
        )
        .await;
    assert_eq!(found["count"], 1);
    assert_eq!(found["results"][0]["content"]["id"], site.page_id.as_str());

    let me = site.output("confluence.get_current_user", "{}").await;
    assert_eq!(
        me["accountId"],
        site.connection.sandbox.admin().sandbox_account_id()
    );
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn bad_input_fails_clearly_and_sends_nothing() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    admin.clear_requests();
    let confluence_calls = || {
        admin
            .requests()
            .into_iter()
            .filter(|r| r.path.starts_with("/ex/confluence/"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>()
    };

    let error = site
        .failure(
            "confluence.update_page",
            r#"{"page_id": "12x", "body": "<p>x</p>"}"#,
        )
        .await;
    assert!(error.contains("input `page_id` is \"12x\""), "{error}");
    assert!(confluence_calls().is_empty(), "{:?}", confluence_calls());

    let error = site
        .failure(
            "confluence.create_page",
            r#"{"space": "NOPE", "title": "T", "body": "<p>x</p>"}"#,
        )
        .await;
    assert!(
        error.contains("no space with key NOPE on")
            && error.contains("or the connection's account may not see it"),
        "{error}"
    );
    assert!(
        confluence_calls()
            .iter()
            .all(|call| call.starts_with("GET ")),
        "only the key lookup: {:?}",
        confluence_calls()
    );

    let error = site
        .failure("confluence.get_page", r#"{"page_id": "999999"}"#)
        .await;
    assert!(
        error.contains("page 999999 not found, or the connection's account may not see it"),
        "{error}"
    );
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_dry_run_shows_the_exact_request_and_sends_nothing() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    admin.clear_requests();
    let outcome = site
        .run_step_in(
            "confluence.create_page",
            r#"{"space": "ENG", "title": "Plan", "body": "1 < 2", "body_format": "plain"}"#,
            RunRequest {
                mode: Mode::DryRun {
                    mocks: Default::default(),
                    live_reads: false,
                },
                ..Default::default()
            },
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    let report = outcome.dry_run.expect("a dry-run report");
    let DryRunEffect::Http {
        method,
        url,
        body,
        writes,
        ..
    } = &report.steps[0].effect
    else {
        panic!("an HTTP effect: {:?}", report.steps[0].effect)
    };
    assert_eq!(method, "POST");
    assert_eq!(
        url,
        "https://api.atlassian.com/ex/confluence/{cloudid}/wiki/api/v2/pages"
    );
    let body: serde_json::Value = serde_json::from_str(body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"spaceId": "<id of space ENG>", "status": "current", "title": "Plan",
               "body": {"representation": "storage", "value": "<p>1 &lt; 2</p>"}})
    );
    assert!(writes);
    assert!(admin.requests().is_empty(), "{:?}", admin.requests());
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_connection_without_the_write_scope_is_told_which_to_add() {
    let site = Site::start(Some(&["read:page:confluence", "read:space:confluence"])).await;
    let error = site
        .failure(
            "confluence.update_page",
            r#"{"page_id": "65601", "body": "<p>x</p>"}"#,
        )
        .await;
    assert!(
        error.contains("lacks write:page:confluence")
            && error.contains("weft apps set confluence --add-scope write:page:confluence")
            && error.contains("weft connect confluence --connection acme"),
        "{error}"
    );
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn find_append_and_delete() {
    let site = Site::start(None).await;
    let found = site
        .output(
            "confluence.find_page",
            r#"{"space": "ENG", "title": "Release notes"}"#,
        )
        .await;
    assert_eq!(found["found"], true);
    assert_eq!(found["page"]["id"], site.page_id.as_str());
    let missing = site
        .output(
            "confluence.find_page",
            r#"{"space": "ENG", "title": "No such page"}"#,
        )
        .await;
    assert_eq!(missing, json!({"found": false, "page": null}));

    let appended = site
        .output(
            "confluence.append_to_page",
            r#"{"page_id": "65601", "body": "**Fixed** a < b", "body_format": "markdown"}"#,
        )
        .await;
    assert_eq!(appended["version"]["number"], 2);
    let read = site
        .output("confluence.get_page", r#"{"page_id": "65601"}"#)
        .await;
    assert_eq!(
        read["body"]["storage"]["value"],
        "<p>Shipped.</p><p><strong>Fixed</strong> a &lt; b</p>"
    );

    let deleted = site
        .output(
            "confluence.delete_page",
            r#"{"page_id": "65601", "purge": true}"#,
        )
        .await;
    assert_eq!(deleted["purged"], true);
    let error = site
        .failure("confluence.get_page", r#"{"page_id": "65601"}"#)
        .await;
    assert!(error.contains("not found"), "the page is gone: {error}");
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_not_repeated() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    // The sandbox creates the page, then drops the connection halfway through the answer.
    admin
        .set_fault(
            FaultRule::sequence(
                "/ex/confluence/*/wiki/api/v2/pages",
                vec![Some(Fault::CloseConnection)],
            )
            .method("POST"),
        )
        .expect("fault");
    let created = site
        .output(
            "confluence.create_page",
            r#"{"space": "ENG", "title": "Lost answer", "body": "<p>x</p>"}"#,
        )
        .await;
    assert_eq!(created["title"], "Lost answer");
    let posts: Vec<Option<String>> = admin
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/wiki/api/v2/pages"))
        .map(|r| r.fault)
        .collect();
    assert_eq!(
        posts,
        [Some("close_connection".to_string())],
        "the create's answer was lost, and it was not sent again"
    );
    let listed = site
        .output(
            "confluence.list_pages",
            r#"{"space": "ENG", "title": "Lost answer"}"#,
        )
        .await;
    assert_eq!(listed["count"], 1, "one page, no duplicate");
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_draft_whose_create_answer_was_lost_is_not_sent_again() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    admin
        .set_fault(
            FaultRule::sequence(
                "/ex/confluence/*/wiki/api/v2/pages",
                vec![Some(Fault::CloseConnection)],
            )
            .method("POST"),
        )
        .expect("fault");
    let error = site
        .failure(
            "confluence.create_page",
            r#"{"space": "ENG", "title": "Lost draft", "status": "draft"}"#,
        )
        .await;
    assert!(
        error.contains("may have been created as a draft"),
        "{error}"
    );
    let posts = admin
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/wiki/api/v2/pages"))
        .count();
    assert_eq!(
        posts, 1,
        "drafts cannot be looked up: the create was not sent again"
    );
    site.connection.sandbox.shutdown().await;
}

/// A step log and workflow caller for calling an action directly.
struct Quiet;

impl StepLog for Quiet {
    fn log(&self, _: &str, _: LogLevel, _: &str) {}
}

#[async_trait::async_trait]
impl WorkflowCaller for Quiet {
    async fn call_workflow(&self, _: &str, _: Value) -> Result<Value, ActionError> {
        Err(ActionError::failed("no workflows here"))
    }
}

/// Called directly: a 5 MB body is bigger than a workflow file may be.
#[tokio::test]
async fn a_body_over_5_mb_is_refused_before_sending() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    let http = reqwest::Client::new();
    let cancel = CancellationToken::new();
    let ctx = ActionContext {
        run_id: "run",
        step_id: "update",
        iteration: &[],
        attempt: 1,
        may_have_run_before: false,
        wait: Default::default(),
        connection: Some("acme"),
        http: &http,
        tokens: site.connection.tokens.as_ref(),
        logger: &Quiet,
        workflows: &Quiet,
        cancel: &cancel,
    };
    let action = site
        .runtime
        .registry()
        .get("confluence.update_page")
        .expect("registered")
        .clone();
    let body = "x".repeat(5 * 1024 * 1024 + 1);
    let error = action
        .run(json!({"page_id": site.page_id, "body": body}), &ctx)
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidInput);
    assert!(
        error.message.contains("Confluence refuses more than"),
        "{error}"
    );
    assert!(
        admin.requests().iter().all(|r| r.method != "PUT"),
        "nothing was written"
    );
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn an_expired_connection_is_told_to_reconnect() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    admin.revoke_grants(weft_runtime::testing::CLIENT_ID);
    let error = site
        .failure(
            "confluence.update_page",
            r#"{"page_id": "65601", "body": "<p>x</p>"}"#,
        )
        .await;
    assert!(
        error.contains(
            "connection acme needs to be reconnected: weft connect confluence --connection acme"
        ),
        "{error}"
    );
    assert!(admin.requests().iter().all(|r| r.method != "PUT"));
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn http_request_reaches_any_endpoint_and_paginates() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    admin.seed_pages(None, "ENG", 7, None).expect("pages");
    let listed = site
        .output(
            "confluence.http_request",
            r#"{"method": "GET", "path": "/wiki/api/v2/pages", "paginate": true, "limit": 3, "max_results": 5}"#,
        )
        .await;
    assert_eq!(listed["count"], 5);
    assert_eq!(listed["truncated"], true);
    let one = site
        .output(
            "confluence.http_request",
            r#"{"method": "GET", "path": "/wiki/rest/api/user/current"}"#,
        )
        .await;
    assert_eq!(one["status"], 200);
    assert_eq!(one["body"]["accountId"], admin.sandbox_account_id());
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_concurrent_edit_fails_or_is_reapplied_with_on_conflict_retry() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    let conflict_once = || {
        admin
            .set_fault(
                FaultRule::sequence(
                    "/ex/confluence/*/wiki/api/v2/pages/*",
                    vec![Some(Fault::Status { status: 409 })],
                )
                .method("PUT"),
            )
            .expect("fault");
    };
    conflict_once();
    let error = site
        .failure(
            "confluence.append_to_page",
            r#"{"page_id": "65601", "body": "<p>more</p>"}"#,
        )
        .await;
    assert!(
        error.contains(&format!(
            "page {} was changed by someone else (now version 1, you sent 2); nothing was overwritten",
            site.page_id
        )),
        "{error}"
    );
    admin.clear_faults();
    conflict_once();
    let appended = site
        .output(
            "confluence.append_to_page",
            r#"{"page_id": "65601", "body": "<p>more</p>", "on_conflict": "retry"}"#,
        )
        .await;
    assert_eq!(appended["version"]["number"], 2);
    let read = site
        .output("confluence.get_page", r#"{"page_id": "65601"}"#)
        .await;
    assert_eq!(
        read["body"]["storage"]["value"], "<p>Shipped.</p><p>more</p>",
        "appended once"
    );
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_replacing_write_whose_answer_was_lost_is_done_once_and_reported_done() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    // The sandbox applies the PUT, then drops the connection halfway through its answer: the
    // client sends it again, and that try meets the version it took itself (409).
    let lose_the_answer_once = || {
        admin
            .set_fault(
                FaultRule::sequence(
                    "/ex/confluence/*/wiki/api/v2/pages/*",
                    vec![Some(Fault::CloseConnection)],
                )
                .method("PUT"),
            )
            .expect("fault");
    };
    lose_the_answer_once();
    let updated = site
        .output(
            "confluence.update_page",
            r#"{"page_id": "65601", "body": "Replaced & kept.", "body_format": "plain"}"#,
        )
        .await;
    assert_eq!(updated["version"]["number"], 2, "not a conflict: {updated}");
    admin.clear_faults();
    lose_the_answer_once();
    let appended = site
        .output(
            "confluence.append_to_page",
            r#"{"page_id": "65601", "body": "<p>more</p>", "on_conflict": "retry"}"#,
        )
        .await;
    assert_eq!(appended["version"]["number"], 3);
    let read = site
        .output("confluence.get_page", r#"{"page_id": "65601"}"#)
        .await;
    assert_eq!(
        read["body"]["storage"]["value"], "<p>Replaced &amp; kept.</p><p>more</p>",
        "appended once"
    );
    // A write that did not land is still a conflict.
    admin.clear_faults();
    admin
        .set_fault(
            FaultRule::sequence(
                "/ex/confluence/*/wiki/api/v2/pages/*",
                vec![Some(Fault::Status { status: 409 })],
            )
            .method("PUT"),
        )
        .expect("fault");
    let error = site
        .failure(
            "confluence.update_page",
            r#"{"page_id": "65601", "body": "<p>other</p>"}"#,
        )
        .await;
    assert!(error.contains("(now version 3, you sent 4)"), "{error}");
    site.connection.sandbox.shutdown().await;
}
