//! Templates and expressions packed into one store (as a workflow keeps them) behave as they
//! did parsed alone: same values, sources, references, taint and located errors.

mod common;

use common::scope;
use weft_expr::{Expr, Packing, Template};

/// Own literals, long indexes, written names, text parts, secrets, a bare text and errors.
const TEMPLATES: &[&str] = &[
    "${{ steps.fetch.output.items[1].title }}",
    "Hello ${{ inputs.name }}, ${{ inputs.count + 40 }} and ${{ 'own literal' }}!",
    "${{ inputs.tags[4000000000] }}",
    "just text, no expression",
    "$${{ escaped }} then ${{ inputs['key with space'] }}",
    "<${{ secrets.token }}|${{ upper(secrets.token) }}>",
    "${{ inputs.nested.deep.missing }}",
    "${{ {a: inputs.count, b: [1, 'two', inputs.flag]} }}",
];

const EXPRESSIONS: &[&str] = &[
    "inputs.count > 2 && inputs.flag",
    "vars.base + '/wiki/' + item.title",
    "inputs.nothing.deeper",
    "contains(inputs.tags, 'b') ? 'yes' : 'no'",
];

/// What can be observed of a template: its value or error (with its span), its source, its
/// references, its constant errors and what it hands out as tainted.
fn observe_template(template: &Template) -> String {
    let mut tainted = Vec::new();
    let value = template.render_tainted(&scope(), &mut |value, taint| {
        tainted.push(format!("{value} {taint:?}"))
    });
    let value = value.map_err(|e| (e.to_string(), e.span));
    format!(
        "{value:?} | {} | {:?} | {:?} | {tainted:?}",
        template.source(),
        template.references(),
        template.constant_errors()
    )
}

fn observe_expr(expr: &Expr) -> String {
    let value = expr.eval(&scope()).map_err(|e| (e.to_string(), e.span));
    format!("{value:?} | {} | {:?}", expr.source(), expr.references())
}

#[test]
fn packed_code_behaves_as_parsed_alone() {
    let alone: Vec<Template> = TEMPLATES
        .iter()
        .map(|src| Template::parse(src).expect("parses"))
        .collect();
    let alone_exprs: Vec<Expr> = EXPRESSIONS
        .iter()
        .map(|src| Expr::parse(src).expect("parses"))
        .collect();
    let mut packed = alone.clone();
    let mut packed_exprs = alone_exprs.clone();
    let mut packing = Packing::default();
    for template in &mut packed {
        packing.template(template);
    }
    for expr in &mut packed_exprs {
        packing.expr(expr);
    }
    packing.finish();
    for (alone, packed) in alone.iter().zip(&packed) {
        assert_eq!(observe_template(packed), observe_template(alone));
    }
    for (alone, packed) in alone_exprs.iter().zip(&packed_exprs) {
        assert_eq!(observe_expr(packed), observe_expr(alone));
    }
    // Packed again (a block packs what it holds), and after the first pack is dropped.
    let mut again = packed.clone();
    let mut packing = Packing::default();
    again.iter_mut().for_each(|t| packing.template(t));
    packing.finish();
    drop(packed);
    for (alone, again) in alone.iter().zip(&again) {
        assert_eq!(observe_template(again), observe_template(alone));
    }
}

#[test]
fn packed_templates_still_fail_where_they_did() {
    let mut template = Template::parse("a ${{ inputs.count }} b ${{ inputs.nope.x }}").unwrap();
    let alone = template.render(&scope()).unwrap_err();
    let mut packing = Packing::default();
    let mut other = Template::parse("${{ inputs.name }}").unwrap();
    packing.template(&mut other);
    packing.template(&mut template);
    packing.finish();
    let packed = template.render(&scope()).unwrap_err();
    assert_eq!(packed.to_string(), alone.to_string());
    assert_eq!(packed.span, alone.span);
    assert!(packed.span.start > 0, "located in its own source");
    assert_eq!(other.render(&scope()).unwrap(), "Ada");
}
