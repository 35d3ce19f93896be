//! Array and object functions.

use super::{into_items, take_element, Args, Call};
use crate::error::EvalError;
use crate::value::{a_type, equal, order, resolve_index};
use serde_json::Value;
use std::borrow::Cow;
use std::ops::Range;

pub(crate) fn len(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let n = match call.value(&args, 0)? {
        Value::String(s) => s.chars().count(),
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        other => return Err(call.wrong_type(0, "a string, array or object", other)),
    };
    Ok(Value::from(n))
}

pub(crate) fn contains(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let needle = call.value(&args, 1)?;
    match call.value(&args, 0)? {
        Value::Array(items) => Ok(Value::Bool(items.iter().any(|item| equal(item, needle)))),
        Value::String(hay) => Ok(Value::Bool(hay.contains(call.str(&args, 1)?))),
        object @ Value::Object(_) => Err(call
            .wrong_type(0, "a string or an array", object)
            .with_help("to test whether an object has a field, use has(object, 'field')")),
        other => Err(call.wrong_type(0, "a string or an array", other)),
    }
}

pub(crate) fn keys(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let object = call.object(&args, 0)?;
    Ok(Value::Array(
        object.keys().map(|k| Value::String(k.clone())).collect(),
    ))
}

pub(crate) fn values(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let object = call.object(&args, 0)?;
    Ok(Value::Array(object.values().cloned().collect()))
}

pub(crate) fn has(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let present = match call.value(&args, 0)? {
        Value::Object(o) => o.contains_key(call.str(&args, 1)?),
        Value::Array(a) => resolve_index(call.integer(&args, 1)?, a.len()).is_some(),
        other => return Err(call.wrong_type(0, "an object or an array", other)),
    };
    Ok(Value::Bool(present))
}

fn element(call: &Call<'_>, mut args: Args<'_>, pick_last: bool) -> Result<Value, EvalError> {
    let len = call.array(&args, 0)?.len();
    if len == 0 {
        return Err(EvalError::undefined(
            format!("`{}` got an empty array", call.info.name),
            call.arg_spans
                .first()
                .map_or_else(|| call.span.clone(), |n| n.range()),
        )
        .with_help(format!(
            "use default({}(x), fallback) when the array may be empty",
            call.info.name
        )));
    }
    let index = if pick_last { len - 1 } else { 0 };
    Ok(take_element(args.swap_remove(0), index))
}

pub(crate) fn first(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    element(call, args, false)
}

pub(crate) fn last(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    element(call, args, true)
}

/// Python-style bounds: negative counts from the end, out of range is clamped.
fn bounds(call: &Call<'_>, args: &Args<'_>, len: usize) -> Result<(usize, usize), EvalError> {
    let clamp = |i: i64| -> usize {
        let len = i64::try_from(len).unwrap_or(i64::MAX);
        let i = if i < 0 {
            len.saturating_add(i).max(0)
        } else {
            i.min(len)
        };
        usize::try_from(i).unwrap_or(0)
    };
    let start = clamp(call.integer(args, 1)?);
    let end = match call.optional(args, 2) {
        None => len,
        Some(_) => clamp(call.integer(args, 2)?),
    };
    Ok((start, end.max(start)))
}

pub(crate) fn slice(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    match call.value(&args, 0)? {
        Value::Array(items) => {
            let (start, end) = bounds(call, &args, items.len())?;
            Ok(Value::Array(items[start..end].to_vec()))
        }
        Value::String(s) => {
            let (start, end) = bounds(call, &args, s.chars().count())?;
            Ok(Value::String(
                s.chars().skip(start).take(end - start).collect(),
            ))
        }
        other => Err(call.wrong_type(0, "an array or a string", other)),
    }
}

/// The largest list `range` builds: enough for any loop, small enough to never exhaust memory.
const MAX_RANGE: i64 = 1_000_000;

