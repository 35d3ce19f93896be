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
