//! The points quota with its headers and reset, the burst limit, and every fault kind as a
//! client sees it.

mod common;

use common::*;
use serde_json::Value;
use std::time::{Duration, Instant};
use weft_sandbox::{Fault, FaultRule, SandboxConfig};

#[tokio::test]
async fn hourly_points_quota_exhausts_and_resets_at_the_top_of_the_hour() {
    let (sb, c, at) = empty().await;
    let admin = sb.admin();
    admin.create_space(None, "Q", "Quota").unwrap();
    admin.seed_pages(None, "Q", 9, None).unwrap();
    admin.set_quota(40, 1000);
    let app = sb.app().client_id;

    // A list of 10 pages costs 1 + 10 points.
    let r = get_raw(&c, &v2(&sb, "/pages?limit=10"), &at).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ratelimit-limit"], "40");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "29");
    assert!(r.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .ends_with(":00:00Z"));
    assert!(r.headers().get("x-ratelimit-nearlimit").is_none());
    assert_eq!(admin.quota_remaining(&app), 29);
    for _ in 0..2 {
        c.get(v2(&sb, "/pages?limit=10"))
            .bearer_auth(&at)
            .send()
            .await
            .unwrap();
    }
    let r = get_raw(&c, &v2(&sb, "/pages?limit=1"), &at).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-ratelimit-nearlimit"],
        "true",
        "under 20% left"
    );
    assert_eq!(r.headers()["x-ratelimit-remaining"], "5");
    // 5 points left, 2 per request: the request that crosses the line is still served.
    for left in ["3", "1", "0"] {
        let r = get_raw(&c, &v2(&sb, "/pages?limit=1"), &at).await;
        assert_eq!(
            (
                r.status().as_u16(),
                r.headers()["x-ratelimit-remaining"].to_str().unwrap()
            ),
            (200, left)
        );
    }
    let r = get_raw(&c, &v2(&sb, "/pages?limit=1"), &at).await;
    assert_eq!(r.status(), 429, "exhausted: every request answers 429");
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry));
    assert_eq!(
        r.headers()["ratelimit-reason"],
        "confluence-quota-global-based"
    );
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    // Writes are refused too.
    let r = c
        .post(v2(&sb, "/pages"))
        .bearer_auth(&at)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    admin.advance_clock(Duration::from_secs(retry as u64));
    let r = get_raw(&c, &v2(&sb, "/pages?limit=1"), &at).await;
    assert_eq!(r.status(), 200, "the pool resets at the top of the hour");
    sb.shutdown().await;
}

#[tokio::test]
async fn burst_limit_answers_429_with_retry_after() {
    let sb = start_with(SandboxConfig {
        burst_per_second: 3,
        ..Default::default()
    })
    .await;
    let c = client();
    let at = token_all(&sb);
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let r = get_raw(&c, &v1(&sb, "/user/current"), &at).await;
        if r.status() == 429 {
            assert_eq!(r.headers()["ratelimit-reason"], "confluence-burst-based");
            assert_eq!(r.headers()["retry-after"], "1");
        }
        statuses.push(r.status().as_u16());
    }
    // Requests may straddle a second boundary, but 10 requests can never all pass a limit of 3/s
    // unless they spread over 4 seconds.
    assert!(statuses.contains(&429), "{statuses:?}");
    sb.shutdown().await;
}

const PAGES: &str = "/ex/confluence/*/wiki/api/v2/pages*";

