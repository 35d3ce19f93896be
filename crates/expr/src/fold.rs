//! Constant folding for the validator: a subexpression made only of literals gives the same
//! result on every run, so its type or value error is known before running.

use crate::ast::{Code, Kind, Located};
use crate::error::{EvalError, EvalErrorKind};
use crate::eval::{eval, range_bounds, Ctx};
use crate::scope::{Scope, StepView};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Reads nothing: a constant subexpression never looks at a variable.
struct NoVariables;

impl Scope for NoVariables {
    fn root(&self, _: &str) -> Option<&Value> {
        None
    }
    fn step(&self, _: &str) -> Option<StepView<'_>> {
        None
    }
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Adds to `out` the error of every innermost constant subexpression of node `i` that fails
/// with a type or value error; returns whether the node itself is a constant that evaluates.
/// `spans` locate the errors.
pub(crate) fn constant_errors(
    code: &Code,
    spans: Located<'_>,
    i: u32,
    out: &mut Vec<EvalError>,
) -> bool {
    let mut all = |nodes: &mut dyn Iterator<Item = u32>| {
        // Every child is checked (no short-circuit), so each reports its own errors.
        nodes.fold(true, |constant, n| {
            constant_errors(code, spans, n, out) & constant
        })
    };
    let children_constant = match code.node(i).kind {
        Kind::Literal(_) => return true,
        Kind::Array(_) | Kind::Object(_) | Kind::Chain(_) | Kind::Call { .. } => {
            all(&mut code.linked(i))
        }
        Kind::Not(n) | Kind::Negate(n) => all(&mut std::iter::once(n)),
        Kind::Binary(_, left) | Kind::Pair(_, left) => all(&mut [left, i - 1].into_iter()),
        Kind::Conditional(cond) => {
            let (then, otherwise) = code.branches(i);
            all(&mut [cond, then, otherwise].into_iter())
        }
        Kind::Path { segments } => {
            let (base, segments) = code.path(i, segments);
            let base = match code.node(base).kind {
                Kind::Root(_) => None,
                _ => Some(base),
            };
            let indexes = segments.iter().filter_map(|s| match s.kind {
                Kind::Dynamic(n) => Some(n),
                _ => None,
            });
            all(&mut base.into_iter().chain(indexes)) && base.is_some()
        }
        // Parts of other nodes, checked with them.
        Kind::Root(_)
        | Kind::Field(_)
        | Kind::Key(_)
        | Kind::Index(_)
        | Kind::LongIndex(_)
        | Kind::Dynamic(_)
        | Kind::Link(..)
        | Kind::Text(_)
        | Kind::Part(_) => return false,
    };
    if !children_constant {
        return false;
    }
    let cx = Ctx {
        code,
        spans,
        scope: &NoVariables,
        redact: false,
        on_value: None,
    };
    // `range(0, 1000000)` is checked by its bounds: listing it would hold every number.
    let checked = match range_bounds(i, &cx) {
        Some(bounds) => bounds.map(drop),
        None => eval(i, &cx).map(drop),
    };
    match checked {
        Ok(()) => true,
        // A missing element may be tolerated by `default(...)`; only sure failures count.
        Err(e) if e.kind == EvalErrorKind::Undefined => false,
        Err(e) => {
            out.push(e);
            false
        }
    }
}
