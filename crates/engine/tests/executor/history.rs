//! Secrets and run history.

use super::*;

/// Opens a store just closed in this process. sled's background flusher can hold the lock
/// briefly after the last handle is dropped (reported: `SledRunStore` does not wait for it),
/// so `Locked` is retried for a short while; any other error fails the test.
async fn reopen(dir: &Path) -> SledRunStore {
    let mut tries = 0;
    loop {
        match SledRunStore::open(dir).await {
            Ok(store) => return store,
            Err(StoreError::Locked { .. }) if tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("cannot reopen the store: {e}"),
        }
    }
}

const SECRET_FLOW: &str = "
name: secret
steps:
  - id: auth
    uses: core.set
    with:
      header: 'Bearer ${{ secrets.api_token }}'
  - id: show
    uses: core.log
    with:
      message: 'sent ${{ steps.auth.output.header }}'
outputs:
  header: ${{ steps.auth.output.header }}
";

#[tokio::test(start_paused = true)]
async fn secrets_are_redacted_in_stored_attempts_runs_and_outputs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = "s3cr3t-Value-42";
    let run_id = {
        let store = Arc::new(SledRunStore::open(dir.path()).await.expect("open store"));
        let engine = builtin_engine(store.clone());
        let workflow = compile_at(&engine, Path::new("secret.yaml"), SECRET_FLOW);
        let request = RunRequest {
            secrets: HashMap::from([("api_token".to_string(), secret.to_string())]),
            ..RunRequest::default()
        };
        let outcome = engine.run(workflow, request).await;
        assert_succeeded(&outcome);
        assert_eq!(outcome.outputs, json!({ "header": "Bearer ***" }));

        let attempts = store
            .attempts(&outcome.run_id)
            .await
            .expect("read attempts");
        assert_eq!(attempts.len(), 2);
        assert_eq!(attempts[0].input, json!({ "header": "Bearer ***" }));
        assert_eq!(attempts[0].output, Some(json!({ "header": "Bearer ***" })));
        assert_eq!(attempts[1].input, json!({ "message": "sent Bearer ***" }));
        let run = store.get_run(&outcome.run_id).await.expect("read run");
        assert_eq!(
            run.and_then(|r| r.outputs),
            Some(json!({ "header": "Bearer ***" }))
        );
        outcome.run_id
    };
    // Nothing on disk holds the secret, in any file of the store.
    let mut files = vec![dir.path().to_path_buf()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("list store").flatten() {
                files.push(entry.path());
            }
        } else {
            let bytes = std::fs::read(&path).expect("read store file");
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds the secret",
                path.display()
            );
        }
    }
    assert!(!run_id.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_missing_secret_is_refused_before_any_step() {
    let h = harness(vec![]);
    let outcome = h.run(SECRET_FLOW).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.error.as_deref(),
        Some("missing secrets: `api_token` (set WEFT_SECRET_API_TOKEN)")
    );
    assert!(h.store.all_attempts().is_empty());
}

#[tokio::test(start_paused = true)]
async fn run_history_is_kept_across_reopening_the_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = "
name: history
inputs:
  n:
    type: integer
    default: 1
steps:
  - id: show
    uses: core.log
    with: { message: 'n=${{ inputs.n }}' }
  - id: maybe_fail
    if: ${{ inputs.n > 1 }}
    uses: core.fail
    with: { message: too big }
";
    let mut ids = Vec::new();
    {
        let store = Arc::new(SledRunStore::open(dir.path()).await.expect("open store"));
        let engine = builtin_engine(store);
        let workflow = compile_at(&engine, Path::new("history.yaml"), yaml);
        for n in [1, 2] {
            let mut request = RunRequest::default();
            request.inputs.insert("n".into(), json!(n));
            ids.push(engine.run(workflow.clone(), request).await.run_id);
        }
    }
    let store = reopen(dir.path()).await;
    let runs = store.list_runs(10).await.expect("list runs");
    let listed: Vec<(&str, RunStatus)> = runs.iter().map(|r| (r.id.as_str(), r.status)).collect();
    assert_eq!(
        listed,
        [
            (ids[1].as_str(), RunStatus::Failed),
            (ids[0].as_str(), RunStatus::Succeeded)
        ]
    );
    let first = &runs[1];
    assert_eq!(first.workflow, "history");
    assert_eq!(first.inputs, json!({ "n": 1 }));
    assert_eq!(first.hash.len(), 64, "SHA-256 of the file, in hex");
    assert!(first.finished_at.is_some_and(|f| f >= first.started_at));
    assert_eq!(
        runs[0].error.as_deref(),
        Some("step `maybe_fail` failed: too big")
    );
    let attempts = store.attempts(&ids[1]).await.expect("attempts");
    let steps: Vec<(&str, StepStatus)> = attempts
        .iter()
        .map(|a| (a.step.as_str(), a.status))
        .collect();
    assert_eq!(
        steps,
        [
            ("show", StepStatus::Succeeded),
            ("maybe_fail", StepStatus::Failed)
        ]
    );
    assert_eq!(attempts[0].input, json!({ "message": "n=2" }));
    // Kept without them beside their chunk's key, the records read back with their ids.
    let ids_read: Vec<(&str, u64)> = attempts
        .iter()
        .map(|a| (a.run_id.as_str(), a.seq))
        .collect();
    assert_eq!(ids_read, [(ids[1].as_str(), 0), (ids[1].as_str(), 1)]);
}
