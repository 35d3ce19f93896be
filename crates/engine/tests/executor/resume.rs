//! Resuming runs whose process stopped (the run's task is aborted, as a `kill -9` would stop
//! it: nothing after the last recorded attempt is written), the restart limit and stored waits.

use super::*;
use weft_engine::exec::{ResumeRequest, DEFAULT_RESTART_LIMIT};

/// One call of the probe, as the action saw it.
#[derive(Debug, Clone)]
struct Call {
    name: String,
    attempt: u32,
    may_have_run_before: bool,
    key: String,
}

/// Returns `{name, calls, value}`; the first `hang_calls` calls for a name never end (the
/// process dies while they are in flight).
#[derive(Default)]
struct Probe {
    calls: Mutex<Vec<Call>>,
    hanging: tokio::sync::Notify,
}

static PROBE: LazyLock<ActionSpec> = LazyLock::new(|| ActionSpec {
    name: "test.probe",
    description: "Records how it was called.",
    inputs: vec![
        InputField::required("name", FieldType::String, "What is called."),
        InputField::optional("hang_calls", FieldType::Integer, "Calls that never end."),
        InputField::optional("value", FieldType::Any, "Echoed."),
    ],
    open_inputs: false,
    output_description: "The name and the calls so far.",
    output_example: r#"{"name": "a", "calls": 1}"#,
    writes: true,
    scopes: &[],
});

impl Probe {
    fn of(&self, name: &str) -> Vec<Call> {
        self.calls
            .lock()
            .iter()
            .filter(|c| c.name == name)
            .cloned()
            .collect()
    }
}

#[async_trait]
impl Action for Probe {
    fn spec(&self) -> &ActionSpec {
        &PROBE
    }

    async fn run(&self, input: Value, ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        let name = input["name"].as_str().unwrap_or_default().to_string();
        let calls = {
            let mut calls = self.calls.lock();
            calls.push(Call {
                name: name.clone(),
                attempt: ctx.attempt,
                may_have_run_before: ctx.may_have_run_before,
                key: ctx.idempotency_key(),
            });
            calls.iter().filter(|c| c.name == name).count() as u64
        };
        if calls <= input["hang_calls"].as_u64().unwrap_or(0) {
            self.hanging.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(json!({ "name": name, "calls": calls, "value": input["value"] }))
    }
}

fn probe_harness() -> (Harness, Arc<Probe>) {
    let probe = Arc::new(Probe::default());
    (harness(vec![probe.clone()]), probe)
}

/// Starts the run, waits until a probe call hangs, and stops the run there as a crash would:
/// its task is dropped, nothing more is written. Returns the run's id.
async fn run_until_it_hangs(h: &Harness, probe: &Probe, workflow: Arc<CompiledWorkflow>) -> String {
    let engine = h.engine.clone();
    let request = RunRequest {
        secrets: HashMap::from([("api".to_string(), "s3cr3t-value-xyz".to_string())]),
        ..RunRequest::default()
    };
    let run = tokio::spawn(async move { engine.run(workflow, request).await });
    probe.hanging.notified().await;
    run.abort();
    assert!(run.await.unwrap_err().is_cancelled());
    let runs = h.store.all_runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Running);
    runs[0].id.clone()
}

async fn resume(h: &Harness, workflow: Arc<CompiledWorkflow>, run_id: &str) -> RunOutcome {
    let request = ResumeRequest {
        secrets: HashMap::from([("api".to_string(), "s3cr3t-value-xyz".to_string())]),
        ..ResumeRequest::new(run_id)
    };
    h.engine.resume(workflow, request).await.unwrap()
}

const CRASHING: &str = r#"
name: crashing
steps:
  - id: first
    uses: test.probe
    with: { name: first }
  - id: refused
    uses: core.fail
    on_error: continue
    with: { message: refused }
  - id: each
    for_each: [a, b, c]
    concurrency: 1
    steps:
      - id: item
        uses: test.probe
        with:
          name: "${{ item }}"
          hang_calls: "${{ item == 'c' ? 1 : 0 }}"
  - id: last
    uses: test.probe
    with:
      name: last
      value: "${{ [steps.first.output.calls, steps.refused.status, pluck(steps.each.output, 'calls')] }}"
outputs:
  seen: ${{ steps.last.output.value }}
"#;

