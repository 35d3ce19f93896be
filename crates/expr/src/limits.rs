//! Size limits on the values an expression builds, so that a workflow cannot make the
//! process exhaust its memory (`vars.prev + vars.prev` ten times over, `join` of a huge
//! separator...). Every value an expression *builds* is checked where it is built; values
//! read from the scope (step outputs, inputs) are borrowed and bounded elsewhere.

use crate::error::EvalError;
use serde_json::Value;
use std::ops::Range;

/// The most text (in UTF-8 bytes, keys included) one built value may hold.
pub const MAX_RESULT_TEXT: usize = 16 * 1024 * 1024;

/// The most values (elements and fields, counted at every depth) one built value may hold;
/// the same bound as `range`.
pub const MAX_RESULT_VALUES: usize = 1_000_000;

/// The error for a result over a limit: what, the limit, what to do.
pub(crate) fn too_large(what: &str, span: &Range<usize>) -> EvalError {
    EvalError::invalid(format!("the result is too large: {what}"), span.clone()).with_help(format!(
        "an expression may build at most {} MiB of text and {MAX_RESULT_VALUES} values; \
         work on a smaller part of the data (slice, pluck, a loop over pages)",
        MAX_RESULT_TEXT / (1024 * 1024)
    ))
}

/// Text under construction is over the limit.
pub(crate) fn check_text(len: usize, span: &Range<usize>) -> Result<(), EvalError> {
    if len > MAX_RESULT_TEXT {
        return Err(too_large(
            &format!(
                "text of more than {} MiB (the limit of an expression's result)",
                MAX_RESULT_TEXT / (1024 * 1024)
            ),
            span,
        ));
    }
    Ok(())
}

/// A list under construction is over the limit.
pub(crate) fn check_count(count: usize, span: &Range<usize>) -> Result<(), EvalError> {
    if count > MAX_RESULT_VALUES {
        return Err(too_large(
            &format!("more than {MAX_RESULT_VALUES} values (the limit of an expression's result)"),
            span,
        ));
    }
    Ok(())
}

/// Checks a built value; stops walking as soon as a limit is passed.
pub(crate) fn check(value: &Value, span: &Range<usize>) -> Result<(), EvalError> {
    match value {
        Value::String(s) => check_text(s.len(), span),
        Value::Array(_) | Value::Object(_) => {
            let mut tally = Tally::default();
            if tally.walk(value) {
                Ok(())
            } else if tally.values > MAX_RESULT_VALUES {
                check_count(tally.values, span)
            } else {
                check_text(tally.text, span)
            }
        }
        _ => Ok(()),
    }
}

#[derive(Default)]
struct Tally {
    values: usize,
    text: usize,
}

impl Tally {
    /// Counts the children of `value`; false once a limit is passed.
    fn walk(&mut self, value: &Value) -> bool {
        match value {
            Value::Array(items) => {
                self.values += items.len();
                if self.values > MAX_RESULT_VALUES {
                    return false;
                }
                items.iter().all(|item| self.walk(item))
            }
            Value::Object(map) => {
                self.values += map.len();
                if self.values > MAX_RESULT_VALUES {
                    return false;
                }
                map.iter().all(|(key, item)| {
                    self.text += key.len();
                    self.text <= MAX_RESULT_TEXT && self.walk(item)
                })
            }
            Value::String(s) => {
                self.text += s.len();
                self.text <= MAX_RESULT_TEXT
            }
            _ => true,
        }
    }
}
