//! Static checks and compilation of a deserialized workflow: every reference, action, input,
//! dependency and trigger is checked, and all problems are reported together.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use weft_expr::{Expr, Reference, Segment, Template};

use super::compiled::*;
use super::model::{self, OnError, Step, Trigger, Workflow};
use super::template::{compile_value, span_in_string, ValueTemplate};
use crate::actions::Registry;
use crate::diagnostic::{did_you_mean, suggestion, Diagnostic, Span};
use crate::trigger::{CronSchedule, SourceCatalog};
use crate::yaml::{Node, NodeKind, RawNode, Recover, Spanned};

/// What a workflow may use: the actions and polling sources of this build.
#[derive(Clone, Copy)]
pub struct Catalog<'a> {
    pub actions: &'a Registry,
    pub sources: &'a SourceCatalog,
}

/// Fields of a step record that expressions may read (`steps.<id>.output`).
const STEP_FIELDS: &[&str] = &["output", "status", "error", "attempts"];

pub fn compile(
    workflow: &Workflow,
    path: &Path,
    hash: String,
    catalog: Catalog<'_>,
) -> Result<(CompiledWorkflow, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut checker = Checker {
        catalog,
        diagnostics: Vec::new(),
        places: HashMap::new(),
        inputs: workflow.inputs.keys().cloned().collect(),
        vars: Vec::new(),
        secrets: Vec::new(),
        has_connection: workflow.connection.is_some(),
    };
    checker.index_steps(&workflow.steps.value, None);
    checker.index_steps(&workflow.on_failure, Some("on_failure"));
    checker.index_steps(&workflow.finally, Some("finally"));

    let inputs = checker.inputs_decl(workflow);
    let trigger = checker.trigger(workflow.trigger.0.as_ref().and_then(Option::as_ref));
    let empty_index = HashMap::new();
    let empty_mask = BitSet::default();
    let top = Visibility {
        parent: None,
        index: &empty_index,
        mask: &empty_mask,
    };
    let env = checker.named_values(&workflow.env, &top, Roots::default(), "env");
    let vars = checker.named_values(&workflow.vars, &top, Roots::default(), "vars");
    let steps = checker.block(&workflow.steps.value, &top, Roots::default());

    // After the steps, every top-level step may have run.
    let (all_index, all_mask) = index_of(&steps);
    let after = Visibility {
        parent: None,
        index: &all_index,
        mask: &all_mask,
    };
    let outputs = checker.named_values(&workflow.outputs, &after, Roots::default(), "outputs");
    let handler_roots = Roots {
        error: true,
        ..Roots::default()
    };
    let on_failure = checker.block(&workflow.on_failure, &after, handler_roots);
    let finally = checker.block(&workflow.finally, &after, handler_roots);
    if workflow.steps.value.is_empty() {
        checker.error(
            Diagnostic::error(
                "a workflow needs at least one step",
                Some(workflow.steps.span),
            )
            .with_help("add steps to the list, e.g. `- id: hello` with `uses: core.log`"),
        );
    }

    if checker.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(checker.diagnostics);
    }
    let compiled = CompiledWorkflow {
        name: workflow.name.value.clone(),
        description: workflow.description.clone(),
        path: path.to_path_buf(),
        hash,
        inputs,
        env,
        vars,
        connection: workflow.connection.as_ref().map(|c| c.value.clone()),
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
        secrets: checker.secrets,
    };
    Ok((compiled, checker.diagnostics))
}

fn index_of(block: &Block) -> (HashMap<String, usize>, BitSet) {
    let index: HashMap<String, usize> = block
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.to_string(), i))
        .collect();
    let mut mask = BitSet::with_len(block.steps.len());
    for i in 0..block.steps.len() {
        mask.insert(i);
    }
    (index, mask)
}

/// Where a step is defined, for messages about steps that are not visible.
struct Place {
    span: Span,
    /// The step or section that contains it (`loop`, `on_failure`), `None` at the top level.
    container: Option<String>,
}

#[derive(Clone, Copy, Default)]
struct Roots {
    item: bool,
    error: bool,
    output: bool,
}

#[derive(Clone, Default)]
struct BitSet(Vec<u64>);

impl BitSet {
    fn with_len(len: usize) -> Self {
        BitSet(vec![0; len.div_ceil(64)])
    }
    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn contains(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    fn union_with(&mut self, other: &BitSet) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
}

/// The steps whose records a step may read: its ancestors in its block, and what the
/// enclosing step could read.
struct Visibility<'p> {
    parent: Option<&'p Visibility<'p>>,
    index: &'p HashMap<String, usize>,
    mask: &'p BitSet,
}

