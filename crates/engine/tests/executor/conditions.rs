//! Conditions.

use super::*;

#[tokio::test(start_paused = true)]
async fn if_false_skips_the_step_and_later_steps_see_it_skipped() {
    let h = harness(vec![]);
    let mut request = RunRequest::default();
    request.inputs.insert("flag".into(), json!(false));
    let outcome = h
        .run_with(
            "
name: cond
inputs:
  flag:
    type: boolean
steps:
  - id: maybe
    if: inputs.flag
    uses: core.log
    with: { message: ran }
  - id: always
    if: ${{ !inputs.flag }}
    uses: core.log
    with: { message: ran }
outputs:
  maybe: ${{ steps.maybe.status }}
  always: ${{ steps.always.status }}
",
            request,
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(
        outcome.outputs,
        json!({ "maybe": "skipped", "always": "succeeded" })
    );
    assert!(h.store.attempts_of("maybe").is_empty());
    assert_eq!(h.store.attempts_of("always").len(), 1);
}
