//! `Template::range_bounds`: a template that is exactly `${{ range(...) }}` gives the bounds of
//! the numbers it would render (a `for_each` counts through them), with `range`'s own errors.

mod common;

use common::scope;
use serde_json::{json, Value};
use weft_expr::Template;

fn bounds(src: &str) -> Option<Result<std::ops::Range<i64>, String>> {
    Template::parse(src)
        .expect("parses")
        .range_bounds(&scope())
        .map(|r| r.map_err(|e| e.to_string()))
}

fn rendered(src: &str) -> Result<Value, String> {
    Template::parse(src)
        .expect("parses")
        .render(&scope())
        .map_err(|e| e.to_string())
}

#[test]
fn a_range_call_gives_exactly_the_numbers_it_renders() {
    for src in [
        "${{ range(4) }}",
        "${{ range(2, 5) }}",
        "${{range(-3, 1)}}",
        "${{ range(5, 2) }}",
        "${{ range(0) }}",
        "${{ range(-2) }}",
        "${{ range(inputs.count) }}",
        "${{ range(inputs.count, vars.limit) }}",
        "${{ range(1000000) }}",
        "${{ range(-500000, 500000) }}",
    ] {
        let numbers: Vec<Value> = match bounds(src) {
            Some(Ok(bounds)) => bounds.map(Value::from).collect(),
            other => panic!("{src}: {other:?}"),
        };
        assert_eq!(Ok(Value::Array(numbers)), rendered(src), "{src}");
    }
}

#[test]
fn a_range_call_fails_with_the_error_rendering_gives() {
    for src in [
        "${{ range(1000001) }}",
        "${{ range(-1, 1000000) }}",
        "${{ range(1.5) }}",
        "${{ range('3') }}",
        "${{ range(inputs.missing) }}",
        "${{ range(1, 2 / 0) }}",
    ] {
        let error = match bounds(src) {
            Some(Err(error)) => error,
            other => panic!("{src}: {other:?}"),
        };
        assert_eq!(Err(error), rendered(src), "{src}");
    }
}

#[test]
fn anything_else_is_left_to_rendering() {
    for src in [
        "[1, 2]",
        "${{ [0, 1, 2] }}",
        "${{ len(range(3)) }}",
        "${{ range(3) }} ",
        "n ${{ range(3) }}",
        "${{ range(2) }}${{ range(2) }}",
        "${{ reverse(range(3)) }}",
        "${{ steps.fetch.output.items }}",
        // A bound computed from a secret: rendering hands its numbers to the redactor.
        "${{ range(len(secrets.token)) }}",
    ] {
        assert_eq!(bounds(src), None, "{src}");
    }
    assert_eq!(
        rendered("${{ range(len(secrets.token)) }}"),
        Ok(json!((0..12).collect::<Vec<_>>()))
    );
}
