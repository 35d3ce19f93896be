//! The language reference must document every function exactly as registered.

use weft_expr::FUNCTIONS;

#[test]
fn reference_documents_every_function() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/expressions.md");
    let docs = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    for f in FUNCTIONS {
        // Inside markdown tables `|` is escaped.
        let signature = f.signature.replace('|', "\\|");
        assert!(
            docs.contains(&format!("`{signature}`")),
            "docs miss the signature of `{}`",
            f.name
        );
        let example = format!(
            "`{}` → `{}`",
            f.example.replace('|', "\\|"),
            f.example_result
        );
        assert!(
            docs.contains(&example),
            "docs miss the example of `{}`: {example}",
            f.name
        );
    }
}
