//! What the polling sources rely on: CQL date windows read in the user's time zone, `created`
//! and `lastmodified` ordering, `type in (page, blogpost, comment, attachment)`, `label`,
//! `space`, and a search index lag that can be set and is driven by the sandbox clock.

mod common;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use common::*;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

fn q(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `t` as a CQL date (`yyyy-MM-dd HH:mm`) in the zone `tz`.
fn cql_minute(t: DateTime<Utc>, tz: &str) -> String {
    let tz: Tz = tz.parse().unwrap();
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// How far to move the clock from `now` to reach `ms` milliseconds past a minute.
fn until_second_of_minute(now: DateTime<Utc>, ms: u32) -> Duration {
    use chrono::Timelike;
    let at = now.second() * 1000 + now.nanosecond() / 1_000_000;
    Duration::from_millis(u64::from((ms + 60_000 - at) % 60_000))
}

struct Site {
    sb: weft_sandbox::Sandbox,
    c: reqwest::Client,
    at: String,
    space: String,
}

impl Site {
    async fn new() -> Site {
        let (sb, c, at) = empty().await;
        let space = sb
            .admin()
            .create_space(None, "ENG", "Engineering")
            .unwrap()
            .to_string();
        Site { sb, c, at, space }
    }

    async fn search(&self, cql: &str, extra: &str) -> Value {
        let (st, r) = get_json(
            &self.c,
            &v1(&self.sb, &format!("/search?cql={}{extra}", q(cql))),
            &self.at,
        )
        .await;
        assert_eq!(st, 200, "{cql}: {r}");
        r
    }

    fn titles(r: &Value) -> Vec<String> {
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["title"].as_str().unwrap().to_string())
            .collect()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (st, r) = send_json(&self.c, Method::POST, &v2(&self.sb, path), &self.at, &body).await;
        assert!(st == 200 || st == 201, "{path}: {r}");
        r
    }

    async fn page(&self, title: &str) -> String {
        let r = self
            .post("/pages", json!({"spaceId": self.space, "title": title}))
            .await;
        r["id"].as_str().unwrap().to_string()
    }

    fn advance(&self, secs: u64) {
        self.sb.admin().advance_clock(Duration::from_secs(secs));
    }
}

#[tokio::test]
async fn every_kind_of_event_is_found_after_the_lag_in_the_users_time_zone() {
    let s = Site::new().await;
    let (_, me) = get_json(&s.c, &v1(&s.sb, "/user/current"), &s.at).await;
    let tz = me["timeZone"].as_str().unwrap().to_string();
    let since = cql_minute(s.sb.admin().now(), &tz);
    let page = s.page("Design notes").await;
    s.post(
        "/footer-comments",
        json!({"pageId": page, "body": {"representation": "storage", "value": "<p>hi</p>"}}),
    )
    .await;
    let form = Form::new().part("file", Part::bytes(&b"x"[..]).file_name("a.txt"));
    let r =
        s.c.post(v1(&s.sb, &format!("/content/{page}/child/attachment")))
            .bearer_auth(&s.at)
            .header("X-Atlassian-Token", "no-check")
            .multipart(form)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    s.post("/blogposts", json!({"spaceId": s.space, "title": "Weekly"}))
        .await;
    let (st, _) = send_json(
        &s.c,
        Method::POST,
        &v1(&s.sb, &format!("/content/{page}/label")),
        &s.at,
        &json!([{"prefix": "global", "name": "weekly"}]),
    )
    .await;
    assert_eq!(st, 200);

    let window = format!(
        "type in (page, blogpost, comment, attachment) and space = eng and title != \"Engineering Home\" and lastmodified >= \"{since}\" order by lastmodified asc"
    );
    assert_eq!(
        s.search(&window, "").await["size"],
        0,
        "nothing is indexed yet"
    );
    s.advance(19);
    assert_eq!(
        s.search(&window, "").await["size"],
        0,
        "the index lags 20 s"
    );
    s.advance(2);
    let found = s.search(&window, "").await;
    assert_eq!(
        Site::titles(&found),
        ["Design notes", "Re: Design notes", "a.txt", "Weekly"]
    );
    let types: Vec<&str> = found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["content"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["page", "comment", "attachment", "blogpost"]);
    let created =
        format!("space = ENG and type != space and title != \"Engineering Home\" and created >= \"{since}\" order by created asc");
    assert_eq!(
        Site::titles(&s.search(&created, "").await),
        Site::titles(&found)
    );
    assert_eq!(
        Site::titles(&s.search("label = weekly and space = ENG", "").await),
        ["Design notes"]
    );

    // The same wall-clock minute written in a zone three hours east of the user's is two hours
    // ahead in the user's zone: the dates are read in the user's zone, not in UTC.
    let ahead = cql_minute(
        s.sb.admin().now() - chrono::Duration::minutes(2),
        "Europe/Moscow",
    );
    assert_ne!(tz, "Europe/Moscow");
    let later = format!("space = ENG and lastmodified >= \"{ahead}\"");
    assert_eq!(s.search(&later, "").await["size"], 0);
    s.sb.shutdown().await;
}

#[tokio::test]
async fn many_events_in_one_minute_page_through_without_loss() {
    let s = Site::new().await;
    let since = cql_minute(
        s.sb.admin().now() - chrono::Duration::minutes(1),
        "Europe/Berlin",
    );
    for i in 0..30 {
        s.page(&format!("Burst {i:02}")).await;
    }
    s.advance(21);
    let cql = format!(
        "type = page and space = ENG and lastmodified >= \"{since}\" order by lastmodified asc"
    );
    let mut url = v1(
        &s.sb,
        &format!("/search?cql={}&limit=10&expand=content.version", q(&cql)),
    );
    let (mut seen, mut order) = (HashSet::new(), Vec::new());
    loop {
        let (_, r) = get_json(&s.c, &url, &s.at).await;
        for x in r["results"].as_array().unwrap() {
            assert!(seen.insert(x["content"]["id"].as_str().unwrap().to_string()));
            order.push(x["lastModified"].as_str().unwrap().to_string());
        }
        let Some(next) = r["_links"]["next"].as_str() else {
            break;
        };
        url = format!(
            "{}/ex/confluence/{}/wiki{next}",
            s.sb.base_url(),
            cloudid(&s.sb)
        );
    }
    assert_eq!(seen.len(), 31, "30 pages and the home page");
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "ascending by last modification");
    s.sb.shutdown().await;
}