#[tokio::test]
async fn a_resumed_run_reads_finished_steps_back_and_repeats_the_one_in_flight() {
    let (h, probe) = probe_harness();
    let workflow = compile_at(&h.engine, Path::new("crashing.yaml"), CRASHING);
    let run_id = run_until_it_hangs(&h, &probe, workflow.clone()).await;
    let in_flight = probe.of("c");
    assert_eq!(in_flight.len(), 1);

    let outcome = resume(&h, workflow, &run_id).await;
    assert_succeeded(&outcome);
    assert_eq!(outcome.run_id, run_id, "the same run goes on");
    // Finished steps, loop items included, were not run again: their outputs were read back.
    for name in ["first", "a", "b"] {
        assert_eq!(probe.of(name).len(), 1, "{name} ran again");
    }
    // The step that failed for good stays failed (it is not tried again).
    let refused = h.store.attempts(&run_id).await.unwrap();
    assert_eq!(refused.iter().filter(|a| a.step == "refused").count(), 1);
    // The attempt in flight ran again, with the same number and idempotency key, flagged.
    let again = probe.of("c");
    assert_eq!(again.len(), 2);
    assert_eq!(
        (again[1].attempt, &again[1].key),
        (in_flight[0].attempt, &in_flight[0].key)
    );
    assert!(!in_flight[0].may_have_run_before && again[1].may_have_run_before);
    assert_eq!(outcome.outputs["seen"], json!([1, "failed", [1, 1, 2]]));

    let record = h.store.get_run(&run_id).await.unwrap().unwrap();
    assert_eq!(record.status, RunStatus::Succeeded);
    assert_eq!(record.resumes, 1);
    // New attempts are numbered after the recorded ones: none overwrote another.
    let attempts = h.store.attempts(&run_id).await.unwrap();
    let succeeded: Vec<_> = attempts
        .iter()
        .filter(|a| a.status == StepStatus::Succeeded)
        .map(|a| (a.step.as_str(), a.iteration.clone()))
        .collect();
    assert_eq!(
        succeeded,
        [
            ("first", vec![]),
            ("item", vec![0]),
            ("item", vec![1]),
            ("item", vec![2]),
            ("last", vec![])
        ]
    );
}

#[tokio::test]
async fn a_step_whose_output_held_a_secret_runs_again_as_the_attempt_that_succeeded() {
    let (h, probe) = probe_harness();
    let workflow = compile_at(
        &h.engine,
        Path::new("secret.yaml"),
        r#"
name: secret
steps:
  - id: token
    uses: test.probe
    with: { name: token, value: "${{ secrets.api }}" }
  - id: wait
    uses: test.probe
    with: { name: wait, hang_calls: 1 }
  - id: use
    uses: test.probe
    with: { name: use, value: "${{ steps.token.output.value }}" }
"#,
    );
    let run_id = run_until_it_hangs(&h, &probe, workflow.clone()).await;
    let recorded = h.store.attempts(&run_id).await.unwrap();
    assert!(recorded[0].output_redacted, "{recorded:?}");

    let outcome = resume(&h, workflow, &run_id).await;
    assert_succeeded(&outcome);
    // The masked record cannot stand for the value: the step ran again, as attempt 1 (the
    // same idempotency key), flagged; the next step got the real value, not the mask.
    let token = probe.of("token");
    assert_eq!(token.len(), 2);
    assert_eq!(token[1].key, token[0].key);
    assert!(token[1].may_have_run_before);
    assert_eq!(probe.of("use").len(), 1);
    let used = h.store.attempts(&run_id).await.unwrap();
    let last = used.iter().find(|a| a.step == "use").unwrap();
    assert!(
        last.output_redacted,
        "the secret reached the step and stays masked"
    );
}

#[tokio::test]
async fn a_run_stopping_again_and_again_is_failed_at_the_restart_limit() {
    let (h, probe) = probe_harness();
    let workflow = compile_at(
        &h.engine,
        Path::new("stuck.yaml"),
        "name: stuck\nsteps:\n  - id: hang\n    uses: test.probe\n    with: { name: hang, hang_calls: 100 }\n",
    );
    let run_id = run_until_it_hangs(&h, &probe, workflow.clone()).await;
    for expected in 1..=DEFAULT_RESTART_LIMIT {
        let engine = h.engine.clone();
        let (flow, id) = (workflow.clone(), run_id.clone());
        let resumed =
            tokio::spawn(async move { engine.resume(flow, ResumeRequest::new(id)).await });
        probe.hanging.notified().await;
        // The resume was counted on the record before the step started.
        let record = h.store.get_run(&run_id).await.unwrap().unwrap();
        assert_eq!(record.resumes, expected);
        resumed.abort();
        let _ = resumed.await;
    }
    let calls = probe.of("hang").len();
    let outcome = resume(&h, workflow, &run_id).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap();
    assert!(error.contains("restart limit 3"), "{error}");
    assert_eq!(probe.of("hang").len(), calls, "nothing ran");
    let record = h.store.get_run(&run_id).await.unwrap().unwrap();
    assert_eq!(record.status, RunStatus::Failed);
    assert!(record.error.unwrap().contains("restart limit"));
    // A finished run is not resumed.
    let again = h
        .engine
        .resume(
            compile_at(&h.engine, Path::new("stuck.yaml"), "name: stuck\nsteps:\n  - id: hang\n    uses: test.probe\n    with: { name: hang, hang_calls: 100 }\n"),
            ResumeRequest::new(&run_id),
        )
        .await;
    assert!(matches!(
        again,
        Err(weft_engine::exec::ResumeError::Finished { .. })
    ));
}

