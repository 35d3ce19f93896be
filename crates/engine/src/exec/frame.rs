//! Where step records live during a run, and the expression scope built from them.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::Value;
use weft_expr::{Segment, StepView};

use super::item_outputs::ItemOutputs;
use crate::workflow::{StepIds, StepRefs, ValueTemplate};

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
    /// Steps whose output holds a value computed from a secret, found as each finishes.
    pub tainted_steps: TaintedSteps,
}

/// The steps whose output holds a secret or a value computed from one (an echo of its input,
/// a short piece of a secret): an expression reading it is tainted like one reading `secrets`.
/// By step id, for every item of a loop at once.
#[derive(Default)]
pub(crate) struct TaintedSteps {
    /// Whether `steps` holds any: read before every rendering, so it is read without the lock.
    any: AtomicBool,
    steps: Mutex<HashMap<Arc<str>, OutputTaint>>,
}

/// Which part of a step's output holds a value computed from a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OutputTaint {
    Whole,
    /// These fields of an object: reading another one is not tainted (a `core.set` that
    /// computes one value from a secret leaves its other values readable).
    Fields(HashSet<String>),
}

impl OutputTaint {
    fn merge(&mut self, other: OutputTaint) {
        match (&mut *self, other) {
            (OutputTaint::Fields(mine), OutputTaint::Fields(more)) => mine.extend(more),
            _ => *self = OutputTaint::Whole,
        }
    }
}

impl TaintedSteps {
    pub fn insert(&self, id: &Arc<str>, taint: OutputTaint) {
        let mut steps = self.steps.lock();
        match steps.get_mut(id) {
            Some(known) => known.merge(taint),
            None => {
                steps.insert(id.clone(), taint);
            }
        }
        self.any.store(true, Ordering::Release);
    }

    pub fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// Whether `steps` then `path` reads a value computed from a secret.
    pub fn reads(&self, path: &[Segment]) -> bool {
        if !self.any() {
            return false;
        }
        let (Some(Segment::Field(id)), rest) = (path.first(), path.get(1..).unwrap_or_default())
        else {
            return true; // `steps[x]`: any step
        };
        let steps = self.steps.lock();
        let Some(taint) = steps.get(id.as_str()) else {
            return false;
        };
        match (taint, rest) {
            // What the engine records about the step, not what it computed.
            (_, [Segment::Field(field), ..]) if matches!(field.as_str(), "status" | "attempts") => {
                false
            }
            (OutputTaint::Fields(fields), [Segment::Field(output), Segment::Field(field), ..])
                if output == "output" =>
            {
                fields.contains(field)
            }
            _ => true,
        }
    }
}

/// What a step produced: a value, or a loop's item outputs (see [`ItemOutputs`]).
pub(crate) enum Output {
    Value(Value),
    Items(Arc<ItemOutputs>),
}

/// A step's record: the four fields `steps.<id>` reads, kept apart so that reading
/// `steps.<id>.output` builds nothing (see [`weft_expr::StepView`]).
pub(crate) struct Record {
    status: &'static str,
    output: Value,
    error: Option<Box<str>>,
    attempts: u32,
}

impl Record {
    fn view(&self) -> StepView<'_> {
        StepView::Fields {
            status: self.status,
            output: &self.output,
            error: self.error.as_deref(),
            attempts: self.attempts,
        }
    }
}

/// What `steps.<id>` holds for one step: its record, or for a loop whose outputs were set
/// aside, what builds that record when an expression reads it.
#[derive(Clone)]
pub(crate) enum StepRecord {
    Ready(Arc<Record>),
    Loop(Arc<ItemOutputs>),
}

impl StepRecord {
    pub fn new(status: &'static str, output: Output, error: Option<&str>, attempts: u32) -> Self {
        match output {
            Output::Value(output) => StepRecord::Ready(Arc::new(Record {
                status,
                output,
                error: error.map(Box::from),
                attempts,
            })),
            Output::Items(items) => StepRecord::Loop(items),
        }
    }

