//! Retries.

use super::*;

#[tokio::test(start_paused = true)]
async fn constant_backoff_waits_the_same_delay_between_attempts() {
    let flaky = Arc::new(Flaky::default());
    let h = harness(vec![flaky.clone()]);
    let outcome = h
        .run(
            "
name: retry
steps:
  - id: call
    uses: test.flaky
    with: { fail_times: 3, kind: http_503 }
    retry:
      max_attempts: 5
      backoff: constant
      initial_delay: 2s
      jitter: false
outputs:
  calls: ${{ steps.call.output.calls }}
  attempts: ${{ steps.call.attempts }}
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(outcome.outputs, json!({ "calls": 4, "attempts": 4 }));
    assert_eq!(flaky.gaps(), [secs(2.0), secs(2.0), secs(2.0)]);
    let statuses: Vec<StepStatus> = h
        .store
        .attempts_of("call")
        .iter()
        .map(|a| a.status)
        .collect();
    assert_eq!(
        statuses,
        [
            StepStatus::Failed,
            StepStatus::Failed,
            StepStatus::Failed,
            StepStatus::Succeeded
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_doubles_up_to_max_delay() {
    let flaky = Arc::new(Flaky::default());
    let h = harness(vec![flaky.clone()]);
    let outcome = h
        .run(
            "
name: retry
steps:
  - id: call
    uses: test.flaky
    with: { fail_times: 4, kind: network }
    retry:
      max_attempts: 5
      backoff: exponential
      initial_delay: 1s
      max_delay: 5s
      jitter: false
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(flaky.gaps(), [secs(1.0), secs(2.0), secs(4.0), secs(5.0)]);
}

#[tokio::test(start_paused = true)]
async fn jitter_keeps_each_delay_between_half_and_all_of_it() {
    let flaky = Arc::new(Flaky::default());
    let h = harness(vec![flaky.clone()]);
    let outcome = h
        .run(
            "
name: retry
steps:
  - id: call
    uses: test.flaky
    with: { fail_times: 3, kind: http_503 }
    retry:
      max_attempts: 4
      backoff: constant
      initial_delay: 10s
",
        )
        .await;
    assert_succeeded(&outcome);
    for gap in flaky.gaps() {
        assert!(gap >= secs(5.0) && gap <= secs(10.0), "{gap:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_max_attempts_and_the_last_error_fails_the_run() {
    let flaky = Arc::new(Flaky::default());
    let h = harness(vec![flaky.clone()]);
    let outcome = h
        .run(
            "
name: retry
steps:
  - id: call
    uses: test.flaky
    with: { fail_times: 100, kind: http_503 }
    retry:
      max_attempts: 3
      backoff: constant
      initial_delay: 1s
      jitter: false
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(flaky.count(), 3);
    assert_eq!(
        outcome.error.as_deref(),
        Some("step `call` failed: call 3 failed")
    );
}

#[tokio::test(start_paused = true)]
async fn core_fail_is_not_retried_by_default() {
    let h = harness(vec![]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: retry
steps:
  - id: stop
    uses: core.fail
    with: { message: no }
    retry:
      max_attempts: 3
      initial_delay: 1s
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(h.store.attempts_of("stop").len(), 1);
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn core_fail_is_retried_with_on_any() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: retry
steps:
  - id: stop
    uses: core.fail
    with: { message: no }
    retry:
      max_attempts: 3
      initial_delay: 1s
      jitter: false
      on: [any]
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(h.store.attempts_of("stop").len(), 3);
}

#[tokio::test(start_paused = true)]
async fn retry_on_selects_error_classes() {
    let flaky = Arc::new(Flaky::default());
    let h = harness(vec![flaky.clone()]);
    // A 404 is not transient: retried only because `on` names 4xx answers.
    let outcome = h
        .run(
            "
name: retry
steps:
  - id: default_classes
    uses: test.flaky
    with: { fail_times: 1, kind: http_404 }
    retry: { max_attempts: 3, jitter: false }
    on_error: continue
  - id: with_4xx
    uses: test.flaky
    with: { fail_times: 2, kind: http_404 }
    retry: { max_attempts: 3, jitter: false, on: [http_4xx] }
outputs:
  first: ${{ steps.default_classes.status }}
  second: ${{ steps.with_4xx.attempts }}
",
        )
        .await;
    assert_succeeded(&outcome);
    // Call 1 failed without retry; calls 2 (404) and 3 (success) belong to `with_4xx`.
    assert_eq!(outcome.outputs, json!({ "first": "failed", "second": 2 }));
    assert_eq!(flaky.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn each_attempt_is_limited_by_the_timeout_and_timeouts_are_retried() {
    let h = harness(vec![]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: slow
steps:
  - id: wait
    uses: core.sleep
    with: { duration: 1h }
    timeout: 2s
    retry:
      max_attempts: 3
      backoff: constant
      initial_delay: 1s
      jitter: false
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    // Three attempts of 2s with two waits of 1s between them.
    assert_eq!(t0.elapsed(), secs(8.0));
    let attempts = h.store.attempts_of("wait");
    assert_eq!(attempts.len(), 3);
    assert_eq!(
        attempts[2].error.as_deref(),
        Some("attempt 3 timed out after 2s")
    );
    assert_eq!(
        outcome.error.as_deref(),
        Some("step `wait` failed: attempt 3 timed out after 2s")
    );
}

#[tokio::test(start_paused = true)]
async fn a_step_finishing_within_its_timeout_succeeds() {
    let h = harness(vec![]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: slow
steps:
  - id: wait
    uses: core.sleep
    with: { duration: 1500ms }
    timeout: 2s
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(t0.elapsed(), secs(1.5));
}

#[tokio::test(start_paused = true)]
async fn retry_deadline_stops_retrying_before_the_next_wait_would_pass_it() {
    let flaky = Arc::new(Flaky::default());
    let h = harness(vec![flaky.clone()]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: retry
steps:
  - id: call
    uses: test.flaky
    with: { fail_times: 100, kind: http_503 }
    retry:
      max_attempts: 10
      backoff: constant
      initial_delay: 1s
      jitter: false
      deadline: 2500ms
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    // Attempts at 0s, 1s and 2s; a fourth at 3s would pass the 2.5s deadline.
    assert_eq!(flaky.count(), 3);
    assert_eq!(t0.elapsed(), secs(2.0));
    let error = outcome.error.unwrap_or_default();
    assert!(
        error.contains("call 3 failed (retry deadline of 2500ms reached)"),
        "{error}"
    );
}

#[tokio::test]
async fn http_503_answers_are_retried_until_the_server_answers_200() {
    use axum::http::StatusCode;
    let hits = Arc::new(AtomicU32::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/flaky",
        axum::routing::get(move || {
            let counter = counter.clone();
            async move {
                match counter.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
                    _ => (StatusCode::OK, "ready"),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let addr = listener.local_addr().expect("local address");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let h = harness(vec![]);
    // Real sockets: the delays are real too, so keep them tiny.
    let yaml = format!(
        "
name: http
steps:
  - id: get
    uses: http.request
    with:
      url: http://{addr}/flaky
    retry:
      max_attempts: 5
      backoff: constant
      initial_delay: 10ms
      jitter: false
outputs:
  body: ${{{{ steps.get.output.body }}}}
  status: ${{{{ steps.get.output.status }}}}
  attempts: ${{{{ steps.get.attempts }}}}
"
    );
    let outcome = h.run(&yaml).await;
    server.abort();
    assert_succeeded(&outcome);
    assert_eq!(
        outcome.outputs,
        json!({ "body": "ready", "status": 200, "attempts": 3 })
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    let errors: Vec<String> = h
        .store
        .attempts_of("get")
        .into_iter()
        .filter_map(|a| a.error)
        .collect();
    assert_eq!(errors.len(), 2);
    assert!(errors[0].contains("503"), "{}", errors[0]);
}
