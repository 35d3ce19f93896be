//! The client against a scripted server: retries, waits, token refresh, errors, pagination,
//! pacing. Time is paused: waits are checked on tokio's clock, nothing really sleeps.

mod support;

use std::time::Duration;

use serde_json::json;
use support::mock::{Mock, Reply};
use tokio::time::Instant;
use weft_action::{ActionError, ErrorKind};
use weft_confluence::client::{Api, Client, ConfluenceError, Listing, Request};

const SCOPES: &[&str] = &["read:page:confluence", "write:page:confluence"];

fn page(id: u64) -> String {
    json!({"id": id.to_string(), "title": "T"}).to_string()
}

fn gaps(mock: &Mock) -> Vec<Duration> {
    let received = mock.received();
    received
        .windows(2)
        .map(|pair| pair[1].at.duration_since(pair[0].at))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn server_errors_on_a_get_are_retried_with_backoff() {
    let mock = Mock::start(vec![
        Reply::json(503, r#"{"message":"busy"}"#),
        Reply::json(502, "<html>bad gateway</html>"),
        Reply::json(200, &page(1)),
    ])
    .await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let body = client
        .json(&Request::get(Api::V2, "/pages/1"))
        .await
        .unwrap();
    assert_eq!(body["id"], "1");
    let gaps = gaps(&mock);
    assert_eq!(gaps.len(), 2);
    assert!(gaps[0] >= Duration::from_millis(250), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(500), "{gaps:?}");
}

#[tokio::test(start_paused = true)]
async fn a_429_waits_at_least_retry_after() {
    let mock = Mock::start(vec![
        Reply::json(429, r#"{"message":"rate limited"}"#).header("retry-after", "7"),
        Reply::json(200, &page(1)),
    ])
    .await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    client
        .json(&Request::get(Api::V2, "/pages/1"))
        .await
        .unwrap();
    assert!(
        gaps(&mock)[0] >= Duration::from_secs(7),
        "{:?}",
        gaps(&mock)
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_without_retry_after_waits_until_the_reset_time() {
    let reset = (chrono::Utc::now() + chrono::Duration::seconds(20)).to_rfc3339();
    let mock = Mock::start(vec![
        Reply::json(429, "{}").header("x-ratelimit-reset", reset),
        Reply::json(200, &page(1)),
    ])
    .await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    client
        .json(&Request::get(Api::V2, "/pages/1"))
        .await
        .unwrap();
    assert!(
        gaps(&mock)[0] >= Duration::from_secs(18),
        "{:?}",
        gaps(&mock)
    );
}

#[tokio::test(start_paused = true)]
async fn a_wait_longer_than_the_budget_is_left_to_the_step_policy() {
    let mock = Mock::start(vec![
        Reply::json(429, "{}").header("retry-after", "600"),
        Reply::json(200, &page(1)),
    ])
    .await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let start = Instant::now();
    let error: ActionError = client
        .json(&Request::get(Api::V2, "/pages/1"))
        .await
        .unwrap_err()
        .into();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(error.kind, ErrorKind::Http { status: 429 });
    assert_eq!(error.retry_after, Some(Duration::from_secs(600)));
    assert!(
        error.message.contains("rate limited by Atlassian")
            && error.message.contains("Atlassian asks to wait 600 s")
            && error
                .message
                .contains("a step `retry:` policy can wait longer"),
        "{error}"
    );
    assert!(
        !error.message.contains("retrying"),
        "no retry happens: {error}"
    );
    assert_eq!(mock.received().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_post_is_never_retried_blindly() {
    let mock = Mock::start(vec![
        Reply::json(503, r#"{"message":"busy"}"#),
        Reply::json(200, &page(1)),
    ])
    .await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let error = client
        .json(&Request::post(Api::V2, "/pages").json(json!({"title": "T"})))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConfluenceError::Server { status: 503, .. }),
        "{error}"
    );
    assert_eq!(mock.received().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn retries_are_bounded() {
    let mock = Mock::start(vec![Reply::json(500, "{}"); 10]).await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let error: ActionError = client
        .json(&Request::delete(Api::V2, "/pages/1"))
        .await
        .unwrap_err()
        .into();
    assert_eq!(error.kind, ErrorKind::Http { status: 500 });
    assert_eq!(mock.received().len(), 4, "four attempts in all");
}

#[tokio::test(start_paused = true)]
async fn a_rejected_token_is_refreshed_once() {
    let mock = Mock::start(vec![
        Reply::json(401, r#"{"code":401,"message":"Unauthorized"}"#),
        Reply::json(200, &page(1)),
    ])
    .await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    client
        .json(&Request::get(Api::V2, "/pages/1"))
        .await
        .unwrap();
    let tokens: Vec<String> = mock.received().into_iter().map(|r| r.token).collect();
    assert_eq!(tokens, ["token-1", "token-2"]);
    assert_eq!(*connection.refreshes.lock(), 1);

    let mock = Mock::start(vec![
        Reply::json(401, r#"{"code":401,"message":"Unauthorized"}"#),
        Reply::json(401, r#"{"code":401,"message":"Unauthorized"}"#),
    ])
    .await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let error = client
        .json(&Request::get(Api::V2, "/pages/1"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConfluenceError::Unauthorized { .. }),
        "{error}"
    );
    assert_eq!(*connection.refreshes.lock(), 1, "one refresh only");
}

#[tokio::test(start_paused = true)]
async fn a_refused_refresh_says_to_reconnect() {
    let mock = Mock::start(vec![Reply::json(
        401,
        r#"{"code":401,"message":"Unauthorized"}"#,
    )])
    .await;
    let connection = mock.connection(true);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let error: ActionError = client
        .json(&Request::get(Api::V2, "/pages/1"))
        .await
        .unwrap_err()
        .into();
    assert_eq!(
        error.message,
        "connection acme needs to be reconnected: weft connect confluence --connection acme (the refresh token is expired, revoked (app uninstalled, password changed) or was rotated out [token endpoint answered 400 (invalid_grant)])",
        "said once, with the command and the root cause"
    );
}

#[tokio::test(start_paused = true)]
async fn a_revoked_connection_says_to_reconnect_before_any_request() {
    let mock = Mock::start(Vec::new()).await;
    let connection = mock.connection(false).revoked();
    let error = match Client::connect(&connection, SCOPES).await {
        Ok(_) => panic!("a revoked connection gives no client"),
        Err(error) => error,
    };
    assert_eq!(error.kind, ErrorKind::Failed);
    assert_eq!(
        error.message,
        "connection acme needs to be reconnected: weft connect confluence --connection acme (the refresh token is expired, revoked (app uninstalled, password changed) or was rotated out [token endpoint answered 400 (invalid_grant)])"
    );
    assert!(mock.received().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_scope_mismatch_names_the_missing_scopes_and_is_not_refreshed() {
    let mock = Mock::start(vec![Reply::json(
        401,
        r#"{"code":401,"message":"Unauthorized; scope does not match"}"#,
    )
    .header("atl-request-id", "req-42")])
    .await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let error: ActionError = client
        .json(&Request::put(Api::V2, "/pages/1").json(json!({})))
        .await
        .unwrap_err()
        .into();
    assert_eq!(*connection.refreshes.lock(), 0);
    assert!(
        error.message.contains("lacks write:page:confluence"),
        "{error}"
    );
    assert!(
        error
            .message
            .contains("weft apps set confluence --add-scope write:page:confluence"),
        "{error}"
    );
    assert!(
        error
            .message
            .contains("weft connect confluence --connection acme"),
        "{error}"
    );
    assert!(error.message.contains("req-42"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_scope_mismatch_of_an_endpoint_without_declared_scopes_lists_what_was_granted() {
    let mock = Mock::start(vec![Reply::json(
        401,
        r#"{"code":401,"message":"Unauthorized; scope does not match"}"#,
    )])
    .await;
    let connection = mock.connection(false);
    // `http_request`: any endpoint, so no scopes are declared.
    let client = Client::connect(&connection, &[]).await.unwrap();
    let error: ActionError = client
        .json(&Request::get(Api::V2, "/tasks"))
        .await
        .unwrap_err()
        .into();
    assert!(
        error.message.contains(
            "GET /wiki/api/v2/tasks: the endpoint needs scopes connection acme lacks (it was granted read:page:confluence)"
        ),
        "{error}"
    );
    assert!(
        error
            .message
            .contains("`weft apps set confluence --add-scope SCOPE` and reconnect: `weft connect confluence --connection acme`"),
        "{error}"
    );
    assert!(!error.message.contains("needs ,"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn not_found_and_bad_requests_are_worded_for_users() {
    let mock = Mock::start(vec![
        Reply::json(
            404,
            r#"{"errors":[{"status":404,"code":"NOT_FOUND","title":"Cannot find a page with id [9]","detail":null}]}"#,
        )
        .header("atl-request-id", "req-1"),
        Reply::json(
            400,
            r#"{"statusCode":400,"message":"com.atlassian.confluence.api.service.exceptions.api.BadRequestException: Could not parse CQL"}"#,
        ),
        Reply::json(409, r#"{"errors":[{"status":"409","code":"CONFLICT","title":"Version must be incremented","detail":null}]}"#),
    ])
    .await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let missing: ActionError = client
        .json(&Request::get(Api::V2, "/pages/9").about("page 9"))
        .await
        .unwrap_err()
        .into();
    assert_eq!(
        missing.message,
        "page 9 not found, or the connection's account may not see it (Confluence answers 404 for both) (Atlassian request id req-1)"
    );
    let bad: ActionError = client
        .json(
            &Request::get(Api::V1, "/search")
                .query("cql", "x")
                .input("cql", "x"),
        )
        .await
        .unwrap_err()
        .into();
    assert_eq!(bad.kind, ErrorKind::Http { status: 400 });
    assert!(bad.message.contains("(400): Could not parse CQL"), "{bad}");
    assert!(!bad.message.contains("com.atlassian"), "{bad}");
    assert!(bad.message.contains(r#"(input cql = "x")"#), "{bad}");
    let conflict = client
        .json(
            &Request::put(Api::V2, "/pages/9")
                .json(json!({"version": {"number": 7}}))
                .about("page 9"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            conflict,
            ConfluenceError::VersionConflict { sent: Some(7), .. }
        ),
        "{conflict}"
    );
    assert_eq!(mock.received().len(), 3, "none of them is retried");
}

#[tokio::test(start_paused = true)]
async fn an_answer_over_the_cap_fails_cleanly() {
    let huge = format!("\"{}\"", "x".repeat(33 * 1024 * 1024));
    let mock = Mock::start(vec![Reply::json(200, &huge)]).await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let error = client
        .json(&Request::get(Api::V2, "/pages/1"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConfluenceError::AnswerTooLarge { .. }),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_body_over_5_mb_is_not_sent() {
    let mock = Mock::start(vec![]).await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let error: ActionError = client
        .json(&Request::post(Api::V2, "/pages").json(json!({"body": "x".repeat(6 * 1024 * 1024)})))
        .await
        .unwrap_err()
        .into();
    assert_eq!(error.kind, ErrorKind::InvalidInput);
    assert!(mock.received().is_empty());
}

#[tokio::test(start_paused = true)]
async fn listings_follow_the_cursor_and_stop_at_max_results() {
    let mock = Mock::start(vec![
        Reply::json(
            200,
            &json!({"results": [{"id": "1"}, {"id": "2"}], "_links": {"next": "/wiki/api/v2/pages?limit=2&cursor=c2"}}).to_string(),
        ),
        Reply::json(
            200,
            &json!({"results": [{"id": "3"}], "_links": {"next": "/wiki/api/v2/pages?limit=2&cursor=c3"}}).to_string(),
        ),
        Reply::json(200, &json!({"results": [{"id": "4"}, {"id": "5"}], "_links": {}}).to_string()),
    ])
    .await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let listing = Listing {
        limit: Some(2),
        max_results: Some(4),
    };
    let output = client
        .collect(
            Request::get(Api::V2, "/pages").query("space-id", "7"),
            &listing,
        )
        .await
        .unwrap();
    assert_eq!(output["count"], 4);
    assert_eq!(output["truncated"], true);
    let ids: Vec<&str> = output["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1", "2", "3", "4"]);
    let uris: Vec<String> = mock.received().into_iter().map(|r| r.uri).collect();
    assert_eq!(
        uris,
        [
            "/ex/confluence/cloud-1/wiki/api/v2/pages?space-id=7&limit=2",
            "/ex/confluence/cloud-1/wiki/api/v2/pages?space-id=7&limit=2&cursor=c2",
            "/ex/confluence/cloud-1/wiki/api/v2/pages?space-id=7&limit=2&cursor=c3",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_whole_listing_is_not_truncated() {
    let mock = Mock::start(vec![Reply::json(
        200,
        &json!({"results": [{"id": "1"}, {"id": "2"}], "_links": {}}).to_string(),
    )])
    .await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let output = client
        .collect(
            Request::get(Api::V2, "/pages"),
            &Listing {
                limit: None,
                max_results: Some(2),
            },
        )
        .await
        .unwrap();
    assert_eq!(output["truncated"], false);
    assert_eq!(output["count"], 2);
}

#[tokio::test(start_paused = true)]
async fn near_the_limit_the_connection_slows_down() {
    let mock = Mock::start(vec![
        Reply::json(200, &page(1)).header("x-ratelimit-nearlimit", "true"),
        Reply::json(200, &page(1)),
        Reply::json(200, &page(1)),
    ])
    .await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    for _ in 0..3 {
        client
            .json(&Request::get(Api::V2, "/pages/1"))
            .await
            .unwrap();
    }
    let gaps = gaps(&mock);
    assert!(gaps[1] >= Duration::from_millis(250), "{gaps:?}");
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_run_stops_waiting() {
    let mock = Mock::start(vec![Reply::json(503, "{}"), Reply::json(200, &page(1))]).await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    connection.cancel.cancel();
    let error: ActionError = client
        .json(&Request::get(Api::V2, "/pages/1"))
        .await
        .unwrap_err()
        .into();
    assert_eq!(error.kind, ErrorKind::Cancelled);
}

#[tokio::test(start_paused = true)]
async fn items_stream_across_pages_and_stop_at_the_cap() {
    use futures::TryStreamExt;
    let mock = Mock::start(vec![
        Reply::json(
            200,
            &json!({"results": [{"id": "1"}], "_links": {"next": "/wiki/rest/api/search?cql=x&cursor=n1&start=1"}}).to_string(),
        ),
        Reply::json(
            200,
            &json!({"results": [{"id": "2"}, {"id": "3"}], "_links": {"next": "/wiki/rest/api/search?cql=x&cursor=n2&start=3"}}).to_string(),
        ),
    ])
    .await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let items: Vec<serde_json::Value> = client
        .items(Request::get(Api::V1, "/search").query("cql", "x"), 2)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(items, [json!({"id": "1"}), json!({"id": "2"})]);
    let uris: Vec<String> = mock.received().into_iter().map(|r| r.uri).collect();
    assert_eq!(
        uris,
        [
            "/ex/confluence/cloud-1/wiki/rest/api/search?cql=x",
            "/ex/confluence/cloud-1/wiki/rest/api/search?cql=x&cursor=n1&start=1",
        ],
        "no page is read beyond the cap"
    );
}

/// An empty page whose `_links.next` carries `cursor`.
fn empty_page(cursor: &str) -> Reply {
    Reply::json(
        200,
        &json!({"results": [], "_links": {"next": format!("/wiki/api/v2/pages?limit=2&cursor={cursor}")}})
            .to_string(),
    )
}

#[tokio::test(start_paused = true)]
async fn a_listing_whose_cursor_does_not_change_stops_with_a_clear_error() {
    use futures::TryStreamExt;
    let mock = Mock::start(vec![empty_page("same"); 4]).await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let listing = Listing {
        limit: Some(2),
        max_results: None,
    };
    let error = client
        .collect(Request::get(Api::V2, "/pages"), &listing)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConfluenceError::RepeatedPage { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("GET /wiki/api/v2/pages")
            && error.to_string().contains("cursor did not change"),
        "{error}"
    );
    assert_eq!(
        mock.received().len(),
        2,
        "the repeated page is not asked for"
    );

    let error = client
        .items(Request::get(Api::V2, "/pages").query("limit", 2), 10)
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConfluenceError::RepeatedPage { .. }),
        "{error}"
    );
    assert_eq!(mock.received().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn endless_empty_pages_stop_the_listing() {
    use weft_confluence::client::paging::MAX_EMPTY_PAGES_IN_A_ROW;
    let mut script: Vec<Reply> = (0..MAX_EMPTY_PAGES_IN_A_ROW + 20)
        .map(|n| empty_page(&format!("c{n}")))
        .collect();
    // A page with an item in the middle starts the count again.
    script[10] = Reply::json(
        200,
        &json!({"results": [{"id": "1"}], "_links": {"next": "/wiki/api/v2/pages?limit=2&cursor=x"}})
            .to_string(),
    );
    let mock = Mock::start(script).await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let error = client
        .collect(Request::get(Api::V2, "/pages"), &Listing::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConfluenceError::EmptyPages { pages, .. } if pages == MAX_EMPTY_PAGES_IN_A_ROW),
        "{error}"
    );
    assert_eq!(
        mock.received().len() as u32,
        11 + MAX_EMPTY_PAGES_IN_A_ROW,
        "ten empty, one with an item, then the cap"
    );
}
