mod common;

use common::{render, scope, spanned};
use serde_json::json;
use weft_expr::{Reference, Segment, Template};

#[test]
fn single_expression_keeps_its_type() {
    assert_eq!(render("${{ inputs.tags }}"), json!(["a", "b"]));
    assert_eq!(render("${{inputs.count}}"), json!(3));
    assert_eq!(render("${{ inputs.nothing }}"), json!(null));
    assert_eq!(
        render("${{ steps.fetch.output }}"),
        json!({"items": [{"title": "First"}, {"title": "Second"}], "total": 2})
    );
    assert_eq!(
        render("${{ {a: {b: 1}} }}"),
        json!({"a": {"b": 1}}),
        "`}}` closing an object literal is not the end"
    );
}

#[test]
fn anything_else_renders_as_text() {
    assert_eq!(render("Hello ${{ inputs.name }}!"), json!("Hello Ada!"));
    assert_eq!(
        render(" ${{ inputs.count }}"),
        json!(" 3"),
        "surrounding whitespace makes it text"
    );
    assert_eq!(
        render("${{ inputs.count }}${{ inputs.flag }}"),
        json!("3true")
    );
    assert_eq!(
        render("n=${{ inputs.ratio }} x=${{ inputs.nothing }}"),
        json!("n=0.5 x=null")
    );
    assert_eq!(
        render("tags=${{ inputs.tags }}"),
        json!("tags=[\"a\",\"b\"]")
    );
    assert_eq!(
        render("${{ inputs.nested }}."),
        json!("{\"deep\":{\"x\":1}}.")
    );
    assert_eq!(
        render("${{ 10 / 4 }} and ${{ 3.0 * 2 }}"),
        json!("2.5 and 6")
    );
}

#[test]
fn literals_and_escapes() {
    let plain = Template::parse("just text }} here").expect("parses");
    assert!(plain.is_literal());
    assert_eq!(
        plain.render(&scope()).ok(),
        Some(json!("just text }} here"))
    );
    assert_eq!(plain.source(), "just text }} here");
    assert_eq!(render(""), json!(""));

    let escaped =
        Template::parse("use $${{ inputs.name }} for ${{ inputs.name }}").expect("parses");
    assert!(!escaped.is_literal());
    assert_eq!(
        escaped.render(&scope()).ok(),
        Some(json!("use ${{ inputs.name }} for Ada"))
    );
    assert!(Template::parse("$${{ not an expression")
        .expect("parses")
        .is_literal());
    assert_eq!(
        render("$$${{ 1 }}"),
        json!("$${{ 1 }}"),
        "only the `$` right before `${{` escapes"
    );
    assert_eq!(render("$${{ x }}${{ 1 }}"), json!("${{ x }}1"));
    assert_eq!(render("cost: $5 ${{ 1 }}"), json!("cost: $5 1"));
}

#[test]
fn closing_braces_inside_strings_do_not_end_the_expression() {
    assert_eq!(render("${{ '}}' }}"), json!("}}"));
    assert_eq!(render("a${{ \"x}}y\" + '}' }}b"), json!("ax}}y}b"));
    assert_eq!(render("${{ format('{{}}{}', 1) }}"), json!("{}1"));
}

#[test]
fn parse_errors_have_template_spans() {
    let src = "Hello ${{ inputs.name";
    let e = Template::parse(src).expect_err("unclosed");
    assert_eq!(e.message, "`${{` is not closed");
    assert_eq!(e.span, 6..9);
    assert!(e
        .help
        .as_deref()
        .is_some_and(|h| h.contains("}}") && h.contains("$${{")));

    let src = "x ${{ }} y";
    let e = Template::parse(src).expect_err("empty");
    assert_eq!(e.message, "empty expression `${{ }}`");
    assert_eq!(spanned(src, &e.span), "${{ }}");

    let src = "a ${{ 1 }} b ${{ inputs.name + }} c";
    let e = Template::parse(src).expect_err("bad");
    assert_eq!(e.message, "expected a value, but the expression ended");
    assert_eq!(
        e.span,
        31..31,
        "points at the `}}` of the second expression"
    );

    let src = "${{ 'abc }}";
    let e = Template::parse(src).expect_err("unterminated string");
    assert_eq!(e.message, "string is not closed");
    assert_eq!(spanned(src, &e.span), "'abc }}");
}

