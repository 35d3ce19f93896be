//! What weft adds to each Confluence call beyond the sandbox's own time: the same 200
//! `GET /pages/{id}` sent with a bare HTTP client, then as `confluence.get_page` steps of a
//! `for_each` (token lookup, request building, retries' bookkeeping, JSON parsing, step records).

use std::sync::Arc;
use std::time::Instant;

use weft_engine::exec::RunRequest;
use weft_engine::store::{NoStore, RunStatus};
use weft_engine::workflow;
use weft_runtime::action::TokenProvider;
use weft_runtime::testing::SandboxConnection;
use weft_sandbox::{NewPage, SandboxConfig};

use super::{median, weft, Row};

const CALLS: u32 = 200;

pub async fn overhead() -> Row {
    let runtime = weft();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = SandboxConfig::default().without_rate_limits();
    let site = SandboxConnection::start(config, &["read:page:confluence"], dir.path()).await;
    let admin = site.sandbox.admin();
    admin
        .create_space(None, "ENG", "Engineering")
        .expect("space");
    let page = NewPage {
        space_key: "ENG".into(),
        title: "Bench".into(),
        body: "<p>A page of a usual size.</p>".repeat(20),
        parent_id: None,
        blogpost: false,
    };
    let page_id = admin.create_page(None, page).expect("page");
    let engine = runtime.engine(Arc::new(NoStore), site.tokens.clone());
    let text = format!(
        "name: confluence-calls\nconnection: acme\nsteps:\n  - id: calls\n    for_each: ${{{{ range({CALLS}) }}}}\n    steps:\n      - id: get\n        uses: confluence.get_page\n        with:\n          page_id: \"{page_id}\"\n"
    );
    let workflow = workflow::load_bytes(
        std::path::Path::new("calls.yaml"),
        text.as_bytes(),
        engine.catalog(),
    )
    .unwrap_or_else(|problems| panic!("{}", problems.render()))
    .workflow;
    let through_weft = || async {
        let started = Instant::now();
        let outcome = engine.run(workflow.clone(), RunRequest::default()).await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
        started.elapsed() / CALLS
    };
    let token = TokenProvider::access_token(site.tokens.as_ref(), "acme")
        .await
        .expect("token");
    let bare = reqwest::Client::new();
    let url = format!("{}/wiki/api/v2/pages/{page_id}", site.api_base);
    let bare_calls = || async {
        let started = Instant::now();
        for _ in 0..CALLS {
            let answer = bare
                .get(&url)
                .bearer_auth(token.expose())
                .query(&[("body-format", "storage")])
                .send()
                .await
                .expect("get");
            assert!(answer.status().is_success(), "{}", answer.status());
            let page: serde_json::Value = answer.json().await.expect("json");
            assert!(page["id"].is_string());
        }
        started.elapsed() / CALLS
    };
    // Warm both paths (connections, token cache), then alternate so drift hits both alike.
    through_weft().await;
    bare_calls().await;
    let (mut weft_samples, mut bare_samples) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        weft_samples.push(through_weft().await);
        bare_samples.push(bare_calls().await);
    }
    site.sandbox.shutdown().await;
    let (weft_us, bare_us) = (
        median(weft_samples).as_secs_f64() * 1e6,
        median(bare_samples).as_secs_f64() * 1e6,
    );
    Row {
        what: "confluence.get_page against the sandbox in a for_each (median of 10 runs of 200)",
        measured: format!(
            "{weft_us:.0} µs/call, of which {:.0} µs weft (the bare client: {bare_us:.0} µs)",
            (weft_us - bare_us).max(0.0)
        ),
        target: "≤ 50 µs weft share (issue 9)",
        peer: "-",
    }
}
