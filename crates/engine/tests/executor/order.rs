//! Order and concurrency.

use super::*;

#[tokio::test(start_paused = true)]
async fn steps_without_needs_run_one_after_another_in_file_order() {
    let h = harness(vec![]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: seq
steps:
  - id: c
    uses: core.sleep
    with: { duration: 1s }
  - id: a
    uses: core.sleep
    with: { duration: 1s }
  - id: b
    uses: core.sleep
    with: { duration: 1s }
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(t0.elapsed(), secs(3.0));
    assert_eq!(h.timeline.of("started"), ["c", "a", "b"]);
    assert_eq!(
        h.timeline.at("started", "a"),
        h.timeline.at("succeeded", "c")
    );
    assert_eq!(
        h.timeline.at("started", "b"),
        h.timeline.at("succeeded", "a")
    );
}

#[tokio::test(start_paused = true)]
async fn independent_needs_branches_run_concurrently() {
    let h = harness(vec![]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: dag
steps:
  - id: left
    uses: core.sleep
    with: { duration: 1s }
  - id: right
    needs: []
    uses: core.sleep
    with: { duration: 1s }
  - id: join
    needs: [left, right]
    uses: core.set
    with:
      both: ${{ [steps.left.output.slept_ms, steps.right.output.slept_ms] }}
",
        )
        .await;
    assert_succeeded(&outcome);
    // Both sleeps overlap: one second in all, not two.
    assert_eq!(t0.elapsed(), secs(1.0));
    assert_eq!(
        h.timeline.at("started", "left"),
        h.timeline.at("started", "right")
    );
    let join = h.store.attempts_of("join");
    assert_eq!(join[0].output, Some(json!({ "both": [1000, 1000] })));
    assert!(h.timeline.at("started", "join") >= h.timeline.at("succeeded", "right"));
}

#[tokio::test(start_paused = true)]
async fn a_step_waits_for_every_step_it_needs() {
    let h = harness(vec![]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: dag
steps:
  - id: short
    uses: core.sleep
    with: { duration: 1s }
  - id: long
    needs: []
    uses: core.sleep
    with: { duration: 3s }
  - id: after_short
    needs: [short]
    uses: core.sleep
    with: { duration: 1s }
  - id: last
    needs: [after_short, long]
    uses: core.log
    with: { message: done }
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(t0.elapsed(), secs(3.0));
    assert_eq!(h.timeline.at("started", "after_short") - t0, secs(1.0));
    assert_eq!(h.timeline.at("started", "last") - t0, secs(3.0));
}

#[tokio::test(start_paused = true)]
async fn for_each_runs_at_most_concurrency_items_at_once() {
    let gauge = Arc::new(Gauge::default());
    let h = harness(vec![gauge.clone()]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: loop
steps:
  - id: each
    for_each: ${{ [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }}
    concurrency: 3
    steps:
      - id: work
        uses: test.gauge
        with: { seconds: 1 }
",
        )
        .await;
    assert_succeeded(&outcome);
    // 10 items, 3 at a time: 4 rounds of one second.
    assert_eq!(t0.elapsed(), secs(4.0));
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 3);
    assert_eq!(h.store.attempts_of("work").len(), 10);
}

#[tokio::test(start_paused = true)]
async fn for_each_without_concurrency_runs_items_one_at_a_time() {
    let gauge = Arc::new(Gauge::default());
    let h = harness(vec![gauge.clone()]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: loop
steps:
  - id: each
    for_each: [a, b, c]
    steps:
      - id: work
        uses: test.gauge
        with: { seconds: 1 }
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(t0.elapsed(), secs(3.0));
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn for_each_outputs_keep_item_order_when_items_finish_out_of_order() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: loop
steps:
  - id: each
    for_each: [3, 1, 2]
    concurrency: 3
    steps:
      - id: wait
        uses: core.sleep
        with: { duration: '${{ item }}' }
      - id: value
        uses: core.set
        with:
          item: ${{ item }}
          index: ${{ index }}
outputs:
  values: ${{ steps.each.output }}
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(
        outcome.outputs["values"],
        json!([
            { "item": 3, "index": 0 },
            { "item": 1, "index": 1 },
            { "item": 2, "index": 2 }
        ])
    );
    // They did finish out of order: item 1 first.
    let finished: Vec<Vec<usize>> = h
        .store
        .attempts_of("value")
        .into_iter()
        .map(|a| a.iteration)
        .collect();
    assert_eq!(finished, [vec![1], vec![2], vec![0]]);
}

#[tokio::test(start_paused = true)]
async fn for_each_step_outputs_are_computed_per_item() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: loop
steps:
  - id: each
    for_each: [a, b]
    steps:
      - id: show
        uses: core.log
        with:
          message: ${{ item }}
    outputs:
      label: '${{ index }}:${{ upper(item) }}'
outputs:
  labels: ${{ steps.each.output }}
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(
        outcome.outputs["labels"],
        json!([{ "label": "0:A" }, { "label": "1:B" }])
    );
}

#[tokio::test(start_paused = true)]
async fn for_each_step_outputs_can_read_the_body_steps_of_their_item() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: loop
steps:
  - id: each
    for_each: [2, 3]
    steps:
      - id: square
        uses: core.set
        with:
          value: ${{ item * item }}
    outputs:
      n: ${{ item }}
      square: ${{ steps.square.output.value }}
outputs:
  all: ${{ steps.each.output }}
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(
        outcome.outputs["all"],
        json!([{ "n": 2, "square": 4 }, { "n": 3, "square": 9 }])
    );
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_computes_core_set_outputs_so_later_steps_render() {
    let h = harness(vec![]);
    let outcome = h
        .run_with(
            "
name: dry
steps:
  - id: a
    uses: core.set
    with: { x: 41 }
  - id: b
    uses: core.log
    with:
      message: ${{ steps.a.output.x + 1 }}
",
            RunRequest {
                mode: Mode::DryRun {
                    mocks: Default::default(),
                    live_reads: false,
                },
                ..RunRequest::default()
            },
        )
        .await;
    assert_succeeded(&outcome);
    let report = outcome.dry_run.expect("a dry-run report");
    assert_eq!(report.steps[0].output_from, "computed");
    assert_eq!(report.steps[1].input, json!({ "message": 42 }));
}

#[tokio::test(start_paused = true)]
async fn parallel_branches_run_at_the_same_time_and_return_each_branch_result() {
    let h = harness(vec![]);
    let t0 = Instant::now();
    let outcome = h
        .run(
            "
name: branches
steps:
  - id: both
    parallel:
      left:
        - id: l_wait
          uses: core.sleep
          with: { duration: 1s }
        - id: l_value
          uses: core.set
          with: { side: left }
      right:
        - id: r_wait
          uses: core.sleep
          with: { duration: 1s }
        - id: r_value
          uses: core.set
          with: { side: right }
outputs:
  result: ${{ steps.both.output }}
",
        )
        .await;
    assert_succeeded(&outcome);
    assert_eq!(t0.elapsed(), secs(1.0));
    assert_eq!(
        outcome.outputs["result"],
        json!({ "left": { "side": "left" }, "right": { "side": "right" } })
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_parallel_branch_fails_the_step_and_names_the_branch() {
    let h = harness(vec![]);
    let outcome = h
        .run(
            "
name: branches
steps:
  - id: both
    parallel:
      good:
        - id: ok
          uses: core.log
          with: { message: fine }
      bad:
        - id: broken
          uses: core.fail
          with: { message: boom }
",
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap_or_default();
    assert!(error.contains("branch `bad`"), "{error}");
    assert!(error.contains("boom"), "{error}");
}
