//! Static checks and compilation of a deserialized workflow: every reference, action, input,
//! dependency and trigger is checked, and all problems are reported together.

use std::collections::{HashMap, HashSet};

use indexmap::IndexSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use weft_expr::{Expr, Reference, Segment, Template};

mod actions;
mod graph;
mod references;
mod release;
mod sections;
mod steps;

use graph::{all_of, PositionSet, Visibility};
use steps::{BlockBuilder, StepHead};

use super::compiled::*;
use super::model::{
    self, OnError, PollConnections, Step, StepList, Trigger, Workflow, ALL_CONNECTIONS,
};
use super::template::{compile_value, invalid_expression, Keys, StringSpans, ValueTemplate};
use crate::actions::Registry;
use crate::diagnostic::{did_you_mean, suggestion, Diagnostic, NearNames, Span};
use crate::trigger::{CronSchedule, SourceCatalog};
use crate::yaml::{yaml11_bool_help, Node, NodeKind, RawNode, Recover, Spanned};
use serde_json::Value;

/// What a workflow may use: the actions and polling sources of this build.
#[derive(Clone, Copy)]
pub struct Catalog<'a> {
    pub actions: &'a Registry,
    pub sources: &'a SourceCatalog,
}

/// The top-level steps as [`compile`] gets them.
pub(super) enum TopSteps<'a> {
    /// In the model (`workflow.steps`), not indexed yet.
    InModel,
    /// Read once and indexed ([`FirstPass`]); `again` reads them again, in file order, and
    /// hands each that deserialized to its argument.
    ReadTwice {
        first: FirstPass,
        again: &'a mut ReadAgain<'a>,
    },
}

/// Reads the top-level steps again, handing each to its argument; the problem that stopped it
/// (the file changed since the first reading).
pub(super) type ReadAgain<'a> = dyn FnMut(&mut dyn FnMut(Box<Step>)) -> Result<(), Diagnostic> + 'a;

/// What the first reading of the top-level steps keeps of them: the checker's index of
/// their ids (and of the steps inside them) and each one's [`StepHead`], not their models.
/// So a workflow's model is never whole: at 100,000 steps the models held about 40 MiB.
pub(super) struct FirstPass {
    heads: Vec<StepHead>,
    /// Steps read, those that did not deserialize included.
    read: usize,
}

impl FirstPass {
    pub(super) fn new() -> Self {
        FirstPass {
            heads: Vec::new(),
            read: 0,
        }
    }

    /// Indexes a top-level step as read (`None`: it did not deserialize) and drops its model.
    pub(super) fn read(&mut self, checker: &mut Checker<'_>, step: Option<Box<Step>>) {
        self.read += 1;
        if let Some(mut step) = step {
            checker.index_step(&step, TOP_LEVEL);
            self.heads.push(checker.head(&mut step));
        }
    }
}

