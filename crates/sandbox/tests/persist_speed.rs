//! State survives a restart with a data dir; seeding is fast.

mod common;

use common::*;
use std::time::Duration;
use weft_sandbox::{SandboxConfig, Seed};

#[tokio::test]
async fn state_survives_restart_with_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        data_dir: Some(dir.path().to_path_buf()),
        seed: Seed::Demo,
        ..Default::default()
    };
    let sb = start_with(config.clone()).await;
    let c = client();
    let pair = sb
        .admin()
        .issue_tokens_for_tests(
            &sb.app().client_id,
            &["read:page:confluence", "offline_access"],
            None,
        )
        .unwrap();
    sb.admin().advance_clock(Duration::from_secs(120));
    let (_, before) = get_json(&c, &v2(&sb, "/pages?limit=250"), &pair.access_token).await;
    let count = before["results"].as_array().unwrap().len();
    let now_before = sb.admin().now();
    sb.shutdown().await;
    assert!(dir.path().join("sandbox-state.json").exists());

    let sb = start_with(config).await;
    let (st, after) = get_json(&c, &v2(&sb, "/pages?limit=250"), &pair.access_token).await;
    assert_eq!(st, 200, "tokens survive a restart");
    assert_eq!(
        after["results"].as_array().unwrap().len(),
        count,
        "demo data is loaded, not seeded twice"
    );
    assert!(sb.admin().now() >= now_before, "the clock offset is kept");
    assert_eq!(sb.admin().sites().len(), 2);
    sb.shutdown().await;
}

#[tokio::test]
async fn corrupt_state_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sandbox-state.json"), b"{not json").unwrap();
    let err = weft_sandbox::Sandbox::start(SandboxConfig {
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, weft_sandbox::SandboxError::ParseState { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("sandbox-state.json is not valid"),
        "{message}"
    );
    let cause = std::error::Error::source(&err).expect("the JSON error is the source");
    assert!(cause.to_string().contains("line 1"), "{cause}");
    let err = weft_sandbox::Sandbox::start(SandboxConfig {
        user_time_zone: "Mars/Base".into(),
        ..Default::default()
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("Mars/Base"), "{err}");
}

/// Seeding speed is measured by `weft-bench` (a timed assertion here would be flaky on a busy
/// machine); this checks that a large seed is complete and served.
#[tokio::test]
async fn seeding_100k_pages_keeps_every_page_served() {
    let sb = start().await;
    let admin = sb.admin();
    admin.create_space(None, "LOAD", "Load").unwrap();
    let ids = admin.seed_pages(None, "LOAD", 100_000, None).unwrap();
    assert_eq!(ids.len(), 100_000);
    // And the store still answers quickly.
    let at = token_all(&sb);
    let c = client();
    let (st, page) = get_json(&c, &v2(&sb, &format!("/pages/{}", ids[99_999])), &at).await;
    assert_eq!(
        (st, page["title"].as_str()),
        (200, Some("Generated page 99999"))
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn dropping_a_sandbox_stops_its_server() {
    let sb = start().await;
    let url = format!("{}/__sandbox/clock", sb.base_url());
    let c = reqwest::Client::new();
    assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
    drop(sb);
    let mut stopped = false;
    for _ in 0..50 {
        // A fresh client: no pooled connection may keep the old one alive.
        if reqwest::Client::new().get(&url).send().await.is_err() {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(stopped, "the port still answers after drop");
}
