//! Blog post actions end to end against the sandbox.

mod support;

use serde_json::json;
use weft_sandbox::{Fault, FaultRule};

use support::sandbox::Site;

#[tokio::test]
async fn a_blog_post_is_created_read_listed_updated_and_deleted() {
    let site = Site::start(None).await;
    let created = site
        .output(
            "confluence.create_blog_post",
            r#"{"space": "eng", "title": "Weekly digest", "body": "a & b", "body_format": "plain"}"#,
        )
        .await;
    let id = created["id"].as_str().expect("an id").to_string();
    assert_eq!(created["title"], "Weekly digest");

    let read = site
        .output(
            "confluence.get_blog_post",
            &json!({"blog_post_id": id}).to_string(),
        )
        .await;
    assert_eq!(read["body"]["storage"]["value"], "<p>a &amp; b</p>");
    assert_eq!(read["version"]["number"], 1);

    let listed = site
        .output(
            "confluence.list_blog_posts",
            r#"{"space": "ENG", "sort": "title", "limit": 1}"#,
        )
        .await;
    let titles: Vec<&str> = listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|post| post["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["Shipping week", "Weekly digest"],
        "followed to the second page"
    );
    assert_eq!(listed["truncated"], false);
    let capped = site
        .output("confluence.list_blog_posts", r#"{"max_results": 1}"#)
        .await;
    assert_eq!(
        (capped["count"].clone(), capped["truncated"].clone()),
        (json!(1), json!(true))
    );
    let pages = site
        .output("confluence.list_pages", r#"{"space": "ENG"}"#)
        .await;
    assert!(
        pages["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|page| page["id"] != id.as_str() && page["id"] != site.blog_post_id.as_str()),
        "blog posts are not pages: {pages}"
    );

    let updated = site
        .output(
            "confluence.update_blog_post",
            &json!({"blog_post_id": id, "title": "Digest", "body": "**done**", "body_format": "markdown"})
                .to_string(),
        )
        .await;
    assert_eq!(updated["version"]["number"], 2);
    assert_eq!(updated["title"], "Digest");
    let read = site
        .output(
            "confluence.get_blog_post",
            &json!({"blog_post_id": id}).to_string(),
        )
        .await;
    assert_eq!(
        read["body"]["storage"]["value"],
        "<p><strong>done</strong></p>"
    );

    let deleted = site
        .output(
            "confluence.delete_blog_post",
            &json!({"blog_post_id": id}).to_string(),
        )
        .await;
    assert_eq!(deleted, json!({"blog_post_id": id, "purged": false}));
    let trashed = site
        .output("confluence.list_blog_posts", r#"{"status": "trashed"}"#)
        .await;
    assert_eq!(trashed["results"][0]["id"], id.as_str());

    let purged = site
        .output(
            "confluence.delete_blog_post",
            &json!({"blog_post_id": site.blog_post_id, "purge": true}).to_string(),
        )
        .await;
    assert_eq!(purged["purged"], true);
    let error = site
        .failure(
            "confluence.get_blog_post",
            &json!({"blog_post_id": site.blog_post_id}).to_string(),
        )
        .await;
    assert!(
        error.contains(&format!(
            "blog post {} not found, or the connection's account may not see it",
            site.blog_post_id
        )),
        "{error}"
    );
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn bad_input_fails_clearly_and_changes_nothing() {
    let site = Site::start(None).await;
    site.assert_refused_before_sending(&[
        (
            "confluence.get_blog_post",
            r#"{"blog_post_id": "abc"}"#,
            "`blog_post_id` is \"abc\"",
        ),
        (
            "confluence.update_blog_post",
            r#"{"blog_post_id": "12x", "body": "x"}"#,
            "`blog_post_id` is \"12x\"",
        ),
        (
            "confluence.delete_blog_post",
            r#"{"blog_post_id": "", "purge": true}"#,
            "`blog_post_id` is \"\"",
        ),
        (
            "confluence.create_blog_post",
            r#"{"space": "ENG", "title": "  "}"#,
            "`title` is empty",
        ),
        (
            "confluence.list_blog_posts",
            r#"{"limit": "${{ 251 }}"}"#,
            "`limit` of `confluence.list_blog_posts`: expected integer from 1 to 250, got number `251`",
        ),
    ])
    .await;

    let error = site
        .failure(
            "confluence.create_blog_post",
            r#"{"space": "NOPE", "title": "T", "body": "<p>x</p>"}"#,
        )
        .await;
    assert!(error.contains("no space with key NOPE on"), "{error}");
    assert!(
        site.confluence_calls()
            .iter()
            .all(|call| call.starts_with("GET ")),
        "only the key lookup: {:?}",
        site.confluence_calls()
    );
    let listed = site.output("confluence.list_blog_posts", "{}").await;
    assert_eq!(listed["count"], 1, "nothing was created: {listed}");
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_concurrent_edit_of_a_blog_post_overwrites_nothing() {
    let site = Site::start(None).await;
    site.connection
        .sandbox
        .admin()
        .set_fault(
            FaultRule::sequence(
                "/ex/confluence/*/wiki/api/v2/blogposts/*",
                vec![Some(Fault::Status { status: 409 })],
            )
            .method("PUT"),
        )
        .expect("fault");
    let error = site
        .failure(
            "confluence.update_blog_post",
            r#"{"blog_post_id": "65701", "body": "<p>mine</p>"}"#,
        )
        .await;
    assert!(
        error.contains(&format!(
            "blog post {} was changed by someone else (now version 1, you sent 2); nothing was overwritten",
            site.blog_post_id
        )),
        "{error}"
    );
    let read = site
        .output("confluence.get_blog_post", r#"{"blog_post_id": "65701"}"#)
        .await;
    assert_eq!(read["body"]["storage"]["value"], "<p>Search shipped.</p>");
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_blog_post_create_whose_answer_was_lost_makes_no_duplicate() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    let inputs = r#"{"space": "ENG", "title": "Weekly digest", "body": "<p>week</p>"}"#;
    // Last week's digest: blog posts may share a title, so finding one is not enough.
    let last_week = site.output("confluence.create_blog_post", inputs).await;
    admin.advance_clock(std::time::Duration::from_secs(7 * 24 * 3600));
    // The sandbox creates the post, then drops the connection halfway through the answer.
    admin
        .set_fault(
            FaultRule::sequence(
                "/ex/confluence/*/wiki/api/v2/blogposts",
                vec![Some(Fault::CloseConnection)],
            )
            .method("POST"),
        )
        .expect("fault");
    admin.clear_requests();
    let created = site.output("confluence.create_blog_post", inputs).await;
    assert_ne!(created["id"], last_week["id"], "{created}");
    assert_eq!(created["title"], "Weekly digest");
    let posts: Vec<Option<String>> = admin
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/wiki/api/v2/blogposts"))
        .map(|r| r.fault)
        .collect();
    assert_eq!(
        posts,
        [Some("close_connection".to_string())],
        "the create's answer was lost, and it was not sent again"
    );
    let listed = site
        .output("confluence.list_blog_posts", r#"{"space": "ENG"}"#)
        .await;
    let digests = listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|post| post["title"] == "Weekly digest")
        .count();
    assert_eq!(
        digests, 2,
        "last week's and this one, no duplicate: {listed}"
    );
    site.connection.sandbox.shutdown().await;
}