#[tokio::test]
async fn the_lag_can_be_set_and_edits_reach_the_index_after_it() {
    let s = Site::new().await;
    s.sb.admin().set_search_lag(Duration::from_secs(60));
    let id = s.page("Slow").await;
    s.advance(59);
    assert_eq!(s.search("title = Slow", "").await["size"], 0);
    s.advance(2);
    assert_eq!(s.search("title = Slow", "").await["size"], 1);
    // The edit is made in a minute's last second: the case where a query's minute boundary
    // lands just after it (see below).
    s.sb.admin()
        .advance_clock(until_second_of_minute(s.sb.admin().now(), 59_300));
    // An edit moves lastmodified in the index only after the lag.
    let edit = json!({"id": id, "status": "current", "title": "Slow", "version": {"number": 2}});
    let (st, _) = send_json(
        &s.c,
        Method::PUT,
        &v2(&s.sb, &format!("/pages/{id}")),
        &s.at,
        &edit,
    )
    .await;
    assert_eq!(st, 200);
    let recent = "title = Slow and lastmodified > now(\"-1m\")";
    assert_eq!(
        s.search(recent, "").await["size"],
        0,
        "the index still has the old date"
    );
    s.advance(61);
    // CQL dates are whole minutes: `now("-2m")` would end at the minute boundary just after the
    // edit. Three minutes back always ends before it; the version number tells the edited
    // document from the old one.
    let r = s
        .search(
            "title = Slow and lastmodified > now(\"-3m\")",
            "&expand=content.version",
        )
        .await;
    assert_eq!(r["results"][0]["content"]["version"]["number"], 2);
    s.sb.admin().set_search_lag(Duration::ZERO);
    s.page("Quick").await;
    assert_eq!(
        s.search("title = Quick", "").await["size"],
        1,
        "no lag, found at once"
    );
    s.sb.shutdown().await;
}
