//! Comments, labels, attachments, content properties, tasks and users.

mod common;

use common::*;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};

async fn page_id(sb: &weft_sandbox::Sandbox, c: &reqwest::Client, at: &str, title: &str) -> String {
    let (_, found) = get_json(
        c,
        &v2(sb, &format!("/pages?title={}", title.replace(' ', "%20"))),
        at,
    )
    .await;
    found["results"][0]["id"]
        .as_str()
        .expect("demo page exists")
        .to_string()
}

#[tokio::test]
async fn footer_and_inline_comments() {
    let (sb, c, at) = demo().await;
    let deploy = page_id(&sb, &c, &at, "Deploy").await;
    let (_, list) = get_json(
        &c,
        &v2(
            &sb,
            &format!("/pages/{deploy}/footer-comments?body-format=storage"),
        ),
        &at,
    )
    .await;
    assert_eq!(
        list["results"].as_array().unwrap().len(),
        1,
        "replies are not root comments"
    );
    let (st, created) = send_json(
        &c,
        Method::POST,
        &v2(&sb, "/footer-comments"),
        &at,
        &json!({"pageId": deploy, "body": {"representation": "storage", "value": "<p>LGTM</p>"}}),
    )
    .await;
    assert_eq!(st, 201, "{created}");
    let cid = created["id"].as_str().unwrap();
    let upd = |n: u32| json!({"version": {"number": n}, "body": {"representation": "storage", "value": "<p>edited</p>"}});
    assert_eq!(
        send_json(
            &c,
            Method::PUT,
            &v2(&sb, &format!("/footer-comments/{cid}")),
            &at,
            &upd(2)
        )
        .await
        .0,
        200
    );
    let (st, conflict) = send_json(
        &c,
        Method::PUT,
        &v2(&sb, &format!("/footer-comments/{cid}")),
        &at,
        &upd(2),
    )
    .await;
    assert_eq!(
        (st, conflict["errors"][0]["code"].as_str()),
        (409, Some("CONFLICT"))
    );
    let r = delete_raw(&c, &v2(&sb, &format!("/footer-comments/{cid}")), &at).await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        get_json(&c, &v2(&sb, &format!("/footer-comments/{cid}")), &at)
            .await
            .0,
        404
    );

    let arch = page_id(&sb, &c, &at, "Architecture").await;
    let inline = |sel: &str| {
        json!({"pageId": arch, "body": {"representation": "storage", "value": "<p>?</p>"},
        "inlineCommentProperties": {"textSelection": sel, "textSelectionMatchCount": 1, "textSelectionMatchIndex": 0}})
    };
    let (st, ok) = send_json(
        &c,
        Method::POST,
        &v2(&sb, "/inline-comments"),
        &at,
        &inline("owns its data"),
    )
    .await;
    assert_eq!(st, 201, "{ok}");
    assert_eq!(ok["resolutionStatus"], "open");
    let (st, _) = send_json(
        &c,
        Method::POST,
        &v2(&sb, "/inline-comments"),
        &at,
        &inline("not on the page"),
    )
    .await;
    assert_eq!(st, 400);
    let (_, list) = get_json(&c, &v2(&sb, &format!("/pages/{arch}/inline-comments")), &at).await;
    assert_eq!(list["results"].as_array().unwrap().len(), 2);
    sb.shutdown().await;
}

