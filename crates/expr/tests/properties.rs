//! Robustness properties: parsing and evaluating arbitrary input never panics, limits
//! hold, and numbers survive a text round trip.
mod common;

use proptest::prelude::*;
use serde_json::json;
use weft_expr::{Expr, Template, MAX_NESTING, MAX_TREE_DEPTH};

/// Pieces that make syntactically interesting "token soups".
const TOKENS: &[&str] = &[
    "${{",
    "}}",
    "\u{200b}",
    "1 / 0",
    "'n=' + 3",
    "inputs",
    "steps",
    "fetch",
    "output",
    "items",
    "item",
    "index",
    "secrets",
    "token",
    "x",
    "-",
    "+",
    "*",
    "/",
    "%",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "!",
    "not",
    "and",
    "or",
    "in",
    "?",
    ":",
    ".",
    ",",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "}}",
    "${{",
    "$${{",
    "'",
    "\"",
    "'a'",
    "\"b\"",
    "\\",
    "0",
    "1",
    "-1",
    "2.5",
    "1e400",
    "99999999999999999999",
    "null",
    "true",
    "false",
    "len",
    "default",
    "coalesce",
    "format",
    "'{}'",
    "from_json",
    "'[1,2]'",
    "date_add",
    "now",
    "'1h'",
    "slice",
    "sort",
    "merge",
    "round",
    "to_number",
    "\u{e9}",
    " ",
    "\n",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..24).prop_map(|parts| parts.concat())
}

fn spaced_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..24).prop_map(|parts| parts.join(" "))
}

/// Evaluates whatever parses; the property is that nothing panics and spans are valid.
fn exercise(src: &str) {
    let scope = common::scope();
    match Expr::parse(src) {
        Ok(expr) => {
            let _ = expr.references();
            for e in expr.constant_errors() {
                assert!(e.span.end <= src.len(), "{src:?}: {e:?}");
            }
            if let Err(e) = expr.eval(&scope) {
                assert!(
                    e.span.start <= e.span.end && e.span.end <= src.len(),
                    "{src:?}: {e:?}"
                );
            }
        }
        Err(e) => assert!(
            e.span.start <= e.span.end && e.span.end <= src.len(),
            "{src:?}: {e:?}"
        ),
    }
    let template = format!("pre ${{{{ {src} }}}} post");
    match Template::parse(&template) {
        Ok(t) => {
            let _ = t.references();
            if let Err(e) = t.render(&scope) {
                assert!(e.span.end <= template.len(), "{template:?}: {e:?}");
            }
        }
        Err(e) => assert!(e.span.end <= template.len(), "{template:?}: {e:?}"),
    }
    let within = |span: &std::ops::Range<usize>| {
        span.start <= span.end
            && span.end <= src.len()
            && src.is_char_boundary(span.start)
            && src.is_char_boundary(span.end)
    };
    match Template::parse_all(src) {
        Ok(t) => {
            for e in t.constant_errors() {
                assert!(within(&e.span), "{src:?}: {e:?}");
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "{src:?}: a refusal says why");
            for e in errors {
                assert!(within(&e.span), "{src:?}: {e:?}");
            }
        }
    }
}

proptest! {
    // Bounded so each property takes a few seconds in a debug build (CI runs them all).
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_never_panic(src in any::<String>()) {
        exercise(&src);
    }

    #[test]
    fn token_soups_never_panic(src in soup()) {
        exercise(&src);
    }

    #[test]
    fn spaced_token_soups_never_panic(src in spaced_soup()) {
        exercise(&src);
    }

    #[test]
    fn integers_round_trip_through_text(n in any::<i64>()) {
        let text = Expr::parse(&format!("to_string({n})")).ok().and_then(|e| e.eval(&common::scope()).ok());
        prop_assert_eq!(text, Some(json!(n.to_string())));
        let back = Expr::parse(&format!("to_number('{n}')")).ok().and_then(|e| e.eval(&common::scope()).ok());
        prop_assert_eq!(back, Some(json!(n)));
    }

    #[test]
    fn floats_round_trip_through_text(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
        let scope = common::scope().with_root("f", json!(f));
        let text = Expr::parse("to_string(f)").ok().and_then(|e| e.eval(&scope).ok());
        let Some(serde_json::Value::String(text)) = text else {
            return Err(TestCaseError::fail("to_string failed"));
        };
        // The text reads back as the same number, both through to_number and as a literal.
        let back = Expr::parse(&format!("to_number('{text}')")).ok().and_then(|e| e.eval(&scope).ok());
        let literal = Expr::parse(&text).ok().and_then(|e| e.eval(&scope).ok());
        for value in [back, literal] {
            let value = value.and_then(|v| v.as_f64());
            prop_assert_eq!(value, Some(f), "text {}", text);
        }
    }
}

