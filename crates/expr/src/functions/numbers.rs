//! Numeric functions.

use super::{Args, Call};
use crate::error::EvalError;
use crate::value::{a_type, num_value, order, Num};
use serde_json::Value;
use std::cmp::Ordering;

pub(crate) fn abs(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let n = match call.number(&args, 0)? {
        Num::Int(i) => i
            .checked_abs()
            .map_or(Num::Float((i as f64).abs()), Num::Int),
        Num::Float(f) => Num::Float(f.abs()),
    };
    num_value(n).ok_or_else(|| call.invalid(0, "number out of range"))
}

pub(crate) fn floor(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    whole(call, args, f64::floor)
}

pub(crate) fn ceil(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    whole(call, args, f64::ceil)
}

fn whole(call: &Call<'_>, args: Args<'_>, f: fn(f64) -> f64) -> Result<Value, EvalError> {
    match call.number(&args, 0)? {
        Num::Int(i) => Ok(Value::from(i)),
        Num::Float(x) => call.float_result(f(x)),
    }
}

/// Rounds half away from zero on the number *as written* (its shortest decimal form),
/// so `round(2.345, 2)` is 2.35 even though the binary value is slightly below 2.345.
pub(crate) fn round(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let digits = match call.optional(&args, 1) {
        None => 0,
        Some(_) => call.integer(&args, 1)?,
    };
    let digits = usize::try_from(digits)
        .ok()
        .filter(|d| *d <= 15)
        .ok_or_else(|| call.invalid(1, "`round` takes 0 to 15 digits"))?;
    match call.number(&args, 0)? {
        Num::Int(i) => Ok(Value::from(i)),
        Num::Float(x) => call.float_result(round_decimal(x, digits)),
    }
}

fn round_decimal(x: f64, digits: usize) -> f64 {
    // Rust's `Display` for f64 is the shortest round-tripping decimal, without exponent.
    let text = format!("{}", x.abs());
    let (int_part, frac_part) = text.split_once('.').unwrap_or((&text, ""));
    if frac_part.len() <= digits {
        return x;
    }
    let mut kept: Vec<u8> = int_part
        .bytes()
        .chain(frac_part.bytes().take(digits))
        .collect();
    if frac_part.as_bytes()[digits] >= b'5' {
        // Add one unit in the last kept place, carrying to the left.
        let mut i = kept.len();
        loop {
            if i == 0 {
                kept.insert(0, b'1');
                break;
            }
            i -= 1;
            if kept[i] == b'9' {
                kept[i] = b'0';
            } else {
                kept[i] += 1;
                break;
            }
        }
    }
    let split = kept.len() - digits;
    let rounded = format!(
        "{}.{}",
        String::from_utf8_lossy(&kept[..split]),
        String::from_utf8_lossy(&kept[split..])
    );
    rounded.parse::<f64>().map_or(x, |r| r.copysign(x))
}

pub(crate) fn sum(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let items = call.array(&args, 0)?;
    let mut total = Num::Int(0);
    for (i, item) in items.iter().enumerate() {
        let Value::Number(n) = item else {
            return Err(call.invalid(
                0,
                format!("`sum` needs numbers, but element {i} is {}", a_type(item)),
            ));
        };
        total = match (total, Num::of(n)) {
            (Num::Int(a), Num::Int(b)) => a
                .checked_add(b)
                .map_or(Num::Float(a as f64 + b as f64), Num::Int),
            (a, b) => Num::Float(a.as_f64() + b.as_f64()),
        };
    }
    match total {
        Num::Int(i) => Ok(Value::from(i)),
        Num::Float(f) => call.float_result(f),
    }
}

pub(crate) fn min(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    extreme(call, args, Ordering::Less)
}

pub(crate) fn max(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    extreme(call, args, Ordering::Greater)
}

/// `min`/`max` over the arguments, or over the elements of a single array argument.
fn extreme(call: &Call<'_>, args: Args<'_>, wanted: Ordering) -> Result<Value, EvalError> {
    let candidates: Vec<&Value> = match args.as_slice() {
        [single] => match &**single {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        },
        many => many.iter().map(|v| &**v).collect(),
    };
    let Some((&first, rest)) = candidates.split_first() else {
        return Err(EvalError::undefined(
            format!("`{}` got an empty array", call.info.name),
            call.span.clone(),
        )
        .with_help(format!(
            "use default({}(x), fallback) when the array may be empty",
            call.info.name
        )));
    };
    let mut best = first;
    for candidate in rest {
        match order(candidate, best) {
            Some(o) if o == wanted => best = candidate,
            Some(_) => {}
            None => {
                return Err(call.invalid(
                    0,
                    format!(
                        "`{}` needs all numbers or all strings, got {} and {}",
                        call.info.name,
                        a_type(best),
                        a_type(candidate)
                    ),
                ))
            }
        }
    }
    if !matches!(best, Value::Number(_) | Value::String(_)) {
        return Err(call.wrong_type(0, "numbers or strings", best));
    }
    Ok(best.clone())
}

#[cfg(test)]
mod tests {
    use super::round_decimal;

    #[test]
    fn decimal_rounding_uses_the_written_digits() {
        assert_eq!(round_decimal(2.345, 2), 2.35);
        assert_eq!(round_decimal(1.005, 2), 1.01);
        assert_eq!(round_decimal(-2.5, 0), -3.0);
        assert_eq!(round_decimal(9.995, 2), 10.0);
        assert_eq!(round_decimal(0.125, 5), 0.125);
        assert_eq!(round_decimal(0.4, 0), 0.0);
    }
}