    /// The record as expressions read it.
    pub fn read(&self) -> Result<ReadRecord, String> {
        match self {
            StepRecord::Ready(record) => Ok(ReadRecord::Fields(record.clone())),
            StepRecord::Loop(items) => items.record().map(ReadRecord::Built),
        }
    }
}

/// A step record held for a scope: its fields, or a loop's record built as one object.
pub(crate) enum ReadRecord {
    Fields(Arc<Record>),
    Built(Arc<Value>),
}

impl ReadRecord {
    fn view(&self) -> StepView<'_> {
        match self {
            ReadRecord::Fields(record) => record.view(),
            ReadRecord::Built(record) => StepView::Value(record),
        }
    }
}

/// Step ids to records. Ids come from the workflow's author, not from a run's data, so a fast
/// hash serves (std's SipHash was a tenth of recording and reading a step's record).
type Records = HashMap<Arc<str>, StepRecord, foldhash::fast::RandomState>;

/// The records of one block's steps. A loop item or a branch gets a child frame, so its steps
/// see the enclosing steps without seeing other items'.
pub(crate) struct Frame {
    pub parent: Option<Arc<Frame>>,
    pub steps: Mutex<Records>,
    pub item: Option<Value>,
    pub index: Option<Value>,
    pub error: Option<Value>,
    /// Loop positions from the outermost loop in.
    pub iteration: Vec<usize>,
    /// Whether the items of the loop whose `item` this frame reads were computed from a
    /// secret: then reading `item` is tainted (`index` is not: it counts items).
    pub item_tainted: bool,
}

impl Frame {
    pub fn root() -> Arc<Frame> {
        Arc::new(Frame {
            parent: None,
            steps: Mutex::new(Records::default()),
            item: None,
            index: None,
            error: None,
            iteration: Vec::new(),
            item_tainted: false,
        })
    }

    /// The frame of a branch, or of an `on_error` handler given `error`.
    pub fn child(self: &Arc<Self>, error: Option<Value>) -> Arc<Frame> {
        Arc::new(Frame {
            parent: Some(self.clone()),
            steps: Mutex::new(Records::default()),
            item: None,
            index: None,
            error,
            iteration: self.iteration.clone(),
            item_tainted: self.item_tainted,
        })
    }

    /// The frame of a loop's item `index`; `tainted` when the loop's items were computed
    /// from a secret.
    pub fn item_child(self: &Arc<Self>, item: Value, index: usize, tainted: bool) -> Arc<Frame> {
        let mut iteration = Vec::with_capacity(self.iteration.len() + 1);
        iteration.extend_from_slice(&self.iteration);
        iteration.push(index);
        Arc::new(Frame {
            parent: Some(self.clone()),
            steps: Mutex::new(Records::default()),
            item: Some(item),
            index: Some(Value::from(index)),
            error: None,
            iteration,
            item_tainted: tainted,
        })
    }

    pub fn record(&self, id: &Arc<str>, record: StepRecord) {
        self.steps.lock().insert(id.clone(), record);
    }

