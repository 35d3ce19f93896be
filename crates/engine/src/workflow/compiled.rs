//! A checked workflow, ready to run: templates parsed, actions resolved, dependencies indexed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use weft_expr::{Expr, Template};

use super::model::{Backoff, InputType, MissedRuns, OverlapPolicy, RetryOn, RunConcurrency};
use super::template::ValueTemplate;
use crate::actions::Action;
use crate::trigger::CronSchedule;

#[derive(Clone)]
pub struct CompiledWorkflow {
    pub name: String,
    pub description: Option<String>,
    pub path: PathBuf,
    /// SHA-256 of the file, recorded with each run.
    pub hash: String,
    pub inputs: Vec<InputDecl>,
    pub env: Vec<(String, ValueTemplate)>,
    pub vars: Vec<(String, ValueTemplate)>,
    pub connection: Option<String>,
    /// Settings read from `connection` (`connection.config.<name>`); `required` when they
    /// have no default.
    pub connection_config: Vec<InputDecl>,
    pub trigger: TriggerPlan,
    pub concurrency: Option<RunConcurrency>,
    pub steps: Block,
    pub on_failure: Block,
    pub finally: Block,
    pub outputs: Vec<(String, ValueTemplate)>,
    /// Names read as `secrets.<name>`, checked before a run starts.
    pub secrets: Vec<String>,
}

impl CompiledWorkflow {
    /// This workflow running on `connection` in place of its own `connection` (a poll trigger
    /// through one of several connections runs each event on the event's connection).
    pub fn on_connection(self: &Arc<Self>, connection: &str) -> Arc<Self> {
        if self.connection.as_deref() == Some(connection) {
            return self.clone();
        }
        Arc::new(CompiledWorkflow {
            connection: Some(connection.to_string()),
            ..(**self).clone()
        })
    }

    /// Every step, nested ones (loop bodies, branches, handlers) included.
    pub fn all_steps(&self) -> Vec<&CompiledStep> {
        fn walk<'a>(block: &'a Block, out: &mut Vec<&'a CompiledStep>) {
            for step in &block.steps {
                out.push(step);
                match &step.kind {
                    StepKind::ForEach(each) => walk(&each.body, out),
                    StepKind::Parallel { branches } => {
                        branches.iter().for_each(|(_, b)| walk(b, out))
                    }
                    StepKind::Action { .. } => {}
                }
                if let ErrorPlan::Steps(handler) = step.on_error() {
                    walk(handler, out);
                }
            }
        }
        let mut out = Vec::new();
        for block in [&self.steps, &self.on_failure, &self.finally] {
            walk(block, &mut out);
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct InputDecl {
    pub name: String,
    pub kind: InputType,
    pub required: bool,
    pub default: Option<Value>,
    pub allowed: Option<Vec<Value>>,
    pub description: Option<String>,
}

#[derive(Clone)]
pub enum TriggerPlan {
    Manual,
    Cron(CronPlan),
    Poll(PollPlan),
    Webhook(WebhookPlan),
}

impl TriggerPlan {
    /// The trigger's kind as the workflow language names it.
    pub fn kind(&self) -> &'static str {
        match self {
            TriggerPlan::Manual => "manual",
            TriggerPlan::Cron(_) => "cron",
            TriggerPlan::Poll(_) => "poll",
            TriggerPlan::Webhook(_) => "webhook",
        }
    }
}

#[derive(Clone)]
pub struct CronPlan {
    pub expression: String,
    pub schedule: CronSchedule,
    pub timezone: chrono_tz::Tz,
    pub missed: MissedRuns,
    pub max_catch_up: u32,
    pub overlap: OverlapPolicy,
}

#[derive(Clone)]
pub struct PollPlan {
    pub source: String,
    pub with: ValueTemplate,
    pub interval: Duration,
    pub connections: PollTargets,
    pub event_example: Value,
}

/// How the daemon checks a webhook request; each names a secret of the daemon (lowercase, as
/// `secrets.*` holds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookPlan {
    /// `X-Weft-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw body with the secret.
    Signature { secret: String },
    /// `Authorization: Bearer <the secret's value>`.
    Bearer { secret: String },
}

