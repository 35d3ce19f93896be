mod common;

use common::spanned;
use weft_expr::{Expr, Reference, Segment};

fn refs(src: &str) -> Vec<Reference> {
    Expr::parse(src).expect("parses").references()
}

#[test]
fn static_segments_and_dynamic_stop() {
    let src = "steps.fetch.output.items[0]['the title']";
    let r = refs(src);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].root, "steps");
    assert_eq!(
        r[0].segments,
        [
            Segment::Field("fetch".into()),
            Segment::Field("output".into()),
            Segment::Field("items".into()),
            Segment::Index(0),
            Segment::Field("the title".into()),
        ]
    );
    assert_eq!(r[0].span, 0..src.len());
    assert_eq!(
        r[0].to_string(),
        "steps.fetch.output.items[0][\"the title\"]"
    );

    let src = "inputs.pages[index + 1].title";
    let r = refs(src);
    assert_eq!(r.len(), 2);
    assert_eq!(
        r[0].segments,
        [Segment::Field("pages".into()), Segment::Dynamic]
    );
    assert_eq!(spanned(src, &r[0].span), "inputs.pages[index + 1]");
    assert_eq!(r[0].to_string(), "inputs.pages[*]");
    assert_eq!(r[1].root, "index");
    assert!(r[1].segments.is_empty());
    assert_eq!(spanned(src, &r[1].span), "index");

    assert_eq!(refs("a[-1]")[0].segments, [Segment::Index(-1)]);
}

#[test]
fn references_inside_functions_operators_and_literals() {
    let src = "format('{}', upper(inputs.a)) + [vars.b][0] + {k: env.C}.k + (x ? y : -z)";
    let roots: Vec<String> = refs(src).iter().map(|r| r.root.clone()).collect();
    assert_eq!(roots, ["inputs", "vars", "env", "x", "y", "z"]);
    let r = refs("from_json(inputs.raw).field[secrets.key]");
    let shown: Vec<String> = r.iter().map(Reference::to_string).collect();
    assert_eq!(shown, ["inputs.raw", "secrets.key"]);
}

#[test]
fn guarded_references() {
    let uses = Expr::parse("default(steps.a.output, coalesce(inputs.x, vars.y, 1)) + z")
        .expect("parses")
        .references_with_context();
    let guarded: Vec<(String, bool)> = uses
        .iter()
        .map(|u| (u.reference.to_string(), u.guarded))
        .collect();
    let expected = [
        ("steps.a.output", true),
        ("inputs.x", true),
        ("vars.y", true),
        ("z", false),
    ];
    assert_eq!(guarded, expected.map(|(name, g)| (name.to_string(), g)));
    // The last argument is the final answer, so it is not guarded.
    let uses = Expr::parse("default(1, inputs.fallback)")
        .expect("parses")
        .references_with_context();
    assert!(!uses[0].guarded);
}