impl Visibility<'_> {
    fn sees(&self, id: &str) -> bool {
        self.index.get(id).is_some_and(|&i| self.mask.contains(i))
            || self.parent.is_some_and(|p| p.sees(id))
    }
}

struct Checker<'a> {
    catalog: Catalog<'a>,
    diagnostics: Vec<Diagnostic>,
    places: HashMap<String, Place>,
    inputs: Vec<String>,
    vars: Vec<String>,
    secrets: Vec<String>,
    has_connection: bool,
}

fn live(steps: &[Recover<Step>]) -> impl Iterator<Item = &Step> {
    steps.iter().filter_map(|s| s.0.as_ref())
}

impl<'a> Checker<'a> {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn index_steps(&mut self, steps: &[Recover<Step>], container: Option<&str>) {
        for step in live(steps) {
            let id = &step.id.value;
            if let Some(first) = self.places.get(id) {
                let line = first.span.line;
                self.error(
                    Diagnostic::error(format!("duplicate step id `{id}`"), Some(step.id.span))
                        .with_help(format!("`{id}` is already the id of the step on line {line}; ids are unique in a workflow")),
                );
            } else if !valid_id(id) {
                self.error(
                    Diagnostic::error(format!("invalid step id `{id}`"), Some(step.id.span))
                        .with_help(
                            "use letters, digits, `_` and `-`, starting with a letter or `_`",
                        ),
                );
            } else {
                self.places.insert(
                    id.clone(),
                    Place {
                        span: step.id.span,
                        container: container.map(str::to_string),
                    },
                );
            }
            let own = Some(id.as_str());
            if let Some(body) = &step.steps {
                self.index_steps(body, own);
            }
            if let Some(branches) = &step.parallel {
                for branch in branches.value.values() {
                    self.index_steps(branch, own);
                }
            }
            if let Some(Spanned {
                value: OnError::Steps(handler),
                ..
            }) = &step.on_error
            {
                self.index_steps(handler, own);
            }
        }
    }

    fn inputs_decl(&mut self, workflow: &Workflow) -> Vec<InputDecl> {
        let mut out = Vec::new();
        for (name, spec) in workflow
            .inputs
            .iter()
            .filter_map(|(n, s)| Some((n, s.0.as_ref()?)))
        {
            let kind = spec.kind.value;
            if let Some(default) = &spec.default {
                if !kind.accepts(&default.value) {
                    self.error(Diagnostic::error(
                        format!("default of input `{name}` is not {}", kind.with_article()),
                        Some(default.span),
                    ));
                }
                if spec.required {
                    self.diagnostics.push(Diagnostic::warning(
                        format!("input `{name}` has a default, so `required: true` has no effect"),
                        Some(spec.span),
                    ));
                }
            }
            if let Some(allowed) = &spec.allowed {
                if let Some(bad) = allowed.value.iter().find(|v| !kind.accepts(v)) {
                    self.error(Diagnostic::error(
                        format!(
                            "`enum` of input `{name}` holds {bad}, which is not {}",
                            kind.with_article()
                        ),
                        Some(allowed.span),
                    ));
                }
                if let Some(default) = &spec.default {
                    if !allowed.value.contains(&default.value) {
                        self.error(Diagnostic::error(
                            format!("default of input `{name}` is not one of its `enum` values"),
                            Some(default.span),
                        ));
                    }
                }
            }
            out.push(InputDecl {
                name: name.clone(),
                kind,
                required: spec.required && spec.default.is_none(),
                default: spec.default.as_ref().map(|d| d.value.clone()),
                allowed: spec.allowed.as_ref().map(|a| a.value.clone()),
                description: spec.description.clone(),
            });
        }
        out
    }

