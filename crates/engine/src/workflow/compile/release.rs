//! When a top-level step's record may be dropped during a run: once the last step that can
//! read it has finished. A run of 100,000 steps then holds the records still to be read, not
//! every record since its start.

use std::collections::HashSet;

use super::*;

/// The step ids a block's steps read, nested steps (loop bodies, branches, `on_error`
/// handlers) included; `All` when one reads `steps` whole.
pub(super) fn reads_of_block(block: &Block) -> StepRefs {
    let mut reads = StepRefs::Listed(Vec::new());
    for step in &block.steps {
        merge_refs(&mut reads, reads_of_step(step));
        if matches!(reads, StepRefs::All) {
            break;
        }
    }
    reads
}

/// What a step and the steps inside it read.
fn reads_of_step(step: &CompiledStep) -> StepRefs {
    let mut reads = step.step_refs.clone();
    let mut inner = |block: &Block| merge_refs(&mut reads, reads_of_block(block));
    match &step.kind {
        StepKind::ForEach { body, .. } => inner(body),
        StepKind::Parallel { branches } => branches.iter().for_each(|(_, b)| inner(b)),
        StepKind::Action { .. } => {}
    }
    if let ErrorPlan::Steps(handler) = &step.on_error {
        inner(handler);
    }
    reads
}

/// Sets `releases` on the top-level steps: each step's record is released after the step
/// that reads it last, or right after the step itself when nothing reads it. `after` is what
/// the workflow reads once the steps are over (`outputs`, `on_failure`, `finally`): those
/// records are kept. Nothing is released when something reads `steps` whole, and a record
/// whose readers may finish in any order (no reader runs after all the others) is kept.
pub(super) fn plan_releases(steps: &mut Block, after: StepRefs) {
    let StepRefs::Listed(kept) = after else {
        return;
    };
    let kept: HashSet<&str> = kept.iter().map(|id| &**id).collect();
    let position: HashMap<&str, usize> = steps
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (&*s.id, i))
        .collect();
    let n = steps.steps.len();
    // `readers[x]`: the positions of the steps that read step `x`.
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (reader, step) in steps.steps.iter().enumerate() {
        let StepRefs::Listed(ids) = reads_of_step(step) else {
            return;
        };
        for id in ids {
            if let Some(&x) = position.get(&*id) {
                readers[x].push(reader);
            }
        }
    }
    // Compilation orders a step after its dependencies: a reader's ancestors are known when
    // it is reached.
    let mut ancestors: Vec<PositionSet> = Vec::with_capacity(n);
    for deps in &steps.deps {
        let mut mine = PositionSet::default();
        for &d in deps {
            mine.insert(d);
            mine.union_with(&ancestors[d]);
        }
        ancestors.push(mine);
    }
    let mut releases: Vec<Vec<Arc<str>>> = vec![Vec::new(); n];
    for (x, readers) in readers.iter().enumerate() {
        let id = &steps.steps[x].id;
        if kept.contains(&**id) {
            continue;
        }
        // The reader at the highest position is the only one that can run after the others.
        let last = readers.iter().copied().max().unwrap_or(x);
        if readers
            .iter()
            .all(|&r| r == last || ancestors[last].contains(r))
        {
            releases[last].push(id.clone());
        }
    }
    for (step, ids) in steps.steps.iter_mut().zip(releases) {
        step.releases = ids.into_boxed_slice();
    }
}
