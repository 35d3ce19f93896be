//! Conversion and type inspection functions.

use super::{Args, Call};
use crate::error::EvalError;
use crate::value::{to_text, type_name};
use serde_json::Value;

pub(crate) fn to_string(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let value = call.value(&args, 0)?;
    Ok(match value {
        Value::String(s) => Value::String(s.clone()),
        other => Value::String(to_text(other)),
    })
}

pub(crate) fn to_number(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    match call.value(&args, 0)? {
        Value::Number(n) => Ok(Value::Number(n.clone())),
        Value::Bool(b) => Ok(Value::from(i64::from(*b))),
        Value::String(s) => parse_number(s.trim()).ok_or_else(|| {
            call.invalid(
                0,
                format!(
                    "`to_number` cannot read {} as a number",
                    call.show(&Value::String(s.clone()))
                ),
            )
            .with_help("expected decimal digits like 42, -1.5 or 2e10")
        }),
        other => Err(call.wrong_type(0, "a string, number or boolean", other)),
    }
}

/// Parses decimal text into a JSON number; `None` for anything else (including
/// "inf"/"NaN", which Rust's float parser would otherwise accept).
pub(crate) fn parse_number(text: &str) -> Option<Value> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(Value::from(i));
    }
    let looks_numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !looks_numeric {
        return None;
    }
    text.parse::<f64>()
        .ok()
        .and_then(crate::value::number_from_f64)
}

pub(crate) fn to_json(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let value = call.value(&args, 0)?;
    let pretty = match call.optional(&args, 1) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(call.wrong_type(1, "a boolean", other)),
    };
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    // Serializing a `Value` cannot fail (keys are strings), but stay panic-free anyway.
    text.map(Value::String)
        .map_err(|e| call.invalid(0, format!("`to_json` failed: {e}")))
}

pub(crate) fn from_json(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    // serde_json refuses input nested deeper than 128 levels, which bounds every later
    // recursive walk over the result.
    serde_json::from_str(call.str(&args, 0)?)
        .map_err(|e| call.invalid(0, format!("`from_json` got invalid JSON: {e}")))
}

pub(crate) fn type_of(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    Ok(Value::String(type_name(call.value(&args, 0)?).to_string()))
}

pub(crate) fn is_null(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    Ok(Value::Bool(call.value(&args, 0)?.is_null()))
}