impl WebhookPlan {
    /// The name of the secret that checks requests.
    pub fn secret(&self) -> &str {
        match self {
            WebhookPlan::Signature { secret } | WebhookPlan::Bearer { secret } => secret,
        }
    }
}

/// The connections a poll trigger polls, each on its own cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollTargets {
    /// The connections the trigger names; none: the workflow's `connection`.
    Named(Vec<String>),
    /// Every connection of the source's provider, read again before each round of polls.
    All,
}

impl PollTargets {
    /// The trigger's connection when it names exactly one.
    pub fn only(&self) -> Option<&str> {
        match self {
            PollTargets::Named(names) if names.len() == 1 => Some(&names[0]),
            _ => None,
        }
    }
}

/// Steps that run together: a workflow's steps, a loop body, a branch, a handler.
#[derive(Clone, Default)]
pub struct Block {
    pub steps: Vec<CompiledStep>,
    /// `deps[i]`: positions of the steps that step `i` waits for.
    pub deps: StepLists,
    /// `releases[i]`: positions of the steps whose records no expression reads once step
    /// `i` has finished (its own included when nothing reads it): the run drops them then.
    /// Only the workflow's own steps release records (empty in other blocks).
    pub releases: StepLists,
}

/// A list of positions of steps of a block for each of its steps (their dependencies, the
/// records they release), all in one list: step `i`'s are `edges[ends[i - 1]..ends[i]]`. A
/// chain of 100,000 steps holds 8 bytes a step, where a `Vec` each cost 40 and a heap block.
/// Positions are `u32`s: a block holds far fewer steps than a file may (16 MiB).
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub struct StepLists {
    ends: Vec<u32>,
    edges: Vec<u32>,
}