    /// Drops the records of steps `ids` from this frame: nothing reads them any more (see
    /// `CompiledStep::releases`). Each is freed outside the lock.
    pub fn release<'i>(&self, ids: impl IntoIterator<Item = &'i str>) {
        for id in ids {
            let released = self.steps.lock().remove(id);
            drop(released);
        }
    }

    /// The output of step `id` of this frame itself, taken out of it (what a loop item or a
    /// branch yields when it is its last step: the frame is not read again, so the output is
    /// moved, not copied, unless something still holds the record); `null` when it has none.
    pub fn take_own_output(&self, id: &str) -> Result<Value, String> {
        let Some(record) = self.steps.lock().remove(id) else {
            return Ok(Value::Null);
        };
        match record {
            StepRecord::Ready(record) => Ok(match Arc::try_unwrap(record) {
                Ok(record) => record.output,
                Err(shared) => shared.output.clone(),
            }),
            StepRecord::Loop(items) => Ok(match Arc::try_unwrap(items.record()?) {
                Ok(mut record) => record
                    .get_mut("output")
                    .map(Value::take)
                    .unwrap_or_default(),
                Err(shared) => shared["output"].clone(),
            }),
        }
    }

    pub fn lookup(&self, id: &str) -> Option<StepRecord> {
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

    /// Every record visible here, the nearest frame's first when ids repeat.
    fn collect_all(&self, into: &mut Records) {
        for (k, v) in self.steps.lock().iter() {
            into.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if let Some(parent) = &self.parent {
            parent.collect_all(into);
        }
    }
}

fn not_run() -> ReadRecord {
    static NOT_RUN: std::sync::LazyLock<Arc<Record>> = std::sync::LazyLock::new(|| {
        Arc::new(Record {
            status: "not_run",
            output: Value::Null,
            error: None,
            attempts: 0,
        })
    });
    ReadRecord::Fields(NOT_RUN.clone())
}

/// The scope a step's expressions are evaluated in: a snapshot of the records they read.
pub(crate) struct StepScope<'a> {
    pub globals: &'a Globals,
    pub frame: &'a Frame,
    pub steps: Vec<(Arc<str>, ReadRecord)>,
    /// The action's result, inside a step's `outputs`.
    pub output: Option<&'a Value>,
    /// Whether that result holds a value computed from a secret (then reading `output` taints).
    pub output_tainted: bool,
}

impl<'a> StepScope<'a> {
    /// The scope with the records `refs` names (each built now: a loop's set-aside outputs are
    /// read back here, which can fail).
    /// `refs`: `None` for every record.
    pub fn new(
        globals: &'a Globals,
        frame: &'a Frame,
        refs: Option<&[Arc<str>]>,
    ) -> Result<Self, String> {
        let mut steps = Vec::new();
        match refs {
            Some(ids) => {
                // Validation proved each id names a step this one may read; one that has not
                // run (a failure stopped the steps before it) reads as `not_run`.
                for id in ids {
                    let record = match frame.lookup(id) {
                        Some(record) => record.read()?,
                        None => not_run(),
                    };
                    steps.push((id.clone(), record));
                }
            }
            None => {
                let mut all = Records::default();
                frame.collect_all(&mut all);
                for (id, record) in all {
                    steps.push((id, record.read()?));
                }
            }
        }
        Ok(StepScope {
            globals,
            frame,
            steps,
            output: None,
            output_tainted: false,
        })
    }
}