/// Compiles `workflow`, taking its steps out of it as they are compiled; `checker` holds the
/// index of the steps a first pass read ([`TopSteps::ReadTwice`]).
pub(super) fn compile(
    mut checker: Checker<'_>,
    workflow: &mut Workflow,
    top_steps: TopSteps<'_>,
    hash: String,
) -> Result<(CompiledWorkflow, Vec<Diagnostic>), Vec<Diagnostic>> {
    let path = checker.path;
    checker.inputs = workflow.inputs.keys().cloned().collect();
    checker.settings = workflow.connection_config.keys().cloned().collect();
    checker.env = workflow.env.keys().cloned().collect();
    // A poll trigger's runs run on the connection polled.
    checker.has_connection = workflow.connection.is_some() || polls_a_connection(workflow);
    if let TopSteps::InModel = top_steps {
        checker.index_steps(&workflow.steps.value, TOP_LEVEL);
    }
    let on_failure = checker.container(Arc::from("on_failure"));
    checker.index_steps(&workflow.on_failure, on_failure);
    let finally = checker.container(Arc::from("finally"));
    checker.index_steps(&workflow.finally, finally);

    let inputs = checker.inputs_decl(workflow);
    let connection_config = checker.connection_config_decl(workflow);
    let trigger = checker.trigger(workflow.trigger.0.as_ref().and_then(Option::as_ref));
    let empty_mask = PositionSet::default();
    let top = Visibility::within(None, &empty_mask);
    let (env, _) = checker.named_values(&workflow.env, &top, Roots::default(), "env");
    let (vars, _) = checker.named_values(&workflow.vars, &top, Roots::default(), "vars");
    // The model's lists are consumed: each step's model is freed as it is compiled.
    let top_number = checker.next_block;
    let (no_steps, mut steps) = match top_steps {
        TopSteps::InModel => (
            workflow.steps.value.is_empty(),
            checker.block(
                std::mem::take(&mut workflow.steps.value.0),
                &top,
                Roots::default(),
            ),
        ),
        TopSteps::ReadTwice { first, again } => {
            let plan = checker.plan_block(&first.heads);
            // Freed before the steps compile (at 100,000 steps, 6 MiB).
            let no_steps = first.read == 0;
            drop(first);
            let block = match plan {
                Some(plan) => {
                    let mut block = BlockBuilder::new(plan, &top, Roots::default());
                    let read = again(&mut |step| block.add(&mut checker, *step));
                    if let Err(problem) = read {
                        checker.error(problem);
                    } else if !block.matches_plan() {
                        // The same text read again cannot give other steps; were it ever to,
                        // the workflow is refused rather than run without them.
                        checker.error(Diagnostic::error(
                            "the steps read again differ from the steps read first",
                            Some(workflow.steps.span),
                        ));
                    }
                    block.finish()
                }
                None => Block::default(),
            };
            (no_steps, block)
        }
    };

    let (outputs, mut read_after, on_failure, finally) = {
        // After the steps, every top-level step may have run.
        let (block, all_mask) = all_of(top_number, &steps);
        let after = Visibility {
            parent: None,
            block,
            mask: &all_mask,
        };
        let (outputs, read_after) =
            checker.named_values(&workflow.outputs, &after, Roots::default(), "outputs");
        let handler_roots = Roots {
            error: true,
            ..Roots::default()
        };
        let on_failure = checker.block(
            std::mem::take(&mut workflow.on_failure),
            &after,
            handler_roots,
        );
        let finally = checker.block(std::mem::take(&mut workflow.finally), &after, handler_roots);
        (outputs, read_after, on_failure, finally)
    };
    merge_refs(&mut read_after, release::reads_of_block(&on_failure));
    merge_refs(&mut read_after, release::reads_of_block(&finally));
    if no_steps {
        checker.error(
            Diagnostic::error(
                "a workflow needs at least one step",
                Some(workflow.steps.span),
            )
            .with_help("add steps to the list, e.g. `- id: hello` with `uses: core.log`"),
        );
    }

    let (diagnostics, secrets) = checker.finish();
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(diagnostics);
    }
    // Planned once the checker's index of every step is freed.
    release::plan_releases(&mut steps, read_after);
    let compiled = CompiledWorkflow {
        name: workflow.name.value.clone(),
        description: workflow.description.clone(),
        path: path.to_path_buf(),
        hash,
        inputs,
        env,
        vars,
        connection: workflow.connection.as_ref().map(|c| c.value.clone()),
        connection_config,
        trigger,
        concurrency: workflow
            .concurrency
            .0
            .as_ref()
            .and_then(Option::as_ref)
            .map(|c| c.value.clone()),
        steps,
        on_failure,
        finally,
        outputs,
        secrets,
    };
    Ok((compiled, diagnostics))
}

/// Where a step is defined, for messages about steps that are not visible. Small: a
/// workflow's index holds one a step.
struct Place {
    line: u32,
    /// The step or section that contains it, as an index in [`Checker::containers`].
    container: ContainerIndex,
    /// The block that compiled it, and its position there (see [`Checker::position_in`]):
    /// this one index of step ids serves every block's visibility.
    block: BlockNumber,
    position: u32,
}

