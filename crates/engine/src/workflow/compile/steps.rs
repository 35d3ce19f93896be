//! Blocks and steps: dependencies, kinds, inputs, conditions and retries.

use super::graph::topological_order;
use super::*;

/// What planning a block needs of one of its steps (see [`Checker::plan_block`]).
pub(super) struct StepHead {
    id: Arc<str>,
    /// The id's place, where a cycle through a step without `needs` is reported.
    span: Span,
    needs: Option<Box<[Spanned<String>]>>,
}

/// A block planned from its steps' heads: its number, the order its steps run in and what
/// each may read. Its steps are then compiled in file order ([`BlockBuilder`]).
pub(super) struct BlockPlan {
    number: BlockNumber,
    /// Each step's position in the block, by its place in the file.
    position: Vec<u32>,
    /// Each step's dependencies, by positions.
    deps: StepLists,
    /// The steps of the block each step may read (its ancestors), by its position.
    masks: Vec<PositionSet>,
}

/// A planned block whose steps are being compiled, in file order.
pub(super) struct BlockBuilder<'v> {
    plan: BlockPlan,
    outer: &'v Visibility<'v>,
    roots: Roots,
    /// In file order until [`finish`](Self::finish) puts them in the plan's.
    compiled: Vec<CompiledStep>,
    /// Steps added so far.
    added: usize,
    /// Compiled steps whose expressions are packed (see [`PACKED_STEPS`]).
    packed: usize,
    broken: bool,
}

/// A block's steps have their expressions packed by this many at a time, as they are
/// compiled: the code of the steps compiled since is all that is ever held unpacked.
const PACKED_STEPS: usize = 1024;

impl<'v> BlockBuilder<'v> {
    pub(super) fn new(plan: BlockPlan, outer: &'v Visibility<'v>, roots: Roots) -> Self {
        // Sized once: the block keeps it.
        let compiled = Vec::with_capacity(plan.position.len());
        BlockBuilder {
            plan,
            outer,
            roots,
            compiled,
            added: 0,
            packed: 0,
            broken: false,
        }
    }

    /// Compiles the block's next step in file order.
    pub(super) fn add(&mut self, checker: &mut Checker<'_>, step: Step) {
        self.added += 1;
        let Some(&position) = self.plan.position.get(self.added - 1) else {
            // More steps than planned: the plan's heads were not read from these steps.
            return;
        };
        let visibility = Visibility {
            parent: Some(self.outer),
            block: self.plan.number,
            mask: &self.plan.masks[position as usize],
        };
        // A step that fails to compile leaves the block unusable, but the remaining steps
        // are still checked so every problem is reported at once.
        match checker.step(step, &visibility, self.roots) {
            Some(step) if !self.broken => self.compiled.push(step),
            Some(_) => {}
            None => self.broken = true,
        }
        if self.compiled.len() - self.packed >= PACKED_STEPS {
            self.pack();
        }
    }

    /// Packs the expressions of the steps compiled since the last time.
    fn pack(&mut self) {
        pack_expressions(&mut self.compiled[self.packed..]);
        self.packed = self.compiled.len();
    }

    /// Whether as many steps were added as were planned.
    pub(super) fn matches_plan(&self) -> bool {
        self.added == self.plan.position.len()
    }

    pub(super) fn finish(mut self) -> Block {
        if self.broken || !self.matches_plan() {
            return Block::default();
        }
        self.pack();
        let mut steps = self.compiled;
        into_order(&mut steps, self.plan.position);
        let mut block = Block {
            steps,
            deps: self.plan.deps,
            releases: StepLists::default(),
        };
        block.deps.shrink_to_fit();
        block
    }
}

