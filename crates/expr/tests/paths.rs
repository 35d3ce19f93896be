//! Variable paths and the "undefined is an error" rules.
mod common;

use common::{eval, eval_err, parse_err, spanned};
use serde_json::json;
use weft_expr::{EvalErrorKind, Expr, MapScope, Scope};

#[test]
fn reading_paths() {
    assert_eq!(eval("inputs.name"), json!("Ada"));
    assert_eq!(eval("steps.fetch.output.items[0].title"), json!("First"));
    assert_eq!(eval("steps.fetch.output.items[-1].title"), json!("Second"));
    assert_eq!(eval("steps.fetch.status"), json!("succeeded"));
    assert_eq!(eval("steps['fetch'].output.total"), json!(2));
    assert_eq!(
        eval("steps.fetch-pages.status"),
        json!("failed"),
        "hyphenated step id"
    );
    assert_eq!(eval("inputs['key with space']"), json!("spaced"));
    assert_eq!(eval("inputs.nested.deep.x"), json!(1));
    assert_eq!(eval("inputs.tags[index]"), json!("b"), "computed index");
    assert_eq!(
        eval("inputs[ 'na' + 'me' ]"),
        json!("Ada"),
        "computed field"
    );
    assert_eq!(
        eval("steps.fetch.output.items[index - 1].title"),
        json!("First")
    );
    assert_eq!(eval("item"), json!({"id": 7, "title": "Seven"}));
    assert_eq!(eval("index"), json!(1));
    assert_eq!(eval("env.HOME"), json!("/home/weft"));
    assert_eq!(eval("secrets.token"), json!("s3cr3t-value"));
    assert_eq!(
        eval("inputs.nothing"),
        json!(null),
        "an existing null is a value"
    );
    assert_eq!(eval("[10, 20, 30][1]"), json!(20), "accessors on literals");
    assert_eq!(
        eval("from_json('{\"a\": [5]}').a[0]"),
        json!(5),
        "accessors on computed values"
    );
    assert_eq!(
        eval("(inputs.flag ? inputs.nested : item).deep.x"),
        json!(1)
    );
    assert_eq!(
        eval("{null: 1}.null"),
        json!(1),
        "keywords are valid field names"
    );
}

#[test]
fn missing_field_names_the_prefix_and_lists_fields_nearest_first() {
    let src = "steps.fetch.output.itemz";
    let e = eval_err(src);
    assert_eq!(e.message, "`steps.fetch.output` has no field `itemz`");
    assert_eq!(e.help.as_deref(), Some("available fields: items, total"));
    assert_eq!(spanned(src, &e.span), "itemz");
    assert_eq!(e.kind, EvalErrorKind::Undefined);

    let e = eval_err("steps.fetch.output.totl");
    assert_eq!(e.help.as_deref(), Some("available fields: total, items"));
}

#[test]
fn index_out_of_range() {
    let src = "steps.fetch.output.items[5].title";
    let e = eval_err(src);
    assert_eq!(
        e.message,
        "index 5 is out of range: `steps.fetch.output.items` has 2 elements"
    );
    assert_eq!(
        e.help.as_deref(),
        Some("valid indexes are 0 to 1 (or -2 to -1 from the end)")
    );
    assert_eq!(spanned(src, &e.span), "[5]");
    assert_eq!(e.kind, EvalErrorKind::Undefined);
    assert!(eval_err("steps.fetch.output.items[-3]")
        .message
        .contains("index -3 is out of range"));
    assert!(eval_err("[][0]").message.contains("has 0 elements"));
    let e = eval_err("inputs.tags[index + 5]");
    assert_eq!(
        e.message,
        "index 6 is out of range: `inputs.tags` has 2 elements"
    );
}

#[test]
fn wrong_container_types_say_the_actual_type() {
    let src = "inputs.count.value";
    let e = eval_err(src);
    assert_eq!(
        e.message,
        "`inputs.count` is a number, not an object; it has no field `value`"
    );
    assert_eq!(spanned(src, &e.span), "value");
    assert_eq!(e.kind, EvalErrorKind::Type);

    let e = eval_err("steps.fetch.output.items.title");
    assert_eq!(
        e.message,
        "`steps.fetch.output.items` is an array, not an object; it has no field `title`"
    );
    assert!(e
        .help
        .as_deref()
        .is_some_and(|h| h.contains("steps.fetch.output.items[0].title") && h.contains("pluck")));

    assert_eq!(
        eval_err("inputs.nested[0]").message,
        "`inputs.nested` is an object, not an array; it has no element 0"
    );
    assert_eq!(
        eval_err("inputs.name[0]").message,
        "`inputs.name` is a string; strings cannot be indexed"
    );
    assert_eq!(
        eval_err("inputs.flag[0]").message,
        "`inputs.flag` is a boolean, not an array; it has no element 0"
    );
    let e = eval_err("inputs.nothing.x");
    assert_eq!(
        e.message,
        "`inputs.nothing` is null, so it has no field `x`"
    );
    assert_eq!(
        e.kind,
        EvalErrorKind::Undefined,
        "reading through null is tolerated by default()"
    );
    assert_eq!(
        eval_err("inputs.tags[inputs.flag]").message,
        "an index must be a string or a whole number, got a boolean"
    );
}

