mod common;

use common::{eval, eval_err, parse_err, spanned};
use serde_json::{json, Value};
use weft_expr::{EvalErrorKind, Expr, FUNCTIONS};

#[test]
fn every_documented_example_gives_its_documented_result() {
    for f in FUNCTIONS {
        let expected: Value = serde_json::from_str(f.example_result)
            .unwrap_or_else(|e| panic!("{}: example_result is not JSON: {e}", f.name));
        assert_eq!(
            eval(f.example),
            expected,
            "example of `{}`: {}",
            f.name,
            f.example
        );
        assert!(
            f.example.contains(&format!("{}(", f.name)),
            "example of {} uses it",
            f.name
        );
        assert!(
            f.signature.starts_with(&format!("{}(", f.name)),
            "signature of {}",
            f.name
        );
    }
}

#[test]
fn function_names_are_unique() {
    let mut names: Vec<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len());
}

#[test]
fn unknown_functions_suggest_the_nearest() {
    let src = "startsWith(inputs.name, 'A')";
    let e = parse_err(src);
    assert_eq!(e.message, "unknown function `startsWith`");
    assert_eq!(e.help.as_deref(), Some("did you mean `starts_with`?"));
    assert_eq!(spanned(src, &e.span), "startsWith");
    assert_eq!(
        parse_err("toJSON(1)").help.as_deref(),
        Some("did you mean `to_json`?")
    );
    assert_eq!(
        parse_err("lenght(x)").help.as_deref(),
        Some("did you mean `len`?")
    );
    assert_eq!(
        parse_err("frobnicate(1)").help.as_deref(),
        Some("see docs/expressions.md for the list of functions")
    );
}

#[test]
fn wrong_arity_is_a_parse_error() {
    let src = "len(1, 2)";
    let e = parse_err(src);
    assert_eq!(e.message, "`len` takes 1 argument, but 2 were given");
    assert_eq!(
        e.help.as_deref(),
        Some("usage: len(string | array | object) -> number")
    );
    assert_eq!(e.span, 0..src.len());
    assert_eq!(
        parse_err("now(1)").message,
        "`now` takes 0 arguments, but 1 were given"
    );
    assert_eq!(
        parse_err("join()").message,
        "`join` takes 1 or 2 arguments, but 0 were given"
    );
    assert_eq!(
        parse_err("slice([1])").message,
        "`slice` takes 2 or 3 arguments, but 1 were given"
    );
    assert_eq!(
        parse_err("coalesce()").message,
        "`coalesce` takes at least 1 argument, but 0 were given"
    );
    assert_eq!(
        parse_err("default(1)").message,
        "`default` takes 2 arguments, but 1 were given"
    );
}

#[test]
fn wrong_argument_types_point_at_the_argument() {
    let src = "lower(inputs.count)";
    let e = eval_err(src);
    assert_eq!(
        e.message,
        "`lower` expects a string as argument 1, got a number"
    );
    assert_eq!(spanned(src, &e.span), "inputs.count");
    assert_eq!(e.help.as_deref(), Some("usage: lower(string) -> string"));
    assert_eq!(e.kind, EvalErrorKind::Type);
    let src = "split('a', 1)";
    assert_eq!(spanned(src, &eval_err(src).span), "1");
}

#[test]
fn default_and_coalesce_are_lazy() {
    assert_eq!(eval("default(inputs.missing, 'x')"), json!("x"));
    assert_eq!(eval("default(inputs.nothing, 'x')"), json!("x"));
    assert_eq!(
        eval("default(inputs.name, 1 / 0)"),
        json!("Ada"),
        "fallback not evaluated"
    );
    assert_eq!(
        eval("default(inputs.empty, 'x')"),
        json!(""),
        "empty string is a value"
    );
    assert_eq!(eval("default(steps.nope.output.x, 0)"), json!(0));
    assert_eq!(
        eval("default(steps.fetch-pages.output.items, [])"),
        json!([]),
        "through null"
    );
    assert_eq!(
        eval("default(steps.fetch.output.items[9].title, 'none')"),
        json!("none")
    );
    assert_eq!(eval("default(first([]), 'none')"), json!("none"));
    assert_eq!(
        eval("default(len(inputs.missing) + 1, 0)"),
        json!(0),
        "undefined inside a bigger expression"
    );
    assert_eq!(
        eval("coalesce(null, inputs.missing, inputs.nothing, 4, 5)"),
        json!(4)
    );
    assert_eq!(eval("coalesce(null, null)"), json!(null));
    assert_eq!(eval("coalesce(7)"), json!(7));
    // Type errors are real mistakes and are not swallowed.
    let e = eval_err("default(inputs.name + 1, 'x')");
    assert_eq!(e.kind, EvalErrorKind::Type);
    // The last argument's own failure is reported.
    let e = eval_err("default(inputs.missing, vars.missing)");
    assert_eq!(e.message, "`vars` has no field `missing`");
}

