//! Dry runs.

use super::*;

#[tokio::test(start_paused = true)]
async fn dry_run_never_runs_actions_and_uses_mocks_then_examples() {
    let writer = Arc::new(Writer::default());
    let h = harness(vec![writer.clone()]);
    let yaml = "
name: dry
steps:
  - id: create
    uses: test.write
    with: { title: first }
  - id: again
    uses: test.write
    with: { title: 'after ${{ steps.create.output.id }}' }
  - id: wait
    uses: core.sleep
    with: { duration: 1h }
";
    let t0 = Instant::now();
    let outcome = h
        .run_with(
            yaml,
            RunRequest {
                mode: Mode::DryRun {
                    mocks: HashMap::from([("create".to_string(), json!({ "id": "mock-7" }))]),
                    live_reads: false,
                },
                ..RunRequest::default()
            },
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(
        writer.calls.load(Ordering::SeqCst),
        0,
        "a dry run never writes"
    );
    assert_eq!(t0.elapsed(), Duration::ZERO, "a dry run never sleeps");
    let report = outcome.dry_run.expect("a dry run report");
    let steps: Vec<(&str, &str, bool)> = report
        .steps
        .iter()
        .map(|s| (s.step.as_str(), s.output_from, s.writes))
        .collect();
    assert_eq!(
        steps,
        [
            ("create", "mock", true),
            ("again", "example", true),
            ("wait", "computed", false)
        ]
    );
    // The mocked output flows into the next step's inputs; the example is the action's own.
    assert_eq!(report.steps[1].input, json!({ "title": "after mock-7" }));
    assert_eq!(report.steps[1].output, json!({ "id": "example-1" }));
    // Nothing is recorded for a dry run.
    assert!(h.store.all_runs().is_empty());
    assert!(h.store.all_attempts().is_empty());
}

#[tokio::test(start_paused = true)]
async fn dry_run_shows_secrets_redacted_without_needing_them() {
    let h = harness(vec![]);
    let outcome = h
        .run_with(
            "
name: secret
steps:
  - id: call
    uses: http.request
    with:
      url: http://127.0.0.1:9/items
      method: POST
      headers: { authorization: 'Bearer ${{ secrets.api_token }}' }
",
            RunRequest {
                mode: Mode::DryRun {
                    mocks: HashMap::new(),
                    live_reads: false,
                },
                ..RunRequest::default()
            },
        )
        .await;
    assert_succeeded(&outcome);
    let report = outcome.dry_run.expect("a dry run report");
    let step = &report.steps[0];
    assert_eq!(
        step.input["headers"],
        json!({ "authorization": "Bearer ***" })
    );
    assert!(step.writes, "a POST writes");
    let effect = serde_json::to_value(&step.effect).expect("effect as JSON");
    assert_eq!(effect["method"], "POST");
    assert_eq!(effect["url"], "http://127.0.0.1:9/items");
    assert_eq!(effect["headers"]["authorization"], "Bearer ***");
}