    fn trigger(&mut self, trigger: Option<&Spanned<Trigger>>) -> TriggerPlan {
        let Some(trigger) = trigger else {
            return TriggerPlan::Manual;
        };
        match &trigger.value {
            Trigger::Manual => TriggerPlan::Manual,
            Trigger::Cron(cron) => {
                let schedule = match CronSchedule::parse(&cron.schedule) {
                    Ok(s) => Some(s),
                    Err(message) => {
                        self.error(Diagnostic::error(message, Some(cron.schedule.span)).with_help(
                            "examples: `0 9 * * 1-5` (weekdays at 09:00), `*/15 * * * *`, `@daily`",
                        ));
                        None
                    }
                };
                let timezone = match &cron.timezone {
                    None => Some(chrono_tz::UTC),
                    Some(tz) => {
                        match tz.value.parse::<chrono_tz::Tz>() {
                            Ok(tz) => Some(tz),
                            Err(_) => {
                                let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
                                let help = did_you_mean(&tz.value, names)
                                .map(|n| format!("did you mean `{n}`?"))
                                .unwrap_or_else(|| "use an IANA name such as `Europe/Paris` or `America/New_York`".into());
                                self.error(
                                    Diagnostic::error(
                                        format!("unknown time zone `{}`", tz.value),
                                        Some(tz.span),
                                    )
                                    .with_help(help),
                                );
                                None
                            }
                        }
                    }
                };
                match (schedule, timezone) {
                    (Some(schedule), Some(timezone)) => TriggerPlan::Cron(CronPlan {
                        expression: cron.schedule.value.clone(),
                        schedule,
                        timezone,
                        missed: cron.missed,
                        max_catch_up: cron.max_catch_up.unwrap_or(10),
                        overlap: cron.overlap,
                    }),
                    _ => TriggerPlan::Manual,
                }
            }
            Trigger::Poll(poll) => {
                let Some(source) = self.catalog.sources.get(&poll.source).copied() else {
                    let names = self.catalog.sources.names();
                    let help = if names.clone().next().is_none() {
                        "no polling sources are installed in this build".to_string()
                    } else {
                        suggestion(&poll.source, names).unwrap_or_default()
                    };
                    self.error(
                        Diagnostic::error(
                            format!("unknown polling source `{}`", poll.source.value),
                            Some(poll.source.span),
                        )
                        .with_help(help),
                    );
                    return TriggerPlan::Manual;
                };
                if poll.interval.value.0 < Duration::from_secs(1) {
                    self.error(Diagnostic::error(
                        "poll interval must be at least 1s",
                        Some(poll.interval.span),
                    ));
                }
                let top_index = HashMap::new();
                let mask = BitSet::default();
                let visibility = Visibility {
                    parent: None,
                    index: &top_index,
                    mask: &mask,
                };
                let with = self
                    .inputs_of(
                        poll.with.as_ref(),
                        source.config,
                        false,
                        source.name,
                        poll.source.span,
                        &visibility,
                        Roots::default(),
                        "",
                    )
                    .0;
                if poll.connection.is_none() && !self.has_connection && !source.scopes.is_empty() {
                    self.error(
                        Diagnostic::error(
                            format!("`{}` needs a connection", source.name),
                            Some(poll.source.span),
                        )
                        .with_help("set `connection:` on the trigger or the workflow"),
                    );
                }
                TriggerPlan::Poll(PollPlan {
                    source: source.name.to_string(),
                    with,
                    interval: poll.interval.value.0,
                    connection: poll.connection.as_ref().map(|c| c.value.clone()),
                    event_example: serde_json::from_str(source.event_example).unwrap_or_default(),
                })
            }
        }
    }

    /// `env`, `vars` and `outputs`: named values in order (a var may use the vars above it).
    fn named_values(
        &mut self,
        values: &indexmap::IndexMap<String, RawNode>,
        visibility: &Visibility<'_>,
        roots: Roots,
        section: &str,
    ) -> Vec<(String, ValueTemplate)> {
        let mut out = Vec::new();
        for (name, node) in values {
            let (template, _) = self.value(&node.0, visibility, roots, "");
            out.push((name.clone(), template));
            if section == "vars" {
                self.vars.push(name.clone());
            }
        }
        out
    }

    /// Compiles a value and checks its references; returns the step ids it reads.
    fn value(
        &mut self,
        node: &Node,
        visibility: &Visibility<'_>,
        roots: Roots,
        self_id: &str,
    ) -> (ValueTemplate, StepRefs) {
        let mut sites = Vec::new();
        let mut errors = Vec::new();
        let template = compile_value(node, &mut sites, &mut errors);
        self.diagnostics.extend(errors);
        let mut refs = StepRefs::Listed(Vec::new());
        for (template, site) in &sites {
            for reference in template.references() {
                self.reference(&reference, site, visibility, roots, self_id, &mut refs);
            }
        }
        (template, refs)
    }

