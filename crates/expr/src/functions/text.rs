//! String functions.

use super::{Args, Call};
use crate::error::EvalError;
use crate::limits;
use crate::value::push_text;
use base64::Engine as _;
use serde_json::Value;

pub(crate) fn starts_with(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    Ok(Value::Bool(
        call.str(&args, 0)?.starts_with(call.str(&args, 1)?),
    ))
}

pub(crate) fn ends_with(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    Ok(Value::Bool(
        call.str(&args, 0)?.ends_with(call.str(&args, 1)?),
    ))
}

pub(crate) fn lower(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    Ok(Value::String(call.str(&args, 0)?.to_lowercase()))
}

pub(crate) fn upper(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    Ok(Value::String(call.str(&args, 0)?.to_uppercase()))
}

pub(crate) fn trim(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    Ok(Value::String(call.str(&args, 0)?.trim().to_string()))
}

pub(crate) fn split(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let text = call.str(&args, 0)?;
    let separator = call.str(&args, 1)?;
    let count = if separator.is_empty() {
        text.chars().count()
    } else {
        text.matches(separator).count() + 1
    };
    limits::check_count(count, call.span)?;
    let parts: Vec<Value> = if separator.is_empty() {
        text.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        text.split(separator)
            .map(|p| Value::String(p.to_string()))
            .collect()
    };
    Ok(Value::Array(parts))
}

pub(crate) fn join(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let items = call.array(&args, 0)?;
    let separator = match call.optional(&args, 1) {
        None => ",",
        Some(_) => call.str(&args, 1)?,
    };
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        push_text(&mut out, item);
        limits::check_text(out.len(), call.span)?;
    }
    Ok(Value::String(out))
}

pub(crate) fn replace(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let text = call.str(&args, 0)?;
    let from = call.str(&args, 1)?;
    let to = call.str(&args, 2)?;
    if from.is_empty() {
        return Err(call.invalid(1, "`replace` cannot replace an empty string"));
    }
    let grows = to.len().saturating_sub(from.len());
    if grows > 0 {
        let added = text.matches(from).count().saturating_mul(grows);
        limits::check_text(text.len().saturating_add(added), call.span)?;
    }
    Ok(Value::String(text.replace(from, to)))
}

/// `format(template, values...)`: `{}` takes the next value, `{N}` value N (0-based),
/// `{name}` a field of the last value (which must be an object). Every value must be
/// used, so a forgotten placeholder is reported instead of silently dropped.
pub(crate) fn format(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let template = call.str(&args, 0)?;
    let values = args.get(1..).unwrap_or_default();
    let mut used = vec![false; values.len()];
    let mut next = 0;
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find(['{', '}']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err(call.invalid(
                0,
                "unmatched `}` in format template; write `}}` for a literal brace",
            ));
        }
        let close = tail.find('}').ok_or_else(|| {
            call.invalid(
                0,
                "unclosed `{` in format template; write `{{` for a literal brace",
            )
        })?;
        let name = tail[1..close].trim();
        let position = if name.is_empty() {
            next += 1;
            Some(next - 1)
        } else {
            name.parse::<usize>().ok()
        };
        let value = match position {
            Some(i) => {
                let value = values.get(i).ok_or_else(|| {
                    call.invalid(
                        0,
                        format!(
                            "format template needs value {} but only {} were given",
                            i + 1,
                            values.len()
                        ),
                    )
                })?;
                used[i] = true;
                &**value
            }
            None => {
                let last = values.len().checked_sub(1);
                let object = last.and_then(|i| values.get(i)).and_then(|v| v.as_object()).ok_or_else(|| {
                    call.invalid(0, format!("placeholder `{{{name}}}` needs an object as the last value of format"))
                })?;
                if let Some(i) = last {
                    used[i] = true;
                }
                object.get(name).ok_or_else(|| {
                    EvalError::undefined(
                        format!("format placeholder `{{{name}}}` has no matching field"),
                        call.arg_spans
                            .last()
                            .map_or_else(|| call.span.clone(), |n| n.range()),
                    )
                    .with_help(format!(
                        "available fields: {}",
                        crate::suggest::ranked_list(name, object.keys().map(String::as_str), 10)
                    ))
                })?
            }
        };
        push_text(&mut out, value);
        limits::check_text(out.len(), call.span)?;
        rest = &tail[close + 1..];
    }
    out.push_str(rest);
    if let Some(unused) = used.iter().position(|u| !u) {
        return Err(call.invalid(
            unused + 1,
            format!("value {} is not used by the format template", unused + 1),
        ));
    }
    Ok(Value::String(out))
}

pub(crate) fn url_encode(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let text = call.str(&args, 0)?;
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&std::format!("%{byte:02X}"));
        }
    }
    Ok(Value::String(out))
}

pub(crate) fn base64_encode(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(call.str(&args, 0)?),
    ))
}

pub(crate) fn base64_decode(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(call.str(&args, 0)?.trim())
        .map_err(|e| call.invalid(0, format!("`base64_decode` got invalid base64: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| call.invalid(0, "`base64_decode` result is binary data, not UTF-8 text"))?;
    Ok(Value::String(text))
}
