//! `docs/confluence.md` is generated from the declarations; this fails when it is out of date.
//! `WEFT_UPDATE_DOCS=1 cargo test -p weft-confluence --test docs` rewrites it.

use std::path::Path;

#[test]
fn the_reference_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/confluence.md");
    let expected = weft_confluence::docs::reference();
    if std::env::var_os("WEFT_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &expected).expect("write docs/confluence.md");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "docs/confluence.md is out of date: run `WEFT_UPDATE_DOCS=1 cargo test -p weft-confluence --test docs`"
    );
}

#[test]
fn every_action_is_documented_with_its_example() {
    let reference = weft_confluence::docs::reference();
    for (name, example) in weft_confluence::actions::examples() {
        assert!(reference.contains(&format!("\n## {name}\n")), "{name}");
        assert!(reference.contains(example), "{name}'s example");
    }
}

#[test]
fn declarations_are_well_formed() {
    let runtime = weft_runtime::Runtime::new().expect("catalogue");
    for action in runtime.registry().iter() {
        let spec = action.spec();
        if !spec.name.starts_with("confluence.") {
            continue;
        }
        assert!(
            serde_json::from_str::<serde_json::Value>(spec.output_example).is_ok(),
            "{}: the output example is JSON",
            spec.name
        );
        for scope in spec.scopes {
            assert!(
                weft_atlassian::scopes::catalogue_kind(scope).is_some(),
                "{}: {scope} is not an Atlassian scope",
                spec.name
            );
        }
        for input in &spec.inputs {
            assert!(
                !input.description.is_empty(),
                "{}: input `{}` has no description",
                spec.name,
                input.name
            );
        }
    }
}