    fn reference(
        &mut self,
        reference: &Reference,
        site: &Node,
        visibility: &Visibility<'_>,
        roots: Roots,
        self_id: &str,
        refs: &mut StepRefs,
    ) {
        let span = span_in_string(site, reference.span.clone());
        let first = match reference.segments.first() {
            Some(Segment::Field(name)) => Some(name.as_str()),
            _ => None,
        };
        match reference.root.as_str() {
            "inputs" => {
                if let Some(name) = first {
                    if !self.inputs.iter().any(|i| i == name) {
                        let help = if self.inputs.is_empty() {
                            Some(
                                "the workflow declares no inputs: add it under `inputs:`"
                                    .to_string(),
                            )
                        } else {
                            suggestion(name, self.inputs.iter().map(String::as_str))
                        };
                        self.error(
                            Diagnostic::error(format!("unknown input `{name}`"), Some(span))
                                .with_optional_help(help),
                        );
                    }
                }
            }
            "vars" => {
                if let Some(name) = first {
                    if !self.vars.iter().any(|v| v == name) {
                        let help = suggestion(name, self.vars.iter().map(String::as_str)).or(Some(
                            "declare it under `vars:` (a var can use the vars above it)".into(),
                        ));
                        self.error(
                            Diagnostic::error(format!("unknown var `{name}`"), Some(span))
                                .with_optional_help(help),
                        );
                    }
                }
            }
            "secrets" => {
                if let Some(name) = first {
                    if !self.secrets.iter().any(|s| s == name) {
                        self.secrets.push(name.to_string());
                    }
                }
            }
            "env" | "trigger" => {}
            "steps" => match first {
                None => *refs = StepRefs::All,
                Some(id) => self.step_reference(id, reference, span, visibility, self_id, refs),
            },
            "item" | "index" if roots.item => {}
            "item" | "index" => self.error(Diagnostic::error(
                format!(
                    "`{}` is only available inside a `for_each` body",
                    reference.root
                ),
                Some(span),
            )),
            "error" if roots.error => {}
            "error" => self.error(Diagnostic::error(
                "`error` is only available in `on_error`, `on_failure` and `finally` steps",
                Some(span),
            )),
            "output" if roots.output => {}
            "output" => self.error(
                Diagnostic::error(
                    "`output` is only available in a step's `outputs`",
                    Some(span),
                )
                .with_help("to read another step's result, use `steps.<id>.output`"),
            ),
            other => {
                let mut known = vec!["inputs", "vars", "env", "secrets", "trigger", "steps"];
                if roots.item {
                    known.extend(["item", "index"]);
                }
                if roots.error {
                    known.push("error");
                }
                if roots.output {
                    known.push("output");
                }
                self.error(
                    Diagnostic::error(format!("unknown name `{other}`"), Some(span))
                        .with_optional_help(suggestion(other, known.iter().copied())),
                );
            }
        }
    }

    fn step_reference(
        &mut self,
        id: &str,
        reference: &Reference,
        span: Span,
        visibility: &Visibility<'_>,
        self_id: &str,
        refs: &mut StepRefs,
    ) {
        if id == self_id {
            self.error(
                Diagnostic::error(format!("step `{id}` reads its own record"), Some(span))
                    .with_help(
                        "a step's result exists only after it ran; in its `outputs`, use `output`",
                    ),
            );
            return;
        }
        if visibility.sees(id) {
            if let StepRefs::Listed(list) = refs {
                if !list.iter().any(|s| &**s == id) {
                    list.push(Arc::from(id));
                }
            }
            if let Some(Segment::Field(field)) = reference.segments.get(1) {
                if !STEP_FIELDS.contains(&field.as_str()) {
                    self.error(
                        Diagnostic::error(format!("`steps.{id}` has no `{field}`"), Some(span))
                            .with_optional_help(suggestion(field, STEP_FIELDS.iter().copied())),
                    );
                }
            }
            return;
        }
        let message = format!(
            "step `{}` cannot read `steps.{id}`",
            if self_id.is_empty() { "this" } else { self_id }
        );
        let diagnostic = match self.places.get(id) {
            Some(Place { container: Some(container), .. }) if self.places.contains_key(container.as_str()) => {
                Diagnostic::error(message, Some(span)).with_help(format!(
                    "`{id}` runs inside `{container}`; read the result of `{container}` instead (`steps.{container}.output`)"
                ))
            }
            Some(Place { container: Some(section), .. }) => {
                Diagnostic::error(message, Some(span)).with_help(format!("`{id}` is a `{section}` step and runs last"))
            }
            Some(place) => Diagnostic::error(message, Some(span)).with_help(format!(
                "`{id}` (line {}) may not have run yet: add `{id}` to this step's `needs` or move it above",
                place.span.line
            )),
            None => {
                let help = suggestion(id, self.places.keys().map(String::as_str));
                Diagnostic::error(format!("unknown step `{id}`"), Some(span)).with_optional_help(help)
            }
        };
        self.error(diagnostic);
    }

