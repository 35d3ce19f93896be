//! Comment actions end to end against the sandbox.

mod support;

use serde_json::json;

use support::sandbox::Site;

#[tokio::test]
async fn footer_comments_are_added_replied_to_updated_listed_and_deleted() {
    let site = Site::start(None).await;
    let page = site.page_id.clone();
    let added = site
        .output(
            "confluence.add_comment",
            &json!({"page_id": page, "body": "a < b", "body_format": "plain"}).to_string(),
        )
        .await;
    let id = added["id"].as_str().expect("an id").to_string();
    assert_eq!(added["pageId"], page.as_str());

    let reply = site
        .output(
            "confluence.add_comment",
            &json!({"parent_comment_id": id, "body": "**agreed**", "body_format": "markdown"})
                .to_string(),
        )
        .await;
    assert_eq!(reply["parentCommentId"], id.as_str());

    let updated = site
        .output(
            "confluence.update_comment",
            &json!({"comment_id": id, "body": "<p>a &lt; c</p>"}).to_string(),
        )
        .await;
    assert_eq!(updated["version"]["number"], 2);

    let listed = site
        .output(
            "confluence.list_comments",
            &json!({"page_id": page}).to_string(),
        )
        .await;
    let first = listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .expect("the comment is listed");
    assert_eq!(first["body"]["storage"]["value"], "<p>a &lt; c</p>");

    let deleted = site
        .output(
            "confluence.delete_comment",
            &json!({"comment_id": id}).to_string(),
        )
        .await;
    assert_eq!(deleted, json!({"comment_id": id, "deleted": true}));
    let error = site
        .failure(
            "confluence.update_comment",
            &json!({"comment_id": id, "body": "x"}).to_string(),
        )
        .await;
    assert!(
        error.contains(&format!(
            "footer comment {id} not found, or the connection's account may not see it"
        )),
        "{error}"
    );
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn an_inline_comment_highlights_a_match_of_the_selection() {
    let site = Site::start(None).await;
    let page = site.page_id.clone();
    let added = site
        .output(
            "confluence.add_inline_comment",
            &json!({"page_id": page, "body": "Which release?", "body_format": "plain", "text_selection": "Shipped"})
                .to_string(),
        )
        .await;
    assert_eq!(added["resolutionStatus"], "open");
    let listed = site
        .output(
            "confluence.list_comments",
            &json!({"page_id": page, "kind": "inline"}).to_string(),
        )
        .await;
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["results"][0]["id"], added["id"]);
    let footer = site
        .output(
            "confluence.list_comments",
            &json!({"page_id": page}).to_string(),
        )
        .await;
    assert_eq!(footer["count"], 0, "an inline comment is not a footer one");
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn bad_comment_input_fails_clearly_and_writes_nothing() {
    let site = Site::start(None).await;
    let page = site.page_id.clone();
    let cases = [
        (
            "confluence.add_comment",
            json!({"page_id": page, "blog_post_id": "1", "body": "x"}),
            "exactly one of the inputs `page_id`, `blog_post_id` and `parent_comment_id`",
        ),
        (
            "confluence.add_comment",
            json!({"page_id": page, "body": "  "}),
            "input `body` is empty",
        ),
        (
            "confluence.delete_comment",
            json!({"comment_id": "12x"}),
            "input `comment_id` is \"12x\"",
        ),
        (
            "confluence.list_comments",
            json!({}),
            "exactly one of the inputs `page_id` and `blog_post_id`",
        ),
        (
            "confluence.add_inline_comment",
            json!({"page_id": page, "body": "x", "text_selection": "Shipped", "match_index": 1}),
            "occurs 1 time(s) in page",
        ),
    ];
    site.assert_refused(&cases).await;
    site.connection.sandbox.shutdown().await;
}
