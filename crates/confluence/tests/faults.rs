//! A fault run: with a fifth of the calls answering 503 and a fifth 429 and added latency, a workflow of
//! Confluence steps (each with a `retry:` policy) still finishes with the right result, and the
//! sandbox holds no duplicate.

mod support;

use serde_json::json;
use weft_engine::store::RunStatus;
use weft_sandbox::{Fault, FaultRule};

use support::sandbox::Site;

const WORKFLOW: &str = r#"
name: faults
connection: acme
steps:
  - id: create
    uses: confluence.create_page
    with: {"space": "ENG", "title": "Under fire", "body": "start", "body_format": "plain"}
    retry: {max_attempts: 10, initial_delay: 10ms, max_delay: 50ms}
  - id: append
    needs: [create]
    uses: confluence.append_to_page
    with: {"page_id": "${{ steps.create.output.id }}", "body": "<p>appended</p>", "on_conflict": "retry"}
    retry: {max_attempts: 10, initial_delay: 10ms, max_delay: 50ms}
  - id: find
    needs: [append]
    uses: confluence.find_page
    with: {"space": "eng", "title": "Under fire"}
    retry: {max_attempts: 10, initial_delay: 10ms, max_delay: 50ms}
  - id: list
    needs: [find]
    uses: confluence.list_pages
    with: {"space": "ENG", "limit": 1, "max_results": 10}
    retry: {max_attempts: 10, initial_delay: 10ms, max_delay: 50ms}
outputs:
  id: ${{ steps.create.output.id }}
  version: ${{ steps.append.output.version.number }}
  found: ${{ steps.find.output.page.id }}
  listed: ${{ steps.list.output.count }}
"#;

#[tokio::test]
async fn a_workflow_finishes_under_faults_without_duplicates() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    let api = "/ex/confluence/*";
    // At least these two, whatever the dice say: the first GET and the first PUT fail.
    for method in ["GET", "PUT"] {
        admin
            .set_fault(
                FaultRule::sequence(api, vec![Some(Fault::Status { status: 503 })]).method(method),
            )
            .expect("first failures");
    }
    admin
        .set_fault(FaultRule::probability(
            api,
            0.1,
            Fault::Status { status: 503 },
        ))
        .expect("503s");
    admin
        .set_fault(FaultRule::probability(
            api,
            0.2,
            Fault::RateLimited {
                retry_after_secs: Some(0),
            },
        ))
        .expect("429s");
    admin
        .set_fault(FaultRule::probability(api, 0.3, Fault::Latency { ms: 20 }))
        .expect("latency");
    let outcome = site.run_yaml(WORKFLOW, Default::default()).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    let id = outcome.outputs["id"].clone();
    assert_eq!(outcome.outputs["version"], 2);
    assert_eq!(outcome.outputs["found"], id);
    assert_eq!(
        outcome.outputs["listed"], 3,
        "home page, Release notes, Under fire"
    );
    let faults = admin
        .requests()
        .iter()
        .filter(|r| {
            r.fault
                .as_deref()
                .is_some_and(|f| !f.starts_with("latency"))
        })
        .count();
    admin.clear_faults();
    assert!(faults >= 2, "faults were injected");

    let pages = site
        .output(
            "confluence.list_pages",
            r#"{"space": "ENG", "title": "Under fire", "body_format": "storage"}"#,
        )
        .await;
    assert_eq!(
        pages["count"], 1,
        "no duplicate page ({faults} faults injected)"
    );
    assert_eq!(
        pages["results"][0]["body"]["storage"]["value"],
        json!("<p>start</p><p>appended</p>"),
        "appended once"
    );
    site.connection.sandbox.shutdown().await;
}
