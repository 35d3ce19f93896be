//! Label actions end to end against the sandbox.

mod support;

use serde_json::{json, Value};
use weft_sandbox::{Fault, FaultRule};

use support::sandbox::Site;

fn names(listing: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = listing["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|label| label["name"].as_str().expect("a name"))
        .collect();
    names.sort_unstable();
    names
}

#[tokio::test]
async fn labels_are_added_listed_and_removed() {
    let site = Site::start(None).await;
    let added = site
        .output(
            "confluence.add_label",
            r#"{"page_id": "65601", "labels": ["release", "reviewed"]}"#,
        )
        .await;
    assert_eq!(names(&added), ["release", "reviewed"]);
    let again = site
        .output(
            "confluence.add_label",
            r#"{"page_id": "65601", "labels": ["release"]}"#,
        )
        .await;
    assert_eq!(names(&again), ["release", "reviewed"], "no duplicate");

    let on_page = site
        .output("confluence.get_page_labels", r#"{"page_id": "65601"}"#)
        .await;
    assert_eq!(names(&on_page), ["release", "reviewed"]);
    let on_site = site
        .output(
            "confluence.list_labels",
            r#"{"prefix": "global", "limit": 1}"#,
        )
        .await;
    assert_eq!(
        names(&on_site),
        ["release", "reviewed"],
        "both pages of one"
    );

    let removed = site
        .output(
            "confluence.remove_label",
            r#"{"page_id": "65601", "label": "reviewed"}"#,
        )
        .await;
    assert_eq!(
        removed,
        json!({"page_id": site.page_id, "label": "reviewed", "removed": true})
    );
    let absent = site
        .output(
            "confluence.remove_label",
            r#"{"page_id": "65601", "label": "reviewed"}"#,
        )
        .await;
    assert_eq!(
        absent["removed"], false,
        "a label the page lacks is no error"
    );
    let on_page = site
        .output("confluence.get_page_labels", r#"{"page_id": "65601"}"#)
        .await;
    assert_eq!(names(&on_page), ["release"]);
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn bad_input_and_missing_pages_fail_clearly_and_change_nothing() {
    let site = Site::start(None).await;
    let too_many: Vec<String> = (0..101).map(|n| format!("l{n}")).collect();
    let too_many = json!({"page_id": "65601", "labels": too_many}).to_string();
    site.assert_refused_before_sending(&[
        (
            "confluence.add_label",
            r#"{"page_id": "65601", "labels": []}"#,
            "`labels` has 0 names",
        ),
        (
            "confluence.add_label",
            r#"{"page_id": "65601", "labels": ["ok", "not ok"]}"#,
            "`labels` is \"not ok\"",
        ),
        (
            "confluence.add_label",
            r#"{"page_id": "6x", "labels": ["ok"]}"#,
            "`page_id` is \"6x\"",
        ),
        (
            "confluence.remove_label",
            r#"{"page_id": "65601", "label": "a/b"}"#,
            "`label` is \"a/b\"",
        ),
        (
            "confluence.get_page_labels",
            r#"{"page_id": "abc"}"#,
            "`page_id` is \"abc\"",
        ),
        (
            "confluence.list_labels",
            r#"{"limit": "${{ 0 }}"}"#,
            "expected integer from 1 to 250, got number `0`",
        ),
        (
            "confluence.add_label",
            &too_many,
            "`labels` has 101 names; give 1 to 100",
        ),
    ])
    .await;

    for (action, input) in [
        (
            "confluence.add_label",
            r#"{"page_id": "999999", "labels": ["x"]}"#,
        ),
        (
            "confluence.remove_label",
            r#"{"page_id": "999999", "label": "x"}"#,
        ),
        ("confluence.get_page_labels", r#"{"page_id": "999999"}"#),
    ] {
        let error = site.failure(action, input).await;
        assert!(
            error.contains("page 999999 not found, or the connection's account may not see it"),
            "{action}: {error}"
        );
    }
    let on_site = site.output("confluence.list_labels", "{}").await;
    assert_eq!(on_site["count"], 0, "no label was made: {on_site}");
    site.connection.sandbox.shutdown().await;
}

/// The next `method` on the page's label path answers 409 once.
fn conflict_once(site: &Site, method: &str) {
    site.connection
        .sandbox
        .admin()
        .set_fault(
            FaultRule::sequence(
                "/ex/confluence/*/wiki/rest/api/content/*/label*",
                vec![Some(Fault::Status { status: 409 })],
            )
            .method(method),
        )
        .expect("fault");
}

#[tokio::test]
async fn a_conflict_fails_or_is_reapplied_with_on_conflict_retry() {
    let site = Site::start(None).await;
    conflict_once(&site, "POST");
    let error = site
        .failure(
            "confluence.add_label",
            r#"{"page_id": "65601", "labels": ["release"]}"#,
        )
        .await;
    assert!(
        error.contains(&format!(
            "the labels of page {} were being changed by someone else at the same time, so nothing was changed",
            site.page_id
        )) && error.contains("with `on_conflict: retry`"),
        "{error}"
    );
    let on_page = site
        .output("confluence.get_page_labels", r#"{"page_id": "65601"}"#)
        .await;
    assert_eq!(on_page["count"], 0);

    site.connection.sandbox.admin().clear_faults();
    conflict_once(&site, "POST");
    let added = site
        .output(
            "confluence.add_label",
            r#"{"page_id": "65601", "labels": ["release", "ops"], "on_conflict": "retry"}"#,
        )
        .await;
    assert_eq!(names(&added), ["ops", "release"]);

    site.connection.sandbox.admin().clear_faults();
    conflict_once(&site, "DELETE");
    site.connection.sandbox.admin().clear_requests();
    let removed = site
        .output(
            "confluence.remove_label",
            r#"{"page_id": "65601", "label": "ops", "on_conflict": "retry"}"#,
        )
        .await;
    assert_eq!(removed["removed"], true);
    let deletes = site
        .confluence_calls()
        .into_iter()
        .filter(|call| call.starts_with("DELETE "))
        .count();
    assert_eq!(
        deletes,
        2,
        "refused once, sent again: {:?}",
        site.confluence_calls()
    );
    let on_page = site
        .output("confluence.get_page_labels", r#"{"page_id": "65601"}"#)
        .await;
    assert_eq!(names(&on_page), ["release"]);
    site.connection.sandbox.shutdown().await;
}
