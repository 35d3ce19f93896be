//! The flat form of expressions (one node array, children by index): the shapes whose
//! children are not simply the nodes before them parse and evaluate as written, and read
//! the references they are written with.
mod common;

use common::{eval, eval_err, scope};
use serde_json::json;
use weft_expr::{Expr, Segment, Template};

fn refs(src: &str) -> Vec<String> {
    Expr::parse(src)
        .unwrap()
        .references()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_parenthesised_path_goes_on() {
    assert_eq!(eval("(inputs.nested).deep.x"), json!(1));
    assert_eq!(eval("(inputs.tags[index]) + 'x'"), json!("bx"));
    assert_eq!(eval("(inputs.tags[index - 1])"), json!("a"));
    assert_eq!(
        eval("(steps.fetch.output.items[index]).title"),
        json!("Second")
    );
    assert_eq!(
        refs("(steps.fetch.output.items[index]).title"),
        ["steps.fetch.output.items[*]", "index"]
    );
    assert_eq!(refs("(inputs.nested).deep.x"), ["inputs.nested.deep.x"]);
}

#[test]
fn computed_bases_and_indexes() {
    assert_eq!(
        eval("first(steps.fetch.output.items).title"),
        json!("First")
    );
    assert_eq!(
        eval("steps.fetch.output.items[index - 1][inputs['na' + 'me'] == 'Ada' ? 'title' : 'x']"),
        json!("First")
    );
    assert_eq!(
        refs("from_json('{}')[inputs.name][vars.base]"),
        ["inputs.name", "vars.base"]
    );
    assert_eq!(refs("inputs.tags[index].x"), ["inputs.tags[*]", "index"]);
}

#[test]
fn large_indexes_stay_whole() {
    let expr = Expr::parse("inputs.tags[3000000000]").unwrap();
    assert_eq!(
        expr.references()[0].segments[1],
        Segment::Index(3_000_000_000)
    );
    let error = eval_err("inputs.tags[3000000000]");
    assert!(
        error.message.contains("index 3000000000"),
        "{}",
        error.message
    );
    assert_eq!(eval("inputs.tags[-2]"), json!("a"));
}

#[test]
fn conditionals_chains_and_objects() {
    assert_eq!(eval("inputs.flag ? inputs.name : vars.limit"), json!("Ada"));
    assert_eq!(eval("!inputs.flag ? inputs.name : vars.limit"), json!(10));
    assert_eq!(
        refs("inputs.flag ? inputs.name : vars.limit"),
        ["inputs.flag", "inputs.name", "vars.limit"]
    );
    assert_eq!(eval("1 + inputs.count * 2 - vars.limit"), json!(-3));
    assert_eq!(eval("inputs.count + 1 + index"), json!(5));
    assert_eq!(
        eval("{a: inputs.count, 'b c': [index, 2], d: 3}"),
        json!({"a": 3, "b c": [1, 2], "d": 3})
    );
    assert_eq!(
        refs("{a: inputs.count, b: [index]}"),
        ["inputs.count", "index"]
    );
    assert_eq!(eval("default(inputs.missing, 2) + 1"), json!(3));
}

#[test]
fn text_around_expressions() {
    let render = |src: &str| Template::parse(src).unwrap().render(&scope()).unwrap();
    assert_eq!(
        render("a $${{ b }} ${{ inputs.name }} c"),
        json!("a ${{ b }} Ada c")
    );
    assert_eq!(render("$${{ x }}"), json!("${{ x }}"));
    assert_eq!(render("${{ index }}${{ inputs.name }}"), json!("1Ada"));
    assert_eq!(render("n=${{ index }}"), json!("n=1"));
    assert_eq!(render(""), json!(""));
    let escaped = Template::parse("a $${{ b }}").unwrap();
    assert!(escaped.is_literal());
    assert_eq!(escaped.source(), "a $${{ b }}");
}

#[test]
fn errors_name_the_path_as_written() {
    let error = eval_err("inputs.nested['deep'].y");
    assert_eq!(error.message, "`inputs.nested['deep']` has no field `y`");
    let error = eval_err("(inputs.nested).nope");
    assert_eq!(error.message, "`inputs.nested` has no field `nope`");
}
