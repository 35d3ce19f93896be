//! Cancellation.

use super::*;

#[tokio::test(start_paused = true)]
async fn cancelling_a_run_stops_the_running_step_and_the_rest() {
    let h = harness(vec![]);
    let request = RunRequest::default();
    let cancel = request.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(secs(1.0)).await;
        cancel.cancel();
    });
    let t0 = Instant::now();
    let outcome = h
        .run_with(
            "
name: long
steps:
  - id: wait
    uses: core.sleep
    with: { duration: 1h }
  - id: never
    uses: core.log
    with: { message: unreachable }
",
            request,
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert_eq!(t0.elapsed(), secs(1.0));
    assert_eq!(outcome.error.as_deref(), Some("the run was cancelled"));
    assert!(h.store.attempts_of("never").is_empty());
    let stored = h.store.get_run(&outcome.run_id).await.ok().flatten();
    assert_eq!(stored.map(|r| r.status), Some(RunStatus::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn cancelling_during_a_retry_wait_stops_retrying() {
    let flaky = Arc::new(Flaky::default());
    let h = harness(vec![flaky.clone()]);
    let request = RunRequest::default();
    let cancel = request.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(secs(5.0)).await;
        cancel.cancel();
    });
    let t0 = Instant::now();
    let outcome = h
        .run_with(
            "
name: retry
steps:
  - id: call
    uses: test.flaky
    with: { fail_times: 100, kind: http_503 }
    retry: { max_attempts: 10, backoff: constant, initial_delay: 1m, jitter: false }
",
            request,
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert_eq!(t0.elapsed(), secs(5.0));
    assert_eq!(flaky.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn finally_still_runs_after_a_cancellation() {
    let h = harness(vec![]);
    let request = RunRequest::default();
    let cancel = request.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(secs(1.0)).await;
        cancel.cancel();
    });
    let outcome = h
        .run_with(
            "
name: long
steps:
  - id: wait
    uses: core.sleep
    with: { duration: 1h }
finally:
  - id: cleanup
    uses: core.set
    with: { done: true }
",
            request,
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert_eq!(outcome.error.as_deref(), Some("the run was cancelled"));
    assert_eq!(h.store.attempts_of("cleanup").len(), 1, "finally ran once");
}

#[tokio::test(start_paused = true)]
async fn on_error_also_handles_a_step_whose_inputs_fail_to_render() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: bad-input
inputs:
  zero: { type: integer, default: 0 }
steps:
  - id: divide
    uses: core.set
    with: { x: '${{ 1 / inputs.zero }}' }
    on_error: continue
outputs:
  status: ${{ steps.divide.status }}
  error: ${{ steps.divide.error }}
  attempts: ${{ steps.divide.attempts }}
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(outcome.outputs["status"], "failed");
    assert_eq!(outcome.outputs["attempts"], 0);
    assert!(
        outcome.outputs["error"]
            .as_str()
            .unwrap()
            .contains("division by zero"),
        "{}",
        outcome.outputs
    );
}

#[tokio::test(start_paused = true)]
async fn a_loop_timeout_limits_the_whole_loop() {
    let h = harness(vec![]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: slow-loop
steps:
  - id: each
    for_each: [1, 2, 3]
    timeout: 2500ms
    steps:
      - id: wait
        uses: core.sleep
        with: { duration: 1s }
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(t0.elapsed(), secs(2.5));
    assert_eq!(
        outcome.error.as_deref(),
        Some("step `each` failed: timed out after 2500ms")
    );
}

#[tokio::test(start_paused = true)]
async fn secrets_are_found_whatever_the_case_of_the_reference() {
    let h = harness(vec![]);
    let mut request = RunRequest::default();
    request.secrets.insert("api_token".into(), "s3cr3t".into());
    let outcome = h
        .run_with(
            "
name: upper
steps:
  - id: use
    uses: core.set
    with: { length: '${{ len(secrets.API_TOKEN) }}' }
  - id: next
    uses: core.set
    with: { more: '${{ steps.use.output.length + 1 }}' }
  - id: check
    if: ${{ steps.next.output.more == 7 }}
    uses: core.set
    with: { seen: seven }
outputs:
  length: ${{ steps.use.output.length }}
  more: ${{ steps.next.output.more }}
  seen: ${{ steps.check.output.seen }}
",
            request,
        )
        .await;
    assert_succeeded(&outcome);
    // A short value computed from a secret is recorded as `***`, and so is what a later
    // step computes from it; the run used the real ones.
    assert_eq!(outcome.outputs["length"], "***");
    assert_eq!(outcome.outputs["more"], "***");
    assert_eq!(outcome.outputs["seen"], "seven");
}

#[tokio::test(start_paused = true)]
async fn a_slow_item_does_not_hold_back_the_free_loop_slots() {
    let h = harness(vec![]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: slots
steps:
  - id: each
    for_each: [1000, 200, 200, 200, 200, 200, 200, 200, 200]
    concurrency: 4
    steps:
      - id: wait
        uses: core.sleep
        with: { duration: '${{ item / 1000 }}' }
    outputs:
      ms: ${{ item }}
outputs:
  order: ${{ pluck(steps.each.output, 'ms') }}
",
        )
        .await;
    assert_succeeded(&outcome);
    // Slot 1 holds the 1s item while slots 2-4 run the eight 200ms items in 3 rounds.
    assert_eq!(t0.elapsed(), secs(1.0));
    assert_eq!(
        outcome.outputs["order"],
        json!([1000, 200, 200, 200, 200, 200, 200, 200, 200])
    );
}

#[tokio::test(start_paused = true)]
async fn on_failure_sees_steps_that_never_ran_as_not_run() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: stopped
steps:
  - id: a
    uses: core.fail
    with: { message: boom }
  - id: b
    uses: core.log
    with: { message: never }
on_failure:
  - id: report
    uses: core.set
    with: { b: '${{ steps.b.status }}' }
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        h.store.attempts_of("report")[0].output,
        Some(json!({ "b": "not_run" }))
    );
}

#[tokio::test(start_paused = true)]
async fn called_workflows_get_the_secrets_and_env_hides_weft_variables() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("child.yaml"),
        "
name: child
steps:
  - id: use
    uses: core.set
    with:
      length: '${{ len(secrets.child_only) }}'
      hidden: '${{ has(env, \"WEFT_TEST_HIDDEN_KEY\") }}'
  - id: next
    uses: core.set
    with: { length: '${{ steps.use.output.length * 10 }}' }
outputs:
  length: ${{ steps.next.output.length }}
  hidden: ${{ steps.use.output.hidden }}
",
    )
    .expect("write child");
    std::env::set_var("WEFT_TEST_HIDDEN_KEY", "master");
    let h = harness(vec![]);
    let parent = "