#[test]
fn deep_nesting_is_a_parse_error_not_a_stack_overflow() {
    for (open, close) in [("(", ")"), ("[", "]"), ("len(", ")"), ("{a: ", "}")] {
        let src = format!("{}1{}", open.repeat(10_000), close.repeat(10_000));
        let e = Expr::parse(&src)
            .err()
            .unwrap_or_else(|| panic!("{open} nesting should fail"));
        assert!(e.message.contains("nested too deeply"), "{e}");
    }
    let e = Expr::parse(&"!".repeat(100_000)).expect_err("fails");
    assert!(e.message.contains("nested too deeply"));
    let e = Expr::parse(&"-".repeat(100_000)).expect_err("fails");
    assert!(e.message.contains("nested too deeply"));
    // Real nesting through operators is still nesting.
    let src = format!("{}1{}", "(1 + ".repeat(10_000), ")".repeat(10_000));
    let e = Expr::parse(&src).expect_err("fails");
    assert!(e.message.contains("nested too deeply"), "{e}");
    // 30,000 brackets: far deeper than the nesting cap, within the cap on tokens.
    let path = format!("inputs{}", "[0]".repeat(30_000));
    assert!(Expr::parse(&path).is_ok(), "a long flat path is not nested");
}

#[test]
fn expressions_at_the_limits_still_evaluate() {
    let nested = format!(
        "{}1{}",
        "(".repeat(MAX_NESTING - 1),
        ")".repeat(MAX_NESTING - 1)
    );
    assert_eq!(
        Expr::parse(&nested)
            .ok()
            .and_then(|e| e.eval(&common::scope()).ok()),
        Some(json!(1))
    );
}

#[test]
fn flat_operator_chains_evaluate_at_any_length() {
    let scope = common::scope();
    let eval = |src: &str| Expr::parse(src).map(|e| e.eval(&scope));
    for terms in [200, MAX_TREE_DEPTH + 1, 10_000] {
        let sum = vec!["1"; terms].join(" + ");
        assert_eq!(eval(&sum), Ok(Ok(json!(terms))), "{terms} terms of +");
        let mixed = vec!["2 * 3 - 5"; terms].join(" + ");
        assert_eq!(
            eval(&mixed),
            Ok(Ok(json!(terms))),
            "{terms} terms of + and -"
        );
        let all = vec!["true"; terms].join(" && ");
        assert_eq!(eval(&all), Ok(Ok(json!(true))), "{terms} terms of &&");
        let text = vec!["'a'"; terms].join(" + ");
        assert_eq!(eval(&text), Ok(Ok(json!("a".repeat(terms)))));
    }
    // Left to right, as written: (10 - 1) - 1, not 10 - (1 - 1).
    assert_eq!(eval("10 - 1 - 1"), Ok(Ok(json!(8))));
    // `&&` and `||` still stop at the first deciding term.
    assert_eq!(eval("false && missing.x && 1 / 0"), Ok(Ok(json!(false))));
    assert_eq!(eval("false || true || missing.x"), Ok(Ok(json!(true))));
    // An error in the middle of a chain points at the part that failed.
    let src = "1 + 2 + 'a' * 3 + 4";
    let error = eval(src).expect("parses").expect_err("fails");
    assert_eq!(&src[error.span.clone()], "'a' * 3");
}
