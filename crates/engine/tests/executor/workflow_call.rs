//! workflow.call.

use super::*;

#[tokio::test(start_paused = true)]
async fn workflow_call_runs_the_child_and_returns_its_outputs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let child = "
name: child
inputs:
  name:
    type: string
    required: true
steps:
  - id: greet
    uses: core.set
    with:
      text: 'Hello, ${{ inputs.name }}'
outputs:
  greeting: ${{ steps.greet.output.text }}
";
    std::fs::write(dir.path().join("child.yaml"), child).expect("write child");
    let parent = "
name: parent
steps:
  - id: call
    uses: workflow.call
    with:
      path: child.yaml
      inputs: { name: Ada }
outputs:
  greeting: ${{ steps.call.output.greeting }}
";
    let h = harness(vec![]);
    let workflow = compile_at(&h.engine, &dir.path().join("parent.yaml"), parent);
    let outcome = h.engine.run(workflow, RunRequest::default()).await;
    assert_succeeded(&outcome);
    assert_eq!(outcome.outputs, json!({ "greeting": "Hello, Ada" }));
    // The child is its own run, linked to its parent.
    let runs = h.store.all_runs();
    let child_run = runs.iter().find(|r| r.workflow == "child");
    assert_eq!(
        child_run.and_then(|r| r.parent.clone()),
        Some(outcome.run_id.clone())
    );
}

#[tokio::test(start_paused = true)]
async fn workflow_call_of_itself_fails_instead_of_looping() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("loop.yaml");
    let yaml = "
name: loop
steps:
  - id: again
    uses: workflow.call
    with:
      path: ${{ 'loop' + '.yaml' }}
";
    std::fs::write(&path, yaml).expect("write workflow");
    let h = harness(vec![]);
    let workflow = compile_at(&h.engine, &path, yaml);
    let outcome = h.engine.run(workflow, RunRequest::default()).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap_or_default();
    assert!(
        error.contains("workflow.call of `loop.yaml` would call itself in a loop"),
        "{error}"
    );
    assert_eq!(h.store.all_runs().len(), 1, "no child run was started");
}

#[tokio::test(start_paused = true)]
async fn workflow_call_of_an_invalid_file_shows_its_diagnostics() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("broken.yaml"),
        "name: broken\nsteps:\n  - id: a\n    uses: core.lgo\n",
    )
    .expect("write child");
    let parent = "
name: parent
steps:
  - id: call
    uses: workflow.call
    with: { path: broken.yaml }
";
    let h = harness(vec![]);
    let workflow = compile_at(&h.engine, &dir.path().join("parent.yaml"), parent);
    let outcome = h.engine.run(workflow, RunRequest::default()).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap_or_default();
    assert!(
        error.contains("`broken.yaml` is not a valid workflow"),
        "{error}"
    );
    assert!(error.contains("unknown action `core.lgo`"), "{error}");
}