#[tokio::test]
async fn a_changed_workflow_is_not_resumed() {
    let (h, probe) = probe_harness();
    let first = "name: changing\nsteps:\n  - id: hang\n    uses: test.probe\n    with: { name: hang, hang_calls: 1 }\n";
    let workflow = compile_at(&h.engine, Path::new("changing.yaml"), first);
    let run_id = run_until_it_hangs(&h, &probe, workflow).await;
    let changed = compile_at(
        &h.engine,
        Path::new("changing.yaml"),
        &first.replace("hang_calls: 1", "hang_calls: 0"),
    );
    let outcome = resume(&h, changed, &run_id).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(
        outcome
            .error
            .as_deref()
            .unwrap()
            .contains("workflow changed"),
        "{outcome:?}"
    );
    assert_eq!(probe.of("hang").len(), 1);
}

const WAITING: &str = r#"
name: waiting
steps:
  - id: before
    uses: test.probe
    with: { name: before }
  - id: pause
    uses: core.sleep
    with: { duration: 1h }
  - id: after
    uses: test.probe
    with: { name: after, value: "${{ steps.before.output.calls }}" }
"#;

#[tokio::test]
async fn a_long_wait_parks_the_run_with_its_wake_up_time_and_the_resume_keeps_it() {
    let (h, probe) = probe_harness();
    let engine = h.engine.clone().with_stored_waits(Duration::from_secs(5));
    let workflow = compile_at(&engine, Path::new("waiting.yaml"), WAITING);
    let started = chrono::Utc::now();
    let parked = engine.run(workflow.clone(), RunRequest::default()).await;
    assert_eq!(parked.status, RunStatus::Waiting, "{parked:?}");
    let record = h.store.get_run(&parked.run_id).await.unwrap().unwrap();
    let wait = record.wait.clone().expect("the wait is stored");
    assert_eq!(wait.step, "pause");
    assert!(wait.until >= started + chrono::Duration::hours(1));
    assert!(record.finished_at.is_none());
    assert!(
        h.store
            .attempts(&parked.run_id)
            .await
            .unwrap()
            .iter()
            .all(|a| a.step != "pause"),
        "a stored wait is not an attempt"
    );

    // Woken early (a restart), it parks again until the same time, not an hour from now.
    let early = engine
        .resume(workflow.clone(), ResumeRequest::new(&parked.run_id))
        .await
        .unwrap();
    assert_eq!(early.status, RunStatus::Waiting);
    let record = h.store.get_run(&parked.run_id).await.unwrap().unwrap();
    assert_eq!(record.wait.as_ref().unwrap().until, wait.until);
    assert_eq!(record.resumes, 0, "waking a waiting run is not a restart");

    // Its time has come on the caller's clock (the daemon's, moved by hand in its tests).
    let woken = ResumeRequest {
        wait_ended: true,
        ..ResumeRequest::new(&parked.run_id)
    };
    let done = engine.resume(workflow, woken).await.unwrap();
    assert_succeeded(&done);
    assert_eq!(probe.of("before").len(), 1);
    assert_eq!(probe.of("after").len(), 1);
    let record = h.store.get_run(&parked.run_id).await.unwrap().unwrap();
    assert!(record.wait.is_none() && record.finished_at.is_some());
}

#[tokio::test(start_paused = true)]
async fn without_stored_waits_a_wait_is_slept() {
    let h = harness(vec![]);
    let at = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc3339();
    let started = Instant::now();
    let outcome = h
        .run(&format!(
            "name: sleeper\nsteps:\n  - id: pause\n    uses: core.sleep\n    with: {{ duration: 20s }}\n  - id: until\n    uses: core.wait_until\n    with: {{ at: '{at}' }}\n"
        ))
        .await;
    assert_succeeded(&outcome);
    assert!(started.elapsed() >= secs(20.0));
    let bad = h
        .run("name: bad\nsteps:\n  - id: until\n    uses: core.wait_until\n    with: { at: tomorrow }\n")
        .await;
    assert_eq!(bad.status, RunStatus::Failed);
    assert!(bad.error.unwrap().contains("RFC 3339"));
}
