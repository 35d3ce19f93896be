//! Page actions end to end: workflows run through `weft_runtime::Runtime::new()` on a
//! connection made through the sandbox's OAuth flow.

mod support;

use serde_json::json;
use weft_action::DryRunEffect;
use weft_engine::exec::{Mode, RunRequest};
use weft_engine::store::RunStatus;

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
            r#"{"space": "ENG", "title": "Weekly <report>"}"#,
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

    let outcome = site
        .run_step(
            "confluence.update_page",
            r#"{"page_id": "12x", "body": "<p>x</p>"}"#,
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap_or_default();
    assert!(error.contains("input `page_id` is \"12x\""), "{error}");
    assert!(confluence_calls().is_empty(), "{:?}", confluence_calls());

    let outcome = site
        .run_step(
            "confluence.create_page",
            r#"{"space": "NOPE", "title": "T", "body": "<p>x</p>"}"#,
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap_or_default();
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

    let outcome = site
        .run_step("confluence.get_page", r#"{"page_id": "999999"}"#)
        .await;
    let error = outcome.error.unwrap_or_default();
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
    let outcome = site
        .run_step(
            "confluence.update_page",
            r#"{"page_id": "65601", "body": "<p>x</p>"}"#,
        )
        .await;
    let error = outcome.error.unwrap_or_default();
    assert!(
        error.contains("lacks write:page:confluence")
            && error.contains("weft apps set confluence --add-scope write:page:confluence")
            && error.contains("weft connect confluence --name acme"),
        "{error}"
    );
    site.connection.sandbox.shutdown().await;
}