#[test]
fn text_functions() {
    assert_eq!(eval("len('')"), json!(0));
    assert_eq!(eval("len({a: 1})"), json!(1));
    assert_eq!(eval("contains('weft', 'ef')"), json!(true));
    assert_eq!(eval("contains(inputs.tags, 'c')"), json!(false));
    assert!(eval_err("contains(inputs.nested, 'deep')")
        .help
        .as_deref()
        .is_some_and(|h| h.contains("has(")));
    assert_eq!(
        eval_err("contains('abc', 1)").message,
        "`contains` expects a string as argument 2, got a number"
    );
    assert_eq!(eval("starts_with('abc', '')"), json!(true));
    assert_eq!(eval("ends_with('abc', 'b')"), json!(false));
    assert_eq!(eval("upper('straße')"), json!("STRASSE"));
    assert_eq!(eval("split('abc', '')"), json!(["a", "b", "c"]));
    assert_eq!(eval("split('', ',')"), json!([""]));
    assert_eq!(eval("join(['a', 'b'])"), json!("a,b"));
    assert_eq!(
        eval("join([[1], {a: null}], ' ')"),
        json!("[1] {\"a\":null}")
    );
    assert_eq!(
        eval_err("join('ab')").message,
        "`join` expects an array as argument 1, got a string"
    );
    assert_eq!(
        eval_err("replace('a', '', 'b')").message,
        "`replace` cannot replace an empty string"
    );
    assert_eq!(eval("url_encode('ü/?=')"), json!("%C3%BC%2F%3F%3D"));
    assert_eq!(
        eval("base64_decode(base64_encode('héllo'))"),
        json!("héllo")
    );
    assert!(eval_err("base64_decode('***')")
        .message
        .contains("invalid base64"));
    assert!(eval_err("base64_decode('/w==')")
        .message
        .contains("not UTF-8"));
}

#[test]
fn format_function() {
    assert_eq!(eval("format('{} of {}', 1, 2)"), json!("1 of 2"));
    assert_eq!(eval("format('{1}-{0}-{1}', 'a', 'b')"), json!("b-a-b"));
    assert_eq!(eval("format('{name}: {count}', inputs)"), json!("Ada: 3"));
    assert_eq!(
        eval("format('{{literal}} {}', [1])"),
        json!("{literal} [1]")
    );
    assert_eq!(eval("format('no placeholders')"), json!("no placeholders"));
    assert_eq!(
        eval_err("format('{} {}', 1)").message,
        "format template needs value 2 but only 1 were given"
    );
    let e = eval_err("format('{}', 1, 2)");
    assert_eq!(e.message, "value 2 is not used by the format template");
    assert_eq!(
        eval_err("format('{x}', 1)").message,
        "placeholder `{x}` needs an object as the last value of format"
    );
    let e = eval_err("format('{nme}', inputs)");
    assert_eq!(
        e.message,
        "format placeholder `{nme}` has no matching field"
    );
    assert!(e
        .help
        .as_deref()
        .is_some_and(|h| h.starts_with("available fields: name")));
    assert!(eval_err("format('{', 1)").message.contains("unclosed `{`"));
    assert!(eval_err("format('}', 1)").message.contains("unmatched `}`"));
}

#[test]
fn conversion_functions() {
    assert_eq!(eval("to_string(null)"), json!("null"));
    assert_eq!(eval("to_string(2.50)"), json!("2.5"));
    assert_eq!(eval("to_string('x')"), json!("x"));
    assert_eq!(eval("to_number('-1.5e2')"), json!(-150));
    assert_eq!(eval("to_number(true)"), json!(1));
    assert_eq!(eval("to_number(7)"), json!(7));
    for bad in ["'abc'", "'inf'", "'NaN'", "''", "'1,5'"] {
        let e = eval_err(&format!("to_number({bad})"));
        assert!(
            e.message.starts_with("`to_number` cannot read"),
            "{bad}: {e}"
        );
    }
    assert_eq!(
        eval_err("to_number(null)").message,
        "`to_number` expects a string, number or boolean as argument 1, got null"
    );
    assert_eq!(eval("to_json([1, 'a'])"), json!("[1,\"a\"]"));
    assert_eq!(eval("to_json({a: 1}, true)"), json!("{\n  \"a\": 1\n}"));
    assert_eq!(
        eval("from_json('[1, {\"b\": null}]')"),
        json!([1, {"b": null}])
    );
    assert!(eval_err("from_json('{')")
        .message
        .starts_with("`from_json` got invalid JSON"));
    let deep = format!("from_json('{}{}')", "[".repeat(200), "]".repeat(200));
    assert!(
        eval_err(&deep).message.contains("recursion limit"),
        "deep JSON is refused"
    );
    assert_eq!(
        eval("type_of(null) + type_of(true) + type_of(1) + type_of('') + type_of({})"),
        json!("nullbooleannumberstringobject")
    );
    assert_eq!(eval("is_null(inputs.nothing)"), json!(true));
    assert_eq!(eval("is_null(0)"), json!(false));
}

