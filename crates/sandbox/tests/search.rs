//! CQL search over the lagging index, both v1 endpoints, paging through `_links.next`.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

fn q(cql: &str) -> String {
    url::form_urlencoded::byte_serialize(cql.as_bytes()).collect()
}

async fn search(
    sb: &weft_sandbox::Sandbox,
    c: &reqwest::Client,
    at: &str,
    cql: &str,
) -> (u16, Value) {
    get_json(c, &v1(sb, &format!("/search?cql={}", q(cql))), at).await
}

fn titles(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn writes_become_searchable_only_after_the_index_lag() {
    let (sb, c, at) = demo().await;
    let (_, spaces) = get_json(&c, &v2(&sb, "/spaces?keys=ENG"), &at).await;
    let eng = spaces["results"][0]["id"].as_str().unwrap();
    let (st, _) = send_json(
        &c,
        Method::POST,
        &v2(&sb, "/pages"),
        &at,
        &json!({"spaceId": eng, "title": "Fresh page"}),
    )
    .await;
    assert_eq!(st, 200);
    let (_, r) = search(&sb, &c, &at, "title = \"Fresh page\"").await;
    assert_eq!(r["results"].as_array().unwrap().len(), 0, "not indexed yet");
    sb.admin().advance_clock(Duration::from_secs(19));
    assert_eq!(
        search(&sb, &c, &at, "title = \"Fresh page\"").await.1["size"],
        0
    );
    sb.admin().advance_clock(Duration::from_secs(2));
    let (_, r) = search(&sb, &c, &at, "title = \"Fresh page\"").await;
    assert_eq!(titles(&r), vec!["Fresh page"]);
    assert_eq!(r["results"][0]["content"]["type"], "page");
    assert_eq!(r["results"][0]["entityType"], "content");
    sb.shutdown().await;
}

#[tokio::test]
async fn cql_subset_on_the_demo_data() {
    let (sb, c, at) = demo().await;
    let (_, r) = search(
        &sb,
        &c,
        &at,
        "type = blogpost and space = ENG order by created asc",
    )
    .await;
    assert_eq!(
        titles(&r),
        vec!["Q1 engineering update", "Postmortem: cache outage"]
    );
    let (_, r) = search(&sb, &c, &at, "label = runbook and not title = Runbooks").await;
    assert_eq!(titles(&r), vec!["Deploy"]);
    let (_, r) = search(
        &sb,
        &c,
        &at,
        "label in (release, postmortem) order by title",
    )
    .await;
    assert_eq!(
        titles(&r),
        vec!["Postmortem: cache outage", "Release 1.0", "Release 1.1"]
    );
    let (_, r) = search(
        &sb,
        &c,
        &at,
        "space = OPS or (space = HR and title ~ onboarding) order by title asc",
    )
    .await;
    // Without a `type`, search finds the space itself too (its title is its name).
    assert_eq!(
        titles(&r),
        vec![
            "Incident process",
            "Onboarding checklist",
            "Operations",
            "Operations Home",
            "Vendors"
        ]
    );
    let (_, r) = search(
        &sb,
        &c,
        &at,
        "type = page and lastmodified > now(\"-6d\") order by lastmodified desc",
    )
    .await;
    assert_eq!(titles(&r), vec!["Team tasks", "Release 1.1"]);
    let (_, r) = search(
        &sb,
        &c,
        &at,
        "creator = currentUser() and type = page and space = ENG order by title",
    )
    .await;
    assert!(titles(&r).contains(&"Deploy".to_string()));
    let (_, r) = get_json(
        &c,
        &v1(
            &sb,
            &format!(
                "/content/search?cql={}&expand=body.storage,version",
                q("title = Deploy")
            ),
        ),
        &at,
    )
    .await;
    assert!(r["results"][0]["body"]["storage"]["value"]
        .as_str()
        .unwrap()
        .contains("make deploy"));
    assert_eq!(r["results"][0]["version"]["number"], 1);
    // Errors are v1 shaped, start with the Java exception class and say what is wrong.
    let (st, err) = search(&sb, &c, &at, "type = page and").await;
    assert_eq!(st, 400);
    assert!(
        err["message"].as_str().unwrap().starts_with(
            "com.atlassian.confluence.api.service.exceptions.api.BadRequestException: Could not parse cql"
        ),
        "{err}"
    );
    let (st, _) = get_json(&c, &v1(&sb, "/search"), &at).await;
    assert_eq!(st, 400, "cql is required");
    // Search needs search:confluence (or the beta granular scope).
    let no_search = token_with(&sb, &["read:confluence-content.all"]);
    assert_eq!(search(&sb, &c, &at, "type = page").await.0, 200);
    assert_eq!(search(&sb, &c, &no_search, "type = page").await.0, 401);
    sb.shutdown().await;
}

#[tokio::test]
async fn search_pages_through_next_links() {
    let (sb, c, at) = empty().await;
    sb.admin().create_space(None, "GEN", "Generated").unwrap();
    sb.admin().seed_pages(None, "GEN", 60, None).unwrap();
    let base = format!("{}/ex/confluence/{}/wiki", sb.base_url(), cloudid(&sb));
    let mut url = v1(
        &sb,
        &format!(
            "/search?limit=25&cql={}",
            q("space = GEN and type = page order by title")
        ),
    );
    let mut seen = Vec::new();
    loop {
        let (st, r) = get_json(&c, &url, &at).await;
        assert_eq!(st, 200);
        assert_eq!(r["totalSize"], 61);
        seen.extend(titles(&r));
        match r["_links"]["next"].as_str() {
            // v1 next links are relative to `_links.context` (/wiki).
            Some(n) => {
                assert!(n.starts_with("/rest/api/search?"), "{n}");
                url = format!("{base}{n}");
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 61);
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 61);
    // With an expanded body at most 50 per page.
    let (_, r) = get_json(
        &c,
        &v1(
            &sb,
            &format!(
                "/content/search?limit=100&expand=body.storage&cql={}",
                q("space = GEN")
            ),
        ),
        &at,
    )
    .await;
    assert_eq!(r["results"].as_array().unwrap().len(), 50);
    sb.shutdown().await;
}
