//! The behaviours of the real service from recorded responses (shared reference,
//! confluence-api.md, "Behaviours of the real service"): error texts, case, CQL, v1 search links,
//! attachment versions and downloads, users search, restrictions, headers, doubled slashes.

mod common;

use common::*;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

fn q(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn id_of(sb: &weft_sandbox::Sandbox, c: &reqwest::Client, at: &str, title: &str) -> String {
    let (_, found) = get_json(c, &v2(sb, &format!("/pages?title={}", q(title))), at).await;
    found["results"][0]["id"]
        .as_str()
        .expect("page exists")
        .to_string()
}

async fn space_id(sb: &weft_sandbox::Sandbox, c: &reqwest::Client, at: &str, key: &str) -> String {
    let (_, s) = get_json(c, &v2(sb, &format!("/spaces?keys={key}")), at).await;
    s["results"][0]["id"]
        .as_str()
        .expect("space exists")
        .to_string()
}

fn v2_error(body: &Value) -> (&str, &str) {
    let e = &body["errors"][0];
    (
        e["code"].as_str().unwrap_or(""),
        e["title"].as_str().unwrap_or(""),
    )
}

#[tokio::test]
async fn a_404_names_what_is_missing() {
    let (sb, c, at) = demo().await;
    for (path, title) in [
        ("/pages/999999", "Cannot find a page with id [999999]"),
        (
            "/blogposts/999999",
            "Cannot find a blogpost with id [999999]",
        ),
        ("/spaces/999999", "Cannot find a space with id [999999]"),
        (
            "/attachments/att999999",
            "Cannot find an attachment with id [att999999]",
        ),
        (
            "/footer-comments/999999",
            "Cannot find a comment with id [999999]",
        ),
        ("/tasks/999999", "Cannot find a task with id [999999]"),
    ] {
        let (st, body) = get_json(&c, &v2(&sb, path), &at).await;
        assert_eq!((st, v2_error(&body)), (404, ("NOT_FOUND", title)), "{path}");
    }
    // A rejected credential is the gateway's bare answer, naming nothing.
    let (st, body) = get_json(&c, &v2(&sb, "/pages/999999"), "not-a-token").await;
    assert_eq!(
        (st, body),
        (401, json!({"code": 401, "message": "Unauthorized"}))
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn titles_and_space_keys_ignore_case() {
    let (sb, c, at) = demo().await;
    let eng = space_id(&sb, &c, &at, "eng").await;
    assert_eq!(
        eng,
        space_id(&sb, &c, &at, "ENG").await,
        "keys=eng finds ENG"
    );
    let (_, found) = get_json(&c, &v2(&sb, "/pages?title=dEPLOY"), &at).await;
    assert_eq!(found["results"][0]["title"], "Deploy");
    let (_, found) = get_json(&c, &v2(&sb, "/pages?title=Depl"), &at).await;
    assert_eq!(
        found["results"],
        json!([]),
        "the title filter matches whole titles"
    );
    let (_, found) = get_json(
        &c,
        &v2(&sb, &format!("/spaces/{eng}/pages?title=DEPLOY")),
        &at,
    )
    .await;
    assert_eq!(found["results"][0]["title"], "Deploy");
    // The unique-title rule ignores case too, with the text clients compare.
    let (st, dup) = send_json(
        &c,
        Method::POST,
        &v2(&sb, "/pages"),
        &at,
        &json!({"spaceId": eng, "title": "deploy"}),
    )
    .await;
    assert_eq!(
        (st, v2_error(&dup)),
        (
            400,
            (
                "BAD_REQUEST",
                "A page with this title already exists: A page already exists with the same TITLE in this space"
            )
        )
    );
    let (st, r) = get_json(
        &c,
        &v1(
            &sb,
            &format!(
                "/search?cql={}",
                q("type = page and space = eng and title = Deploy")
            ),
        ),
        &at,
    )
    .await;
    assert_eq!(
        (st, r["results"][0]["title"].as_str()),
        (200, Some("Deploy"))
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn a_bad_cursor_and_a_draft_list_are_refused() {
    let (sb, c, at) = demo().await;
    let whole_link = q("/wiki/api/v2/pages?cursor=abc&limit=25");
    let (st, body) = get_json(&c, &v2(&sb, &format!("/pages?cursor={whole_link}")), &at).await;
    assert_eq!(
        (st, v2_error(&body)),
        (
            400,
            (
                "INVALID_REQUEST_PARAMETER",
                "Provided value for 'cursor' is not the correct type. Expected type is Cursor."
            )
        )
    );
    assert!(body["errors"][0]["detail"].is_string(), "{body}");
    for path in [
        "/pages?status=draft",
        "/pages?status=current,draft",
        "/blogposts?status=draft",
    ] {
        let (st, body) = get_json(&c, &v2(&sb, path), &at).await;
        assert_eq!(
            (st, v2_error(&body).0),
            (400, "INVALID_REQUEST_PARAMETER"),
            "{path}"
        );
    }
    let (st, _) = get_json(&c, &v2(&sb, "/pages?status=current,archived"), &at).await;
    assert_eq!(st, 200);
    sb.shutdown().await;
}

#[tokio::test]
async fn v1_errors_start_with_the_exception_class() {
    let (sb, c, at) = demo().await;
    let deploy = id_of(&sb, &c, &at, "Deploy").await;
    let url = v1(&sb, &format!("/content/{deploy}/label"));
    let (st, body) = send_json(&c, Method::POST, &url, &at, &json!([{"prefix": "global"}])).await;
    assert_eq!(st, 400);
    assert_eq!(
        body["message"],
        "com.atlassian.confluence.api.service.exceptions.api.BadRequestException: Could not parse Labels"
    );
    assert_eq!(body["statusCode"], 400);
    let (st, _) = send_json(
        &c,
        Method::POST,
        &url,
        &at,
        &json!([{"prefix": "global", "name": "ok"}]),
    )
    .await;
    assert_eq!(st, 200);
    sb.shutdown().await;
}

async fn search(
    sb: &weft_sandbox::Sandbox,
    c: &reqwest::Client,
    at: &str,
    cql: &str,
) -> (u16, Value) {
    get_json(c, &v1(sb, &format!("/search?cql={}", q(cql))), at).await
}

#[tokio::test]
async fn cql_errors_and_every_searchable_type() {
    let (sb, c, at) = demo().await;
    let (st, err) = search(&sb, &c, &at, "type = wiki").await;
    assert_eq!(st, 400);
    let msg = err["message"].as_str().unwrap();
    assert!(
        msg.contains("space, user, page, blogpost, comment, attachment"),
        "{msg}"
    );
    let (st, _) = search(&sb, &c, &at, "title = \"\"").await;
    assert_eq!(st, 400, "an empty title is refused");
    let (st, r) = search(&sb, &c, &at, "siteSearch ~ \"deploy\"").await;
    assert_eq!(st, 200);
    assert!(r["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["title"] == "Deploy"));
    let (_, r) = search(&sb, &c, &at, "type = space and space = ops").await;
    assert_eq!(r["results"][0]["entityType"], "space");
    assert_eq!(r["results"][0]["space"]["key"], "OPS");
    let (_, r) = search(&sb, &c, &at, "type = attachment order by title").await;
    let titles: Vec<&str> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["deploy.sh", "service-map.png"]);
    assert_eq!(r["results"][0]["content"]["type"], "attachment");
    let (_, r) = search(&sb, &c, &at, "type = comment and space = ENG").await;
    assert!(r["size"].as_u64().unwrap() >= 3, "{r}");
    assert_eq!(r["results"][0]["content"]["type"], "comment");
    assert!(r["results"][0]["title"]
        .as_str()
        .unwrap()
        .starts_with("Re: "));
    // /content/search leaves spaces out: they are not content.
    let (_, r) = get_json(
        &c,
        &v1(&sb, &format!("/content/search?cql={}", q("space = OPS"))),
        &at,
    )
    .await;
    assert!(
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["type"] == "page"),
        "{r}"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn v1_search_links_carry_self_cursor_and_start_and_start_alone_is_ignored() {
    let (sb, c, at) = empty().await;
    sb.admin().create_space(None, "GEN", "Generated").unwrap();
    sb.admin().seed_pages(None, "GEN", 60, None).unwrap();
    let cql = q("type = page and space = GEN order by id");
    let first_url = v1(&sb, &format!("/search?cql={cql}&limit=25"));
    let (_, first) = get_json(&c, &first_url, &at).await;
    assert!(first["_links"]["self"]
        .as_str()
        .unwrap()
        .contains("/rest/api/search?cql="));
    let next = first["_links"]["next"].as_str().unwrap();
    assert!(
        next.contains("cursor=") && next.contains("start=25"),
        "{next}"
    );
    assert_eq!(first["start"], 0);
    // `start` without the cursor is ignored: the first page again.
    let (_, again) = get_json(&c, &format!("{first_url}&start=25"), &at).await;
    assert_eq!(again["results"], first["results"]);
    // Walking the links finds every page once, and `start` counts along.
    let mut seen = HashSet::new();
    let mut page = first;
    let mut pages = 0;
    loop {
        assert_eq!(page["start"].as_u64().unwrap() as usize, seen.len());
        for r in page["results"].as_array().unwrap() {
            assert!(seen.insert(r["content"]["id"].as_str().unwrap().to_string()));
        }
        pages += 1;
        let Some(next) = page["_links"]["next"].as_str() else {
            break;
        };
        let url = format!(
            "{}/ex/confluence/{}/wiki{next}",
            sb.base_url(),
            cloudid(&sb)
        );
        page = get_json(&c, &url, &at).await.1;
    }
    assert_eq!((seen.len(), pages), (61, 3), "60 pages and the home page");
    sb.shutdown().await;
}

fn file_form(name: &str, bytes: &'static [u8], comment: Option<&str>) -> Form {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_string()));
    match comment {
        Some(c) => form
            .text("comment", c.to_string())
            .text("minorEdit", "true"),
        None => form,
    }
}

/// A multipart upload to the v1 path `path` with the XSRF header spelled `token_header`.
async fn upload(
    sb: &weft_sandbox::Sandbox,
    c: &reqwest::Client,
    at: &str,
    path: &str,
    token_header: &str,
    form: Form,
) -> Value {
    let r = c
        .post(v1(sb, path))
        .bearer_auth(at)
        .header("X-Atlassian-Token", token_header)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn attachment_versions_and_both_download_links() {
    let (sb, c, at) = demo().await;
    let deploy = id_of(&sb, &c, &at, "Deploy").await;
    let attach = format!("/content/{deploy}/child/attachment");
    // `nocheck` is accepted like `no-check`.
    let form = file_form("notes.txt", b"first", None);
    let created = upload(&sb, &c, &at, &attach, "nocheck", form).await;
    let att = created["results"][0]["id"].as_str().unwrap().to_string();
    let form = file_form("notes.txt", b"second", Some("v2"));
    let updated = upload(
        &sb,
        &c,
        &at,
        &format!("{attach}/{att}/data"),
        "no-check",
        form,
    )
    .await;
    assert_eq!(updated["version"]["number"], 2);
    assert_eq!(updated["version"]["minorEdit"], true);
    let v1_link = updated["_links"]["download"].as_str().unwrap().to_string();
    assert_eq!(v1_link, format!("/rest/api{attach}/{att}/download"));
    let (_, v2_att) = get_json(&c, &v2(&sb, &format!("/attachments/{att}")), &at).await;
    assert_eq!(v2_att["version"]["number"], 2);
    let v2_link = v2_att["downloadLink"].as_str().unwrap().to_string();
    let wiki = format!("{}/ex/confluence/{}/wiki", sb.base_url(), cloudid(&sb));
    for link in [&v1_link, &v2_link] {
        let r = get_raw(&c, &format!("{wiki}{link}"), &at).await;
        assert_eq!(r.status(), 200, "{link}");
        assert_eq!(r.bytes().await.unwrap().as_ref(), b"second", "{link}");
        let r = get_raw(&c, &format!("{wiki}{link}"), "not-a-token").await;
        assert_eq!(r.status(), 401, "{link} needs the bearer token");
    }
    // A file name with a space travels percent-encoded in the v2 link.
    let form = file_form("run book.txt", b"spaced", None);
    let spaced = upload(&sb, &c, &at, &attach, "no-check", form).await;
    let spaced_id = spaced["results"][0]["id"].as_str().unwrap();
    let (_, v2_spaced) = get_json(&c, &v2(&sb, &format!("/attachments/{spaced_id}")), &at).await;
    let link = v2_spaced["downloadLink"].as_str().unwrap();
    assert!(link.contains("run%20book.txt"), "{link}");
    let r = get_raw(&c, &format!("{wiki}{link}"), &at).await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"spaced");
    // The new version is what search sees, after the lag.
    sb.admin().advance_clock(Duration::from_secs(21));
    let (_, r) = search(&sb, &c, &at, "type = attachment and title = \"notes.txt\"").await;
    assert_eq!(r["results"][0]["content"]["version"]["number"], 2);
    sb.shutdown().await;
}

#[tokio::test]
async fn users_search_and_restrictions() {
    let (sb, c, at) = demo().await;
    let cql = q("type = user and user.fullname ~ \"grace\"");
    let (st, r) = get_json(&c, &v1(&sb, &format!("/search/user?cql={cql}")), &at).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["size"], 1);
    assert_eq!(r["results"][0]["user"]["displayName"], "Grace Hopper");
    assert_eq!(r["results"][0]["entityType"], "user");
    let (_, r) = get_json(
        &c,
        &v1(&sb, &format!("/search/user?cql={}", q("type = user"))),
        &at,
    )
    .await;
    assert_eq!(
        r["size"], 3,
        "the sandbox user, Ada and Grace (not the account without access)"
    );
    let deploy = id_of(&sb, &c, &at, "Deploy").await;
    let (st, r) = get_json(&c, &v1(&sb, &format!("/content/{deploy}/restriction")), &at).await;
    assert_eq!(st, 200);
    let ops: Vec<&str> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["read", "update"]);
    assert_eq!(
        r["results"][0]["restrictions"]["user"]["results"],
        json!([])
    );
    let (st, _) = get_json(&c, &v1(&sb, "/content/999999/restriction"), &at).await;
    assert_eq!(st, 404);
    sb.shutdown().await;
}

#[tokio::test]
async fn every_answer_has_a_request_id_and_doubled_slashes_are_tolerated() {
    let (sb, c, at) = demo().await;
    let base = format!("{}/ex/confluence/{}", sb.base_url(), cloudid(&sb));
    let mut ids = HashSet::new();
    for (url, token, status) in [
        (format!("{base}/wiki/api/v2/pages"), at.as_str(), 200),
        (format!("{base}/wiki/api/v2/pages/999999"), at.as_str(), 404),
        (format!("{base}/wiki/api/v2/pages"), "bad", 401),
        (
            format!("{base}/wiki/api/v2/no-such-thing"),
            at.as_str(),
            404,
        ),
        (format!("{base}/wiki/rest/api/search"), at.as_str(), 400),
        (
            format!("{base}/wiki/api/v2//pages?limit=1"),
            at.as_str(),
            200,
        ),
        (
            format!("{base}//wiki//rest/api/user/current"),
            at.as_str(),
            200,
        ),
    ] {
        let r = get_raw(&c, &url, token).await;
        assert_eq!(r.status(), status, "{url}");
        let id = r.headers()["atl-request-id"].to_str().unwrap().to_string();
        assert!(ids.insert(id), "request ids are unique");
    }
    let (_, r) = get_json(&c, &format!("{base}/wiki/api/v2//pages?limit=1"), &at).await;
    assert_eq!(r["results"].as_array().unwrap().len(), 1);
    sb.shutdown().await;
}