#[test]
fn unknown_roots_and_steps() {
    let src = "inptus.name";
    let e = eval_err(src);
    assert_eq!(e.message, "unknown name `inptus`");
    assert_eq!(spanned(src, &e.span), "inptus");
    let help = e.help.unwrap_or_default();
    assert!(
        help.starts_with("did you mean `inputs`? available here: "),
        "{help}"
    );
    assert!(help.contains("steps") && help.contains("vars"), "{help}");

    let e = eval_err("loop.index");
    assert_eq!(e.message, "`loop` is not available here");

    let e = eval_err("index-1");
    assert!(
        e.help
            .as_deref()
            .is_some_and(|h| h.contains("put spaces around it")),
        "{e:?}"
    );
    assert_eq!(eval("index - 1"), json!(0));
    assert_eq!(eval("index -1"), json!(0));

    let src = "steps.fetchh.output";
    let e = eval_err(src);
    assert_eq!(
        e.message,
        "step `fetchh` does not exist or has not run before this point"
    );
    assert_eq!(e.help.as_deref(), Some("did you mean `fetch`?"));
    assert_eq!(spanned(src, &e.span), "fetchh");
    assert_eq!(e.kind, EvalErrorKind::Undefined);

    assert!(eval_err("steps").message.contains("needs a step id"));
    assert!(eval_err("steps[0]").message.contains("named, not numbered"));
    assert!(eval_err("steps[1 + 1]")
        .message
        .contains("step id must be a string"));
}

#[test]
fn default_scope_root_listing_uses_known_roots() {
    struct OnlyInputs(serde_json::Value);
    impl Scope for OnlyInputs {
        fn root(&self, name: &str) -> Option<&serde_json::Value> {
            (name == "inputs").then_some(&self.0)
        }
        fn step(&self, _: &str) -> Option<weft_expr::StepView<'_>> {
            None
        }
        fn now(&self) -> chrono::DateTime<chrono::Utc> {
            common::now()
        }
    }
    let scope = OnlyInputs(json!({}));
    let e = Expr::parse("vars.x")
        .ok()
        .and_then(|x| x.eval(&scope).err())
        .expect("vars is unavailable");
    assert_eq!(e.message, "`vars` is not available here");
    assert_eq!(e.help.as_deref(), Some("available here: inputs, steps"));
    let e = Expr::parse("steps.a")
        .ok()
        .and_then(|x| x.eval(&scope).err())
        .expect("no steps");
    assert_eq!(
        e.help.as_deref(),
        Some("no step results are available here")
    );
}

#[test]
fn methods_and_dot_numbers_are_parse_errors_with_hints() {
    let e = parse_err("inputs.tags.len()");
    assert_eq!(e.message, "methods are not supported");
    assert!(e.help.as_deref().is_some_and(|h| h.contains("len(x)")));
    let e = parse_err("inputs.tags.0");
    assert_eq!(e.message, "array elements are read with brackets");
    assert_eq!(e.help.as_deref(), Some("write `[0]` instead of `.0`"));
    assert_eq!(e.span, 12..13);
    assert!(parse_err("inputs.")
        .message
        .contains("field name after `.`"));
    assert!(parse_err("inputs[1.5]").message.contains("whole number"));
    assert!(parse_err("inputs[null]").message.contains("not null"));
}

#[test]
fn paths_borrow_instead_of_cloning() {
    // A 10 000-element output is read through a path; evaluation must stay fast.
    let big: Vec<_> = (0..10_000).map(|i| json!({"n": i})).collect();
    let scope = MapScope::new(common::now()).with_step("big", json!({"output": big}));
    let expr = Expr::parse("steps.big.output[9999].n").expect("parses");
    let started = std::time::Instant::now();
    for _ in 0..10_000 {
        assert_eq!(expr.eval(&scope).ok(), Some(json!(9999)));
    }
    // Cloning the array each time would take seconds; borrowing takes well under 100ms.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

/// A scope that keeps a step's record as its four fields (as the engine does) reads the same
/// as one that keeps the record object.
#[test]
fn a_record_kept_as_fields_reads_like_the_object() {
    struct Fields(serde_json::Value);
    impl Scope for Fields {
        fn root(&self, _: &str) -> Option<&serde_json::Value> {
            None
        }
        fn step(&self, id: &str) -> Option<weft_expr::StepView<'_>> {
            (id == "fetch").then_some(weft_expr::StepView::Fields {
                status: "failed",
                output: &self.0,
                error: Some("boom"),
                attempts: 2,
            })
        }
        fn now(&self) -> chrono::DateTime<chrono::Utc> {
            common::now()
        }
    }
    let scope = Fields(json!({"items": [1, 2], "total": 2}));
    let eval = |src: &str| Expr::parse(src).expect("parses").eval(&scope);
    assert_eq!(eval("steps.fetch.output.items[1]").ok(), Some(json!(2)));
    assert_eq!(eval("steps.fetch['output'].total").ok(), Some(json!(2)));
    assert_eq!(eval("steps.fetch.status").ok(), Some(json!("failed")));
    assert_eq!(eval("steps.fetch.error").ok(), Some(json!("boom")));
    assert_eq!(eval("steps.fetch.attempts").ok(), Some(json!(2)));
    let whole = eval("steps.fetch").expect("reads the record whole");
    assert_eq!(
        serde_json::to_string(&whole).unwrap(),
        r#"{"status":"failed","output":{"items":[1,2],"total":2},"error":"boom","attempts":2}"#
    );
    assert_eq!(eval("len(steps['fetch'])").ok(), Some(json!(4)));
    let e = eval("steps.fetch.outptu").unwrap_err();
    assert_eq!(e.message, "`steps.fetch` has no field `outptu`");
    assert_eq!(
        e.help.as_deref(),
        Some("available fields: output, status, attempts, error")
    );
    let e = eval("steps.fetch.output.totl").unwrap_err();
    assert_eq!(e.message, "`steps.fetch.output` has no field `totl`");
}