/// Blocks are numbered as they are compiled, each list of steps once.
type BlockNumber = u32;

/// No block: a place not compiled yet, a visibility of no step.
const NO_BLOCK: BlockNumber = BlockNumber::MAX;

/// An index in [`Checker::containers`].
type ContainerIndex = u32;

/// The container of top-level steps.
const TOP_LEVEL: ContainerIndex = 0;

/// What reads a value: a step, or a workflow section (for messages, and so a step cannot
/// read its own record).
#[derive(Clone, Copy)]
enum Reader<'a> {
    Step(&'a str),
    /// Described for people: "the `vars` section".
    Section(&'static str),
}

impl Reader<'_> {
    fn describe(self) -> String {
        match self {
            Reader::Step(id) => format!("step `{id}`"),
            Reader::Section(section) => section.to_string(),
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Roots {
    item: bool,
    error: bool,
    output: bool,
}

pub(super) struct Checker<'a> {
    catalog: Catalog<'a>,
    /// The workflow file, to recognise a `workflow.call` of itself.
    path: &'a Path,
    diagnostics: Vec<Diagnostic>,
    /// Keyed by the step's id, shared by the compiled step and every reference to it: one
    /// allocation per step id.
    places: HashMap<Arc<str>, Place>,
    /// The keys of the compiled mappings, each held once.
    keys: Keys,
    /// The number of the next block compiled.
    next_block: BlockNumber,
    /// A block's steps whose id is not theirs in `places` (an invalid id, or one that
    /// another block's step claimed first): empty in a workflow that compiles.
    strays: HashMap<BlockNumber, HashMap<Arc<str>, usize>>,
    /// The names of the steps and sections that contain steps (`loop`, `on_failure`), as
    /// places refer to them; `None` (first) for the top level.
    containers: Vec<Option<Arc<str>>>,
    // Sets in declaration order (suggestions list them in it): an expression may read a name
    // a million times, and a file may declare thousands.
    inputs: IndexSet<String>,
    /// The `connection_config:` names.
    settings: IndexSet<String>,
    vars: IndexSet<String>,
    /// The workflow's own `env:` names.
    env: IndexSet<String>,
    secrets: IndexSet<String>,
    has_connection: bool,
    /// "Did you mean" among the step ids of a big workflow.
    near_names: NearNames,
}

fn live(steps: &[Recover<Box<Step>>]) -> impl Iterator<Item = &Step> {
    steps.iter().filter_map(|s| s.0.as_deref())
}

impl<'a> Checker<'a> {
    /// A checker for the workflow file at `path` (which it recognises in a `workflow.call`
    /// of itself); [`compile`] gives it the workflow's declarations.
    pub(super) fn new(catalog: Catalog<'a>, path: &'a Path) -> Self {
        Checker {
            catalog,
            path,
            diagnostics: Vec::new(),
            places: HashMap::new(),
            keys: Keys::default(),
            next_block: 0,
            strays: HashMap::new(),
            containers: vec![None],
            inputs: IndexSet::new(),
            settings: IndexSet::new(),
            vars: IndexSet::new(),
            env: IndexSet::new(),
            secrets: IndexSet::new(),
            has_connection: false,
            near_names: NearNames::default(),
        }
    }

    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// What the compiled workflow keeps of the checker; its indexes are freed.
    fn finish(self) -> (Vec<Diagnostic>, Vec<String>) {
        (self.diagnostics, self.secrets.into_iter().collect())
    }

    /// Step `id` as compiled steps hold it: one allocation per step, however often it is read.
    fn shared_id(&self, id: &str) -> Arc<str> {
        match self.places.get_key_value(id) {
            Some((shared, _)) => shared.clone(),
            None => Arc::from(id),
        }
    }

    /// Whether a step `visibility` applies to may read step `id`'s record.
    fn sees(&self, visibility: &Visibility<'_>, id: &str) -> bool {
        let mut level = Some(visibility);
        while let Some(v) = level {
            if self
                .position_in(v.block, id)
                .is_some_and(|i| v.mask.contains(i))
            {
                return true;
            }
            level = v.parent;
        }
        false
    }

    /// Where step `id` stands in block `block`, if it is one of its steps.
    fn position_in(&self, block: BlockNumber, id: &str) -> Option<usize> {
        if block == NO_BLOCK {
            return None;
        }
        match self.places.get(id) {
            Some(place) if place.block == block => Some(place.position as usize),
            _ => self.strays.get(&block)?.get(id).copied(),
        }
    }

    /// Records that the step with `id` stands at `position` in block `block`.
    fn place_in_block(&mut self, block: BlockNumber, id: &str, position: usize) {
        // Positions fit: the loader caps a workflow far below 2^32 steps.
        let at = u32::try_from(position).unwrap_or(u32::MAX);
        match self.places.get_mut(id) {
            Some(place) if place.block == NO_BLOCK || place.block == block => {
                place.block = block;
                place.position = at;
            }
            _ => {
                let stray = self.strays.entry(block).or_default();
                stray.insert(Arc::from(id), position);
            }
        }
    }

    /// Registers a step or section that contains steps.
    fn container(&mut self, name: Arc<str>) -> ContainerIndex {
        self.containers.push(Some(name));
        // A workflow's size is capped by the loader far below 2^32 steps.
        ContainerIndex::try_from(self.containers.len() - 1).unwrap_or(ContainerIndex::MAX)
    }

    /// The name of the step or section that contains `place`; `None` at the top level.
    fn container_of(&self, place: &Place) -> Option<&str> {
        self.containers
            .get(place.container as usize)
            .and_then(|name| name.as_deref())
    }

    fn index_steps(&mut self, steps: &[Recover<Box<Step>>], container: ContainerIndex) {
        for step in live(steps) {
            self.index_step(step, container);
        }
    }

    /// Indexes `step`'s id, and those of the steps inside it, as steps of `container`.
    fn index_step(&mut self, step: &Step, container: ContainerIndex) {
        let id = &step.id.value;
        if let Some(first) = self.places.get(&**id) {
            let line = first.line;
            self.error(
                Diagnostic::error(format!("duplicate step id `{id}`"), Some(step.id.span))
                    .with_help(format!("`{id}` is already the id of the step on line {line}; ids are unique in a workflow")),
            );
        } else if !valid_id(id) {
            self.error(
                Diagnostic::error(format!("invalid step id `{id}`"), Some(step.id.span))
                    .with_help("use letters, digits, `_` and `-`, starting with a letter or `_`"),
            );
        } else {
            self.places.insert(
                Arc::from(&**id),
                Place {
                    line: step.id.span.line,
                    container,
                    block: NO_BLOCK,
                    position: 0,
                },
            );
        }
        let nested = step.steps.is_some()
            || step.parallel.is_some()
            || matches!(
                step.on_error.as_deref().map(|e| &e.value),
                Some(OnError::Steps(_))
            );
        if !nested {
            return;
        }
        let own = self.container(self.shared_id(id));
        if let Some(body) = &step.steps {
            self.index_steps(body, own);
        }
        if let Some(branches) = &step.parallel {
            for branch in branches.value.values() {
                self.index_steps(branch, own);
            }
        }
        if let Some(OnError::Steps(handler)) = step.on_error.as_deref().map(|e| &e.value) {
            self.index_steps(handler, own);
        }
    }

    /// `env`, `vars` and `outputs`: named values in order (a var may use the vars above it),
    /// and the steps they read.
    fn named_values(
        &mut self,
        values: &indexmap::IndexMap<String, RawNode>,
        visibility: &Visibility<'_>,
        roots: Roots,
        section: &str,
    ) -> (Vec<(String, ValueTemplate)>, StepRefs) {
        let mut out = Vec::new();
        let mut reads = StepRefs::Listed(StepIds::new());
        for (name, node) in values {
            self.declared_name(name, node.0.span, section);
            let reader = Reader::Section(match section {
                "vars" => "the `vars` section",
                "env" => "the `env` section",
                _ => "the workflow's `outputs`",
            });
            let (template, refs) = self.value(&node.0, visibility, roots, reader);
            merge_refs(&mut reads, refs);
            out.push((name.clone(), template));
            if section == "vars" {
                self.vars.insert(name.clone());
            }
        }
        tidy_reads(&mut reads);
        (out, reads)
    }

    /// Compiles a value and checks its references; returns the step ids it reads.
    fn value(
        &mut self,
        node: &Node,
        visibility: &Visibility<'_>,
        roots: Roots,
        reader: Reader<'_>,
    ) -> (ValueTemplate, StepRefs) {
        let mut sites = Vec::new();
        let mut errors = Vec::new();
        let template = compile_value(node, Some(&mut sites), &mut self.keys, &mut errors);
        self.diagnostics.extend(errors);
        let mut refs = StepRefs::Listed(StepIds::new());
        for (checks, site) in sites {
            let mut spans = StringSpans::new(site);
            for reference in &checks.references {
                self.reference(reference, &mut spans, visibility, roots, reader, &mut refs);
            }
            self.constant_errors(checks.constant_errors, &mut spans);
        }
        (template, refs)
    }

    /// Reports the errors an expression would give on every run.
    fn constant_errors(&mut self, errors: Vec<weft_expr::EvalError>, spans: &mut StringSpans<'_>) {
        for error in errors {
            self.error(
                Diagnostic::error(
                    format!("this expression always fails: {}", error.message),
                    Some(spans.span(error.span.clone())),
                )
                .with_optional_help(error.help.clone()),
            );
        }
    }

    /// A name authors declare and expressions read (`inputs.<name>`, `vars.<name>`...): one
    /// with a hidden or look-alike character would make every reference to it fail.
    fn declared_name(&mut self, name: &str, span: Span, section: &str) {
        let Some(c) = weft_expr::misleading_char(name) else {
            return;
        };
        let what = if weft_expr::is_invisible(c) {
            "an invisible character"
        } else {
            "a character that looks like a Latin letter"
        };
        let shown: String = name
            .chars()
            .map(|c| match weft_expr::is_invisible(c) {
                true => format!("\\u{{{:x}}}", c as u32),
                false => c.to_string(),
            })
            .collect();
        self.error(
            Diagnostic::error(
                format!(
                    "`{section}` name `{shown}` contains {what} (U+{:04X})",
                    c as u32
                ),
                Some(span),
            )
            .with_help("retype the name with plain letters"),
        );
    }

    fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Vec<(String, &'n Node)> {
        match &node.kind {
            NodeKind::Map(entries) => entries.iter().map(|(k, v)| (k.key_text(), v)).collect(),
            NodeKind::Null => Vec::new(),
            _ => {
                self.error(Diagnostic::error(
                    format!("`{what}` must be a mapping, found {}", node.type_name()),
                    Some(node.span),
                ));
                Vec::new()
            }
        }
    }
}

fn merge_refs(into: &mut StepRefs, from: StepRefs) {
    match (into, from) {
        (StepRefs::All, _) => {}
        (into, StepRefs::All) => *into = StepRefs::All,
        (StepRefs::Listed(a), StepRefs::Listed(b)) => {
            for id in b {
                add_read(a, &id, || id.clone());
            }
        }
    }
}

/// Lists of step ids up to this long are searched before an id is added to them; longer ones
/// may take an id twice and are tidied once complete ([`tidy_reads`]), so a step that reads
/// every step before it costs its length, not its length squared.
const SEARCHED_READS: usize = 16;

/// Adds step `id` to the ids a step reads; `shared` makes its handle.
fn add_read(list: &mut StepIds, id: &str, shared: impl FnOnce() -> Arc<str>) {
    let known = if list.len() <= SEARCHED_READS {
        list.iter().any(|known| &**known == id)
    } else {
        list.last().is_some_and(|last| &**last == id)
    };
    if !known {
        list.push(shared());
    }
}

/// Drops the ids a complete list holds twice, keeping the first of each in place.
fn tidy_reads(refs: &mut StepRefs) {
    if let StepRefs::Listed(list) = refs {
        if list.len() > SEARCHED_READS {
            let mut seen = HashSet::with_capacity(list.len());
            list.retain(|id| seen.insert(Arc::clone(id)));
        }
    }
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Whether the workflow's poll trigger names its connections.
fn polls_a_connection(workflow: &Workflow) -> bool {
    matches!(
        workflow
            .trigger
            .0
            .as_ref()
            .and_then(Option::as_ref)
            .map(|t| &t.value),
        Some(Trigger::Poll(model::PollTrigger {
            connection: Some(_),
            ..
        }))
    )
}

/// Loads a workflow with this build's actions for the checker's tests; any problem fails the
/// test, with the problems as the message.
#[cfg(test)]
fn load_with_builtins(yaml: &str) -> super::LoadedWorkflow {
    match check_with_builtins(yaml) {
        Ok(loaded) => loaded,
        Err(problems) => panic!("{}", problems.render()),
    }
}

/// [`load_with_builtins`], the problems returned.
#[cfg(test)]
fn check_with_builtins(yaml: &str) -> Result<super::LoadedWorkflow, super::FileProblems> {
    let actions = crate::actions::builtin_registry().expect("built-in actions");
    let sources = SourceCatalog::default();
    let catalog = Catalog {
        actions: &actions,
        sources: &sources,
    };
    super::load_bytes(Path::new("t.yaml"), yaml.as_bytes(), catalog)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The top-level steps are read twice (indexed, then compiled one by one), except a list
    /// the loader keeps whole (an anchored one), which is compiled from the model: both give
    /// the same workflow.
    #[test]
    fn top_level_steps_compile_alike_read_twice_or_kept_whole() {
        let steps = "
  - {id: c, needs: [b], uses: core.set, with: {n: '${{ steps.b.output.n }}'}}
  - {id: a, needs: [], uses: core.set, with: {n: 1}}
  - {id: b, uses: core.set, with: {n: '${{ steps.a.output.n }}'}}
  - id: each
    needs: [c]
    for_each: ${{ [1, 2] }}
    steps:
      - {id: inner, uses: core.set, with: {n: '${{ steps.c.output.n }}'}}
";
        let read_twice = load_with_builtins(&format!("name: t\nsteps:{steps}"));
        let kept_whole = load_with_builtins(&format!("name: t\nsteps: &all{steps}"));
        for loaded in [&read_twice, &kept_whole] {
            let block = &loaded.workflow.steps;
            let ids: Vec<&str> = block.steps.iter().map(|s| &*s.id).collect();
            assert_eq!(ids, ["a", "b", "c", "each"]);
            let deps: Vec<&[u32]> = block.deps.iter().collect();
            assert_eq!(deps, [&[][..], &[0], &[1], &[2]]);
        }
    }

    /// A problem in a step is reported once, though the step is read twice.
    #[test]
    fn a_step_read_twice_reports_its_problems_once() {
        let text = "name: t\nsteps:\n  - {id: a, uses: core.set, with: {n: 1}, colour: red}\n  - {id: b, uses: core.nothing}\n";
        let problems = check_with_builtins(text).err().expect("refused");
        let messages: Vec<(u32, &str)> = problems
            .diagnostics
            .iter()
            .map(|d| (d.span.map_or(0, |s| s.line), d.message.as_str()))
            .collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[0].0, 3);
        assert!(messages[0].1.contains("colour"), "{messages:?}");
        assert_eq!(messages[1].0, 4);
        assert!(messages[1].1.contains("core.nothing"), "{messages:?}");
    }

    #[test]
    fn ids_are_identifiers() {
        assert!(valid_id("fetch_pages-2"));
        assert!(!valid_id("2fetch"));
        assert!(!valid_id("a.b"));
    }
}
