//! Constant folding for the validator: a subexpression made only of literals gives the same
//! result on every run, so its type or value error is known before running.

use crate::ast::{Base, Kind, Node, SegKey};
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

/// Adds to `out` the error of every innermost constant subexpression of `node` that fails
/// with a type or value error; returns whether `node` itself is a constant that evaluates.
pub(crate) fn constant_errors(node: &Node, out: &mut Vec<EvalError>) -> bool {
    let mut all = |nodes: &mut dyn Iterator<Item = &Node>| {
        // Every child is checked (no short-circuit), so each reports its own errors.
        nodes.fold(true, |constant, n| constant_errors(n, out) & constant)
    };
    let children_constant = match &node.kind {
        Kind::Literal(_) => return true,
        Kind::Array(items) | Kind::Call(_, items) => all(&mut items.iter()),
        Kind::Object(entries) => all(&mut entries.iter().map(|(_, n)| n)),
        Kind::Not(n) | Kind::Negate(n) => all(&mut std::iter::once(&**n)),
        Kind::Binary(_, a, b) => all(&mut [&**a, &**b].into_iter()),
        Kind::Chain(first, rest) => {
            all(&mut std::iter::once(&**first).chain(rest.iter().map(|(_, n)| n)))
        }
        Kind::Conditional(parts) => all(&mut parts.iter()),
        Kind::Path(path) => {
            let base = match &path.base {
                Base::Root(..) => None,
                Base::Value(n) => Some(&**n),
            };
            let indexes = path.segments.iter().filter_map(|s| match &s.key {
                SegKey::Dynamic(n) => Some(&**n),
                _ => None,
            });
            all(&mut base.into_iter().chain(indexes)) && base.is_some()
        }
    };
    if !children_constant {
        return false;
    }
    let cx = Ctx {
        scope: &NoVariables,
        redact: false,
    };
    // `range(0, 1000000)` is checked by its bounds: listing it would hold every number.
    let checked = match range_bounds(node, &cx) {
        Some(bounds) => bounds.map(drop),
        None => eval(node, &cx).map(drop),
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
