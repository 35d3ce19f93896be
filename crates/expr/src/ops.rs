//! Binary operators other than the short-circuiting `&&` / `||`.

use crate::ast::BinOp;
use crate::error::EvalError;
use crate::value::{a_type, equal, num_value, number_from_f64, order, Num};
use serde_json::Value;
use std::ops::Range;

/// Spans of the whole operation and of its two operands, for precise errors.
pub(crate) struct Spans<'n> {
    pub whole: &'n Range<usize>,
    pub left: &'n Range<usize>,
    pub right: &'n Range<usize>,
}

pub(crate) fn apply(op: BinOp, l: &Value, r: &Value, spans: Spans<'_>) -> Result<Value, EvalError> {
    match op {
        BinOp::Eq => equality(op, l, r, &spans).map(Value::Bool),
        BinOp::Ne => equality(op, l, r, &spans).map(|eq| Value::Bool(!eq)),
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let ordering = order(l, r).ok_or_else(|| mismatch(op, l, r, &spans, "compare"))?;
            Ok(Value::Bool(match op {
                BinOp::Lt => ordering.is_lt(),
                BinOp::Le => ordering.is_le(),
                BinOp::Gt => ordering.is_gt(),
                _ => ordering.is_ge(),
            }))
        }
        BinOp::In => membership(l, r, &spans).map(Value::Bool),
        BinOp::Add => match (l, r) {
            (Value::String(a), Value::String(b)) => Ok(Value::String(format!("{a}{b}"))),
            (Value::Array(a), Value::Array(b)) => {
                Ok(Value::Array(a.iter().chain(b).cloned().collect()))
            }
            _ => arithmetic(op, l, r, &spans),
        },
        BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => arithmetic(op, l, r, &spans),
        // Short-circuit operators are evaluated by the evaluator itself.
        BinOp::And | BinOp::Or => Ok(Value::Bool(false)),
    }
}

/// `==` is deep equality. Comparing two non-null values of different types is a type
/// error rather than a silent `false`: `inputs.count == "3"` is almost always a bug.
fn equality(op: BinOp, l: &Value, r: &Value, spans: &Spans<'_>) -> Result<bool, EvalError> {
    let same_type = std::mem::discriminant(l) == std::mem::discriminant(r);
    if same_type || l.is_null() || r.is_null() {
        Ok(equal(l, r))
    } else {
        Err(mismatch(op, l, r, spans, "compare"))
    }
}

fn membership(l: &Value, r: &Value, spans: &Spans<'_>) -> Result<bool, EvalError> {
    match (l, r) {
        (_, Value::Array(items)) => Ok(items.iter().any(|item| equal(l, item))),
        (Value::String(needle), Value::String(hay)) => Ok(hay.contains(needle.as_str())),
        (Value::String(key), Value::Object(map)) => Ok(map.contains_key(key)),
        (_, Value::String(_) | Value::Object(_)) => Err(EvalError::type_error(
            format!(
                "`in` with {} on the right needs a string on the left, got {}",
                a_type(r),
                a_type(l)
            ),
            spans.left.clone(),
        )
        .with_help("convert the left side with to_string(x)")),
        _ => Err(EvalError::type_error(
            format!(
                "`in` needs an array, a string or an object on the right, got {}",
                a_type(r)
            ),
            spans.right.clone(),
        )),
    }
}

fn arithmetic(op: BinOp, l: &Value, r: &Value, spans: &Spans<'_>) -> Result<Value, EvalError> {
    let (Value::Number(a), Value::Number(b)) = (l, r) else {
        return Err(mismatch(op, l, r, spans, "use"));
    };
    let (a, b) = (Num::of(a), Num::of(b));
    if matches!(op, BinOp::Div | BinOp::Rem) && b.as_f64() == 0.0 {
        return Err(EvalError::invalid(
            format!("division by zero in `{}`", op.symbol()),
            spans.right.clone(),
        )
        .with_help("check the divisor first, e.g. `b == 0 ? 0 : a / b`"));
    }
    let exact = match (a, b) {
        (Num::Int(x), Num::Int(y)) => match op {
            BinOp::Add => x.checked_add(y),
            BinOp::Sub => x.checked_sub(y),
            BinOp::Mul => x.checked_mul(y),
            // Whole division stays an integer; otherwise fall through to floats.
            BinOp::Div => x
                .checked_rem(y)
                .filter(|rem| *rem == 0)
                .and_then(|_| x.checked_div(y)),
            _ => x.checked_rem(y).or(Some(0)),
        },
        _ => None,
    };
    if let Some(int) = exact {
        return Ok(Value::from(int));
    }
    // Integer overflow and non-integral results are computed in floating point.
    let (x, y) = (a.as_f64(), b.as_f64());
    let result = match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div => x / y,
        _ => x % y,
    };
    number_from_f64(result).ok_or_else(|| {
        EvalError::invalid(
            format!("the result of `{}` is too large to represent", op.symbol()),
            spans.whole.clone(),
        )
    })
}

/// Unary minus.
pub(crate) fn negate(v: &Value, span: &Range<usize>) -> Result<Value, EvalError> {
    let Value::Number(n) = v else {
        return Err(EvalError::type_error(
            format!("`-` needs a number, got {}", a_type(v)),
            span.clone(),
        ));
    };
    let negated = match Num::of(n) {
        Num::Int(i) => i.checked_neg().map_or(Num::Float(-(i as f64)), Num::Int),
        Num::Float(f) => Num::Float(-f),
    };
    num_value(negated).ok_or_else(|| EvalError::invalid("number out of range", span.clone()))
}

fn mismatch(op: BinOp, l: &Value, r: &Value, spans: &Spans<'_>, verb: &str) -> EvalError {
    let symbol = op.symbol();
    let error = EvalError::type_error(
        format!(
            "cannot {verb} {} and {} with `{symbol}`",
            a_type(l),
            a_type(r)
        ),
        spans.whole.clone(),
    );
    let text_and_number = matches!(
        (l, r),
        (Value::String(_), Value::Number(_)) | (Value::Number(_), Value::String(_))
    );
    match op {
        BinOp::Add if text_and_number => error.with_help(
            "`+` on text needs two strings: convert with to_string(x), or build the text with format(\"{}{}\", a, b)",
        ),
        BinOp::Add => error.with_help("`+` adds two numbers, joins two strings or concatenates two arrays"),
        BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
            error.with_help(format!("`{symbol}` works on numbers only; convert text with to_number(x)"))
        }
        _ if text_and_number => error.with_help("convert one side first with to_number(x) or to_string(x)"),
        BinOp::Eq | BinOp::Ne => error.with_help("values of different types are never equal; convert one side first"),
        _ => error.with_help("only two numbers or two strings can be ordered"),
    }
}