#[test]
fn eval_errors_have_template_spans() {
    let src = "Title: ${{ steps.fetch.output.items[0].titel }}";
    let e = Template::parse(src)
        .expect("parses")
        .render(&scope())
        .expect_err("fails");
    assert_eq!(spanned(src, &e.span), "titel");
    assert_eq!(
        e.message,
        "`steps.fetch.output.items[0]` has no field `titel`"
    );
    assert_eq!(e.help.as_deref(), Some("available fields: title"));
}

#[test]
fn references_cover_every_part() {
    let src = "${{ inputs.name }} ${{ len(steps.fetch.output.items) > vars.limit ? item.title : env['HOME'] }}";
    let refs = Template::parse(src).expect("parses").references();
    let shown: Vec<String> = refs.iter().map(Reference::to_string).collect();
    assert_eq!(
        shown,
        [
            "inputs.name",
            "steps.fetch.output.items",
            "vars.limit",
            "item.title",
            "env.HOME"
        ]
    );
    assert_eq!(spanned(src, &refs[1].span), "steps.fetch.output.items");
    assert_eq!(spanned(src, &refs[4].span), "env['HOME']");
    assert_eq!(
        refs[1].segments,
        [
            Segment::Field("fetch".into()),
            Segment::Field("output".into()),
            Segment::Field("items".into())
        ]
    );
    assert!(Template::parse("no refs")
        .expect("parses")
        .references()
        .is_empty());
}

#[test]
fn templates_are_send_sync_clone() {
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug>() {}
    assert_traits::<Template>();
    assert_traits::<weft_expr::Expr>();
}

#[test]
fn every_broken_expression_of_a_template_is_reported() {
    let src = "a ${{ 1 + }} b ${{ inputs.ok }} c ${{ lenght(x) }} d ${{ 'x' = 1 }}";
    let errors = Template::parse_all(src).expect_err("three broken expressions");
    let places: Vec<&str> = errors.iter().map(|e| &src[e.span.clone()]).collect();
    assert_eq!(places, ["", "lenght", "="], "{errors:?}");
    assert!(errors[0].message.contains("expression ended"), "{errors:?}");
    // The first error is the one `parse` gives.
    assert_eq!(Template::parse(src).expect_err("broken"), errors[0]);
    // An unclosed `${{` ends the search: what follows is inside it.
    let errors = Template::parse_all("${{ 1 + }} and ${{ 2 ").expect_err("broken");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[1].message.contains("not closed"));
}

#[test]
fn constant_errors_are_known_before_running() {
    let src = "${{ 'n=' + 3 }} ${{ inputs.n / 0 }} ${{ [1, 2 / 0] }} ${{ len(1 / 1) + inputs.x }}";
    let template = Template::parse(src).expect("parses");
    let errors = template.constant_errors();
    let places: Vec<&str> = errors.iter().map(|e| &src[e.span.clone()]).collect();
    // Each at the culprit: the divisor, the argument. `inputs.n / 0` depends on an input.
    assert_eq!(places, ["'n=' + 3", "0", "1 / 1"], "{errors:?}");
    // A missing element may be tolerated by `default`: not reported.
    let guarded = Template::parse("${{ default([1][5], 0) }}").expect("parses");
    assert!(guarded.constant_errors().is_empty());
    let fine = Template::parse("${{ 1 + 2 * 3 }} ${{ upper('a') }}").expect("parses");
    assert!(fine.constant_errors().is_empty());
}

