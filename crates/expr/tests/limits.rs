//! Size limits on what an expression builds: a clean error naming the limit, never an
//! allocation failure that aborts the process.

mod common;

use common::{eval, eval_err, scope};
use serde_json::json;
use weft_expr::{EvalErrorKind, Template, MAX_RESULT_TEXT, MAX_RESULT_VALUES};

#[track_caller]
fn assert_too_large(src: &str, what: &str) {
    let error = eval_err(src);
    assert_eq!(error.kind, EvalErrorKind::Invalid, "{src}: {error}");
    assert!(
        error.message.starts_with("the result is too large") && error.message.contains(what),
        "{src}: {}",
        error.message
    );
    let help = error.help.unwrap_or_default();
    assert!(
        help.contains("16 MiB") && help.contains("1000000 values"),
        "{src}: the help names the limits: {help}"
    );
}

#[test]
fn the_limits_are_16_mib_of_text_and_a_million_values() {
    assert_eq!(MAX_RESULT_TEXT, 16 * 1024 * 1024);
    assert_eq!(MAX_RESULT_VALUES, 1_000_000);
}

#[test]
fn values_up_to_the_limits_are_built() {
    assert_eq!(eval("len(range(1000000))"), json!(1_000_000));
    assert_eq!(eval("len(to_json(range(1000000)))"), json!(6_888_891));
    assert_eq!(
        eval("len(split(to_json(range(100000)), ','))"),
        json!(100_000)
    );
}

#[test]
fn repeated_concatenation_stops_at_the_text_limit() {
    // Each term is 6.9 MB: two fit, three do not (this used to double until the
    // allocator aborted the process).
    assert_eq!(
        eval("len(to_json(range(1000000)) + to_json(range(1000000)))"),
        json!(13_777_782)
    );
    assert_too_large(
        "to_json(range(1000000)) + to_json(range(1000000)) + to_json(range(1000000))",
        "16 MiB",
    );
}

#[test]
fn join_with_a_huge_separator_stops_early() {
    // A million copies of a 600 KB separator would be 600 GB.
    assert_too_large(
        "len(join(range(1000000), to_json(range(100000))))",
        "16 MiB",
    );
}

#[test]
fn format_replace_and_templates_stop_at_the_text_limit() {
    let template = "{0}".repeat(4);
    assert_too_large(
        &format!("format('{template}', to_json(range(1000000)))"),
        "16 MiB",
    );
    assert_too_large(
        "replace(to_json(range(100000)), ',', to_json(range(10000)))",
        "16 MiB",
    );
    let rendered = Template::parse(
        "${{ to_json(range(1000000)) }}-${{ to_json(range(1000000)) }}-${{ to_json(range(1000000)) }}",
    )
    .expect("parses")
    .render(&scope());
    let error = rendered.expect_err("48 MB of text is refused");
    assert!(error.message.contains("16 MiB"), "{}", error.message);
}

#[test]
fn arrays_and_objects_stop_at_the_value_limit_at_every_depth() {
    assert_too_large("[range(1000000), range(1000000)]", "1000000 values");
    assert_too_large("range(1000000) + [1]", "1000000 values");
    assert_too_large("{a: range(600000), b: range(600000)}", "1000000 values");
    assert_too_large(
        "split(replace(to_json(range(300000)), ',', ',,,,'), ',')",
        "1000000 values",
    );
}

/// `0 + 1 + 1 ...` with `tokens` tokens (an odd number).
fn sum_of_tokens(tokens: usize) -> String {
    let mut src = String::from("0");
    src.push_str(&" + 1".repeat((tokens - 1) / 2));
    src
}

#[test]
fn an_expression_of_max_tokens_parses_and_one_more_is_refused_at_that_token() {
    assert_eq!(weft_expr::MAX_TOKENS, 100_000);
    // MAX_TOKENS is even: the largest odd count under it parses, and so does the template form.
    let fits = sum_of_tokens(weft_expr::MAX_TOKENS - 1);
    assert!(weft_expr::Expr::parse(&fits).is_ok());
    assert!(Template::parse(&format!("${{{{ {fits} }}}}")).is_ok());

    let over = sum_of_tokens(weft_expr::MAX_TOKENS + 1);
    let error = weft_expr::Expr::parse(&over).expect_err("one token too many");
    assert_eq!(
        error.message,
        "the expression is too long: more than 100000 tokens"
    );
    // The first token past the limit: the last `1`.
    assert_eq!(error.span, over.len() - 1..over.len());
    assert!(error.help.unwrap_or_default().contains("core.set"));

    let template = format!("x ${{{{ {over} }}}}");
    let error = Template::parse(&template).expect_err("one token too many");
    assert_eq!(error.span, template.len() - 4..template.len() - 3);
}