impl Checker<'_> {
    /// Compiles a list of steps, consuming it: each step's model (its text, `with:` tree and
    /// ids) is freed as it is compiled, so a large workflow never holds its model and its
    /// compiled form whole at the same time.
    pub(super) fn block(&mut self, slots: StepList, outer: &Visibility<'_>, roots: Roots) -> Block {
        // The steps that were read (in place: same room).
        let mut steps: Vec<Box<Step>> = slots.into_iter().filter_map(|slot| slot.0).collect();
        let heads: Vec<StepHead> = steps.iter_mut().map(|s| self.head(s)).collect();
        let Some(plan) = self.plan_block(&heads) else {
            return Block::default();
        };
        drop(heads);
        let mut block = BlockBuilder::new(plan, outer, roots);
        for step in steps {
            block.add(self, *step);
        }
        block.finish()
    }

    /// What planning `step`'s block needs of it; its `needs` are taken out of it.
    pub(super) fn head(&self, step: &mut Step) -> StepHead {
        StepHead {
            id: self.shared_id(&step.id.value),
            span: step.id.span,
            needs: step.needs.take(),
        }
    }

    /// Orders a block's steps (`heads`, in file order) by their dependencies and numbers the
    /// block; `None` when `needs` forms a cycle (reported).
    pub(super) fn plan_block(&mut self, heads: &[StepHead]) -> Option<BlockPlan> {
        // Dependencies, in file order.
        let mut deps = StepLists::with_capacity(heads.len());
        let mut mine = Vec::new();
        {
            let local: HashMap<&str, usize> = heads
                .iter()
                .enumerate()
                .map(|(i, head)| (&*head.id, i))
                .collect();
            for (i, head) in heads.iter().enumerate() {
                mine.clear();
                match &head.needs {
                    None => mine.extend(i.checked_sub(1)),
                    Some(needs) => {
                        for need in needs {
                            match local.get(need.value.as_str()) {
                                Some(&j) if j == i => self.error(Diagnostic::error(
                                    format!("step `{}` needs itself", head.id),
                                    Some(need.span),
                                )),
                                Some(&j) => mine.push(j),
                                None => {
                                    let help = match self.places.get(need.value.as_str()) {
                                        Some(_) => Some(format!(
                                            "`{}` is in another list of steps; `needs` names steps of the same list",
                                            need.value
                                        )),
                                        None => self
                                            .near_names
                                            .suggestion(&need.value, local.keys().copied()),
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
                deps.push(mine.iter().copied());
            }
        }

        let order = match topological_order(&deps) {
            Ok(order) => order,
            Err(cycle) => {
                let names: Vec<String> = cycle
                    .iter()
                    .map(|&i| format!("`{}`", heads[i].id))
                    .collect();
                let first = &heads[cycle[0]];
                let span = first
                    .needs
                    .as_ref()
                    .and_then(|n| n.first())
                    .map_or(first.span, |n| n.span);
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
                return None;
            }
        };
        let mut position = vec![0u32; heads.len()];
        for (new, &old) in order.iter().enumerate() {
            position[old] = u32::try_from(new).unwrap_or(u32::MAX);
        }
        let number = self.next_block;
        self.next_block += 1;
        for (new, &old) in order.iter().enumerate() {
            self.place_in_block(number, &heads[old].id, new);
        }
        // Each step's dependencies by their new positions, which the block keeps: the lists
        // in file order are freed before the steps compile (at 100,000 steps, 3.2 MB that
        // lived until the last step compiled, the process's peak).
        let mut block_deps = StepLists::with_capacity(heads.len());
        for &old in &order {
            block_deps.push(deps[old].iter().map(|&d| position[d as usize] as usize));
        }
        drop((deps, order));
        let mut masks: Vec<PositionSet> = Vec::with_capacity(heads.len());
        for new in 0..heads.len() {
            let mut mask = PositionSet::default();
            for &d in &block_deps[new] {
                let d = d as usize;
                mask.insert(d);
                mask.union_with(&masks[d]);
            }
            masks.push(mask);
        }
        Some(BlockPlan {
            number,
            position,
            deps: block_deps,
            masks,
        })
    }

    pub(super) fn step(
        &mut self,
        mut step: Step,
        visibility: &Visibility<'_>,
        roots: Roots,
    ) -> Option<CompiledStep> {
        let id = &*step.id.value;
        let mut refs = StepRefs::Listed(StepIds::new());
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
        if let Some(timeout) = step.timeout.as_ref().filter(|t| t.value.0.is_zero()) {
            self.error(
                Diagnostic::error("`timeout` must be longer than 0", Some(timeout.span))
                    .with_help("leave `timeout` out for no limit"),
            );
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
        let connection = step
            .connection
            .as_ref()
            .map(|c| Box::from(c.value.as_str()));

        // The number the loop's body gets, for its `outputs`.
        let mut body_number = NO_BLOCK;
        let kind = if let Some(uses) = &step.uses {
            let Some(action) = self.catalog.actions.get(&uses.value).cloned() else {
                self.error(
                    Diagnostic::error(format!("unknown action `{}`", uses.value), Some(uses.span))
                        .with_optional_help(suggestion(&uses.value, self.catalog.actions.names())),
                );
                if let Some(with) = &step.with {
                    self.value(&with.0, visibility, roots, Reader::Step(id));
                }
                return None;
            };
            // `action` moves into the step below; the spec is read through a second handle.
            let described = Arc::clone(&action);
            let spec = described.spec();
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
                &spec.inputs,
                spec.open_inputs,
                spec.name,
                uses.span,
                visibility,
                roots,
                Reader::Step(id),
            );
            merge_refs(&mut refs, with_refs);
            self.action_inputs(spec.name, step.with.as_ref());
            StepKind::Action { action, with }
        } else if let Some(items) = &step.for_each {
            let node = &items.0;
            let (items, item_refs) = self.value(node, visibility, roots, Reader::Step(id));
            merge_refs(&mut refs, item_refs);
            if let ValueTemplate::Literal(value) = &items {
                if !value.is_array() {
                    self.error(
                        Diagnostic::error(
                            format!("`for_each` needs a list, found {}", node.type_name()),
                            Some(node.span),
                        )
                        .with_help("write a YAML list, or an expression such as `${{ steps.fetch.output.items }}`"),
                    );
                }
            }
            let concurrency = step
                .concurrency
                .as_ref()
                .map_or(1, |c| c.value.get() as usize);
            let Some(body_steps) = step.steps.take() else {
                self.error(
                    Diagnostic::error(
                        format!("`for_each` step `{id}` has no `steps`"),
                        Some(step.id.span),
                    )
                    .with_help("add `steps:` with the steps to run for each item"),
                );
                return None;
            };
            if body_steps.is_empty() {
                self.error(Diagnostic::error(
                    format!("`for_each` step `{id}` has an empty `steps` list"),
                    Some(step.id.span),
                ));
            }
            body_number = self.next_block;
            let body = self.block(
                *body_steps,
                visibility,
                Roots {
                    item: true,
                    ..roots
                },
            );
            StepKind::ForEach(Box::new(LoopPlan {
                items,
                concurrency,
                body,
            }))
        } else {
            let branches_spec = step.parallel.as_mut()?;
            let mut branches = Vec::new();
            for (name, branch) in &mut branches_spec.value {
                let branch = std::mem::take(branch);
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
            .as_deref()
            .map(|policy| Box::new(self.retry(policy)));
        let on_error = match step.on_error.as_mut().map(|e| &mut e.value) {
            None | Some(OnError::Fail) => ErrorPlan::Fail,
            Some(OnError::Continue) => ErrorPlan::Continue,
            Some(OnError::Steps(handler)) => ErrorPlan::Steps(Box::new(self.block(
                std::mem::take(handler),
                visibility,
                Roots {
                    error: true,
                    ..roots
                },
            ))),
        };
        // A loop's `outputs` are computed per item, seeing `item`, `index` and the body's
        // steps; other steps' see the action's result as `output`.
        let (body_block, body_mask) = match &kind {
            StepKind::ForEach(each) => all_of(body_number, &each.body),
            _ => (NO_BLOCK, PositionSet::default()),
        };
        let is_loop = matches!(kind, StepKind::ForEach(_));
        let outputs_visibility = Visibility {
            parent: Some(visibility),
            block: body_block,
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
                        self.value(value, &outputs_visibility, output_roots, Reader::Step(id));
                    merge_refs(&mut refs, value_refs);
                    (key, template)
                })
                .collect()
        });
        tidy_reads(&mut refs);
        if let StepRefs::Listed(ids) = &mut refs {
            // Kept for the whole run: no spare room.
            ids.shrink_to_fit();
        }
        Some(CompiledStep::new(
            self.shared_id(id),
            step.id.span.line,
            kind,
            refs,
            StepExtras {
                retry,
                condition,
                timeout: step.timeout.as_ref().map(|t| t.value.0),
                on_error,
                outputs,
                connection,
            }
            .boxed(),
        ))
    }

    /// Checks `with:` against an action's (or source's) declared inputs and compiles it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn inputs_of(
        &mut self,
        with: Option<&RawNode>,
        fields: &[crate::actions::InputField],
        open: bool,
        owner: &str,
        owner_span: Span,
        visibility: &Visibility<'_>,
        roots: Roots,
        reader: Reader<'_>,
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
            return (
                ValueTemplate::empty_object(),
                StepRefs::Listed(StepIds::new()),
            );
        };
        let entries = self.mapping(&with.0, "with");
        if !open {
            for (key, _) in &entries {
                if !fields.iter().any(|f| f.name == *key) {
                    let key_span = match &with.0.kind {
                        NodeKind::Map(e) => e
                            .iter()
                            .find(|(k, _)| &k.key_text() == key)
                            .map(|(k, _)| k.span),
                        _ => None,
                    };
                    self.error(
                        Diagnostic::error(format!("`{owner}` has no input `{key}`"), key_span)
                            .with_optional_help(suggestion(
                                key,
                                fields.iter().map(|f| f.name.as_str()),
                            )),
                    );
                }
            }
            let missing: Vec<String> = fields
                .iter()
                .filter(|f| f.required && !entries.iter().any(|(k, _)| *k == f.name))
                .map(|f| format!("`{}`", f.name))
                .collect();
            if !missing.is_empty() {
                self.error(Diagnostic::error(
                    format!("`{owner}` needs {}", missing.join(", ")),
                    Some(owner_span),
                ));
            }
        }
        let (template, refs) = self.value(&with.0, visibility, roots, reader);
        // Literal values can be type-checked now; computed ones are checked when rendered.
        if let NodeKind::Map(nodes) = &with.0.kind {
            for (key, value) in nodes {
                let Some(field) = fields.iter().find(|f| f.name == key.key_text()) else {
                    continue;
                };
                let mut ignored = Vec::new();
                if let ValueTemplate::Literal(literal) =
                    compile_value(value, None, &mut self.keys, &mut ignored)
                {
                    if let Err(message) = field.kind.check(&literal) {
                        let wants_boolean = field.kind.check(&Value::Bool(true)).is_ok();
                        let help = literal
                            .as_str()
                            .filter(|_| wants_boolean)
                            .and_then(yaml11_bool_help);
                        self.error(
                            Diagnostic::error(
                                format!("input `{}` of `{owner}`: {message}", field.name),
                                Some(value.span),
                            )
                            .with_optional_help(help),
                        );
                    }
                }
            }
        }
        (template, refs)
    }

    pub(super) fn condition(
        &mut self,
        node: &Node,
        visibility: &Visibility<'_>,
        roots: Roots,
        id: &str,
        refs: &mut StepRefs,
    ) -> Condition {
        let text = match &node.kind {
            NodeKind::Bool(b) => return Condition::Literal(*b),
            NodeKind::Str {
                value,
                quoted: false,
                ..
            } if yaml11_bool_help(value).is_some() => {
                self.error(
                    Diagnostic::error(format!("`if: {value}` is not a boolean"), Some(node.span))
                        .with_optional_help(yaml11_bool_help(value)),
                );
                return Condition::Literal(false);
            }
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
            Template::parse_checked(text)
                .map(|(t, checks)| (checks, Condition::Template(Box::new(t))))
        } else {
            Expr::parse_checked(text)
                .map(|(e, checks)| (checks, Condition::Expr(Box::new(e))))
                .map_err(|e| vec![e])
        };
        match parsed {
            Ok((checks, condition)) => {
                let mut spans = StringSpans::new(node);
                for reference in &checks.references {
                    let reader = Reader::Step(id);
                    self.reference(reference, &mut spans, visibility, roots, reader, refs);
                }
                self.constant_errors(checks.constant_errors, &mut spans);
                condition
            }
            Err(errors) => {
                for e in &errors {
                    self.error(invalid_expression(node, e));
                }
                Condition::Literal(false)
            }
        }
    }

    pub(super) fn retry(&mut self, retry: &Spanned<model::RetryPolicy>) -> RetryPlan {
        let defaults = RetryPlan::default();
        let policy = &retry.value;
        let plan = RetryPlan {
            max_attempts: policy.max_attempts.value.get(),
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

/// Moves `steps[i]` to `position[i]`, in place (each swap puts one step where it belongs).
fn into_order<T>(steps: &mut [T], mut position: Vec<u32>) {
    for i in 0..steps.len() {
        while position[i] as usize != i {
            let j = position[i] as usize;
            steps.swap(i, j);
            position.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block's dependencies are listed by the steps' positions once ordered, not by their
    /// places in the file.
    #[test]
    fn dependencies_follow_the_steps_into_their_order() {
        let loaded = super::super::load_with_builtins(
            "name: t
steps:
  - {id: last, needs: [first, mid], uses: core.set, with: {n: 1}}
  - {id: mid, needs: [first], uses: core.set, with: {n: 1}}
  - {id: first, needs: [], uses: core.set, with: {n: 1}}
",
        );
        let block = &loaded.workflow.steps;
        let ids: Vec<&str> = block.steps.iter().map(|s| &*s.id).collect();
        assert_eq!(ids, ["first", "mid", "last"]);
        let deps: Vec<&[u32]> = block.deps.iter().collect();
        assert_eq!(deps, [&[][..], &[0], &[1, 0]]);
    }

    /// A chain's steps each read one step and release one: held inline, and the `with:`
    /// keys of every step are one shared text (issue 11: a step's memory at the run's end).
    #[test]
    fn a_chain_keeps_its_ids_inline_and_shares_its_keys() {
        let loaded = super::super::load_with_builtins(
            "name: t
steps:
  - {id: a, uses: core.set, with: {n: 1}}
  - {id: b, uses: core.set, with: {n: \"${{ steps.a.output.n + 1 }}\"}}
  - {id: c, uses: core.set, with: {n: \"${{ steps.b.output.n + 1 }}\"}}
",
        );
        let steps = &loaded.workflow.steps.steps;
        for step in &steps[1..] {
            let Some(read) = step.step_refs() else {
                panic!("{} reads listed steps", step.id);
            };
            assert_eq!(read.len(), 1);
            assert!(
                !step.reads.spilled(),
                "{} holds its read id in a heap block",
                step.id
            );
        }
        // `b` releases `a`; `c`, read by nothing, releases `b` and itself.
        assert_eq!(&loaded.workflow.steps.releases[1], &[0]);
        assert_eq!(&loaded.workflow.steps.releases[2], &[1, 2]);
        let key = |i: usize| match &steps[i].kind {
            StepKind::Action {
                with: ValueTemplate::Object(entries),
                ..
            } => entries[0].0.clone(),
            _ => panic!("step {i} has a computed `with:` mapping"),
        };
        assert!(Arc::ptr_eq(&key(1), &key(2)));
    }

    #[test]
    fn steps_move_to_their_positions() {
        let mut steps = vec!['a', 'b', 'c', 'd'];
        into_order(&mut steps, vec![2, 0, 3, 1]);
        assert_eq!(steps, ['b', 'd', 'a', 'c']);
    }
}