#[test]
fn a_constant_range_is_checked_by_its_bounds() {
    let errors = |src: &str| Template::parse(src).expect("parses").constant_errors();
    assert!(errors("${{ range(0, 1000000) }}").is_empty());
    let too_many = errors("${{ range(0, 1000001) }}");
    assert_eq!(too_many.len(), 1, "{too_many:?}");
    assert!(
        too_many[0].message.contains("at most 1000000 numbers"),
        "{too_many:?}"
    );
    let not_a_number = errors("${{ range('ten') }}");
    assert_eq!(not_a_number.len(), 1, "{not_a_number:?}");
}

#[test]
fn misleading_characters_in_names_are_found() {
    assert_eq!(
        weft_expr::misleading_char("spa\u{200b}ce"),
        Some('\u{200b}')
    );
    assert_eq!(weft_expr::misleading_char("sp\u{0430}ce"), Some('\u{0430}'));
    assert_eq!(weft_expr::misleading_char("a\u{a0}b"), Some('\u{a0}'));
    assert_eq!(weft_expr::misleading_char("café"), None);
    assert_eq!(
        weft_expr::misleading_char("счёт"),
        None,
        "all Cyrillic is not a look-alike"
    );
    assert_eq!(weft_expr::misleading_char("fetch_pages-2"), None);
}

/// A node keeps a text of up to 64 KiB; a longer one is kept in several, and renders whole.
#[test]
fn a_long_text_renders_whole() {
    // Multi-byte characters straddle the 65,535-byte cut.
    let text = "é".repeat(40_000);
    let src = format!("{text}${{{{ inputs.name }}}}{text}");
    let rendered = Template::parse(&src)
        .expect("parses")
        .render(&scope())
        .expect("renders");
    assert_eq!(rendered, json!(format!("{text}Ada{text}")));
}

/// A name is kept as its place in the source, in 16 bits of length: a longer one is refused
/// where it is written, not cut.
#[test]
fn a_name_longer_than_64_kib_is_a_parse_error() {
    let long = "a".repeat(70_000);
    for src in [
        format!("${{{{ inputs.{long} }}}}"),
        format!("${{{{ {long} }}}}"),
    ] {
        let error = Template::parse(&src).expect_err("too long");
        assert!(
            error.message.starts_with("name is too long"),
            "{}",
            error.message
        );
        assert_eq!(&src[error.span.clone()], long);
    }
    // Written as a key, it reads.
    let src = format!("${{{{ inputs['{long}'] }}}}");
    let refs = Template::parse(&src).expect("a key").references();
    assert_eq!(refs[0].segments, [Segment::Field(long.clone())]);
    // Up to the limit it reads.
    let name = "b".repeat(65_535);
    let src = format!("${{{{ inputs.{name} }}}}");
    let refs = Template::parse(&src).expect("parses").references();
    assert_eq!(refs[0].to_string(), format!("inputs.{name}"));
}

/// The checks found with the spans of the parse are those found by parsing again: the kept
/// form's nodes are the parse's, in the same order.
#[test]
fn checks_at_parse_are_those_of_a_parse_again() {
    let src = "a ${{ steps.fetch.output.items[0] + 'x' * 2 }} b ${{ len(inputs.tags) > vars.n ? 1 / 0 : env.HOME }}";
    let (template, checks) = Template::parse_checked(src).expect("parses");
    let spans = |refs: &[Reference]| refs.iter().map(|r| r.span.clone()).collect::<Vec<_>>();
    assert_eq!(spans(&checks.references), spans(&template.references()));
    assert_eq!(checks.references.len(), 4);
    let errors = |e: &[weft_expr::EvalError]| {
        e.iter()
            .map(|e| (e.message.clone(), e.span.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        errors(&checks.constant_errors),
        errors(&template.constant_errors())
    );
    let shown: Vec<&str> = checks
        .constant_errors
        .iter()
        .map(|e| &src[e.span.clone()])
        .collect();
    assert_eq!(
        shown,
        ["'x' * 2", "0"],
        "a division by zero points at its divisor"
    );
}
