//! Values.

use super::*;

#[tokio::test(start_paused = true)]
async fn workflow_outputs_are_computed_from_inputs_vars_and_steps() {
    let h = harness(vec![]);
    let mut request = RunRequest::default();
    request.inputs.insert("name".into(), json!("Ada"));
    let outcome = h
        .run_with(
            "
name: values
inputs:
  name:
    type: string
    required: true
  times:
    type: integer
    default: 2
vars:
  greeting: 'Hello, ${{ inputs.name }}'
steps:
  - id: make
    uses: core.set
    with:
      list: ${{ split('a,b,c', ',') }}
      doubled: ${{ inputs.times * 2 }}
outputs:
  greeting: ${{ vars.greeting }}
  list: ${{ steps.make.output.list }}
  doubled: ${{ steps.make.output.doubled }}
  text: 'n=${{ steps.make.output.doubled }}'
",
            request,
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(
        outcome.outputs,
        json!({
            "greeting": "Hello, Ada",
            "list": ["a", "b", "c"],
            "doubled": 4,
            "text": "n=4"
        })
    );
}

#[tokio::test(start_paused = true)]
async fn missing_required_input_fails_before_any_step() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: values
inputs:
  name:
    type: string
    required: true
steps:
  - id: show
    uses: core.log
    with: { message: '${{ inputs.name }}' }
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.error.as_deref(),
        Some("missing required input `name` (string)")
    );
    assert!(h.store.all_attempts().is_empty());
}

#[tokio::test(start_paused = true)]
async fn undefined_reference_at_runtime_is_an_error_naming_the_path() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: undefined
steps:
  - id: fetch
    uses: core.set
    with: { count: 3 }
  - id: show
    uses: core.log
    with:
      message: 'total: ${{ steps.fetch.output.total }}'
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap_or_default();
    assert_eq!(
        error,
        "step `show` failed: `with`: `steps.fetch.output` has no field `total`"
    );
    assert!(
        h.store.attempts_of("show").is_empty(),
        "the action never ran"
    );
}

/// A big loop's item outputs are set aside in the store as items finish, read back whole when
/// a later step reads `steps.<loop>.output`, and removed when the run ends.
#[tokio::test(start_paused = true)]
async fn a_big_loops_outputs_are_set_aside_and_read_back_when_a_later_step_reads_them() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: big
steps:
  - id: each
    for_each: ${{ range(6000) }}
    concurrency: 8
    steps:
      - id: body
        uses: core.set
        with:
          n: ${{ item * 2 }}
          label: 'item number ${{ item }} of the big loop, long enough that the loop spills'
  - id: after
    uses: core.set
    with:
      count: ${{ len(steps.each.output) }}
      last: ${{ steps.each.output[5999].n }}
      status: ${{ steps.each.status }}
outputs:
  first: ${{ steps.each.output[0].label }}
  count: ${{ steps.after.output.count }}
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(
        outcome.outputs,
        json!({ "first": "item number 0 of the big loop, long enough that the loop spills", "count": 6000 })
    );
    let after = h.store.attempts_of("after");
    assert_eq!(
        after[0].output,
        Some(json!({ "count": 6000, "last": 11998, "status": "succeeded" }))
    );
    assert_eq!(h.store.scratch_entries(), 0, "the run left scratch entries");
}

/// `for_each: ${{ range(...) }}` counts through its numbers instead of building the list: the
/// items, the loop's output, a dry run and `range`'s errors are those of the list.
#[tokio::test(start_paused = true)]
async fn a_loop_over_range_runs_the_items_the_list_would() {
    let h = harness(vec![]);
    let loop_over = |items: &str| {
        format!(
            "
name: counted
inputs:
  from: {{ type: integer, default: 0 }}
  to: {{ type: integer, default: 0 }}
steps:
  - id: each
    for_each: {items}
    concurrency: 3
    steps:
      - id: body
        uses: core.set
        with:
          n: ${{{{ item * 10 + index }}}}
outputs:
  all: ${{{{ steps.each.output }}}}
  count: ${{{{ len(steps.each.output) }}}}
"
        )
    };
    let request = |from: i64, to: i64| {
        let mut request = RunRequest::default();
        request.inputs.insert("from".into(), json!(from));
        request.inputs.insert("to".into(), json!(to));
        request
    };
    for (from, to) in [(0, 5), (-3, 2), (4, 4), (6, 2)] {
        let counted = h
            .run_with(
                &loop_over("${{ range(inputs.from, inputs.to) }}"),
                request(from, to),
            )
            .await;
        assert_succeeded(&counted);
        let list: Vec<i64> = (from..to).collect();
        let listed = h
            .run_with(
                &loop_over(&serde_json::to_string(&list).expect("json")),
                request(from, to),
            )
            .await;
        assert_succeeded(&listed);
        assert_eq!(counted.outputs, listed.outputs, "range({from}, {to})");
        assert_eq!(counted.outputs["count"], json!(list.len()));
    }

    let too_many = h
        .run_with(
            &loop_over("${{ range(inputs.from, inputs.to) }}"),
            request(0, 1_000_001),
        )
        .await;
    let error = too_many.error.expect("a loop over too many numbers fails");
    assert!(
        error.contains("`for_each`: `range` builds at most 1000000 numbers"),
        "{error}"
    );

    let dry = h
        .run_with(
            &loop_over("${{ range(inputs.from, inputs.to) }}"),
            RunRequest {
                mode: Mode::DryRun {
                    mocks: HashMap::new(),
                    live_reads: false,
                },
                ..request(7, 1_000_000)
            },
        )
        .await;
    assert_succeeded(&dry);
    let report = dry.dry_run.expect("a dry run report");
    let shown: Vec<(&str, &[usize], &Value)> = report
        .steps
        .iter()
        .map(|s| (s.step.as_str(), s.iteration.as_slice(), &s.input))
        .collect();
    assert_eq!(
        shown,
        [("body", &[0usize][..], &json!({ "n": 70 }))],
        "a dry run shows the body once, for the first number"
    );
}