#[test]
fn secrets_never_appear_in_error_messages() {
    let e = eval_err("to_number(secrets.token)");
    assert!(!e.message.contains("s3cr3t"), "{e}");
    assert!(e.message.contains("hidden"), "{e}");
    let e = eval_err("date_parse(secrets.token)");
    assert!(!e.message.contains("s3cr3t"), "{e}");
    // Without secrets the value is shown to help the author.
    assert!(eval_err("to_number(inputs.name)")
        .message
        .contains("\"Ada\""));
}

#[test]
fn collection_functions() {
    assert_eq!(eval("keys({})"), json!([]));
    assert_eq!(eval("values(inputs.nested)"), json!([{"x": 1}]));
    assert_eq!(eval("has(inputs, 'nothing')"), json!(true));
    assert_eq!(eval("has(inputs.tags, 1)"), json!(true));
    assert_eq!(eval("has(inputs.tags, -3)"), json!(false));
    assert_eq!(
        eval_err("has('x', 'y')").message,
        "`has` expects an object or an array as argument 1, got a string"
    );
    assert_eq!(
        eval("first(steps.fetch.output.items).title"),
        json!("First")
    );
    assert_eq!(eval("last(inputs.tags)"), json!("b"));
    let e = eval_err("last([])");
    assert_eq!(e.message, "`last` got an empty array");
    assert_eq!(e.kind, EvalErrorKind::Undefined);
    assert_eq!(eval("slice('héllo', 1, 3)"), json!("él"));
    assert_eq!(eval("slice([1, 2, 3], -2)"), json!([2, 3]));
    assert_eq!(eval("slice([1, 2, 3], 5)"), json!([]));
    assert_eq!(eval("slice([1, 2, 3], 2, 1)"), json!([]));
    assert_eq!(eval("slice([1, 2, 3], -100, 100)"), json!([1, 2, 3]));
    assert_eq!(
        eval_err("slice([1], 0.5)").message,
        "`slice` needs a whole number as argument 2"
    );
    assert_eq!(eval("reverse('abc')"), json!("cba"));
    assert_eq!(eval("sort([3, 1.5, 2])"), json!([1.5, 2, 3]));
    assert_eq!(eval("sort([])"), json!([]));
    assert_eq!(eval_err("sort([1, 'a'])").message, "`sort` needs all numbers or all strings, but element 0 is a number and element 1 is a string");
    assert_eq!(
        eval("unique([{a: 1}, {a: 1}, 1, 1.0])"),
        json!([{"a": 1}, 1])
    );
    assert_eq!(eval("flatten([])"), json!([]));
    assert_eq!(
        eval("pluck(steps.fetch.output.items, 'title')"),
        json!(["First", "Second"])
    );
    assert_eq!(
        eval_err("pluck([{a: 1}, {b: 2}], 'a')").message,
        "`pluck`: element 1 has no field `a`"
    );
    assert_eq!(
        eval_err("pluck([1], 'a')").message,
        "`pluck`: element 0 is a number, not an object"
    );
    assert_eq!(
        eval("merge({a: {x: 1}}, {a: 2}, {c: 3})"),
        json!({"a": 2, "c": 3})
    );
    assert_eq!(
        eval_err("merge({}, [])").message,
        "`merge` expects an object as argument 2, got an array"
    );
}

