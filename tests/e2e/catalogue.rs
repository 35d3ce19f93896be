//! Listing and checking use the catalogue alone: they never open the run history or the key
//! store, so they work whatever state the data folder is in.

use super::{stdout, weft, write};

#[test]
fn listing_and_validating_never_touch_the_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the data folder should be: opening a store there would fail.
    let data_dir = write(dir.path(), "not-a-folder", "keep");
    let flow = write(
        dir.path(),
        "flow.yaml",
        "name: flow\nsteps:\n  - id: a\n    uses: core.log\n    with: {message: hi}\n",
    );
    let flow = flow.to_str().unwrap();
    for args in [
        vec!["validate", flow],
        vec!["actions", "list"],
        vec!["actions", "show", "http.request"],
        vec!["schema"],
        vec!["run", "--dry-run", flow],
    ] {
        let out = weft(&data_dir, &args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "weft {args:?}: {}",
            stdout(&out)
        );
    }
    assert_eq!(std::fs::read_to_string(&data_dir).unwrap(), "keep");

    let listed = stdout(&weft(&data_dir, &["actions", "show", "http.request"]));
    assert!(
        listed.contains("method") && listed.contains("GET | HEAD | OPTIONS"),
        "inputs come from the input struct: {listed}"
    );
}

/// `weft schema` gives each action's `with:` keys from its typed inputs.
#[test]
fn the_schema_knows_each_actions_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(&stdout(&weft(dir.path(), &["schema"]))).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("valid JSON Schema");
    let step = |with: &str| -> serde_json::Value {
        serde_yaml::from_str(&format!(
            "name: x\nsteps:\n  - id: a\n    uses: http.request\n    with: {with}\n"
        ))
        .unwrap()
    };
    assert!(validator.is_valid(&step("{url: '${{ inputs.url }}', timeout: 5s}")));
    assert!(
        !validator.is_valid(&step("{ur: 'http://x'}")),
        "a misspelt input (and the missing `url`) must be flagged"
    );
    let open: serde_json::Value = serde_yaml::from_str(
        "name: x\nsteps:\n  - id: a\n    uses: core.set\n    with: {anything: 1}\n",
    )
    .unwrap();
    assert!(validator.is_valid(&open), "core.set takes any key");
}