    fn block(&mut self, steps: &[Recover<Step>], outer: &Visibility<'_>, roots: Roots) -> Block {
        let steps: Vec<&Step> = live(steps).collect();
        let local: HashMap<&str, usize> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.value.as_str(), i))
            .collect();

        // Dependencies, in file order.
        let mut deps: Vec<Vec<usize>> = Vec::with_capacity(steps.len());
        for (i, step) in steps.iter().enumerate() {
            let mut mine = Vec::new();
            match &step.needs {
                None => mine.extend(i.checked_sub(1)),
                Some(needs) => {
                    for need in needs {
                        match local.get(need.value.as_str()) {
                            Some(&j) if j == i => self.error(Diagnostic::error(
                                format!("step `{}` needs itself", step.id.value),
                                Some(need.span),
                            )),
                            Some(&j) => mine.push(j),
                            None => {
                                let help = match self.places.get(&need.value) {
                                    Some(_) => Some(format!(
                                        "`{}` is in another list of steps; `needs` names steps of the same list",
                                        need.value
                                    )),
                                    None => suggestion(&need.value, local.keys().copied()),
                                };
                                self.error(
                                    Diagnostic::error(
                                        format!("unknown step `{}` in `needs`", need.value),
                                        Some(need.span),
                                    )
                                    .with_optional_help(help),
                                );
                            }
                        }
                    }
                }
            }
            mine.sort_unstable();
            mine.dedup();
            deps.push(mine);
        }

        let order = match topological_order(&deps) {
            Ok(order) => order,
            Err(cycle) => {
                let names: Vec<String> = cycle
                    .iter()
                    .map(|&i| format!("`{}`", steps[i].id.value))
                    .collect();
                let first = steps[cycle[0]];
                let span = first
                    .needs
                    .as_ref()
                    .and_then(|n| n.first())
                    .map_or(first.id.span, |n| n.span);
                self.error(
                    Diagnostic::error(
                        format!(
                            "`needs` forms a cycle: {}, which needs {}",
                            names.join(", which needs "),
                            names[0]
                        ),
                        Some(span),
                    )
                    .with_help("remove one of these dependencies"),
                );
                return Block::default();
            }
        };
        let mut position = vec![0usize; steps.len()];
        for (new, &old) in order.iter().enumerate() {
            position[old] = new;
        }
        let index: HashMap<String, usize> = order
            .iter()
            .enumerate()
            .map(|(new, &old)| (steps[old].id.value.clone(), new))
            .collect();
        let mut ancestors: Vec<BitSet> = Vec::with_capacity(steps.len());
        let mut block = Block::default();
        let mut broken = false;
        for &old in &order {
            let mut mask = BitSet::with_len(steps.len());
            let mine: Vec<usize> = deps[old].iter().map(|&d| position[d]).collect();
            for &d in &mine {
                mask.insert(d);
                mask.union_with(&ancestors[d]);
            }
            let visibility = Visibility {
                parent: Some(outer),
                index: &index,
                mask: &mask,
            };
            // A step that fails to compile leaves the block unusable, but the remaining
            // steps are still checked so every problem is reported at once.
            match self.step(steps[old], &visibility, roots) {
                Some(compiled) => {
                    block.steps.push(compiled);
                    block.deps.push(mine);
                }
                None => broken = true,
            }
            ancestors.push(mask);
        }
        if broken {
            return Block::default();
        }
        block
    }

    fn step(
        &mut self,
        step: &Step,
        visibility: &Visibility<'_>,
        roots: Roots,
    ) -> Option<CompiledStep> {
        let id = step.id.value.as_str();
        let mut refs = StepRefs::Listed(Vec::new());
        let kinds = [
            step.uses.is_some(),
            step.for_each.is_some(),
            step.parallel.is_some(),
        ];
        let count = kinds.iter().filter(|k| **k).count();
        if count != 1 {
            let message = if count == 0 {
                format!("step `{id}` does nothing")
            } else {
                format!("step `{id}` mixes `uses`, `for_each` and `parallel`")
            };
            self.error(
                Diagnostic::error(message, Some(step.id.span))
                    .with_help("give a step exactly one of `uses: <action>`, `for_each:` with `steps:`, or `parallel:`"),
            );
            return None;
        }
        if step.uses.is_none() {
            if let Some(with) = &step.with {
                self.error(
                    Diagnostic::error(
                        format!("`with` applies to `uses` steps only (step `{id}`)"),
                        Some(with.0.span),
                    )
                    .with_help("give the inputs to the steps inside"),
                );
            }
            if let Some(retry) = &step.retry {
                self.error(
                    Diagnostic::error(
                        format!("`retry` applies to `uses` steps only (step `{id}`)"),
                        Some(retry.span),
                    )
                    .with_help(
                        "put `retry` on the steps inside, so only the failed work is repeated",
                    ),
                );
            }
        }
        if step.steps.is_some() && step.for_each.is_none() {
            self.error(Diagnostic::error(
                format!("step `{id}` has `steps` but no `for_each`"),
                Some(step.id.span),
            ));
        }
        if step.concurrency.is_some() && step.for_each.is_none() {
            self.error(Diagnostic::error(
                format!("`concurrency` applies to `for_each` steps only (step `{id}`)"),
                step.concurrency.as_ref().map(|c| c.span),
            ));
        }
        let condition = step
            .condition
            .as_ref()
            .map(|c| self.condition(&c.0, visibility, roots, id, &mut refs));
        let connection = step.connection.as_ref().map(|c| c.value.clone());

        let kind = if let Some(uses) = &step.uses {
            let Some(action) = self.catalog.actions.get(&uses.value).cloned() else {
                self.error(
                    Diagnostic::error(format!("unknown action `{}`", uses.value), Some(uses.span))
                        .with_optional_help(suggestion(&uses.value, self.catalog.actions.names())),
                );
                if let Some(with) = &step.with {
                    self.value(&with.0, visibility, roots, id);
                }
                return None;
            };
            let spec = *action.spec();
            if !spec.scopes.is_empty() && connection.is_none() && !self.has_connection {
                self.error(
                    Diagnostic::error(
                        format!("`{}` needs a connection", spec.name),
                        Some(uses.span),
                    )
                    .with_help("set `connection:` on the step or the workflow"),
                );
            }
            let (with, with_refs) = self.inputs_of(
                step.with.as_ref(),
                spec.inputs,
                spec.open_inputs,
                spec.name,
                uses.span,
                visibility,
                roots,
                id,
            );
            merge_refs(&mut refs, with_refs);
            StepKind::Action { action, with }
        } else if let Some(items) = &step.for_each {
            let (items, item_refs) = self.value(&items.0, visibility, roots, id);
            merge_refs(&mut refs, item_refs);
            let concurrency = match &step.concurrency {
                Some(c) if c.value == 0 => {
                    self.error(Diagnostic::error(
                        "`concurrency` must be at least 1",
                        Some(c.span),
                    ));
                    1
                }
                Some(c) => c.value as usize,
                None => 1,
            };
            let Some(body_steps) = &step.steps else {
                self.error(
                    Diagnostic::error(
                        format!("`for_each` step `{id}` has no `steps`"),
                        Some(step.id.span),
                    )
                    .with_help("add `steps:` with the steps to run for each item"),
                );
                return None;
            };
            let body = self.block(
                body_steps,
                visibility,
                Roots {
                    item: true,
                    ..roots
                },
            );
            StepKind::ForEach {
                items,
                concurrency,
                body,
            }
        } else {
            let branches_spec = step.parallel.as_ref()?;
            let mut branches = Vec::new();
            for (name, branch) in &branches_spec.value {
                branches.push((name.clone(), self.block(branch, visibility, roots)));
            }
            if branches.is_empty() {
                self.error(Diagnostic::error(
                    "`parallel` needs at least one branch",
                    Some(branches_spec.span),
                ));
            }
            StepKind::Parallel { branches }
        };

        let retry = step
            .retry
            .as_ref()
            .map(|r| self.retry(r))
            .unwrap_or_default();
        let on_error = match step.on_error.as_ref().map(|e| &e.value) {
            None | Some(OnError::Fail) => ErrorPlan::Fail,
            Some(OnError::Continue) => ErrorPlan::Continue,
            Some(OnError::Steps(handler)) => ErrorPlan::Steps(self.block(
                handler,
                visibility,
                Roots {
                    error: true,
                    ..roots
                },
            )),
        };
        // A loop's `outputs` are computed per item, seeing `item`, `index` and the body's
        // steps; other steps' see the action's result as `output`.
        let (body_index, body_mask) = match &kind {
            StepKind::ForEach { body, .. } => index_of(body),
            _ => (HashMap::new(), BitSet::default()),
        };
        let is_loop = matches!(kind, StepKind::ForEach { .. });
        let outputs_visibility = Visibility {
            parent: Some(visibility),
            index: &body_index,
            mask: &body_mask,
        };
        let outputs = step.outputs.as_ref().map(|node| {
            let output_roots = Roots {
                output: !is_loop,
                item: roots.item || is_loop,
                ..roots
            };
            self.mapping(&node.0, "outputs")
                .into_iter()
                .map(|(key, value)| {
                    let (template, value_refs) =
                        self.value(value, &outputs_visibility, output_roots, id);
                    merge_refs(&mut refs, value_refs);
                    (key, template)
                })
                .collect()
        });
        Some(CompiledStep {
            id: Arc::from(id),
            name: step.name.clone(),
            line: step.id.span.line,
            kind,
            condition,
            retry,
            timeout: step.timeout.as_ref().map(|t| t.value.0),
            on_error,
            outputs,
            connection,
            step_refs: refs,
        })
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

    /// Checks `with:` against an action's (or source's) declared inputs and compiles it.
    #[allow(clippy::too_many_arguments)]
    fn inputs_of(
        &mut self,
        with: Option<&RawNode>,
        fields: &[crate::actions::InputField],
        open: bool,
        owner: &str,
        owner_span: Span,
        visibility: &Visibility<'_>,
        roots: Roots,
        self_id: &str,
    ) -> (ValueTemplate, StepRefs) {
        let Some(with) = with else {
            let missing: Vec<String> = fields
                .iter()
                .filter(|f| f.required)
                .map(|f| format!("`{}`", f.name))
                .collect();
            if !missing.is_empty() {
                self.error(
                    Diagnostic::error(
                        format!("`{owner}` needs {}", missing.join(", ")),
                        Some(owner_span),
                    )
                    .with_help("add them under `with:`"),
                );
            }
            return (ValueTemplate::empty_object(), StepRefs::Listed(Vec::new()));
        };
        let entries = self.mapping(&with.0, "with");
        if !open {
            for (key, _) in &entries {
                if !fields.iter().any(|f| f.name == key) {
                    let key_span = match &with.0.kind {
                        NodeKind::Map(e) => e
                            .iter()
                            .find(|(k, _)| &k.key_text() == key)
                            .map(|(k, _)| k.span),
                        _ => None,
                    };
                    self.error(
                        Diagnostic::error(format!("`{owner}` has no input `{key}`"), key_span)
                            .with_optional_help(suggestion(key, fields.iter().map(|f| f.name))),
                    );
                }
            }
            let missing: Vec<String> = fields
                .iter()
                .filter(|f| f.required && !entries.iter().any(|(k, _)| k == f.name))
                .map(|f| format!("`{}`", f.name))
                .collect();
            if !missing.is_empty() {
                self.error(Diagnostic::error(
                    format!("`{owner}` needs {}", missing.join(", ")),
                    Some(owner_span),
                ));
            }
        }
        let (template, refs) = self.value(&with.0, visibility, roots, self_id);
        // Literal values can be type-checked now; computed ones are checked when rendered.
        if let NodeKind::Map(nodes) = &with.0.kind {
            for (key, value) in nodes {
                let Some(field) = fields.iter().find(|f| f.name == key.key_text()) else {
                    continue;
                };
                let mut sites = Vec::new();
                let mut ignored = Vec::new();
                if let ValueTemplate::Literal(literal) =
                    compile_value(value, &mut sites, &mut ignored)
                {
                    if let Err(message) = field.kind.check(&literal) {
                        self.error(Diagnostic::error(
                            format!("input `{}` of `{owner}`: {message}", field.name),
                            Some(value.span),
                        ));
                    }
                }
            }
        }
        (template, refs)
    }

    fn condition(
        &mut self,
        node: &Node,
        visibility: &Visibility<'_>,
        roots: Roots,
        id: &str,
        refs: &mut StepRefs,
    ) -> Condition {
        let text = match &node.kind {
            NodeKind::Bool(b) => return Condition::Literal(*b),
            NodeKind::Str { value, .. } => value,
            _ => {
                self.error(Diagnostic::error(
                    format!(
                        "`if` must be an expression or a boolean, found {}",
                        node.type_name()
                    ),
                    Some(node.span),
                ));
                return Condition::Literal(false);
            }
        };
        let parsed = if text.contains("${{") {
            Template::parse(text).map(|t| (t.references(), Condition::Template(t)))
        } else {
            Expr::parse(text).map(|e| (e.references(), Condition::Expr(e)))
        };
        match parsed {
            Ok((references, condition)) => {
                for reference in references {
                    self.reference(&reference, node, visibility, roots, id, refs);
                }
                condition
            }
            Err(e) => {
                self.error(
                    Diagnostic::error(
                        format!("invalid expression: {}", e.message),
                        Some(span_in_string(node, e.span.clone())),
                    )
                    .with_optional_help(e.help.clone()),
                );
                Condition::Literal(false)
            }
        }
    }

    fn retry(&mut self, retry: &Spanned<model::RetryPolicy>) -> RetryPlan {
        let defaults = RetryPlan::default();
        let policy = &retry.value;
        if policy.max_attempts.value == 0 {
            self.error(
                Diagnostic::error(
                    "`max_attempts` must be at least 1",
                    Some(policy.max_attempts.span),
                )
                .with_help("it counts the first attempt: 3 means one try and two retries"),
            );
        }
        let plan = RetryPlan {
            max_attempts: policy.max_attempts.value.max(1),
            backoff: policy.backoff,
            initial_delay: policy
                .initial_delay
                .as_ref()
                .map_or(defaults.initial_delay, |d| d.value.0),
            max_delay: policy.max_delay.map_or(defaults.max_delay, |d| d.0),
            jitter: policy.jitter,
            deadline: policy.deadline.map(|d| d.0),
            on: policy.on.clone().unwrap_or(defaults.on),
        };
        if plan.initial_delay > plan.max_delay {
            let span = policy.initial_delay.as_ref().map_or(retry.span, |d| d.span);
            self.error(
                Diagnostic::error("`initial_delay` is longer than `max_delay`", Some(span)).with_help(format!(
                    "the first wait would be capped at {}; raise `max_delay` or lower `initial_delay`",
                    crate::duration::format_duration(plan.max_delay)
                )),
            );
        }
        plan
    }
}

