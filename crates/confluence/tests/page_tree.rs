//! The page tree and history actions end to end against the sandbox.

mod support;

use serde_json::{json, Value};

use support::sandbox::Site;

fn ids(listing: &Value) -> Vec<&str> {
    listing["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|item| item["id"].as_str().expect("an id"))
        .collect()
}

async fn child(site: &Site, parent: &str, title: &str) -> String {
    let page = site
        .output(
            "confluence.create_page",
            &json!({"space": "ENG", "title": title, "parent_id": parent}).to_string(),
        )
        .await;
    page["id"].as_str().expect("an id").to_string()
}

#[tokio::test]
async fn children_descendants_ancestors_and_versions() {
    let site = Site::start(None).await;
    let top = site.page_id.clone();
    let first = child(&site, &top, "First").await;
    let second = child(&site, &top, "Second").await;
    let grandchild = child(&site, &first, "Deeper").await;

    let children = site
        .output(
            "confluence.get_page_children",
            &json!({"page_id": top, "limit": 1}).to_string(),
        )
        .await;
    assert_eq!(
        ids(&children),
        [first.as_str(), second.as_str()],
        "two pages of one"
    );
    let capped = site
        .output(
            "confluence.get_page_children",
            &json!({"page_id": top, "max_results": 1}).to_string(),
        )
        .await;
    assert_eq!(
        (capped["count"].clone(), capped["truncated"].clone()),
        (json!(1), json!(true))
    );

    let one_level = site
        .output(
            "confluence.get_page_descendants",
            &json!({"page_id": top, "depth": 1}).to_string(),
        )
        .await;
    assert_eq!(ids(&one_level), [first.as_str(), second.as_str()]);
    let all = site
        .output(
            "confluence.get_page_descendants",
            &json!({"page_id": top}).to_string(),
        )
        .await;
    assert_eq!(
        ids(&all),
        [first.as_str(), grandchild.as_str(), second.as_str()],
        "depth first"
    );
    assert_eq!(all["results"][1]["depth"], 2);

    let ancestors = site
        .output(
            "confluence.get_page_ancestors",
            &json!({"page_id": grandchild}).to_string(),
        )
        .await;
    let chain = ids(&ancestors);
    assert_eq!(chain.len(), 3, "home, top, first: {ancestors}");
    assert_eq!(chain[1..], [top.as_str(), first.as_str()]);

    site.output(
        "confluence.update_page",
        &json!({"page_id": top, "body": "<p>v2</p>", "version_message": "second"}).to_string(),
    )
    .await;
    let versions = site
        .output(
            "confluence.list_page_versions",
            &json!({"page_id": top}).to_string(),
        )
        .await;
    let numbers: Vec<&Value> = versions["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|version| &version["number"])
        .collect();
    assert_eq!(numbers, [&json!(2), &json!(1)], "newest first");
    assert_eq!(versions["results"][0]["message"], "second");
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn bad_input_fails_clearly_before_any_request() {
    let site = Site::start(None).await;
    site.assert_refused_before_sending(&[
        (
            "confluence.get_page_children",
            r#"{"page_id": "x1"}"#,
            "`page_id` is \"x1\"",
        ),
        (
            "confluence.get_page_descendants",
            r#"{"page_id": "65601", "depth": "${{ 6 }}"}"#,
            "`depth` of `confluence.get_page_descendants`: expected integer from 1 to 5, got number `6`",
        ),
        (
            "confluence.get_page_descendants",
            r#"{"page_id": "65601", "depth": "${{ 0 }}"}"#,
            "`depth` of `confluence.get_page_descendants`: expected integer from 1 to 5, got number `0`",
        ),
        (
            "confluence.get_page_ancestors",
            r#"{"page_id": "1.5"}"#,
            "`page_id` is \"1.5\"",
        ),
        (
            "confluence.list_page_versions",
            r#"{"page_id": "65601", "max_results": "${{ 0 }}"}"#,
            "`max_results` of `confluence.list_page_versions`: expected integer from 1 to 100000, got number `0`",
        ),
    ])
    .await;

    for action in [
        "confluence.get_page_children",
        "confluence.get_page_descendants",
        "confluence.get_page_ancestors",
        "confluence.list_page_versions",
    ] {
        let error = site.failure(action, r#"{"page_id": "999999"}"#).await;
        assert!(
            error.contains("page 999999 not found, or the connection's account may not see it"),
            "{action}: {error}"
        );
    }
    site.connection.sandbox.shutdown().await;
}
