//! Value helpers shared by operators and functions: type names, numbers, equality,
//! ordering, truthiness and the text form used when rendering templates.

use serde_json::{Number, Value};
use std::cmp::Ordering;

/// Largest magnitude at which every integer is exactly representable as f64 (2^53).
const EXACT_F64_INT: f64 = 9_007_199_254_740_992.0;

/// Depth at which deep equality gives up (values from JSON are limited to 128 anyway).
const MAX_COMPARE_DEPTH: usize = 256;

/// The name of a value's type as shown to authors (and returned by `type_of`).
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `type_name` with an article, for messages ("got an array").
pub fn a_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `null`, `false`, `0`, `""`, `[]` and `{}` are false; everything else is true.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A number as arithmetic sees it: exact integer when it fits in i64, float otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub(crate) fn of(n: &Number) -> Num {
        match n.as_i64() {
            Some(i) => Num::Int(i),
            None => Num::Float(n.as_f64().unwrap_or(f64::NAN)),
        }
    }

    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    pub(crate) fn cmp(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }
}

/// `Some(i)` when `f` is a whole number that f64 represents exactly as an integer.
pub(crate) fn exact_int(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && f.abs() <= EXACT_F64_INT).then_some(f as i64)
}

/// Turns an arithmetic result into a JSON number: whole numbers become integers so that
/// `10 / 2` renders as `5`; NaN and infinities are refused (`None`).
pub(crate) fn number_from_f64(f: f64) -> Option<Value> {
    if !f.is_finite() {
        return None;
    }
    Some(match exact_int(f) {
        Some(i) => Value::from(i),
        None => Value::Number(Number::from_f64(f)?),
    })
}

pub(crate) fn num_value(n: Num) -> Option<Value> {
    match n {
        Num::Int(i) => Some(Value::from(i)),
        Num::Float(f) => number_from_f64(f),
    }
}

/// Position of `index` in a sequence of `len` items; negative indexes count from the end.
pub(crate) fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let resolved = if index < 0 {
        len.checked_add(index)?
    } else {
        index
    };
    (0..len).contains(&resolved).then_some(resolved as usize)
}

/// Deep equality where numbers compare by value (`1 == 1.0`).
pub(crate) fn equal(a: &Value, b: &Value) -> bool {
    equal_at(a, b, 0)
}

fn equal_at(a: &Value, b: &Value, depth: usize) -> bool {
    if depth > MAX_COMPARE_DEPTH {
        return false;
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => Num::of(x).cmp(Num::of(y)) == Some(Ordering::Equal),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal_at(p, q, depth + 1))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, p)| y.get(k).is_some_and(|q| equal_at(p, q, depth + 1)))
        }
        _ => a == b,
    }
}

/// Ordering for `<`, `sort`, `min`, `max`: numbers with numbers, strings with strings
/// (by Unicode code point). `None` for any other pair.
pub(crate) fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => Num::of(x).cmp(Num::of(y)),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Appends the text form of a value: strings as-is, everything else as compact JSON,
/// with whole floats written as integers.
pub(crate) fn push_text(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Number(n) => push_number(out, n),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Array(_) | Value::Object(_) => out.push_str(&compact_json(v)),
    }
}

pub(crate) fn to_text(v: &Value) -> String {
    let mut out = String::new();
    push_text(&mut out, v);
    out
}

fn push_number(out: &mut String, n: &Number) {
    use std::fmt::Write;
    // Writing into a String cannot fail.
    let _ = match Num::of(n) {
        Num::Float(f) if exact_int(f).is_some() => write!(out, "{}", f as i64),
        _ => write!(out, "{n}"),
    };
}

pub(crate) fn compact_json(v: &Value) -> String {
    // Serializing a `Value` cannot fail: its keys are always strings.
    serde_json::to_string(v).unwrap_or_default()
}

/// A short, single-line rendering of a value for error messages.
pub(crate) fn preview(v: &Value) -> String {
    const MAX: usize = 60;
    let text = match v {
        Value::String(_) => compact_json(v),
        _ => to_text(v),
    };
    weft_text::shorten(&text, MAX).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truthiness_of_every_type() {
        for falsy in [
            json!(null),
            json!(false),
            json!(0),
            json!(0.0),
            json!(""),
            json!([]),
            json!({}),
        ] {
            assert!(!truthy(&falsy), "{falsy} should be falsy");
        }
        for truthy_value in [
            json!(true),
            json!(1),
            json!(-0.5),
            json!("0"),
            json!([0]),
            json!({"a": null}),
        ] {
            assert!(truthy(&truthy_value), "{truthy_value} should be truthy");
        }
    }

    #[test]
    fn equality_is_deep_and_numeric() {
        assert!(equal(&json!(1), &json!(1.0)));
        assert!(equal(
            &json!({"a": [1, {"b": 2.0}]}),
            &json!({"a": [1.0, {"b": 2}]})
        ));
        assert!(!equal(&json!([1, 2]), &json!([2, 1])));
        assert!(!equal(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!equal(&json!("1"), &json!(1)));
    }

    #[test]
    fn whole_floats_render_as_integers() {
        assert_eq!(to_text(&json!(3.0)), "3");
        assert_eq!(to_text(&json!(2.5)), "2.5");
        assert_eq!(to_text(&json!(1e300)), "1e+300");
        assert_eq!(number_from_f64(f64::NAN), None);
        assert_eq!(number_from_f64(4.0), Some(json!(4)));
    }

    #[test]
    fn preview_is_truncated() {
        let long = Value::String("x".repeat(200));
        assert!(preview(&long).chars().count() <= 61);
        assert_eq!(preview(&json!("hi")), "\"hi\"");
    }
}