fn merge_refs(into: &mut StepRefs, from: StepRefs) {
    match (into, from) {
        (StepRefs::All, _) => {}
        (into, StepRefs::All) => *into = StepRefs::All,
        (StepRefs::Listed(a), StepRefs::Listed(b)) => {
            for id in b {
                if !a.contains(&id) {
                    a.push(id);
                }
            }
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

/// Kahn's algorithm, preferring file order; `Err` holds the steps of one cycle.
fn topological_order(deps: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let n = deps.len();
    let mut remaining: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let mut ready: std::collections::BTreeSet<usize> =
        (0..n).filter(|&i| remaining[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &j in &dependents[i] {
            remaining[j] -= 1;
            if remaining[j] == 0 {
                ready.insert(j);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Walk back along unfinished dependencies until a step repeats: that is a cycle.
    let start = (0..n).find(|&i| remaining[i] > 0).unwrap_or(0);
    let mut path = vec![start];
    let mut current = start;
    loop {
        let Some(&next) = deps[current].iter().find(|&&d| remaining[d] > 0) else {
            return Err(path);
        };
        if let Some(pos) = path.iter().position(|&p| p == next) {
            // Each step of the cycle needs the next one, and the last needs the first.
            return Err(path[pos..].to_vec());
        }
        path.push(next);
        current = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topological_order_keeps_file_order_and_finds_cycles() {
        assert_eq!(
            topological_order(&[vec![], vec![0], vec![]]).unwrap(),
            vec![0, 1, 2]
        );
        assert_eq!(topological_order(&[vec![1], vec![]]).unwrap(), vec![1, 0]);
        let cycle = topological_order(&[vec![2], vec![0], vec![1]]).unwrap_err();
        assert_eq!(cycle.len(), 3);
    }

    #[test]
    fn ids_are_identifiers() {
        assert!(valid_id("fetch_pages-2"));
        assert!(!valid_id("2fetch"));
        assert!(!valid_id("a.b"));
    }
}
