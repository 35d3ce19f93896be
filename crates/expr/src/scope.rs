//! What an expression can see: root variables, step records and a clock.

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

/// Root names weft knows about. Used for "did you mean" and to tell "exists but not
/// available here" apart from "unknown".
pub const KNOWN_ROOTS: &[&str] = &[
    "inputs",
    "vars",
    "steps",
    "trigger",
    "item",
    "index",
    "loop",
    "env",
    "secrets",
    "connection",
];

/// The variables an expression is evaluated against.
pub trait Scope {
    /// Root variables: "inputs", "vars", "trigger", "item", "index", "env", "secrets", "loop", ...
    /// Return None if unknown/not available here.
    fn root(&self, name: &str) -> Option<&Value>;
    /// `steps.<id>`: the step's record, e.g. `{"output": ..., "status": "succeeded"}`;
    /// None if that step has not run/does not exist.
    fn step(&self, id: &str) -> Option<StepView<'_>>;
    /// Clock for `now()` (so dry runs and tests are deterministic).
    fn now(&self) -> DateTime<Utc>;

    /// Root names available here, for error messages. The default checks [`KNOWN_ROOTS`].
    fn root_names(&self) -> Vec<String> {
        KNOWN_ROOTS
            .iter()
            .filter(|name| **name == "steps" || self.root(name).is_some())
            .map(|name| name.to_string())
            .collect()
    }

    /// Ids of the steps whose records are available, for "did you mean" in error messages.
    fn step_ids(&self) -> Vec<String> {
        Vec::new()
    }

    /// Whether the value an expression reads at `root` then `path` (`vars.token`, `env.T`,
    /// `inputs.x`, `steps.s.output.header`) holds a value computed from a secret: then the
    /// expression is tainted like one that reads `secrets`. A path that stops early or at a
    /// computed name (`vars`, `vars[x]`) reads whatever is under it. Only asked when
    /// [`Scope::has_taint_sources`] is true.
    fn is_taint_source(&self, _root: &str, _path: &[crate::Segment]) -> bool {
        false
    }

    /// Whether any variable here is a taint source (see [`Scope::is_taint_source`]).
    fn has_taint_sources(&self) -> bool {
        false
    }
}

/// A step's record as a [`Scope`] holds it.
#[derive(Debug, Clone, Copy)]
pub enum StepView<'a> {
    /// The record object itself.
    Value(&'a Value),
    /// The four fields of a record, kept apart: `steps.<id>.output...` reads the output in
    /// place, and the object `{status, output, error, attempts}` is built only when an
    /// expression reads the record whole (what building it for every step cost was a fifth of
    /// a step's time).
    Fields {
        status: &'a str,
        output: &'a Value,
        error: Option<&'a str>,
        attempts: u32,
    },
}

impl<'a> StepView<'a> {
    /// The record as one object, in the order `status`, `output`, `error`, `attempts`.
    pub fn to_value(&self) -> Value {
        match *self {
            StepView::Value(value) => value.clone(),
            StepView::Fields {
                status,
                output,
                error,
                attempts,
            } => serde_json::json!({
                "status": status,
                "output": output,
                "error": error,
                "attempts": attempts,
            }),
        }
    }

    /// Field `name` of the record without building the record: the output borrowed, the
    /// other fields made. `None` when the record has no such field or is an object as is
    /// (read it through [`StepView::to_value`] or the `Value` itself).
    pub(crate) fn field(self, name: &str) -> Option<Cow<'a, Value>> {
        let StepView::Fields {
            status,
            output,
            error,
            attempts,
        } = self
        else {
            return None;
        };
        Some(match name {
            "output" => Cow::Borrowed(output),
            "status" => Cow::Owned(Value::from(status)),
            "error" => Cow::Owned(error.map_or(Value::Null, Value::from)),
            "attempts" => Cow::Owned(Value::from(attempts)),
            _ => return None,
        })
    }
}

/// A [`Scope`] backed by plain maps and a fixed clock: handy for tests, dry runs and
/// evaluating expressions outside a run.
#[derive(Debug, Clone)]
pub struct MapScope {
    pub roots: HashMap<String, Value>,
    pub steps: HashMap<String, Value>,
    pub now: DateTime<Utc>,
}

impl MapScope {
    pub fn new(now: DateTime<Utc>) -> Self {
        MapScope {
            roots: HashMap::new(),
            steps: HashMap::new(),
            now,
        }
    }

    pub fn with_root(mut self, name: impl Into<String>, value: Value) -> Self {
        self.roots.insert(name.into(), value);
        self
    }

    pub fn with_step(mut self, id: impl Into<String>, record: Value) -> Self {
        self.steps.insert(id.into(), record);
        self
    }
}

impl Scope for MapScope {
    fn root(&self, name: &str) -> Option<&Value> {
        self.roots.get(name)
    }

    fn step(&self, id: &str) -> Option<StepView<'_>> {
        self.steps.get(id).map(StepView::Value)
    }

    fn now(&self) -> DateTime<Utc> {
        self.now
    }

    fn root_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.roots.keys().cloned().collect();
        names.push("steps".to_string());
        names.sort();
        names
    }

    fn step_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.steps.keys().cloned().collect();
        ids.sort();
        ids
    }
}
