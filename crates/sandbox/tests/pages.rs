//! Pages, blog posts, spaces and the page tree, including Confluence's unpleasant parts:
//! empty bodies without body-format, the 409 on a stale version, 404 for trashed content,
//! cursor pagination with `_links.next` and `Link`.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn new_space(sb: &weft_sandbox::Sandbox, c: &reqwest::Client, at: &str, key: &str) -> String {
    let (st, space) = send_json(
        c,
        Method::POST,
        &v2(sb, "/spaces"),
        at,
        &json!({"name": format!("{key} space"), "key": key}),
    )
    .await;
    assert_eq!(st, 201, "{space}");
    space["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn page_lifecycle_with_versions_conflict_trash_and_purge() {
    let (sb, c, at) = empty().await;
    let space = new_space(&sb, &c, &at, "ENG").await;

    let (st, page) = send_json(
        &c,
        Method::POST,
        &v2(&sb, "/pages"),
        &at,
        &json!({
        "spaceId": space, "status": "current", "title": "Runbook",
        "body": {"representation": "storage", "value": "<p>v1</p>"}}),
    )
    .await;
    assert_eq!(st, 200, "{page}");
    let id = page["id"].as_str().unwrap().to_string();
    assert_eq!(page["version"]["number"], 1);
    assert!(
        page["parentId"].is_string(),
        "pages without parent go under the space home page"
    );

    let (_, got) = get_json(&c, &v2(&sb, &format!("/pages/{id}")), &at).await;
    assert_eq!(
        got["body"],
        json!({}),
        "without body-format the body is empty"
    );
    let (_, got) = get_json(
        &c,
        &v2(&sb, &format!("/pages/{id}?body-format=storage")),
        &at,
    )
    .await;
    assert_eq!(got["body"]["storage"]["value"], "<p>v1</p>");
    let (_, adf) = get_json(
        &c,
        &v2(&sb, &format!("/pages/{id}?body-format=atlas_doc_format")),
        &at,
    )
    .await;
    assert!(adf["body"]["atlas_doc_format"]["value"]
        .as_str()
        .unwrap()
        .contains("\"doc\""));
    let (st, bad) = get_json(
        &c,
        &v2(&sb, &format!("/pages/{id}?body-format=markdown")),
        &at,
    )
    .await;
    assert_eq!(
        (st, bad["errors"][0]["code"].as_str()),
        (400, Some("INVALID_REQUEST_PARAMETER"))
    );

    let update = |n: u32, title: &str| {
        json!({"id": id, "status": "current", "title": title,
        "body": {"representation": "storage", "value": format!("<p>{title}</p>")}, "version": {"number": n, "message": "edit"}})
    };
    let (st, up) = send_json(
        &c,
        Method::PUT,
        &v2(&sb, &format!("/pages/{id}")),
        &at,
        &update(2, "Runbook v2"),
    )
    .await;
    assert_eq!(st, 200, "{up}");
    assert_eq!(up["version"]["number"], 2);
    let (st, conflict) = send_json(
        &c,
        Method::PUT,
        &v2(&sb, &format!("/pages/{id}")),
        &at,
        &update(2, "stale"),
    )
    .await;
    assert_eq!(st, 409);
    let err = &conflict["errors"][0];
    assert_eq!(err["status"], 409);
    assert_eq!(err["code"], "CONFLICT");
    assert!(err["title"]
        .as_str()
        .unwrap()
        .starts_with("Version must be incremented"));
    assert_eq!(err["detail"], Value::Null);

    let (_, old) = get_json(
        &c,
        &v2(&sb, &format!("/pages/{id}?version=1&body-format=storage")),
        &at,
    )
    .await;
    assert_eq!(old["title"], "Runbook");
    assert_eq!(old["body"]["storage"]["value"], "<p>v1</p>");
    let (_, versions) = get_json(&c, &v2(&sb, &format!("/pages/{id}/versions")), &at).await;
    let numbers: Vec<i64> = versions["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![2, 1]);
    let (st, detail) = get_json(&c, &v2(&sb, &format!("/pages/{id}/versions/1")), &at).await;
    assert_eq!((st, detail["nextVersion"].as_i64()), (200, Some(2)));

    // Duplicate titles in one space are refused, as Confluence does.
    let (st, dup) = send_json(
        &c,
        Method::POST,
        &v2(&sb, "/pages"),
        &at,
        &json!({"spaceId": space, "title": "Runbook v2"}),
    )
    .await;
    assert_eq!(
        (st, dup["errors"][0]["code"].as_str()),
        (400, Some("BAD_REQUEST"))
    );

    let r = delete_raw(&c, &v2(&sb, &format!("/pages/{id}?purge=true")), &at).await;
    assert_eq!(r.status(), 400, "purge needs the page in the trash first");
    let r = delete_raw(&c, &v2(&sb, &format!("/pages/{id}")), &at).await;
    assert_eq!(r.status(), 204);
    let (st, gone) = get_json(&c, &v2(&sb, &format!("/pages/{id}")), &at).await;
    assert_eq!(st, 404);
    assert_eq!(
        gone,
        json!({"errors": [{"status": 404, "code": "NOT_FOUND", "title": format!("Cannot find a page with id [{id}]"), "detail": null}]})
    );
    let (st, trashed) = get_json(&c, &v2(&sb, &format!("/pages/{id}?status=trashed")), &at).await;
    assert_eq!((st, trashed["status"].as_str()), (200, Some("trashed")));
    let r = delete_raw(&c, &v2(&sb, &format!("/pages/{id}?purge=true")), &at).await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        get_json(&c, &v2(&sb, &format!("/pages/{id}?status=trashed")), &at)
            .await
            .0,
        404
    );

    let (st, _) = get_json(&c, &v2(&sb, "/pages/notanumber"), &at).await;
    assert_eq!(st, 400);
    let r = c
        .post(v2(&sb, "/pages"))
        .bearer_auth(&at)
        .header("content-type", "application/json")
        .body(vec![b' '; 5 * 1024 * 1024 + 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    sb.shutdown().await;
}

#[tokio::test]
async fn pagination_walks_to_the_end_like_confluence() {
    let (sb, c, at) = empty().await;
    let admin = sb.admin();
    let space_id = admin.create_space(None, "BIG", "Big").unwrap();
    admin.seed_pages(None, "BIG", 260, None).unwrap();
    let prefix = format!("{}/ex/confluence/{}", sb.base_url(), cloudid(&sb));

    let mut url = v2(
        &sb,
        &format!("/spaces/{space_id}/pages?limit=100&sort=title"),
    );
    let (mut seen, mut pages) = (Vec::new(), 0);
    loop {
        let r = c.get(&url).bearer_auth(&at).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let link = r
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_string());
        let body: Value = r.json().await.unwrap();
        pages += 1;
        seen.extend(
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["title"].as_str().unwrap().to_string()),
        );
        match body["_links"]["next"].as_str() {
            Some(next) => {
                assert!(
                    next.starts_with(&format!("/wiki/api/v2/spaces/{space_id}/pages?")),
                    "{next}"
                );
                assert!(
                    next.contains("sort=title") && next.contains("limit=100"),
                    "{next}"
                );
                assert_eq!(
                    link.as_deref()
                        .map(|l| l.starts_with(&format!("<{next}>; rel=\"next\""))),
                    Some(true)
                );
                url = format!("{prefix}{next}");
            }
            None => {
                assert!(link.is_none(), "no Link header on the last page");
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 261, "260 seeded pages plus the home page");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    sorted.dedup();
    assert_eq!(sorted.len(), 261, "no duplicates across pages");

    // The space index path with descending ids walks the same set.
    let mut url = v2(&sb, &format!("/spaces/{space_id}/pages?limit=100&sort=-id"));
    let mut ids: Vec<u64> = Vec::new();
    loop {
        let (_, body) = get_json(&c, &url, &at).await;
        ids.extend(
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().parse::<u64>().unwrap()),
        );
        match body["_links"]["next"].as_str() {
            Some(next) => url = format!("{prefix}{next}"),
            None => break,
        }
    }
    assert_eq!(ids.len(), 261);
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "strictly descending, no repeats"
    );

    // Default and maximum limit.
    let (_, body) = get_json(&c, &v2(&sb, "/pages"), &at).await;
    assert_eq!(body["results"].as_array().unwrap().len(), 25);
    let (_, body) = get_json(&c, &v2(&sb, "/pages?limit=1000"), &at).await;
    assert_eq!(
        body["results"].as_array().unwrap().len(),
        250,
        "limit is capped at 250"
    );
    let (st, _) = get_json(&c, &v2(&sb, "/pages?limit=0"), &at).await;
    assert_eq!(st, 400);
    // Passing the whole next URL as the cursor is the well-known 400.
    let (_, first) = get_json(&c, &v2(&sb, "/pages?limit=5"), &at).await;
    let next = first["_links"]["next"].as_str().unwrap();
    let (st, err) = get_json(
        &c,
        &v2(&sb, &format!("/pages?cursor={}", urlencode(next))),
        &at,
    )
    .await;
    assert_eq!(
        (st, err["errors"][0]["code"].as_str()),
        (400, Some("INVALID_REQUEST_PARAMETER"))
    );
    // Descending id order pages without overlap.
    let (_, d1) = get_json(&c, &v2(&sb, "/pages?sort=-id&limit=2"), &at).await;
    let ids: Vec<u64> = d1["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids[0] > ids[1]);
    let (_, d2) = get_json(
        &c,
        &format!("{prefix}{}", d1["_links"]["next"].as_str().unwrap()),
        &at,
    )
    .await;
    let next_id: u64 = d2["results"][0]["id"].as_str().unwrap().parse().unwrap();
    assert!(next_id < ids[1]);
    sb.shutdown().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn tree_children_descendants_ancestors() {
    let (sb, c, at) = demo().await;
    let (_, found) = get_json(&c, &v2(&sb, "/pages?title=Runbooks"), &at).await;
    let runbooks = found["results"][0]["id"].as_str().unwrap().to_string();
    let (_, kids) = get_json(&c, &v2(&sb, &format!("/pages/{runbooks}/children")), &at).await;
    let titles: Vec<&str> = kids["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["Deploy", "Rollback", "On-call"]);
    let deploy = kids["results"][0]["id"].as_str().unwrap();
    let (_, anc) = get_json(&c, &v2(&sb, &format!("/pages/{deploy}/ancestors")), &at).await;
    let anc: Vec<&str> = anc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(anc.len(), 2, "home page, then Runbooks (top to bottom)");
    assert_eq!(anc[1], runbooks);
    let (_, desc) = get_json(
        &c,
        &v2(&sb, &format!("/pages/{}/descendants?depth=1", anc[0])),
        &at,
    )
    .await;
    assert!(desc["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["depth"] == 1));
    let (_, all) = get_json(&c, &v2(&sb, &format!("/pages/{}/descendants", anc[0])), &at).await;
    assert!(all["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["title"] == "Deploy" && d["depth"] == 2));
    // descendants needs read:hierarchical-content:confluence.
    let narrow = token_with(&sb, &["read:page:confluence"]);
    assert_eq!(
        get_json(
            &c,
            &v2(&sb, &format!("/pages/{runbooks}/descendants")),
            &narrow
        )
        .await
        .0,
        401
    );
    assert_eq!(
        get_json(
            &c,
            &v2(&sb, &format!("/pages/{runbooks}/children")),
            &narrow
        )
        .await
        .0,
        200
    );
    // The second site has its own content; ids of one site are 404 on the other.
    let other = &sb.admin().sites()[1].cloudid;
    let r = get_raw(
        &c,
        &format!(
            "{}/ex/confluence/{other}/wiki/api/v2/pages/{runbooks}",
            sb.base_url()
        ),
        &at,
    )
    .await;
    assert_eq!(r.status(), 404);
    sb.shutdown().await;
}

#[tokio::test]
async fn blogposts_and_spaces() {
    let (sb, c, at) = demo().await;
    let (_, spaces) = get_json(&c, &v2(&sb, "/spaces?keys=ENG,OPS&sort=key"), &at).await;
    let keys: Vec<&str> = spaces["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec!["ENG", "OPS"]);
    let eng = spaces["results"][0]["id"].as_str().unwrap();
    let (st, space) = get_json(
        &c,
        &v2(&sb, &format!("/spaces/{eng}?description-format=plain")),
        &at,
    )
    .await;
    assert_eq!(st, 200);
    assert!(space["description"]["plain"]["value"]
        .as_str()
        .unwrap()
        .contains("build"));
    let (_, blogs) = get_json(&c, &v2(&sb, &format!("/spaces/{eng}/blogposts")), &at).await;
    assert_eq!(blogs["results"].as_array().unwrap().len(), 2);
    let (st, bp) = send_json(&c, Method::POST, &v2(&sb, "/blogposts"), &at, &json!({"spaceId": eng, "title": "News", "body": {"representation": "wiki", "value": "hello"}})).await;
    assert_eq!(st, 200, "{bp}");
    assert_eq!(
        bp["body"]["storage"]["value"], "<p>hello</p>",
        "wiki is converted to storage"
    );
    let (_, roots) = get_json(
        &c,
        &v2(&sb, &format!("/spaces/{eng}/pages?depth=root")),
        &at,
    )
    .await;
    assert_eq!(
        roots["results"].as_array().unwrap().len(),
        1,
        "only the home page is at the root"
    );
    let (st, dup) = send_json(
        &c,
        Method::POST,
        &v2(&sb, "/spaces"),
        &at,
        &json!({"name": "Again", "key": "ENG"}),
    )
    .await;
    assert_eq!(
        (st, dup["errors"][0]["code"].as_str()),
        (400, Some("BAD_REQUEST"))
    );
    // A classic-only token cannot use v2: the gateway's scope mismatch.
    let classic = token_with(
        &sb,
        &[
            "read:confluence-content.all",
            "read:confluence-space.summary",
        ],
    );
    let (st, body) = get_json(&c, &v2(&sb, "/spaces"), &classic).await;
    assert_eq!(st, 401);
    assert_eq!(
        body,
        json!({"code": 401, "message": "Unauthorized; scope does not match"})
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn date_sorted_listings_stream_from_the_index_and_follow_updates() {
    let (sb, c, at) = empty().await;
    let admin = sb.admin();
    admin.create_space(None, "T", "Timeline").unwrap();
    let ids = admin.seed_pages(None, "T", 30, None).unwrap();
    // Edit three pages later, in this order: they become the most recently modified.
    for (i, id) in [ids[5], ids[20], ids[1]].into_iter().enumerate() {
        admin.advance_clock(std::time::Duration::from_secs(60));
        let body = json!({"id": id.to_string(), "status": "current", "title": format!("Edited {i}"), "version": {"number": 2}});
        assert_eq!(
            send_json(
                &c,
                Method::PUT,
                &v2(&sb, &format!("/pages/{id}")),
                &at,
                &body
            )
            .await
            .0,
            200
        );
    }
    let prefix = format!("{}/ex/confluence/{}", sb.base_url(), cloudid(&sb));
    let walk = |first: String| {
        let (c, at, prefix) = (c.clone(), at.clone(), prefix.clone());
        async move {
            let mut url = first;
            let mut out: Vec<String> = Vec::new();
            loop {
                let (st, body) = get_json(&c, &url, &at).await;
                assert_eq!(st, 200, "{body}");
                out.extend(
                    body["results"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p["title"].as_str().unwrap().to_string()),
                );
                match body["_links"]["next"].as_str() {
                    Some(n) => url = format!("{prefix}{n}"),
                    None => return out,
                }
            }
        }
    };
    let newest = walk(v2(&sb, "/pages?sort=-modified-date&limit=7")).await;
    assert_eq!(newest.len(), 31);
    assert_eq!(&newest[..3], &["Edited 2", "Edited 1", "Edited 0"]);
    let mut dedup = newest.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 31, "no duplicates while walking");
    let oldest_first = walk(v2(&sb, "/pages?sort=modified-date&limit=4")).await;
    assert_eq!(&oldest_first[28..], &["Edited 0", "Edited 1", "Edited 2"]);
    let created = walk(v2(&sb, "/pages?sort=created-date&limit=9")).await;
    assert_eq!(created.len(), 31);
    assert_eq!(created[0], "Timeline Home");
    // A cursor from one order is refused by another.
    let (_, first) = get_json(&c, &v2(&sb, "/pages?sort=-modified-date&limit=2"), &at).await;
    let next = first["_links"]["next"].as_str().unwrap();
    let cursor = next.split("cursor=").nth(1).unwrap();
    assert_eq!(
        get_json(
            &c,
            &v2(&sb, &format!("/pages?sort=id&cursor={cursor}")),
            &at
        )
        .await
        .0,
        200,
        "id order only needs the id"
    );
    let (_, idfirst) = get_json(&c, &v2(&sb, "/pages?limit=2"), &at).await;
    let idcursor = idfirst["_links"]["next"]
        .as_str()
        .unwrap()
        .split("cursor=")
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(
        get_json(
            &c,
            &v2(
                &sb,
                &format!("/pages?sort=-modified-date&cursor={idcursor}")
            ),
            &at
        )
        .await
        .0,
        400
    );
    sb.shutdown().await;
}