#[test]
fn number_functions() {
    assert_eq!(eval("abs(-2.5)"), json!(2.5));
    assert_eq!(
        eval("abs(-9223372036854775807 - 1)"),
        json!(9.223372036854776e18)
    );
    assert_eq!(eval("min(['b', 'a'])"), json!("a"));
    assert_eq!(eval("max(1, 2.5)"), json!(2.5));
    assert_eq!(eval("min(4)"), json!(4));
    assert_eq!(eval_err("max([])").kind, EvalErrorKind::Undefined);
    assert!(eval_err("max(1, 'a')")
        .message
        .contains("all numbers or all strings"));
    assert_eq!(
        eval_err("min(true)").message,
        "`min` expects numbers or strings as argument 1, got a boolean"
    );
    assert_eq!(eval("sum([])"), json!(0));
    assert_eq!(
        eval("sum([9223372036854775807, 1])"),
        json!(9.223372036854776e18)
    );
    assert_eq!(
        eval_err("sum([1, '2'])").message,
        "`sum` needs numbers, but element 1 is a string"
    );
    assert_eq!(eval("round(2.5)"), json!(3));
    assert_eq!(eval("round(-2.5)"), json!(-3));
    assert_eq!(eval("round(1.005, 2)"), json!(1.01));
    assert_eq!(eval("round(7, 2)"), json!(7));
    assert_eq!(
        eval_err("round(1.5, 16)").message,
        "`round` takes 0 to 15 digits"
    );
    assert_eq!(eval("floor(2.7)"), json!(2));
    assert_eq!(eval("ceil(-2.7)"), json!(-2));
    assert_eq!(eval("floor(5)"), json!(5));
}

#[test]
fn date_functions() {
    assert_eq!(eval("now()"), json!("2024-03-01T12:00:00Z"));
    assert_eq!(
        eval("date_parse('2024-03-01T14:00:00+02:00')"),
        json!("2024-03-01T12:00:00Z")
    );
    assert_eq!(
        eval("date_parse('2024-03-01')"),
        json!("2024-03-01T00:00:00Z")
    );
    assert_eq!(
        eval("date_parse('2024-03-01 08:00:00')"),
        json!("2024-03-01T08:00:00Z")
    );
    assert_eq!(
        eval("date_parse('2024-03-01T08:00:00.250Z')"),
        json!("2024-03-01T08:00:00.250Z")
    );
    assert_eq!(eval("date_parse(0)"), json!("1970-01-01T00:00:00Z"));
    assert_eq!(eval("date_parse(1.5)"), json!("1970-01-01T00:00:01.500Z"));
    assert_eq!(
        eval("date_parse('01.03.2024', '%d.%m.%Y')"),
        json!("2024-03-01T00:00:00Z")
    );
    assert_eq!(
        eval("date_parse('2024-03-01 10:00 +0100', '%Y-%m-%d %H:%M %z')"),
        json!("2024-03-01T09:00:00Z")
    );
    let e = eval_err("date_parse('yesterday')");
    assert_eq!(
        e.message,
        "`date_parse` could not read \"yesterday\" as a date"
    );
    assert!(eval_err("date_parse('x', '%Y')")
        .message
        .starts_with("`date_parse` could not read \"x\" with format `%Y`"));
    assert!(eval_err("date_parse(1e300)")
        .message
        .contains("out of range"));

    assert_eq!(eval("date_format(now(), '%Y-%m-%d')"), json!("2024-03-01"));
    assert_eq!(
        eval("date_format(now(), '%H:%M %Z', 'America/New_York')"),
        json!("07:00 EST")
    );
    let e = eval_err("date_format(now(), '%Q')");
    assert_eq!(e.message, "invalid date format `%Q`");
    let e = eval_err("date_format(now(), '%H', 'Mars/Olympus')");
    assert_eq!(e.message, "unknown time zone `Mars/Olympus`");

    assert_eq!(
        eval("date_add(now(), '1h30m')"),
        json!("2024-03-01T13:30:00Z")
    );
    assert_eq!(eval("date_add(now(), 90)"), json!("2024-03-01T12:01:30Z"));
    assert_eq!(
        eval("date_add(now(), -0.5)"),
        json!("2024-03-01T11:59:59.500Z")
    );
    assert_eq!(eval("date_add(now(), '1w')"), json!("2024-03-08T12:00:00Z"));
    assert!(eval_err("date_add(now(), '1y')")
        .message
        .contains("invalid duration"));
    assert_eq!(
        eval_err("date_add(now(), '9999999w')").message,
        "`date_add` result is outside the years 0000 to 9999"
    );
    assert!(eval_err("date_parse(253402300800)")
        .message
        .contains("outside the years"));
    assert_eq!(eval_err("date_add(now(), [])").kind, EvalErrorKind::Type);

    assert_eq!(
        eval("date_diff(date_add(now(), '2d'), now())"),
        json!(172800)
    );
    assert_eq!(eval("date_diff(now(), date_add(now(), 1.5))"), json!(-1.5));
    assert_eq!(
        eval("date_add(now(), '1d') > now()"),
        json!(true),
        "RFC 3339 UTC strings order chronologically"
    );
}

#[test]
fn now_uses_the_scope_clock() {
    let later = common::now() + chrono::TimeDelta::days(1);
    let scope = weft_expr::MapScope::new(later);
    let value = Expr::parse("now()").expect("parses").eval(&scope).ok();
    assert_eq!(value, Some(json!("2024-03-02T12:00:00Z")));
}
