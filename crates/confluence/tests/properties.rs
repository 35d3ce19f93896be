//! Content property actions end to end against the sandbox.

mod support;

use serde_json::json;
use weft_sandbox::{Fault, FaultRule};

use support::sandbox::Site;

#[tokio::test]
async fn a_property_is_set_read_replaced_and_deleted() {
    let site = Site::start(None).await;
    let created = site
        .output(
            "confluence.set_content_property",
            r#"{"page_id": "65601", "key": "release", "value": {"train": "2026.12"}}"#,
        )
        .await;
    assert_eq!(created["version"]["number"], 1);
    let read = site
        .output(
            "confluence.get_content_property",
            r#"{"page_id": "65601", "key": "release"}"#,
        )
        .await;
    assert_eq!(read["value"], json!({"train": "2026.12"}));

    let replaced = site
        .output(
            "confluence.set_content_property",
            r#"{"page_id": "65601", "key": "release", "value": [1, "two", null]}"#,
        )
        .await;
    assert_eq!(replaced["id"], created["id"], "the same property");
    assert_eq!(replaced["version"]["number"], 2);
    let read = site
        .output(
            "confluence.get_content_property",
            r#"{"page_id": "65601", "key": "release"}"#,
        )
        .await;
    assert_eq!(read["value"], json!([1, "two", null]));

    let deleted = site
        .output(
            "confluence.delete_content_property",
            r#"{"page_id": "65601", "key": "release"}"#,
        )
        .await;
    assert_eq!(deleted["property_id"], created["id"]);
    for action in [
        "confluence.get_content_property",
        "confluence.delete_content_property",
    ] {
        let error = site
            .failure(action, r#"{"page_id": "65601", "key": "release"}"#)
            .await;
        assert!(
            error.contains(&format!(
                "page {} has no content property with key \"release\"",
                site.page_id
            )),
            "{action}: {error}"
        );
    }
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_write_that_meets_a_concurrent_one_reads_again_and_wins() {
    let site = Site::start(None).await;
    site.output(
        "confluence.set_content_property",
        r#"{"page_id": "65601", "key": "state", "value": "draft"}"#,
    )
    .await;
    site.connection
        .sandbox
        .admin()
        .set_fault(
            FaultRule::sequence(
                "/ex/confluence/*/wiki/api/v2/pages/*/properties/*",
                vec![Some(Fault::Status { status: 409 })],
            )
            .method("PUT"),
        )
        .expect("fault");
    site.connection.sandbox.admin().clear_requests();
    let set = site
        .output(
            "confluence.set_content_property",
            r#"{"page_id": "65601", "key": "state", "value": "final"}"#,
        )
        .await;
    assert_eq!(
        (set["value"].clone(), set["version"]["number"].clone()),
        (json!("final"), json!(2))
    );
    let puts = site
        .confluence_calls()
        .into_iter()
        .filter(|call| call.starts_with("PUT "))
        .count();
    assert_eq!(
        puts,
        2,
        "refused once, sent again: {:?}",
        site.confluence_calls()
    );
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn bad_input_fails_clearly_and_changes_nothing() {
    let site = Site::start(None).await;
    let long_key = json!({"page_id": "65601", "key": "k".repeat(256), "value": 1}).to_string();
    site.assert_refused_before_sending(&[
        (
            "confluence.set_content_property",
            r#"{"page_id": "65601", "key": " ", "value": 1}"#,
            "`key` is \" \"",
        ),
        (
            "confluence.set_content_property",
            &long_key,
            "1 to 255 characters",
        ),
        (
            "confluence.set_content_property",
            r#"{"page_id": "p1", "key": "k", "value": 1}"#,
            "`page_id` is \"p1\"",
        ),
        (
            "confluence.get_content_property",
            r#"{"page_id": "65601", "key": ""}"#,
            "`key` is \"\"",
        ),
        (
            "confluence.delete_content_property",
            r#"{"page_id": "-1", "key": "k"}"#,
            "`page_id` is \"-1\"",
        ),
    ])
    .await;

    for (action, input) in [
        (
            "confluence.set_content_property",
            r#"{"page_id": "999999", "key": "k", "value": 1}"#,
        ),
        (
            "confluence.get_content_property",
            r#"{"page_id": "999999", "key": "k"}"#,
        ),
        (
            "confluence.delete_content_property",
            r#"{"page_id": "999999", "key": "k"}"#,
        ),
    ] {
        let error = site.failure(action, input).await;
        assert!(
            error.contains("page 999999 not found, or the connection's account may not see it"),
            "{action}: {error}"
        );
    }
    assert!(
        site.confluence_calls()
            .iter()
            .all(|call| call.starts_with("GET ")),
        "only reads: {:?}",
        site.confluence_calls()
    );
    site.connection.sandbox.shutdown().await;
}