#[tokio::test]
async fn every_fault_kind_is_observed_by_a_client() {
    let (sb, c, at) = empty().await;
    let admin = sb.admin();
    let url = v2(&sb, "/pages");

    for status in [500u16, 502, 503] {
        admin
            .set_fault(FaultRule::always(PAGES, Fault::Status { status }))
            .unwrap();
        let r = c.get(&url).bearer_auth(&at).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status);
        admin.clear_faults();
    }

    admin
        .set_fault(FaultRule::always(
            PAGES,
            Fault::RateLimited {
                retry_after_secs: Some(7),
            },
        ))
        .unwrap();
    let r = c.get(&url).bearer_auth(&at).send().await.unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["retry-after"].to_str().unwrap()
        ),
        (429, "7")
    );
    admin.clear_faults();
    admin
        .set_fault(FaultRule::always(
            PAGES,
            Fault::RateLimited {
                retry_after_secs: None,
            },
        ))
        .unwrap();
    let r = c.get(&url).bearer_auth(&at).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(
        r.headers().get("retry-after").is_none(),
        "Retry-After is often missing in practice"
    );
    admin.clear_faults();

    admin
        .set_fault(FaultRule::always(PAGES, Fault::Latency { ms: 300 }))
        .unwrap();
    let t = Instant::now();
    let r = c.get(&url).bearer_auth(&at).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    admin.clear_faults();

    admin
        .set_fault(FaultRule::always(PAGES, Fault::CloseConnection))
        .unwrap();
    let outcome = match c.get(&url).bearer_auth(&at).send().await {
        Err(e) => Err(e),
        Ok(r) => r.bytes().await.map(|_| ()),
    };
    assert!(outcome.is_err(), "the body is cut off: {outcome:?}");
    admin.clear_faults();

    admin
        .set_fault(FaultRule::always(PAGES, Fault::MalformedJson))
        .unwrap();
    let r = c.get(&url).bearer_auth(&at).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.is_err(), "malformed JSON");
    admin.clear_faults();

    let log = admin.requests();
    let faults: Vec<&str> = log.iter().filter_map(|r| r.fault.as_deref()).collect();
    assert_eq!(
        faults,
        vec![
            "status 500",
            "status 502",
            "status 503",
            "rate_limited retry_after=7",
            "rate_limited",
            "latency 300ms",
            "close_connection",
            "malformed_json"
        ]
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn scripted_sequences_and_method_filters() {
    let sb = start().await;
    let c = client();
    let app = sb.app();
    let admin = sb.admin();
    // Token endpoint: 503, then normal. Lets the auth crate test transient refresh failures.
    admin
        .set_fault(
            FaultRule::sequence(
                "/oauth/token",
                vec![Some(Fault::Status { status: 503 }), None],
            )
            .method("POST"),
        )
        .unwrap();
    let pair = admin
        .issue_tokens_for_tests(&app.client_id, &["offline_access", "read:me"], None)
        .unwrap();
    let body = serde_json::json!({"grant_type": "refresh_token", "client_id": app.client_id,
        "client_secret": app.client_secret, "refresh_token": pair.refresh_token});
    let codes: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            let r = c
                .post(format!("{}/oauth/token", sb.base_url()))
                .json(&body)
                .send()
                .await
                .unwrap();
            v.push(r.status().as_u16());
        }
        v
    };
    // 503 (not served), 200 (rotates), 200 (reuse within the window).
    assert_eq!(codes, vec![503, 200, 200]);
    // A GET-only rule leaves POSTs alone; probability 0 never fires.
    admin.clear_faults();
    admin
        .set_fault(FaultRule::always("/me", Fault::Status { status: 500 }).method("POST"))
        .unwrap();
    admin
        .set_fault(FaultRule::probability(
            "/me",
            0.0,
            Fault::Status { status: 502 },
        ))
        .unwrap();
    let r = get_raw(&c, &format!("{}/me", sb.base_url()), &pair.access_token).await;
    assert_eq!(r.status(), 200);
    assert!(admin
        .set_fault(FaultRule::probability("/me", 2.0, Fault::MalformedJson))
        .is_err());
    sb.shutdown().await;
}

#[tokio::test]
async fn faults_over_the_admin_http_api() {
    let (sb, c, at) = empty().await;
    let rule = serde_json::json!({"path": "/ex/confluence/*/wiki/rest/api/user/current",
        "trigger": {"sequence": {"steps": [{"kind": "status", "status": 502}, null]}}});
    let r = c
        .post(format!("{}/__sandbox/faults", sb.base_url()))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(get_json(&c, &v1(&sb, "/user/current"), &at).await.0, 502);
    assert_eq!(get_json(&c, &v1(&sb, "/user/current"), &at).await.0, 200);
    let bad = serde_json::json!({"path": "/x", "trigger": {"probability": {"probability": 1.0, "fault": {"kind": "status", "status": 200}}}});
    let r = c
        .post(format!("{}/__sandbox/faults", sb.base_url()))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .delete(format!("{}/__sandbox/faults", sb.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(sb.admin().faults().is_empty());
    sb.shutdown().await;
}

#[tokio::test]
async fn rate_limits_can_be_turned_off_for_benchmarks() {
    let sb = start_with(
        SandboxConfig {
            burst_per_second: 1,
            quota_points_per_hour: 3,
            ..Default::default()
        }
        .without_rate_limits(),
    )
    .await;
    let c = client();
    let at = token_all(&sb);
    for _ in 0..20 {
        assert_eq!(get_json(&c, &v1(&sb, "/user/current"), &at).await.0, 200);
    }
    sb.shutdown().await;
}
