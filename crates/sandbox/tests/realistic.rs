//! Realistic mode: search totals are estimates, pages are sometimes shorter than `limit` in the
//! middle of a walk (which still returns every item once), `Retry-After` is sometimes missing on
//! 429, a v2 error `status` is sometimes a string; all reproducible from the seed.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashSet;
use weft_sandbox::{Fault, FaultRule, SandboxConfig};

async fn realistic(seed: u64) -> (weft_sandbox::Sandbox, reqwest::Client, String) {
    let sb = start_with(SandboxConfig {
        realistic: true,
        realistic_seed: seed,
        ..Default::default()
    })
    .await;
    let at = token_all(&sb);
    (sb, client(), at)
}

/// Follows `_links.next` from `first` (a path under the API base), returning the ids of each page.
async fn walk(
    sb: &weft_sandbox::Sandbox,
    c: &reqwest::Client,
    at: &str,
    first: &str,
    item_id: fn(&Value) -> String,
) -> Vec<Vec<String>> {
    let wiki = format!("{}/ex/confluence/{}/wiki", sb.base_url(), cloudid(sb));
    let mut url = format!("{}/ex/confluence/{}{first}", sb.base_url(), cloudid(sb));
    let mut pages = Vec::new();
    loop {
        let (st, body) = get_json(c, &url, at).await;
        assert_eq!(st, 200, "{body}");
        pages.push(
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(item_id)
                .collect(),
        );
        match body["_links"]["next"].as_str() {
            // v2 links start with /wiki, v1 links are relative to /wiki.
            Some(next) if next.starts_with("/wiki/") => {
                url = format!("{}/ex/confluence/{}{next}", sb.base_url(), cloudid(sb))
            }
            Some(next) => url = format!("{wiki}{next}"),
            None => break,
        }
    }
    pages
}

fn v2_id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

fn search_id(v: &Value) -> String {
    v["content"]["id"].as_str().unwrap().to_string()
}

/// Seeds `count` pages in a new space GEN and walks its pages (with the home page) by tens.
async fn seeded_walk(
    sb: &weft_sandbox::Sandbox,
    c: &reqwest::Client,
    at: &str,
    count: usize,
) -> Vec<Vec<String>> {
    let space = sb.admin().create_space(None, "GEN", "Generated").unwrap();
    sb.admin().seed_pages(None, "GEN", count, None).unwrap();
    let first = format!("/wiki/api/v2/pages?space-id={space}&limit=10");
    walk(sb, c, at, &first, v2_id).await
}

/// Walks 95 seeded pages (96 with the home page) by tens in realistic mode.
async fn page_walk(seed: u64) -> Vec<usize> {
    let (sb, c, at) = realistic(seed).await;
    let pages = seeded_walk(&sb, &c, &at, 95).await;
    let all: Vec<&String> = pages.iter().flatten().collect();
    let unique: HashSet<&&String> = all.iter().collect();
    assert_eq!(
        (all.len(), unique.len()),
        (96, 96),
        "every page exactly once"
    );
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert!(sizes.iter().all(|n| (1..=10).contains(n)), "{sizes:?}");
    assert!(
        sizes[..sizes.len() - 1].iter().any(|n| *n < 10),
        "some page in the middle is short: {sizes:?}"
    );
    sb.shutdown().await;
    sizes
}

#[tokio::test]
async fn walks_have_short_pages_but_return_every_item_once_reproducibly() {
    let a = page_walk(42).await;
    assert_eq!(a, page_walk(42).await, "the same seed gives the same pages");
    assert_ne!(a, page_walk(43).await, "another seed gives other pages");
}

#[tokio::test]
async fn search_totals_are_estimates_and_walks_stay_complete() {
    let (sb, c, at) = realistic(7).await;
    sb.admin().create_space(None, "GEN", "Generated").unwrap();
    sb.admin().seed_pages(None, "GEN", 60, None).unwrap();
    let cql: String =
        url::form_urlencoded::byte_serialize(b"type = page and space = GEN").collect();
    let mut estimates = HashSet::new();
    for _ in 0..5 {
        let (_, r) = get_json(&c, &v1(&sb, &format!("/search?cql={cql}&limit=25")), &at).await;
        let total = r["totalSize"].as_u64().unwrap();
        assert_ne!(total, 61, "an estimate, not the exact count");
        assert!((45..=92).contains(&total), "{total}");
        estimates.insert(total);
    }
    assert!(estimates.len() > 1, "estimates vary: {estimates:?}");
    let pages = walk(
        &sb,
        &c,
        &at,
        &format!("/wiki/rest/api/search?cql={cql}&limit=25"),
        search_id,
    )
    .await;
    let ids: HashSet<String> = pages.iter().flatten().cloned().collect();
    assert_eq!(
        (pages.iter().map(Vec::len).sum::<usize>(), ids.len()),
        (61, 61)
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn retry_after_is_sometimes_missing_and_error_status_sometimes_a_string() {
    let (sb, c, at) = realistic(3).await;
    sb.admin()
        .set_fault(FaultRule::always(
            "/ex/confluence/*/wiki/api/v2/spaces",
            Fault::RateLimited {
                retry_after_secs: Some(2),
            },
        ))
        .unwrap();
    let mut with = 0;
    for _ in 0..20 {
        let r = get_raw(&c, &v2(&sb, "/spaces"), &at).await;
        assert_eq!(r.status(), 429);
        with += usize::from(r.headers().contains_key("retry-after"));
    }
    assert!(
        with > 0 && with < 20,
        "{with} of 20 answers had Retry-After"
    );
    let eng = sb.admin().create_space(None, "ENG", "Engineering").unwrap();
    let (_, page) = send_json(
        &c,
        Method::POST,
        &v2(&sb, "/pages"),
        &at,
        &json!({"spaceId": eng.to_string(), "title": "P"}),
    )
    .await;
    let id = page["id"].as_str().unwrap();
    let stale = json!({"id": id, "status": "current", "title": "P", "version": {"number": 1}});
    let mut strings = 0;
    for _ in 0..20 {
        let (st, body) = send_json(
            &c,
            Method::PUT,
            &v2(&sb, &format!("/pages/{id}")),
            &at,
            &stale,
        )
        .await;
        assert_eq!(
            (st, body["errors"][0]["code"].as_str()),
            (409, Some("CONFLICT"))
        );
        match &body["errors"][0]["status"] {
            Value::String(s) => {
                assert_eq!(s, "409");
                strings += 1
            }
            other => assert_eq!(other, &json!(409)),
        }
    }
    assert!(
        strings > 0 && strings < 20,
        "{strings} of 20 statuses were strings"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn the_default_mode_stays_tidy() {
    let (sb, c, at) = empty().await;
    let pages = seeded_walk(&sb, &c, &at, 45).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [10, 10, 10, 10, 6]
    );
    let cql: String =
        url::form_urlencoded::byte_serialize(b"type = page and space = GEN").collect();
    let (_, r) = get_json(&c, &v1(&sb, &format!("/search?cql={cql}")), &at).await;
    assert_eq!(r["totalSize"], 46);
    sb.shutdown().await;
}
