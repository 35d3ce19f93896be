//! Shared test scope and helpers.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use weft_expr::{EvalError, Expr, MapScope, ParseError, Template, Value};

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0)
        .single()
        .expect("valid test date")
}

pub fn scope() -> MapScope {
    MapScope::new(now())
        .with_root(
            "inputs",
            json!({
                "name": "Ada",
                "count": 3,
                "ratio": 0.5,
                "tags": ["a", "b"],
                "flag": true,
                "empty": "",
                "nothing": null,
                "nested": {"deep": {"x": 1}},
                "key with space": "spaced",
                "space": "CONF",
            }),
        )
        .with_root("vars", json!({"base": "https://example.test", "limit": 10}))
        .with_root("env", json!({"HOME": "/home/weft"}))
        .with_root("secrets", json!({"token": "s3cr3t-value"}))
        .with_root("item", json!({"id": 7, "title": "Seven"}))
        .with_root("index", json!(1))
        .with_step(
            "fetch",
            json!({
                "status": "succeeded",
                "output": {"items": [{"title": "First"}, {"title": "Second"}], "total": 2},
            }),
        )
        .with_step("fetch-pages", json!({"status": "failed", "output": null}))
}

#[track_caller]
pub fn eval(src: &str) -> Value {
    match Expr::parse(src) {
        Ok(expr) => match expr.eval(&scope()) {
            Ok(value) => value,
            Err(e) => panic!("evaluating {src:?} failed: {e} (help: {:?})", e.help),
        },
        Err(e) => panic!(
            "parsing {src:?} failed: {e} at {:?} (help: {:?})",
            e.span, e.help
        ),
    }
}

#[track_caller]
pub fn eval_err(src: &str) -> EvalError {
    match Expr::parse(src) {
        Ok(expr) => match expr.eval(&scope()) {
            Ok(value) => panic!("evaluating {src:?} should fail but gave {value}"),
            Err(e) => e,
        },
        Err(e) => panic!("parsing {src:?} failed: {e} (help: {:?})", e.help),
    }
}

#[track_caller]
pub fn parse_err(src: &str) -> ParseError {
    match Expr::parse(src) {
        Ok(_) => panic!("parsing {src:?} should fail"),
        Err(e) => e,
    }
}

#[track_caller]
pub fn render(src: &str) -> Value {
    match Template::parse(src) {
        Ok(t) => match t.render(&scope()) {
            Ok(v) => v,
            Err(e) => panic!("rendering {src:?} failed: {e} (help: {:?})", e.help),
        },
        Err(e) => panic!("parsing template {src:?} failed: {e} at {:?}", e.span),
    }
}

/// The source text an error span points at.
pub fn spanned<'s>(src: &'s str, span: &std::ops::Range<usize>) -> &'s str {
    &src[span.clone()]
}
