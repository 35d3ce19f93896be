//! The run history keeps at most `record_cap` bytes of each value; the live run keeps it whole.

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use weft_engine::exec::{Engine, RunRequest};
use weft_engine::store::{RunStatus, RunStore, SledRunStore, Truncation};
use weft_engine::workflow;

fn truncation_of(field: &str, whole: &Value) -> Truncation {
    let text = serde_json::to_string(whole).unwrap();
    Truncation {
        field: field.into(),
        size_bytes: text.len() as u64,
        sha256: hex::encode(Sha256::digest(text.as_bytes())),
    }
}

/// The built-in actions over `store`, recording at most `cap` bytes of each value.
fn engine_capped_at(store: Arc<SledRunStore>, cap: usize) -> Engine {
    let mut engine = Engine::new(
        Arc::new(weft_engine::actions::builtin_registry().expect("built-in actions")),
        Arc::new(weft_engine::trigger::SourceCatalog::default()),
        store,
    );
    engine.record_cap = cap;
    engine
}

#[tokio::test]
async fn values_over_the_cap_are_recorded_as_a_preview_with_size_and_hash() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledRunStore::open(dir.path()).await.unwrap());
    let engine = engine_capped_at(store.clone(), 1000);
    let yaml = "
name: big
steps:
  - id: big
    uses: core.set
    with:
      items: ${{ range(2000) }}
  - id: count
    uses: core.set
    with:
      n: ${{ len(steps.big.output.items) }}
outputs:
  n: ${{ steps.count.output.n }}
  items: ${{ steps.big.output.items }}
";
    let loaded = workflow::load_bytes(Path::new("big.yaml"), yaml.as_bytes(), engine.catalog())
        .unwrap_or_else(|p| panic!("{}", p.render()));
    let outcome = engine.run(loaded.workflow, RunRequest::default()).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    // The live run passed the whole list on.
    assert_eq!(outcome.outputs["n"], 2000);
    assert_eq!(outcome.outputs["items"].as_array().unwrap().len(), 2000);

    let whole = json!({ "items": (0..2000).collect::<Vec<_>>() });
    let attempts = store.attempts(&outcome.run_id).await.unwrap();
    let big = &attempts[0];
    assert_eq!(
        big.truncated,
        [
            truncation_of("input", &whole),
            truncation_of("output", &whole)
        ]
    );
    let preview = big.output.as_ref().unwrap().as_str().unwrap();
    assert!(preview.starts_with(r#"{"items":[0,1,2,3"#), "{preview}");
    assert!(preview.len() <= 1000);
    let count = &attempts[1];
    assert!(count.truncated.is_empty());
    assert_eq!(count.output, Some(json!({ "n": 2000 })));

    let runs = store.list_runs(10).await.unwrap();
    let run = &runs[0];
    assert_eq!(run.truncated, [truncation_of("outputs", &outcome.outputs)]);
    assert!(run.outputs.as_ref().unwrap().as_str().unwrap().len() <= 1000);
}

#[tokio::test]
async fn a_cut_value_is_redacted_before_its_preview_and_hash_are_taken() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledRunStore::open(dir.path()).await.unwrap());
    let engine = engine_capped_at(store.clone(), 100);
    let yaml = "
name: secret
steps:
  - id: big
    uses: core.set
    with:
      items:
        - ${{ secrets.tok }}
        - ${{ range(100) }}
        - ${{ secrets.tok }}
";
    let loaded = workflow::load_bytes(Path::new("s.yaml"), yaml.as_bytes(), engine.catalog())
        .unwrap_or_else(|p| panic!("{}", p.render()));
    let request = RunRequest {
        secrets: [("tok".to_string(), "hunter2-secret".to_string())].into(),
        ..RunRequest::default()
    };
    let outcome = engine.run(loaded.workflow, request).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    let attempt = &store.attempts(&outcome.run_id).await.unwrap()[0];
    let preview = attempt.output.as_ref().unwrap().as_str().unwrap();
    assert!(preview.starts_with(r#"{"items":["***",[0,1"#), "{preview}");
    let numbers: Vec<Value> = (0..100).map(|n| json!(n)).collect();
    let items = vec![json!("***"), Value::Array(numbers), json!("***")];
    assert_eq!(
        attempt.truncated[1],
        truncation_of("output", &json!({ "items": items }))
    );
}