pub(crate) fn range(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    Ok(Value::Array(
        range_bounds(call, &args)?.map(Value::from).collect(),
    ))
}

/// The numbers `range` lists, as bounds (empty when `end` is not after `start`).
pub(crate) fn range_bounds(
    call: &Call<'_>,
    args: &[Cow<'_, Value>],
) -> Result<Range<i64>, EvalError> {
    let (start, end) = if args.len() == 2 {
        (call.integer(args, 0)?, call.integer(args, 1)?)
    } else {
        (0, call.integer(args, 0)?)
    };
    if end.saturating_sub(start) > MAX_RANGE {
        return Err(call.invalid(
            args.len() - 1,
            format!("`range` builds at most {MAX_RANGE} numbers"),
        ));
    }
    Ok(start..end)
}

pub(crate) fn reverse(call: &Call<'_>, mut args: Args<'_>) -> Result<Value, EvalError> {
    match call.value(&args, 0)? {
        Value::String(s) => Ok(Value::String(s.chars().rev().collect())),
        Value::Array(_) => {
            let mut items = into_items(args.swap_remove(0));
            items.reverse();
            Ok(Value::Array(items))
        }
        other => Err(call.wrong_type(0, "an array or a string", other)),
    }
}

pub(crate) fn sort(call: &Call<'_>, mut args: Args<'_>) -> Result<Value, EvalError> {
    let items = call.array(&args, 0)?;
    if let Some(first) = items.first() {
        if let Some((i, odd)) = items
            .iter()
            .enumerate()
            .find(|(_, v)| order(first, v).is_none())
        {
            return Err(call.invalid(
                0,
                format!(
                    "`sort` needs all numbers or all strings, but element 0 is {} and element {i} is {}",
                    a_type(first),
                    a_type(odd)
                ),
            ));
        }
    }
    let mut items = into_items(args.swap_remove(0));
    items.sort_by(|a, b| order(a, b).unwrap_or(std::cmp::Ordering::Equal));
    Ok(Value::Array(items))
}

/// Quadratic on purpose: deep equality has no cheap hash, and workflow arrays are small.
pub(crate) fn unique(call: &Call<'_>, mut args: Args<'_>) -> Result<Value, EvalError> {
    call.array(&args, 0)?;
    let mut kept: Vec<Value> = Vec::new();
    for item in into_items(args.swap_remove(0)) {
        if !kept.iter().any(|k| equal(k, &item)) {
            kept.push(item);
        }
    }
    Ok(Value::Array(kept))
}

pub(crate) fn flatten(call: &Call<'_>, mut args: Args<'_>) -> Result<Value, EvalError> {
    call.array(&args, 0)?;
    let mut out = Vec::new();
    for item in into_items(args.swap_remove(0)) {
        match item {
            Value::Array(inner) => out.extend(inner),
            other => out.push(other),
        }
    }
    Ok(Value::Array(out))
}

pub(crate) fn pluck(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let items = call.array(&args, 0)?;
    let field = call.str(&args, 1)?;
    let plucked = items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(o) => o.get(field).cloned().ok_or_else(|| {
                EvalError::undefined(
                    format!("`pluck`: element {i} has no field `{field}`"),
                    call.arg_spans
                        .first()
                        .map_or_else(|| call.span.clone(), |n| n.range()),
                )
            }),
            other => Err(call.invalid(
                0,
                format!("`pluck`: element {i} is {}, not an object", a_type(other)),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::Array(plucked))
}

pub(crate) fn merge(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    for i in 0..args.len() {
        call.object(&args, i)?;
    }
    let mut args = args.into_iter();
    let mut merged = match args.next() {
        Some(Cow::Owned(Value::Object(o))) => o,
        Some(Cow::Borrowed(Value::Object(o))) => o.clone(),
        _ => Default::default(),
    };
    for arg in args {
        if let Value::Object(o) = arg.into_owned() {
            merged.extend(o);
        }
    }
    Ok(Value::Object(merged))
}
