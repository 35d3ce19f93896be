mod common;

use common::{eval, eval_err, parse_err, spanned};
use serde_json::json;
use weft_expr::EvalErrorKind;

#[test]
fn literals() {
    assert_eq!(eval("null"), json!(null));
    assert_eq!(eval("true"), json!(true));
    assert_eq!(eval("false"), json!(false));
    assert_eq!(eval("42"), json!(42));
    assert_eq!(eval("-42"), json!(-42));
    assert_eq!(eval("2.5"), json!(2.5));
    assert_eq!(eval("1.0"), json!(1), "integral decimals are integers");
    assert_eq!(eval("1e3"), json!(1000));
    assert_eq!(eval("2.5e-1"), json!(0.25));
    assert_eq!(eval("9223372036854775807"), json!(i64::MAX));
    assert_eq!(eval("'single'"), json!("single"));
    assert_eq!(eval("\"double\""), json!("double"));
    assert_eq!(eval(r#"'a\nb\t\\\'\"'"#), json!("a\nb\t\\'\""));
    assert_eq!(eval(r"'\u{e9}\u{1F600}'"), json!("é😀"));
    assert_eq!(eval("'it''s'"), json!("it's"), "GitHub-style doubled quote");
    assert_eq!(eval("[1, 'a', [true]]"), json!([1, "a", [true]]));
    assert_eq!(eval("[1, 2,]"), json!([1, 2]), "trailing comma");
    assert_eq!(eval("[]"), json!([]));
    assert_eq!(
        eval("{a: 1, \"b c\": [2], null: 3}"),
        json!({"a": 1, "b c": [2], "null": 3})
    );
    assert_eq!(eval("{}"), json!({}));
    assert_eq!(eval("{n: inputs.count}"), json!({"n": 3}));
    assert_eq!(eval("[inputs.name, 1]"), json!(["Ada", 1]));
}

/// `i64::MIN` is written as `-` and one past `i64::MAX`, as in Rust: that magnitude is a
/// number only right after a unary `-`.
#[test]
fn the_smallest_integer_is_a_literal() {
    assert_eq!(eval("-9223372036854775808"), json!(i64::MIN));
    assert_eq!(eval("[-9223372036854775808][0]"), json!(i64::MIN));
    assert_eq!(eval("- 9223372036854775808 + 1"), json!(i64::MIN + 1));
    let e = parse_err("9223372036854775808");
    assert!(e.message.contains("out of range"), "{e}");
    assert_eq!(e.span, 0..19);
    let e = parse_err("1 - 9223372036854775808");
    assert!(e.message.contains("out of range"), "{e}");
    assert_eq!(e.span, 4..23);
    assert!(parse_err("-9223372036854775809")
        .message
        .contains("out of range"));
}

#[test]
fn bad_literals_are_parse_errors() {
    let e = parse_err("99999999999999999999");
    assert!(e.message.contains("out of range"), "{e}");
    assert_eq!(e.span, 0..20);
    assert!(parse_err("1e999").message.contains("out of range"));
    let e = parse_err("'abc");
    assert_eq!(e.message, "string is not closed");
    assert_eq!(e.span, 0..4);
    let e = parse_err(r"'a\qb'");
    assert!(e.message.contains("unknown escape `\\q`"), "{e}");
    assert_eq!(e.span, 2..4);
    assert!(parse_err(r"'\u{110000}'")
        .message
        .contains("invalid unicode escape"));
    assert!(parse_err(r"'\u{}'")
        .message
        .contains("invalid unicode escape"));
    assert!(parse_err("{a: 1, a: 2}")
        .message
        .contains("duplicate key `a`"));
    assert!(parse_err("12abc").message.contains("invalid number"));
}

#[test]
fn arithmetic() {
    assert_eq!(eval("1 + 2"), json!(3));
    assert_eq!(eval("1 + 2 * 3"), json!(7));
    assert_eq!(eval("(1 + 2) * 3"), json!(9));
    assert_eq!(eval("10 - 4 - 3"), json!(3), "left associative");
    assert_eq!(eval("10 / 2"), json!(5));
    assert_eq!(eval("10 / 4"), json!(2.5));
    assert_eq!(eval("7 % 3"), json!(1));
    assert_eq!(eval("-7 % 3"), json!(-1));
    assert_eq!(eval("5.5 % 2"), json!(1.5));
    assert_eq!(eval("0.1 + 0.2 > 0.3"), json!(true));
    assert_eq!(eval("2.5 * 2"), json!(5));
    assert_eq!(eval("-inputs.count"), json!(-3));
    assert_eq!(eval("- -3"), json!(3));
    assert_eq!(eval("inputs.count * inputs.ratio"), json!(1.5));
    assert_eq!(
        eval("9223372036854775807 + 1"),
        json!(9.223372036854776e18),
        "overflow goes to floating point"
    );
    assert_eq!(eval("'a' + 'b'"), json!("ab"));
    assert_eq!(eval("[1] + [2, 3]"), json!([1, 2, 3]));
}

#[test]
fn arithmetic_errors() {
    let src = "inputs.count / (inputs.count - 3)";
    let e = eval_err(src);
    assert_eq!(e.message, "division by zero in `/`");
    assert_eq!(spanned(src, &e.span), "(inputs.count - 3)");
    assert_eq!(e.kind, EvalErrorKind::Invalid);
    assert_eq!(eval_err("1 % 0").message, "division by zero in `%`");
    assert_eq!(eval_err("1.5 / 0.0").message, "division by zero in `/`");

    let src = "'n=' + inputs.count";
    let e = eval_err(src);
    assert_eq!(e.message, "cannot use a string and a number with `+`");
    assert!(e
        .help
        .as_deref()
        .is_some_and(|h| h.contains("to_string") && h.contains("format")));
    assert_eq!(e.span, 0..src.len());
    assert_eq!(e.kind, EvalErrorKind::Type);

    assert!(eval_err("'a' - 'b'")
        .help
        .as_deref()
        .is_some_and(|h| h.contains("to_number")));
    assert_eq!(
        eval_err("true + 1").message,
        "cannot use a boolean and a number with `+`"
    );
    assert_eq!(eval_err("-'x'").message, "`-` needs a number, got a string");
    assert!(eval_err("1e308 * 10").message.contains("too large"));
}

#[test]
fn comparisons() {
    assert_eq!(eval("1 == 1.0"), json!(true));
    assert_eq!(eval("'a' != 'b'"), json!(true));
    assert_eq!(
        eval("[1, {a: 2}] == [1, {a: 2}]"),
        json!(true),
        "deep equality"
    );
    assert_eq!(
        eval("{a: 1, b: 2} == {b: 2, a: 1}"),
        json!(true),
        "key order does not matter"
    );
    assert_eq!(eval("[1, 2] == [2, 1]"), json!(false));
    assert_eq!(eval("inputs.nothing == null"), json!(true));
    assert_eq!(
        eval("inputs.name == null"),
        json!(false),
        "null compares with anything"
    );
    assert_eq!(eval("1 < 2"), json!(true));
    assert_eq!(eval("2 <= 2"), json!(true));
    assert_eq!(eval("3 > 2.5"), json!(true));
    assert_eq!(eval("2 >= 3"), json!(false));
    assert_eq!(eval("'apple' < 'banana'"), json!(true));
    assert_eq!(eval("'B' < 'a'"), json!(true), "code point order");

    let src = "inputs.count < '5'";
    let e = eval_err(src);
    assert_eq!(e.message, "cannot compare a number and a string with `<`");
    assert!(e.help.as_deref().is_some_and(|h| h.contains("to_number")));
    let e = eval_err("inputs.count == '3'");
    assert_eq!(e.message, "cannot compare a number and a string with `==`");
    assert_eq!(
        eval_err("[1] < [2]").message,
        "cannot compare an array and an array with `<`"
    );
    assert_eq!(eval_err("true == 'true'").kind, EvalErrorKind::Type);
}

#[test]
fn comparisons_do_not_chain() {
    let e = parse_err("1 < 2 < 3");
    assert_eq!(e.message, "comparisons cannot be chained");
    assert_eq!(e.span, 6..7);
    assert!(parse_err("1 == 1 == true").message.contains("chained"));
    assert_eq!(
        eval("1 < 2 == true"),
        json!(true),
        "different levels are fine"
    );
}

#[test]
fn logic_short_circuits_and_returns_booleans() {
    assert_eq!(eval("true && false"), json!(false));
    assert_eq!(eval("true and true"), json!(true));
    assert_eq!(
        eval("false || 'x'"),
        json!(true),
        "returns a boolean, not the operand"
    );
    assert_eq!(eval("0 or ''"), json!(false));
    assert_eq!(eval("!true"), json!(false));
    assert_eq!(eval("not []"), json!(true));
    assert_eq!(eval("!!inputs.name"), json!(true));
    // The right side would fail, but is never evaluated.
    assert_eq!(eval("false && inputs.missing"), json!(false));
    assert_eq!(eval("true || 1 / 0"), json!(true));
    assert!(eval_err("true && inputs.missing")
        .message
        .contains("no field `missing`"));
    assert_eq!(
        eval("true || false && false"),
        json!(true),
        "&& binds tighter than ||"
    );
    assert_eq!(
        eval("!false && false"),
        json!(false),
        "! binds tighter than &&"
    );
}

#[test]
fn membership() {
    assert_eq!(eval("'a' in inputs.tags"), json!(true));
    assert_eq!(eval("'z' in inputs.tags"), json!(false));
    assert_eq!(eval("[1] in [[1], [2]]"), json!(true));
    assert_eq!(eval("'da' in inputs.name"), json!(true));
    assert_eq!(eval("'deep' in inputs.nested"), json!(true));
    assert_eq!(eval("'x' in inputs.nested"), json!(false));
    assert_eq!(eval("!('z' in inputs.tags)"), json!(true));
    assert_eq!(
        eval_err("1 in 'abc'").message,
        "`in` with a string on the right needs a string on the left, got a number"
    );
    assert_eq!(
        eval_err("1 in 2").message,
        "`in` needs an array, a string or an object on the right, got a number"
    );
}

#[test]
fn conditional() {
    assert_eq!(eval("inputs.flag ? 'yes' : 'no'"), json!("yes"));
    assert_eq!(eval("inputs.empty ? 'yes' : 'no'"), json!("no"));
    assert_eq!(
        eval("false ? 1 : true ? 2 : 3"),
        json!(2),
        "right associative"
    );
    assert_eq!(eval("1 > 2 ? 1 : 2 + 3"), json!(5), "lowest precedence");
    // Only the chosen branch is evaluated.
    assert_eq!(eval("true ? 1 : inputs.missing"), json!(1));
    let e = parse_err("true ? 1");
    assert!(e.message.contains("`:`"), "{e}");
    assert_eq!(e.span, 8..8);
}

#[test]
fn operator_typos_get_hints() {
    let e = parse_err("a = 1");
    assert_eq!(e.message, "`=` is not an operator");
    assert_eq!(e.span, 2..3);
    assert!(e.help.as_deref().is_some_and(|h| h.contains("==")));
    assert!(parse_err("a & b")
        .help
        .as_deref()
        .is_some_and(|h| h.contains("&&")));
    assert!(parse_err("a | b")
        .help
        .as_deref()
        .is_some_and(|h| h.contains("||")));
    assert!(parse_err("a # b")
        .message
        .contains("unexpected character `#`"));
    let e = parse_err("1 2");
    assert_eq!(
        e.message,
        "unexpected number `2` after the end of the expression"
    );
    assert_eq!(e.span, 2..3);
    assert!(parse_err("(1 + 2").message.contains("expected `)`"));
    assert!(parse_err("1 +").message.contains("expression ended"));
}