name: parent
steps:
  - id: call
    uses: workflow.call
    with: { path: child.yaml }
  - id: check
    if: ${{ steps.call.output.length == 40 }}
    uses: core.set
    with: { seen: forty }
outputs:
  child: ${{ steps.call.output }}
  seen: ${{ steps.check.output.seen }}
";
    let workflow = compile_at(&h.engine, &dir.path().join("parent.yaml"), parent);
    let mut request = RunRequest::default();
    request.secrets.insert("child_only".into(), "abcd".into());
    let outcome = h.engine.run(workflow, request).await;
    assert_succeeded(&outcome);
    assert_eq!(
        outcome.outputs["child"],
        // `len` of the secret is 4, and a value computed from it is masked whole where
        // recorded; its real value was used.
        json!({ "length": "***", "hidden": false })
    );
    assert_eq!(outcome.outputs["seen"], "forty");
}

#[tokio::test(start_paused = true)]
async fn a_step_stopped_by_a_failing_sibling_is_recorded_as_cancelled() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: siblings
steps:
  - id: slow
    needs: []
    uses: core.sleep
    with: { duration: 2s }
  - id: bad
    needs: []
    uses: core.fail
    with: { message: boom }
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let slow = h.store.attempts_of("slow");
    assert_eq!(slow.len(), 1, "the stopped attempt is recorded");
    assert_eq!(slow[0].status, StepStatus::Cancelled);
    assert_eq!(
        slow[0].error.as_deref(),
        Some("cancelled before it finished")
    );
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_caller_cancels_its_called_workflow_which_runs_its_finally() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("child.yaml"),
        "
name: child
steps:
  - id: each
    for_each: [1, 2, 3, 4, 5]
    steps:
      - id: tick
        uses: core.sleep
        with: { duration: 1s }
finally:
  - id: cleanup
    uses: core.sleep
    with: { duration: 5s }
",
    )
    .expect("write child");
    let h = harness(vec![]);
    let parent = "
name: parent
steps:
  - id: call
    uses: workflow.call
    with: { path: child.yaml }
";
    let workflow = compile_at(&h.engine, &dir.path().join("parent.yaml"), parent);
    let request = RunRequest::default();
    let cancel = request.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(secs(2.0)).await;
        cancel.cancel();
    });
    let t0 = Instant::now();
    let outcome = h.engine.run(workflow, request).await;
    assert_eq!(outcome.status, RunStatus::Cancelled, "{:?}", outcome.error);
    // The caller waited for the child's `finally` (5 s after the cancellation at 2 s).
    assert_eq!(t0.elapsed(), secs(7.0));
    let cleanup = h.store.attempts_of("cleanup");
    assert_eq!(cleanup.len(), 1, "the child's finally ran once");
    assert_eq!(cleanup[0].status, StepStatus::Succeeded);
    let runs = h.store.list_runs(10).await.expect("runs");
    let child = runs
        .iter()
        .find(|r| r.workflow == "child")
        .expect("child run recorded");
    assert_eq!(child.status, RunStatus::Cancelled);
    assert_eq!(child.parent.as_deref(), Some(outcome.run_id.as_str()));
    assert_eq!(child.error.as_deref(), Some("the run was cancelled"));
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_call_cancels_the_called_workflow_and_the_caller_waits_for_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("child.yaml"),
        "
name: child
steps:
  - id: wait
    uses: core.sleep
    with: { duration: 1h }
finally:
  - id: cleanup
    uses: core.sleep
    with: { duration: 5s }
",
    )
    .expect("write child");
    let h = harness(vec![]);
    let parent = "
name: parent
steps:
  - id: call
    uses: workflow.call
    with: { path: child.yaml }
    timeout: 2s
";
    let workflow = compile_at(&h.engine, &dir.path().join("parent.yaml"), parent);
    let t0 = Instant::now();
    let outcome = h.engine.run(workflow, RunRequest::default()).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.error.as_deref(),
        Some("step `call` failed: attempt 1 timed out after 2s")
    );
    assert_eq!(t0.elapsed(), secs(7.0), "the caller waited for the child");
    assert_eq!(h.store.attempts_of("cleanup").len(), 1);
    let runs = h.store.list_runs(10).await.expect("runs");
    let child = runs.iter().find(|r| r.workflow == "child").expect("child");
    assert_eq!(child.status, RunStatus::Cancelled);
}