/// A step's position in its block as [`StepLists`] keeps it.
fn position(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl StepLists {
    /// Room for `steps` steps of one dependency each (a chain, the usual block).
    pub fn with_capacity(steps: usize) -> Self {
        StepLists {
            ends: Vec::with_capacity(steps),
            edges: Vec::with_capacity(steps),
        }
    }

    /// Appends the next step's list.
    pub fn push(&mut self, deps: impl IntoIterator<Item = usize>) {
        self.edges.extend(deps.into_iter().map(position));
        self.ends.push(position(self.edges.len()));
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Each step's list, in step order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u32]> + '_ {
        (0..self.len()).map(|i| &self[i])
    }

    /// The other way round: for each step, the steps that wait for it, in step order. One
    /// list for the block, like this one (a run of a 100,000-step chain held a `Vec` each).
    pub fn dependents(&self) -> StepLists {
        // Counted, then each count made the start of its list, which each edge placed moves
        // on: it ends as the end of the list. Two allocations, however many steps.
        let mut ends = vec![0u32; self.len()];
        for &d in &self.edges {
            ends[d as usize] += 1;
        }
        let mut start = 0;
        for end in &mut ends {
            let count = *end;
            *end = start;
            start += count;
        }
        let mut edges = vec![0u32; self.edges.len()];
        for i in 0..self.len() {
            for &d in &self[i] {
                let d = d as usize;
                edges[ends[d] as usize] = position(i);
                ends[d] += 1;
            }
        }
        StepLists { ends, edges }
    }

    /// Step `i`'s list; empty past the last step.
    pub fn get(&self, i: usize) -> &[u32] {
        match i < self.len() {
            true => &self[i],
            false => &[],
        }
    }

    /// Gives back the room reserved beyond what was pushed.
    pub fn shrink_to_fit(&mut self) {
        self.ends.shrink_to_fit();
        self.edges.shrink_to_fit();
    }
}

impl std::ops::Index<usize> for StepLists {
    type Output = [u32];

    fn index(&self, i: usize) -> &[u32] {
        let start = match i.checked_sub(1) {
            Some(before) => self.ends[before] as usize,
            None => 0,
        };
        &self.edges[start..self.ends[i] as usize]
    }
}

impl Block {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Groups of steps that may run at the same time, in order (the plan shown by dry runs).
    pub fn levels(&self) -> Vec<Vec<usize>> {
        let mut level = vec![0usize; self.steps.len()];
        for i in 0..self.steps.len() {
            // Compilation orders dependencies before dependents.
            level[i] = self.deps[i]
                .iter()
                .map(|&d| level[d as usize] + 1)
                .max()
                .unwrap_or(0);
        }
        let depth = level.iter().copied().max().map_or(0, |m| m + 1);
        let mut groups = vec![Vec::new(); depth];
        for (i, l) in level.into_iter().enumerate() {
            groups[l].push(i);
        }
        groups
    }
}

#[derive(Clone)]
pub struct CompiledStep {
    pub id: Arc<str>,
    pub line: u32,
    /// An expression indexes `steps` with a computed name: the step reads every record
    /// (`reads` is then empty). Beside `line`, where it takes no room of its own.
    reads_all: bool,
    pub kind: StepKind,
    /// The steps whose records the step's expressions read (see [`CompiledStep::step_refs`]).
    pub(crate) reads: StepIds,
    /// What few steps have, in one box: a step with none of it holds a null pointer, not 80
    /// bytes (a run holds every step of its workflow).
    pub extras: Option<Box<StepExtras>>,
}

/// The parts of a step that few steps have.
#[derive(Clone)]
pub struct StepExtras {
    pub retry: Option<Box<RetryPlan>>,
    pub condition: Option<Condition>,
    pub timeout: Option<Duration>,
    pub on_error: ErrorPlan,
    pub outputs: Option<Box<[(String, ValueTemplate)]>>,
    pub connection: Option<Box<str>>,
}

impl StepExtras {
    /// `None` when the step has none of them.
    pub fn boxed(self) -> Option<Box<StepExtras>> {
        let none = self.retry.is_none()
            && self.condition.is_none()
            && self.timeout.is_none()
            && matches!(self.on_error, ErrorPlan::Fail)
            && self.outputs.is_none()
            && self.connection.is_none();
        (!none).then(|| Box::new(self))
    }
}

/// Keeps the expressions of `steps` in one store they share (see [`weft_expr::Packing`]): a
/// workflow holds every step for as long as it is loaded, and an expression parsed alone
/// holds four heap blocks. The steps of nested blocks are left to their own block.
pub fn pack_expressions(steps: &mut [CompiledStep]) {
    let mut packing = weft_expr::Packing::default();
    for step in steps {
        match &mut step.kind {
            StepKind::Action { with, .. } => with.pack_into(&mut packing),
            StepKind::ForEach(each) => each.items.pack_into(&mut packing),
            StepKind::Parallel { .. } => {}
        }
        let Some(extras) = step.extras.as_deref_mut() else {
            continue;
        };
        match &mut extras.condition {
            Some(Condition::Template(template)) => packing.template(template),
            Some(Condition::Expr(expr)) => packing.expr(expr),
            Some(Condition::Literal(_)) | None => {}
        }
        for (_, output) in extras.outputs.iter_mut().flat_map(|o| o.iter_mut()) {
            output.pack_into(&mut packing);
        }
    }
    packing.finish();
}

impl CompiledStep {
    pub fn new(
        id: Arc<str>,
        line: u32,
        kind: StepKind,
        step_refs: StepRefs,
        extras: Option<Box<StepExtras>>,
    ) -> Self {
        let (reads_all, reads) = match step_refs {
            StepRefs::Listed(ids) => (false, ids),
            StepRefs::All => (true, StepIds::new()),
        };
        CompiledStep {
            id,
            line,
            reads_all,
            kind,
            reads,
            extras,
        }
    }

    /// The steps whose records the step's expressions read; `None`: every record.
    pub fn step_refs(&self) -> Option<&[Arc<str>]> {
        (!self.reads_all).then_some(&self.reads)
    }

    /// Its `retry`, or the plan of steps without one.
    pub fn retry(&self) -> &RetryPlan {
        match self.extras.as_ref().and_then(|e| e.retry.as_deref()) {
            Some(plan) => plan,
            None => RetryPlan::default_plan(),
        }
    }

    /// Its `if`.
    pub fn condition(&self) -> Option<&Condition> {
        self.extras.as_ref()?.condition.as_ref()
    }

    /// Its `timeout`.
    pub fn timeout(&self) -> Option<Duration> {
        self.extras.as_ref()?.timeout
    }

    /// What a failure does (`on_error`).
    pub fn on_error(&self) -> &ErrorPlan {
        self.extras
            .as_ref()
            .map_or(&ErrorPlan::Fail, |e| &e.on_error)
    }

    /// Its `outputs` mapping.
    pub fn outputs(&self) -> Option<&[(String, ValueTemplate)]> {
        self.extras.as_ref()?.outputs.as_deref()
    }

    /// Its own `connection`.
    pub fn connection(&self) -> Option<&str> {
        self.extras.as_ref()?.connection.as_deref()
    }
}

/// Step ids a step lists. Most steps list one or none (in a chain, each reads and releases
/// the one before it): one is held inline, not in a heap block of its own.
pub type StepIds = smallvec::SmallVec<[Arc<str>; 1]>;

#[derive(Debug, Clone)]
pub enum StepRefs {
    Listed(StepIds),
    /// An expression indexes `steps` with a computed name.
    All,
}

impl StepRefs {
    /// The steps listed; `None`: every step.
    pub fn listed(&self) -> Option<&[Arc<str>]> {
        match self {
            StepRefs::Listed(ids) => Some(ids),
            StepRefs::All => None,
        }
    }
}

#[derive(Clone)]
pub enum StepKind {
    Action {
        action: Arc<dyn Action>,
        with: ValueTemplate,
    },
    /// Boxed, as `on_error` handlers: a step that is no loop stays small.
    ForEach(Box<LoopPlan>),
    Parallel {
        branches: Vec<(String, Block)>,
    },
}

/// A `for_each` step's loop.
#[derive(Clone)]
pub struct LoopPlan {
    pub items: ValueTemplate,
    pub concurrency: usize,
    pub body: Block,
}

#[derive(Debug, Clone)]
pub enum Condition {
    Literal(bool),
    Template(Box<Template>),
    Expr(Box<Expr>),
}

#[derive(Debug, Clone)]
pub struct RetryPlan {
    pub max_attempts: u32,
    pub backoff: Backoff,
    pub initial_delay: Duration,
    pub max_delay: Duration,
    pub jitter: bool,
    pub deadline: Option<Duration>,
    pub on: Vec<RetryOn>,
}

impl RetryPlan {
    /// The plan of steps that have no `retry`: one per process, not one per step.
    pub fn default_plan() -> &'static RetryPlan {
        static DEFAULT: std::sync::LazyLock<RetryPlan> =
            std::sync::LazyLock::new(RetryPlan::default);
        &DEFAULT
    }
}

impl Default for RetryPlan {
    fn default() -> Self {
        RetryPlan {
            max_attempts: 1,
            backoff: Backoff::Exponential,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            jitter: true,
            deadline: None,
            on: vec![RetryOn::Transient],
        }
    }
}

#[derive(Clone)]
pub enum ErrorPlan {
    Fail,
    Continue,
    Steps(Box<Block>),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workflow holds one of each per step for the whole run (issue 11: a step's memory).
    #[test]
    fn per_step_forms_stay_small() {
        use std::mem::size_of;
        assert!(
            size_of::<ValueTemplate>() <= 24,
            "{}",
            size_of::<ValueTemplate>()
        );
        assert!(
            size_of::<CompiledStep>() <= 96,
            "{}",
            size_of::<CompiledStep>()
        );
        // Until compiled, a workflow holds a model step a step (freed as it is compiled) and
        // a word a step in its list.
        let model_step = size_of::<super::super::model::Step>();
        assert!(model_step <= 216, "{model_step}");
        assert_eq!(
            size_of::<crate::yaml::Recover<Box<super::super::model::Step>>>(),
            8
        );
    }

    #[test]
    fn deps_hand_back_each_steps_list() {
        let mut deps = StepLists::with_capacity(3);
        deps.push([]);
        deps.push([0]);
        deps.push([0, 1]);
        deps.shrink_to_fit();
        assert_eq!(deps.len(), 3);
        assert_eq!(&deps[0], &[] as &[u32]);
        assert_eq!(&deps[2], &[0, 1]);
        let lengths: Vec<usize> = deps.iter().map(<[u32]>::len).collect();
        assert_eq!(lengths, [0, 1, 2]);
        let dependents = deps.dependents();
        assert_eq!(dependents.len(), 3);
        assert_eq!(&dependents[0], &[1, 2]);
        assert_eq!(&dependents[1], &[2]);
        assert_eq!(&dependents[2], &[] as &[u32]);
    }
}
