//! Where step records live during a run, and the expression scope built from them.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::Value;

use crate::workflow::StepRefs;

/// Values fixed for the whole run.
pub(crate) struct Globals {
    pub inputs: Value,
    pub vars: Value,
    pub env: Value,
    pub secrets: Value,
    pub trigger: Value,
    /// The workflow's connection: `{name, config}` (`null` without one).
    pub connection: Value,
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    /// `(root, name)` of the inputs, env entries and vars whose value was computed from a
    /// secret: an expression reading one is tainted like one reading `secrets`.
    pub taint_sources: std::collections::HashSet<(String, String)>,
}

/// The records of one block's steps. A loop item or a branch gets a child frame, so its steps
/// see the enclosing steps without seeing other items'.
pub(crate) struct Frame {
    pub parent: Option<Arc<Frame>>,
    pub steps: Mutex<HashMap<Arc<str>, Arc<Value>>>,
    pub item: Option<Value>,
    pub index: Option<Value>,
    pub error: Option<Value>,
    /// Loop positions from the outermost loop in.
    pub iteration: Vec<usize>,
}

impl Frame {
    pub fn root() -> Arc<Frame> {
        Arc::new(Frame {
            parent: None,
            steps: Mutex::new(HashMap::new()),
            item: None,
            index: None,
            error: None,
            iteration: Vec::new(),
        })
    }

    pub fn child(
        self: &Arc<Self>,
        item: Option<(Value, usize)>,
        error: Option<Value>,
    ) -> Arc<Frame> {
        let mut iteration = self.iteration.clone();
        let (item, index) = match item {
            Some((value, i)) => {
                iteration.push(i);
                (Some(value), Some(Value::from(i)))
            }
            None => (None, None),
        };
        Arc::new(Frame {
            parent: Some(self.clone()),
            steps: Mutex::new(HashMap::new()),
            item,
            index,
            error,
            iteration,
        })
    }

    pub fn record(&self, id: &Arc<str>, record: Value) {
        self.steps.lock().insert(id.clone(), Arc::new(record));
    }

    pub fn lookup(&self, id: &str) -> Option<Arc<Value>> {
        if let Some(found) = self.steps.lock().get(id) {
            return Some(found.clone());
        }
        self.parent.as_ref().and_then(|p| p.lookup(id))
    }

    fn find<'a>(&'a self, pick: impl Fn(&'a Frame) -> Option<&'a Value>) -> Option<&'a Value> {
        let mut frame = Some(self);
        while let Some(f) = frame {
            if let Some(v) = pick(f) {
                return Some(v);
            }
            frame = f.parent.as_deref();
        }
        None
    }

    fn collect_all(&self, into: &mut Vec<(Arc<str>, Arc<Value>)>) {
        for (k, v) in self.steps.lock().iter() {
            if !into.iter().any(|(id, _)| id == k) {
                into.push((k.clone(), v.clone()));
            }
        }
        if let Some(parent) = &self.parent {
            parent.collect_all(into);
        }
    }
}

fn not_run() -> Arc<Value> {
    static NOT_RUN: std::sync::LazyLock<Arc<Value>> = std::sync::LazyLock::new(|| {
        Arc::new(
            serde_json::json!({ "status": "not_run", "output": null, "error": null, "attempts": 0 }),
        )
    });
    NOT_RUN.clone()
}

/// The scope a step's expressions are evaluated in: a snapshot of the records they read.
pub(crate) struct StepScope<'a> {
    pub globals: &'a Globals,
    pub frame: &'a Frame,
    pub steps: Vec<(Arc<str>, Arc<Value>)>,
    /// The action's result, inside a step's `outputs`.
    pub output: Option<&'a Value>,
}

impl<'a> StepScope<'a> {
    pub fn new(globals: &'a Globals, frame: &'a Frame, refs: &StepRefs) -> Self {
        let mut steps = Vec::new();
        match refs {
            StepRefs::Listed(ids) => {
                // Validation proved each id names a step this one may read; one that has not
                // run (a failure stopped the steps before it) reads as `not_run`.
                for id in ids {
                    let record = frame.lookup(id).unwrap_or_else(not_run);
                    steps.push((id.clone(), record));
                }
            }
            StepRefs::All => frame.collect_all(&mut steps),
        }
        StepScope {
            globals,
            frame,
            steps,
            output: None,
        }
    }
}

impl weft_expr::Scope for StepScope<'_> {
    fn root(&self, name: &str) -> Option<&Value> {
        match name {
            "inputs" => Some(&self.globals.inputs),
            "vars" => Some(&self.globals.vars),
            "env" => Some(&self.globals.env),
            "secrets" => Some(&self.globals.secrets),
            "trigger" => Some(&self.globals.trigger),
            "connection" => Some(&self.globals.connection),
            "item" => self.frame.find(|f| f.item.as_ref()),
            "index" => self.frame.find(|f| f.index.as_ref()),
            "error" => self.frame.find(|f| f.error.as_ref()),
            "output" => self.output,
            _ => None,
        }
    }

    fn step(&self, id: &str) -> Option<&Value> {
        self.steps
            .iter()
            .find(|(k, _)| &**k == id)
            .map(|(_, v)| &**v)
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.globals.now.unwrap_or_else(chrono::Utc::now)
    }

    fn is_taint_source(&self, root: &str, name: &str) -> bool {
        self.globals
            .taint_sources
            .contains(&(root.to_string(), name.to_string()))
    }

    fn has_taint_sources(&self) -> bool {
        !self.globals.taint_sources.is_empty()
    }
}
