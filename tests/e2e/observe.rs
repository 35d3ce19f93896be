//! What `weft daemon` counts, end to end: token refreshes, and refreshes that failed, whoever
//! caused them (here a step answered 401 by the sandbox), in `GET /metrics`.

use weft_sandbox::{Fault, FaultRule};

use super::api::{call, set_mode, start, stop};
use super::connect::Setup;
use super::write;

const TOKEN: &str = "e2e-observe-token-0123456789abcdef";

const PAGE: &str = r#"name: page
connection: acme
inputs:
  title:
    type: string
steps:
  - id: page
    uses: confluence.create_page
    with:
      space: OBS
      title: "${{ inputs.title }}"
      body: "made through the daemon's API"
      body_format: plain
"#;

/// The value of one series in `/metrics` text, if it is there.
fn series(metrics: &str, name: &str) -> Option<String> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .map(str::to_string)
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_counts_token_refreshes_and_failed_ones_in_its_metrics() {
    let setup = Setup::start().await;
    setup
        .add_scopes(&[
            "write:page:confluence",
            "read:page:confluence",
            "read:space:confluence",
            "write:confluence-content",
            "read:confluence-content.summary",
        ])
        .await;
    setup.connect_acme_with_space("OBS", "Observe").await;
    let data = setup.data();
    let flows = data.join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    write(&flows, "page.yaml", PAGE);
    let token_file = write(&data, "api-token", TOKEN);
    set_mode(&token_file, 0o600);
    let admin = setup.sandbox.admin();

    let (daemon, log, address) = tokio::task::spawn_blocking({
        let data = data.clone();
        move || start(&data, flows.to_str().unwrap(), token_file.to_str().unwrap())
    })
    .await
    .unwrap();
    let run = |title: &str| {
        let address = address.clone();
        let body = format!(r#"{{"inputs": {{"title": "{title}"}}}}"#);
        tokio::task::spawn_blocking(move || {
            call(
                &address,
                "POST",
                "/api/v1/workflows/page/runs?wait=30s",
                Some(TOKEN),
                Some(&body),
            )
        })
    };
    let metrics = || {
        let address = address.clone();
        tokio::task::spawn_blocking(move || call(&address, "GET", "/metrics", Some(TOKEN), None))
    };
    let refreshed = r#"weft_token_refreshes_total{connection="acme"}"#;
    let failed = r#"weft_token_refresh_failures_total{connection="acme"}"#;

    let (_, text) = metrics().await.unwrap();
    assert_eq!(series(&text, refreshed), None, "{text}");

    // The API rejects the step's token once: the step's connector has it refreshed.
    admin
        .set_fault(FaultRule::sequence(
            "/ex/confluence/*",
            vec![Some(Fault::Status { status: 401 })],
        ))
        .unwrap();
    let (status, body) = run("first").await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""status":"succeeded""#), "{body}");
    let (status, text) = metrics().await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert_eq!(series(&text, refreshed).as_deref(), Some("1"), "{text}");
    assert_eq!(series(&text, failed), None, "{text}");

    // Rejected again, and the token endpoint is down: a failed refresh, counted once (the
    // connection then cools down and sends nothing).
    admin.clear_faults();
    admin
        .set_fault(FaultRule::always(
            "/oauth/token",
            Fault::Status { status: 503 },
        ))
        .unwrap();
    admin
        .set_fault(FaultRule::sequence(
            "/ex/confluence/*",
            vec![Some(Fault::Status { status: 401 })],
        ))
        .unwrap();
    run("second").await.unwrap();
    let (_, text) = metrics().await.unwrap();
    assert_eq!(series(&text, refreshed).as_deref(), Some("1"), "{text}");
    assert_eq!(series(&text, failed).as_deref(), Some("1"), "{text}");

    tokio::task::spawn_blocking(move || stop(daemon, log))
        .await
        .unwrap();
}
