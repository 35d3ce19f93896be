//! A run drops a step's record once nothing can read it any more: every read the workflow
//! makes still sees the record, however far after the step it comes.

use super::*;
use weft_engine::exec::ResumeRequest;

/// `count` steps, each reading the one before it (the first reads `from`).
fn filler(count: usize, from: &str) -> String {
    (0..count)
        .map(|i| {
            let before = if i == 0 { from.to_string() } else { format!("f{}", i - 1) };
            format!("  - {{id: f{i}, uses: core.set, with: {{n: '${{{{ steps.{before}.output.n + 1 }}}}'}}}}\n")
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_record_is_read_far_later_from_a_loop_body_from_outputs_and_by_computed_name() {
    let h = harness(vec![]);
    let yaml = format!(
        "
name: far
vars:
  which: f0
steps:
  - {{id: first, uses: core.set, with: {{n: 1}}}}
  - id: each
    for_each: [10, 20]
    steps:
      - {{id: inner, uses: core.set, with: {{v: '${{{{ steps.first.output.n + item }}}}'}}}}
{}  - {{id: far, uses: core.set, with: {{n: '${{{{ steps.first.output.n + 100 }}}}', items: '${{{{ steps.each.output }}}}'}}}}
  - {{id: whole, uses: core.set, with: {{n: '${{{{ steps[vars.which].output.n }}}}'}}}}
outputs:
  far: ${{{{ steps.far.output }}}}
  last: ${{{{ steps.f29.output.n }}}}
  whole: ${{{{ steps.whole.output.n }}}}
",
        filler(30, "first")
    );
    let outcome = h.run(&yaml).await;
    assert_succeeded(&outcome);
    assert_eq!(
        outcome.outputs["far"],
        json!({"n": 101, "items": [{"v": 11}, {"v": 21}]})
    );
    assert_eq!(outcome.outputs["last"], json!(31));
    // Indexed with a computed name, `steps` still holds a record read long before.
    assert_eq!(outcome.outputs["whole"], json!(2));
}

#[tokio::test(start_paused = true)]
async fn on_failure_and_finally_read_records_of_steps_long_done() {
    let h = harness(vec![]);
    let yaml = format!(
        "
name: handlers
steps:
  - {{id: first, uses: core.set, with: {{n: 1}}}}
  - {{id: second, uses: core.set, with: {{n: 2}}}}
{}  - {{id: boom, uses: core.fail, with: {{message: boom}}}}
on_failure:
  - {{id: rescue, uses: core.set, with: {{n: '${{{{ steps.first.output.n }}}}'}}}}
finally:
  - {{id: tidy, uses: core.set, with: {{n: '${{{{ steps.second.output.n }}}}'}}}}
",
        filler(10, "first")
    );
    let outcome = h.run(&yaml).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(h.store.attempts_of("rescue")[0].input, json!({"n": 1}));
    assert_eq!(h.store.attempts_of("tidy")[0].input, json!({"n": 2}));
}

#[tokio::test(start_paused = true)]
async fn an_on_error_handler_reads_a_record_its_step_was_the_last_to_need() {
    let h = harness(vec![]);
    let yaml = format!(
        "
name: handler
steps:
  - {{id: first, uses: core.set, with: {{n: 7}}}}
{}  - id: risky
    uses: core.fail
    with: {{message: no}}
    on_error:
      steps:
        - {{id: handle, uses: core.set, with: {{n: '${{{{ steps.first.output.n }}}}'}}}}
  - {{id: after, uses: core.set, with: {{n: '${{{{ steps.f4.output.n }}}}'}}}}
outputs:
  risky: ${{{{ steps.risky.status }}}}
",
        filler(5, "first")
    );
    let outcome = h.run(&yaml).await;
    assert_succeeded(&outcome);
    assert_eq!(h.store.attempts_of("handle")[0].input, json!({"n": 7}));
    assert_eq!(outcome.outputs["risky"], json!("failed"));
}

#[tokio::test(start_paused = true)]
async fn steps_running_side_by_side_all_read_the_record_they_share() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: fan
steps:
  - {id: a, uses: core.set, with: {n: 1}}
  - {id: slow, needs: [a], uses: core.sleep, with: {duration: 2s}}
  - {id: late, needs: [slow], uses: core.set, with: {n: '${{ steps.a.output.n + 1 }}'}}
  - {id: early, needs: [a], uses: core.set, with: {n: '${{ steps.a.output.n + 2 }}'}}
outputs:
  late: ${{ steps.late.output.n }}
  early: ${{ steps.early.output.n }}
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(outcome.outputs, json!({"late": 2, "early": 3}));
}

/// A run parked by a stored wait goes on in a new process: the records of the steps before
/// the wait are read back, and a step after it still reads them.
#[tokio::test]
async fn a_resumed_run_reads_records_of_steps_before_the_stop() {
    let h = harness(vec![]);
    let engine = h.engine.clone().with_stored_waits(Duration::from_secs(5));
    let yaml = format!(
        "
name: resumed
steps:
  - {{id: first, uses: core.set, with: {{n: 5}}}}
{}  - {{id: pause, uses: core.sleep, with: {{duration: 1h}}}}
  - {{id: after, uses: core.set, with: {{n: '${{{{ steps.first.output.n + steps.f3.output.n }}}}'}}}}
outputs:
  after: ${{{{ steps.after.output.n }}}}
",
        filler(4, "first")
    );
    let workflow = compile_at(&engine, Path::new("resumed.yaml"), &yaml);
    let parked = engine.run(workflow.clone(), RunRequest::default()).await;
    assert_eq!(parked.status, RunStatus::Waiting, "{parked:?}");
    let woken = ResumeRequest {
        wait_ended: true,
        ..ResumeRequest::new(&parked.run_id)
    };
    let done = engine.resume(workflow, woken).await.unwrap();
    assert_succeeded(&done);
    assert_eq!(done.outputs["after"], json!(14));
}
