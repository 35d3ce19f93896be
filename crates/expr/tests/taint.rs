//! Taint: a template reports the value of each expression that reads `secrets`, and only those.

use serde_json::{json, Value};
use weft_expr::{MapScope, Taint, Template};

fn tainted_parts(src: &str) -> (Value, Vec<Value>) {
    let scope = MapScope::new(chrono::DateTime::UNIX_EPOCH)
        .with_root("secrets", json!({ "tok": "s3cr3t" }))
        .with_root("inputs", json!({ "who": "Ada" }));
    let template = Template::parse(src).expect("parses");
    let mut tainted = Vec::new();
    let rendered = template
        .render_tainted(&scope, &mut |v, _| tainted.push(v.clone()))
        .expect("renders");
    (rendered, tainted)
}

#[test]
fn each_expression_reading_secrets_is_reported_with_its_value() {
    let (rendered, tainted) = tainted_parts(
        "Basic ${{ base64_encode('me:' + secrets.tok) }} for ${{ upper(inputs.who) }} ${{ reverse(secrets.tok) }}",
    );
    assert_eq!(rendered, json!("Basic bWU6czNjcjN0 for ADA t3rc3s"));
    assert_eq!(tainted, [json!("bWU6czNjcjN0"), json!("t3rc3s")]);
}

#[test]
fn a_whole_value_keeps_its_type_and_is_reported() {
    let (rendered, tainted) = tainted_parts("${{ from_json('{\"' + secrets.tok + '\": [1]}') }}");
    assert_eq!(rendered, json!({ "s3cr3t": [1] }));
    assert_eq!(tainted, [rendered]);
}

/// Every way of reaching `secrets` taints, however the path to it is written (the parse finds
/// it among the expression's nodes).
#[test]
fn every_way_of_reading_secrets_is_reported() {
    for src in [
        "${{ secrets['tok'] }}",
        "${{ (secrets).tok }}",
        "${{ coalesce(inputs.none, secrets.tok) }}",
        "${{ false || secrets.tok }}",
        "${{ [secrets.tok][0] }}",
        "${{ inputs.who == 'Ada' ? secrets.tok : 'no' }}",
        "${{ {k: secrets.tok}.k }}",
    ] {
        let (rendered, tainted) = tainted_parts(src);
        assert_eq!(tainted, [rendered], "{src}");
    }
}

#[test]
fn expressions_without_secrets_report_nothing() {
    let (rendered, tainted) = tainted_parts("hi ${{ inputs.who }}");
    assert_eq!(rendered, json!("hi Ada"));
    assert!(tainted.is_empty());
}

/// An error in an expression that reads a secret quotes no value: the messages of these
/// failures would otherwise show the secret's upper-case form.
#[test]
fn errors_of_expressions_reading_secrets_show_no_values() {
    let scope = MapScope::new(chrono::DateTime::UNIX_EPOCH)
        .with_root("secrets", json!({ "tok": "hunter2Zqxy" }))
        .with_root("vars", json!({ "m": { "a": 1 } }));
    for src in [
        "${{ vars.m[upper(secrets.tok)] }}",
        "${{ format('{' + upper(secrets.tok) + '}', {a: 1}) }}",
        "${{ [1][upper(secrets.tok)] }}",
        "${{ pluck([{a: 1}], upper(secrets.tok)) }}",
        "${{ date_format(now(), '%Y', upper(secrets.tok)) }}",
        "${{ date_parse('2024', upper(secrets.tok)) }}",
        "x ${{ vars.m[upper(secrets.tok)] }} y",
    ] {
        let error = Template::parse(src)
            .expect("parses")
            .render(&scope)
            .expect_err(src);
        let text = format!("{} {:?}", error.message, error.help);
        assert!(!text.to_lowercase().contains("hunter"), "{src}: {text}");
        assert!(text.contains(weft_expr::HIDDEN_VALUES), "{src}: {text}");
        let inner = &src[src.find("${{").unwrap() + 4..src.find(" }}").unwrap()];
        let expr = weft_expr::Expr::parse(inner).expect("parses");
        if let Err(error) = expr.eval(&scope) {
            assert!(!error.message.to_lowercase().contains("hunter"), "{src}");
        }
    }
    // An expression that reads no secret keeps its detailed message.
    let error = Template::parse("${{ vars.m['zz'] }}")
        .expect("parses")
        .render(&scope)
        .expect_err("fails");
    assert!(!error.message.contains(weft_expr::HIDDEN_VALUES));
}

