//! Space actions end to end against the sandbox.

mod support;

use support::sandbox::Site;

#[tokio::test]
async fn spaces_are_created_listed_and_read_by_key_or_id() {
    let site = Site::start(None).await;
    let created = site
        .output(
            "confluence.create_space",
            r#"{"key": "OPS", "name": "Operations", "description": "Runbooks."}"#,
        )
        .await;
    assert_eq!(created["key"], "OPS");
    let id = created["id"].as_str().expect("an id").to_string();

    let by_key = site
        .output("confluence.get_space", r#"{"space": "ops"}"#)
        .await;
    assert_eq!(by_key["id"], id.as_str());
    let again = site
        .output("confluence.get_space", r#"{"space": "OPS"}"#)
        .await;
    assert_eq!(again["id"], id.as_str());
    let by_id = site
        .output(
            "confluence.get_space",
            &serde_json::json!({"space": id}).to_string(),
        )
        .await;
    assert_eq!(by_id["key"], "OPS");

    let listed = site
        .output("confluence.list_spaces", r#"{"keys": ["OPS", "eng"]}"#)
        .await;
    let mut keys: Vec<&str> = listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["ENG", "OPS"]);
    assert_eq!(listed["truncated"], false);

    let key_lookups = site
        .connection
        .sandbox
        .admin()
        .requests()
        .iter()
        .filter(|r| {
            r.path.ends_with("/wiki/api/v2/spaces")
                && r.query
                    .as_deref()
                    .is_some_and(|q| q.contains("keys=OPS") && !q.contains("keys=ENG"))
        })
        .count();
    assert_eq!(
        key_lookups, 1,
        "the key OPS is looked up once per connection (`ops` too)"
    );

    let capped = site
        .output("confluence.list_spaces", r#"{"max_results": 1}"#)
        .await;
    assert_eq!(capped["count"], 1);
    assert_eq!(capped["truncated"], true);

    let outcome = site
        .run_step(
            "confluence.create_space",
            r#"{"key": "O P S", "name": "x"}"#,
        )
        .await;
    assert!(outcome
        .error
        .unwrap_or_default()
        .contains("input `key` is \"O P S\""));
    site.connection.sandbox.shutdown().await;
}