#[tokio::test]
async fn labels_read_in_v2_written_in_v1() {
    let (sb, c, at) = demo().await;
    let deploy = page_id(&sb, &c, &at, "Deploy").await;
    let (st, added) = send_json(
        &c,
        Method::POST,
        &v1(&sb, &format!("/content/{deploy}/label")),
        &at,
        &json!([{"prefix": "global", "name": "Urgent"}]),
    )
    .await;
    assert_eq!(st, 200, "{added}");
    assert!(
        added["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["name"] == "urgent"),
        "names are lower-cased"
    );
    let (_, labels) = get_json(&c, &v2(&sb, &format!("/pages/{deploy}/labels")), &at).await;
    let names: Vec<&str> = labels["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"urgent") && names.contains(&"runbook"));
    let urgent = labels["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "urgent")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, with) = get_json(&c, &v2(&sb, &format!("/labels/{urgent}/pages")), &at).await;
    assert_eq!(with["results"][0]["id"], json!(deploy));
    let r = delete_raw(
        &c,
        &v1(&sb, &format!("/content/{deploy}/label?name=urgent")),
        &at,
    )
    .await;
    assert_eq!(r.status(), 204);
    let r = delete_raw(
        &c,
        &v1(&sb, &format!("/content/{deploy}/label/deploy")),
        &at,
    )
    .await;
    assert_eq!(r.status(), 204);
    let (st, err) = send_json(
        &c,
        Method::DELETE,
        &v1(&sb, &format!("/content/{deploy}/label/deploy")),
        &at,
        &json!(null),
    )
    .await;
    assert_eq!(st, 404);
    assert_eq!(err["statusCode"], 404, "v1 error shape: {err}");
    assert_eq!(err["reason"], "Not Found");
    let (st, err) = send_json(
        &c,
        Method::POST,
        &v1(&sb, "/content/999999999/label"),
        &at,
        &json!([{"name": "x"}]),
    )
    .await;
    assert_eq!((st, err["statusCode"].as_i64()), (404, Some(404)));
    let (st, err) = send_json(
        &c,
        Method::POST,
        &v1(&sb, &format!("/content/{deploy}/label")),
        &at,
        &json!([{"name": "two words"}]),
    )
    .await;
    assert_eq!((st, err["statusCode"].as_i64()), (400, Some(400)));
    // v1 label writes accept the classic scope; a v2-only granular token is a scope mismatch.
    let classic = token_with(&sb, &["write:confluence-content"]);
    assert_eq!(
        send_json(
            &c,
            Method::POST,
            &v1(&sb, &format!("/content/{deploy}/label")),
            &classic,
            &json!([{"name": "ok"}])
        )
        .await
        .0,
        200
    );
    let granular = token_with(&sb, &["write:page:confluence"]);
    assert_eq!(
        send_json(
            &c,
            Method::POST,
            &v1(&sb, &format!("/content/{deploy}/label")),
            &granular,
            &json!([{"name": "no"}])
        )
        .await
        .0,
        401
    );
    sb.shutdown().await;
}

fn file_form(name: &str, bytes: &'static [u8]) -> Form {
    Form::new()
        .part(
            "file",
            Part::bytes(bytes)
                .file_name(name.to_string())
                .mime_str("text/plain")
                .unwrap(),
        )
        .text("comment", "uploaded by test")
}

/// Uploads `notes.txt` with the `X-Atlassian-Token: no-check` header the v1 API requires.
async fn upload(
    c: &reqwest::Client,
    method: Method,
    url: &str,
    at: &str,
    bytes: &'static [u8],
) -> reqwest::Response {
    c.request(method, url)
        .bearer_auth(at)
        .header("X-Atlassian-Token", "no-check")
        .multipart(file_form("notes.txt", bytes))
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn attachment_upload_rules() {
    let (sb, c, at) = demo().await;
    let page = page_id(&sb, &c, &at, "Rollback").await;
    let url = v1(&sb, &format!("/content/{page}/child/attachment"));
    let r = c
        .post(&url)
        .bearer_auth(&at)
        .multipart(file_form("notes.txt", b"hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "X-Atlassian-Token: no-check is required");
    let r = upload(&c, Method::POST, &url, &at, b"hello").await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let att = body["results"][0]["id"].as_str().unwrap().to_string();
    assert!(att.starts_with("att"));
    assert_eq!(
        body["results"][0]["extensions"]["comment"],
        "uploaded by test"
    );
    let r = upload(&c, Method::POST, &url, &at, b"again").await;
    assert_eq!(r.status(), 400, "POST refuses a duplicate file name");
    let r = upload(&c, Method::PUT, &url, &at, b"v2!").await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["results"][0]["id"],
        json!(att),
        "PUT updates by file name"
    );
    assert_eq!(body["results"][0]["version"]["number"], 2);

    let (_, list) = get_json(&c, &v2(&sb, &format!("/pages/{page}/attachments")), &at).await;
    assert_eq!(list["results"][0]["fileSize"], 3);
    let (st, one) = get_json(&c, &v2(&sb, &format!("/attachments/{att}")), &at).await;
    assert_eq!((st, one["title"].as_str()), (200, Some("notes.txt")));
    let dl = get_raw(
        &c,
        &v1(
            &sb,
            &format!("/content/{page}/child/attachment/{att}/download"),
        ),
        &at,
    )
    .await;
    assert_eq!(dl.bytes().await.unwrap().as_ref(), b"v2!");
    let r = delete_raw(&c, &v2(&sb, &format!("/attachments/{att}")), &at).await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        get_json(&c, &v2(&sb, &format!("/attachments/{att}")), &at)
            .await
            .0,
        404
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn content_properties_conflicts() {
    let (sb, c, at) = demo().await;
    let page = page_id(&sb, &c, &at, "Deploy").await;
    let url = v2(&sb, &format!("/pages/{page}/properties"));
    let (st, prop) = send_json(
        &c,
        Method::POST,
        &url,
        &at,
        &json!({"key": "weft.state", "value": {"n": 1}}),
    )
    .await;
    assert_eq!(st, 200, "{prop}");
    let (st, dup) = send_json(
        &c,
        Method::POST,
        &url,
        &at,
        &json!({"key": "weft.state", "value": 2}),
    )
    .await;
    assert_eq!(
        (st, dup["errors"][0]["code"].as_str()),
        (409, Some("CONFLICT"))
    );
    let pid = prop["id"].as_str().unwrap();
    let purl = format!("{url}/{pid}");
    let (st, up) = send_json(
        &c,
        Method::PUT,
        &purl,
        &at,
        &json!({"key": "weft.state", "value": {"n": 2}, "version": {"number": 2}}),
    )
    .await;
    assert_eq!((st, up["value"]["n"].as_i64()), (200, Some(2)));
    assert_eq!(
        send_json(
            &c,
            Method::PUT,
            &purl,
            &at,
            &json!({"key": "weft.state", "value": 3, "version": {"number": 2}})
        )
        .await
        .0,
        409
    );
    let (_, list) = get_json(&c, &format!("{url}?key=weft.state"), &at).await;
    assert_eq!(list["results"].as_array().unwrap().len(), 1);
    let r = c.delete(&purl).bearer_auth(&at).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(get_json(&c, &purl, &at).await.0, 404);
    sb.shutdown().await;
}

#[tokio::test]
async fn tasks_come_from_page_bodies_and_can_be_completed() {
    let (sb, c, at) = demo().await;
    let (_, open) = get_json(
        &c,
        &v2(&sb, "/tasks?status=incomplete&body-format=storage"),
        &at,
    )
    .await;
    let open = open["results"].as_array().unwrap().clone();
    assert_eq!(open.len(), 2);
    let id = open[0]["id"].as_str().unwrap();
    let (st, done) = send_json(
        &c,
        Method::PUT,
        &v2(&sb, &format!("/tasks/{id}")),
        &at,
        &json!({"status": "complete"}),
    )
    .await;
    assert_eq!((st, done["status"].as_str()), (200, Some("complete")));
    assert!(done["completedAt"].is_string());
    let (_, open) = get_json(&c, &v2(&sb, "/tasks?status=incomplete"), &at).await;
    assert_eq!(open["results"].as_array().unwrap().len(), 1);
    // The page body follows, so a later edit keeps the task complete.
    let page = done["pageId"].as_str().unwrap();
    let (_, p) = get_json(
        &c,
        &v2(&sb, &format!("/pages/{page}?body-format=storage")),
        &at,
    )
    .await;
    assert!(p["body"]["storage"]["value"]
        .as_str()
        .unwrap()
        .contains("<ac:task-status>complete</ac:task-status><ac:task-body>Review"));
    assert_eq!(
        send_json(
            &c,
            Method::PUT,
            &v2(&sb, &format!("/tasks/{id}")),
            &at,
            &json!({"status": "done"})
        )
        .await
        .0,
        400
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn users_bulk_access_check_and_invite() {
    let (sb, c, at) = demo().await;
    let me = sb.admin().sandbox_account_id();
    let (st, users) = send_json(
        &c,
        Method::POST,
        &v2(&sb, "/users-bulk"),
        &at,
        &json!({"accountIds": [me, "unknown"]}),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(users["results"].as_array().unwrap().len(), 1);
    assert_eq!(users["results"][0]["accountId"], me);
    let (_, check) = send_json(&c, Method::POST, &v2(&sb, "/user/access/check-access-by-email"), &at,
        &json!({"emails": ["ada@example.com", "contractor@example.com", "new@example.com", "broken"]})).await;
    assert_eq!(
        check["emailsWithoutAccess"],
        json!(["contractor@example.com", "new@example.com"])
    );
    assert_eq!(check["invalidEmails"], json!(["broken"]));
    assert_eq!(
        send_json(
            &c,
            Method::POST,
            &v2(&sb, "/user/access/invite-by-email"),
            &at,
            &json!({"emails": ["new@example.com"]})
        )
        .await
        .0,
        200
    );
    let (_, check) = send_json(
        &c,
        Method::POST,
        &v2(&sb, "/user/access/check-access-by-email"),
        &at,
        &json!({"emails": ["new@example.com"]}),
    )
    .await;
    assert_eq!(check["emailsWithoutAccess"], json!([]));
    sb.shutdown().await;
}