/// A failed rendering is rendered again to locate its error (the kept form holds no spans):
/// values reported before the failure are reported once, and the error keeps them hidden.
#[test]
fn a_failure_reports_each_value_once_and_locates_its_error() {
    let scope = MapScope::new(chrono::DateTime::UNIX_EPOCH)
        .with_root("secrets", json!({ "tok": "s3cr3t" }))
        .with_root("inputs", json!({ "who": "Ada" }));
    let src = "${{ secrets.tok }} and ${{ inputs.who.first }}";
    let template = Template::parse(src).expect("parses");
    let mut tainted = Vec::new();
    let error = template
        .render_tainted(&scope, &mut |v, _| tainted.push(v.clone()))
        .expect_err("`inputs.who` is a string");
    assert_eq!(tainted, [json!("s3cr3t")]);
    assert_eq!(&src[error.span.clone()], "first");
    assert!(!error.message.contains("s3cr3t"), "{}", error.message);
}

/// A value a call computes from a secret on the way to an expression's value is reported on
/// its own, before that value: a server may echo it alone. Calls that read no secret, and
/// the expression's own call, are not.
#[test]
fn calls_computing_from_a_secret_on_the_way_are_reported_as_intermediate() {
    let scope = MapScope::new(chrono::DateTime::UNIX_EPOCH)
        .with_root("secrets", json!({ "tok": "s3cr3t" }))
        .with_root("inputs", json!({ "who": "Ada" }));
    let template = Template::parse(
        "${{ 'q=' + lower(inputs.who) + upper(secrets.tok) + reverse(upper(secrets.tok)) }}",
    )
    .expect("parses");
    let mut reported = Vec::new();
    let rendered = template
        .render_tainted(&scope, &mut |v, taint| reported.push((v.clone(), taint)))
        .expect("renders");
    assert_eq!(rendered, json!("q=adaS3CR3TT3RC3S"));
    assert_eq!(
        reported,
        [
            (json!("S3CR3T"), Taint::Intermediate),
            (json!("S3CR3T"), Taint::Intermediate),
            (json!("T3RC3S"), Taint::Intermediate),
            (rendered.clone(), Taint::Computed),
        ]
    );
    let (_, tainted) = tainted_parts("${{ reverse(upper(secrets.tok)) }}");
    assert_eq!(tainted, [json!("S3CR3T"), json!("T3RC3S")]);
    // A text that describes a secret (`string`, a length) and a value that is no text (the
    // array of `split`) are not reported, nor a text the expression writes (`Bearer`, chosen
    // by a condition on the secret); a field read from a value computed from it is.
    let (rendered, tainted) = tainted_parts(
        "${{ type_of(secrets.tok) + to_string(len(secrets.tok)) + join(split(secrets.tok, '3'), '') }}",
    );
    assert_eq!(rendered, json!("string6scrt"));
    assert_eq!(tainted, [json!("scrt"), rendered]);
    let (rendered, tainted) = tainted_parts(
        "${{ upper(len(secrets.tok) > 3 ? 'prod' : 'test') + first(['Bearer', secrets.tok]) + from_json('{\"k\": \"' + secrets.tok + '\"}').k + '!' }}",
    );
    assert_eq!(rendered, json!("PRODBearers3cr3t!"));
    assert_eq!(tainted, [json!("s3cr3t"), rendered]);
}