/// The steps `templates` read, as the checker would list them: what a scope for rendering
/// them needs (`All` when one indexes `steps` with a computed name).
pub(crate) fn refs_of<'t>(templates: impl IntoIterator<Item = &'t ValueTemplate>) -> StepRefs {
    /// The ids in the order first read, and the same as a set: each reference is looked up
    /// once (a search of the list was quadratic in the steps named).
    #[derive(Default)]
    struct Ids {
        listed: StepIds,
        seen: HashSet<Arc<str>, foldhash::fast::RandomState>,
    }
    fn walk(template: &ValueTemplate, ids: &mut Ids) -> bool {
        match template {
            ValueTemplate::Literal(_) => true,
            ValueTemplate::Template(template) => {
                for reference in template.references() {
                    if reference.root != "steps" {
                        continue;
                    }
                    match reference.segments.first() {
                        Some(weft_expr::Segment::Field(id)) => {
                            if !ids.seen.contains(id.as_str()) {
                                let id: Arc<str> = Arc::from(id.as_str());
                                ids.seen.insert(id.clone());
                                ids.listed.push(id);
                            }
                        }
                        _ => return false,
                    }
                }
                true
            }
            ValueTemplate::Array(items) => items.iter().all(|i| walk(i, ids)),
            ValueTemplate::Object(entries) => entries.iter().all(|(_, v)| walk(v, ids)),
        }
    }
    let mut ids = Ids::default();
    for template in templates {
        if !walk(template, &mut ids) {
            return StepRefs::All;
        }
    }
    StepRefs::Listed(ids.listed)
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

    fn step(&self, id: &str) -> Option<StepView<'_>> {
        self.steps
            .iter()
            .find(|(k, _)| &**k == id)
            .map(|(_, record)| record.view())
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.globals.now.unwrap_or_else(chrono::Utc::now)
    }

    fn is_taint_source(&self, root: &str, path: &[Segment]) -> bool {
        match (root, path.first()) {
            ("steps", _) => self.globals.tainted_steps.reads(path),
            ("item", _) => self.frame.item_tainted,
            ("output", _) => self.output_tainted,
            (root, Some(Segment::Field(name))) => self
                .globals
                .taint_sources
                .contains(&(root.to_string(), name.to_string())),
            // `vars` whole or `vars[x]`: any of them could be read.
            (root, _) => self.globals.taint_sources.iter().any(|(r, _)| r == root),
        }
    }

    fn has_taint_sources(&self) -> bool {
        !self.globals.taint_sources.is_empty()
            || self.globals.tainted_steps.any()
            || self.frame.item_tainted
            || self.output_tainted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A loop item's last output is moved out of its frame, not copied, and only once.
    #[test]
    fn a_frame_hands_over_its_own_output() {
        let frame = Frame::root();
        let id: Arc<str> = Arc::from("last");
        let text = "x".repeat(100);
        frame.record(
            &id,
            StepRecord::new("succeeded", Output::Value(json!({ "text": text })), None, 1),
        );
        let read_by_a_step = frame.lookup("last").unwrap().read().unwrap();
        let held = match &read_by_a_step {
            ReadRecord::Fields(record) => record.output["text"].as_str().unwrap().as_ptr(),
            ReadRecord::Built(_) => panic!("a step's record is kept as its fields"),
        };
        drop(read_by_a_step);
        let output = frame.take_own_output("last").unwrap();
        assert_eq!(output["text"].as_str().unwrap().as_ptr(), held, "moved");
        assert_eq!(frame.take_own_output("last").unwrap(), Value::Null);
        assert_eq!(frame.take_own_output("other").unwrap(), Value::Null);
    }

    /// 150,000 steps named in outputs: a search of the list for each took minutes.
    #[test]
    fn the_steps_read_are_listed_once_each_in_linear_time() {
        let template = |text: String| {
            ValueTemplate::Template(Box::new(weft_expr::Template::parse(&text).unwrap()))
        };
        let count = 150_000;
        let templates: Vec<ValueTemplate> = (0..count)
            .map(|i| template(format!("${{{{ steps.s{i}.output }}}}")))
            .chain([template("${{ steps.s7.output + steps.s0.status }}".into())])
            .collect();
        let StepRefs::Listed(ids) = refs_of(&templates) else {
            panic!("every step is named");
        };
        assert_eq!(ids.len(), count, "each once");
        assert_eq!((&*ids[0], &*ids[count - 1]), ("s0", "s149999"), "in order");
    }

    #[test]
    fn a_step_record_has_its_four_fields_in_order() {
        let record = StepRecord::new("failed", Output::Value(json!([1])), Some("boom"), 3);
        let value = record.read().unwrap().view().to_value();
        assert_eq!(
            serde_json::to_string(&value).unwrap(),
            r#"{"status":"failed","output":[1],"error":"boom","attempts":3}"#
        );
        let skipped = StepRecord::new("skipped", Output::Value(Value::Null), None, 0);
        assert_eq!(
            skipped.read().unwrap().view().to_value(),
            json!({"status": "skipped", "output": null, "error": null, "attempts": 0})
        );
    }
}
