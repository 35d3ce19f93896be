//! Errors and handlers.

use super::*;

#[tokio::test(start_paused = true)]
async fn on_error_continue_records_the_failure_and_goes_on() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: continue
steps:
  - id: bad
    uses: core.fail
    with: { message: boom }
    on_error: continue
  - id: next
    uses: core.set
    with:
      status: ${{ steps.bad.status }}
      error: ${{ steps.bad.error }}
outputs:
  seen: ${{ steps.next.output }}
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(
        outcome.outputs["seen"],
        json!({ "status": "failed", "error": "boom" })
    );
}

#[tokio::test(start_paused = true)]
async fn on_error_steps_run_with_the_error_then_the_workflow_goes_on() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: handle
steps:
  - id: bad
    uses: core.fail
    with: { message: boom }
    on_error:
      steps:
        - id: report
          uses: core.set
          with:
            failed_step: ${{ error.step }}
            message: ${{ error.message }}
  - id: next
    uses: core.log
    with: { message: after }
",
        )
        .await;
    assert_succeeded(&outcome);
    let report = h.store.attempts_of("report");
    assert_eq!(
        report[0].output,
        Some(json!({ "failed_step": "bad", "message": "boom" }))
    );
    assert_eq!(h.store.steps_in_order(), ["bad", "report", "next"]);
}

#[tokio::test(start_paused = true)]
async fn a_failure_stops_the_steps_after_it() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: stop
steps:
  - id: bad
    uses: core.fail
    with: { message: boom }
  - id: never
    uses: core.log
    with: { message: unreachable }
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("step `bad` failed: boom"));
    assert!(h.store.attempts_of("never").is_empty());
}

#[tokio::test(start_paused = true)]
async fn on_failure_and_finally_run_after_a_failure() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: cleanup
steps:
  - id: bad
    uses: core.fail
    with: { message: boom }
on_failure:
  - id: alert
    uses: core.set
    with:
      step: ${{ error.step }}
      message: ${{ error.message }}
finally:
  - id: tidy
    uses: core.log
    with: { message: tidy }
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(h.store.steps_in_order(), ["bad", "alert", "tidy"]);
    assert_eq!(
        h.store.attempts_of("alert")[0].output,
        Some(json!({ "step": "bad", "message": "boom" }))
    );
}

#[tokio::test(start_paused = true)]
async fn finally_runs_after_success_and_on_failure_does_not() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: cleanup
steps:
  - id: good
    uses: core.log
    with: { message: fine }
on_failure:
  - id: alert
    uses: core.log
    with: { message: alert }
finally:
  - id: tidy
    uses: core.log
    with: { message: tidy }
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(h.store.steps_in_order(), ["good", "tidy"]);
}

#[tokio::test(start_paused = true)]
async fn a_failing_finally_fails_a_successful_run() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: cleanup
steps:
  - id: good
    uses: core.log
    with: { message: fine }
finally:
  - id: tidy
    uses: core.fail
    with: { message: disk full }
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.error.as_deref(),
        Some("finally failed: step `tidy` failed: disk full")
    );
}
