//! When a top-level step's record may be dropped during a run: once the last step that can
//! read it has finished. A run of 100,000 steps then holds the records still to be read, not
//! every record since its start.

use std::collections::HashSet;

use super::graph::PositionSet;

use super::*;

/// The step ids a block's steps read, nested steps (loop bodies, branches, `on_error`
/// handlers) included; `All` when one reads `steps` whole.
pub(super) fn reads_of_block(block: &Block) -> StepRefs {
    let mut reads = StepRefs::Listed(StepIds::new());
    for step in &block.steps {
        merge_refs(&mut reads, reads_of_step(step));
        if matches!(reads, StepRefs::All) {
            break;
        }
    }
    tidy_reads(&mut reads);
    reads
}

/// What a step and the steps inside it read.
fn reads_of_step(step: &CompiledStep) -> StepRefs {
    let mut reads = match step.step_refs() {
        Some(ids) => StepRefs::Listed(ids.iter().cloned().collect()),
        None => StepRefs::All,
    };
    let mut inner = |block: &Block| merge_refs(&mut reads, reads_of_block(block));
    match &step.kind {
        StepKind::ForEach(each) => inner(&each.body),
        StepKind::Parallel { branches } => branches.iter().for_each(|(_, b)| inner(b)),
        StepKind::Action { .. } => {}
    }
    if let ErrorPlan::Steps(handler) = step.on_error() {
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
    // The top-level steps each step reads, by position (`None`: it reads `steps` whole).
    let read = |step: &CompiledStep| match reads_of_step(step) {
        StepRefs::Listed(ids) => Some(
            ids.iter()
                .filter_map(|id| position.get(&**id).copied())
                .collect::<Vec<usize>>(),
        ),
        StepRefs::All => None,
    };
    // `last[x]`: the highest position of a step reading step `x` (`x` itself when none does).
    let mut last: Vec<usize> = (0..n).collect();
    for (reader, step) in steps.steps.iter().enumerate() {
        let Some(xs) = read(step) else {
            return;
        };
        for x in xs {
            last[x] = last[x].max(reader);
        }
    }
    // Compilation orders a step after its dependencies: a step's ancestors are known when it
    // is reached.
    let mut ancestors: Vec<PositionSet> = Vec::with_capacity(n);
    for deps in steps.deps.iter() {
        let mut mine = PositionSet::default();
        for &d in deps {
            let d = d as usize;
            mine.insert(d);
            mine.union_with(&ancestors[d]);
        }
        ancestors.push(mine);
    }
    // Only the last reader can run after all the others when they are all its ancestors.
    let mut released: Vec<bool> = (0..n)
        .map(|x| !kept.contains(&*steps.steps[x].id))
        .collect();
    for (reader, step) in steps.steps.iter().enumerate() {
        for x in read(step).unwrap_or_default() {
            if reader != last[x] && !ancestors[last[x]].contains(reader) {
                released[x] = false;
            }
        }
    }
    drop(ancestors);
    // The released steps by the step after which they are released (stable: in step order
    // after one step).
    let mut after_step: Vec<usize> = Vec::with_capacity(n);
    after_step.extend((0..n).filter(|&x| released[x]));
    after_step.sort_by_key(|&x| last[x]);
    let mut xs = after_step.into_iter().peekable();
    let mut releases = StepLists::with_capacity(n);
    for i in 0..n {
        releases.push(std::iter::from_fn(|| xs.next_if(|&x| last[x] == i)));
    }
    releases.shrink_to_fit();
    steps.releases = releases;
}

#[cfg(test)]
mod tests {
    use super::super::load_with_builtins;

    /// `(step, the records released after it)` for every top-level step.
    fn releases(yaml: &str) -> Vec<(String, Vec<String>)> {
        let loaded = load_with_builtins(yaml);
        let block = &loaded.workflow.steps;
        block
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let ids = block
                    .releases
                    .get(i)
                    .iter()
                    .map(|&x| block.steps[x as usize].id.to_string())
                    .collect();
                (s.id.to_string(), ids)
            })
            .collect()
    }

    fn plan(rows: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        rows.iter()
            .map(|(step, ids)| {
                (
                    step.to_string(),
                    ids.iter().map(|s| s.to_string()).collect(),
                )
            })
            .collect()
    }

    const CHAIN: &str = "
name: chain
steps:
  - {id: a, uses: core.set, with: {n: 1}}
  - {id: b, uses: core.set, with: {n: '${{ steps.a.output.n }}'}}
  - {id: c, uses: core.set, with: {n: 3}}
  - {id: d, uses: core.set, with: {n: '${{ steps.a.output.n + steps.c.output.n }}'}}
";

    #[test]
    fn a_record_is_released_after_its_last_reader_or_at_once_when_nothing_reads_it() {
        assert_eq!(
            releases(CHAIN),
            plan(&[
                ("a", &[]),
                ("b", &["b"]),
                ("c", &[]),
                ("d", &["a", "c", "d"])
            ])
        );
    }

    #[test]
    fn what_outputs_on_failure_and_finally_read_is_kept() {
        let kept = [
            "outputs:\n  n: ${{ steps.a.output.n }}\n",
            "on_failure:\n  - {id: h, uses: core.log, with: {message: '${{ steps.a.status }}'}}\n",
            "finally:\n  - {id: h, uses: core.log, with: {message: '${{ steps.a.status }}'}}\n",
        ];
        for tail in kept {
            assert_eq!(
                releases(&format!("{CHAIN}{tail}")),
                plan(&[("a", &[]), ("b", &["b"]), ("c", &[]), ("d", &["c", "d"])]),
                "{tail}"
            );
        }
    }

    #[test]
    fn reading_steps_whole_anywhere_keeps_every_record() {
        let whole = [
            "outputs:\n  all: ${{ steps }}\n",
            "finally:\n  - {id: h, uses: core.log, with: {message: '${{ steps }}'}}\n",
            "  - {id: e, uses: core.set, with: {n: '${{ steps }}'}}\n",
        ];
        for tail in whole {
            let none = releases(&format!("{CHAIN}{tail}"))
                .iter()
                .all(|(_, ids)| ids.is_empty());
            assert!(none, "{tail}");
        }
    }

    #[test]
    fn a_read_inside_a_loop_body_or_handler_counts_as_the_enclosing_steps() {
        let yaml = "
name: nested
steps:
  - {id: a, uses: core.set, with: {n: 1}}
  - {id: b, uses: core.set, with: {n: 2}}
  - id: each
    for_each: [1, 2]
    steps:
      - {id: inner, uses: core.set, with: {n: '${{ steps.a.output.n + item }}'}}
  - id: risky
    uses: core.fail
    with: {message: no}
    on_error:
      steps:
        - {id: handle, uses: core.log, with: {message: '${{ steps.b.status }}'}}
  - {id: end, uses: core.set, with: {n: 0}}
";
        assert_eq!(
            releases(yaml),
            plan(&[
                ("a", &[]),
                ("b", &[]),
                ("each", &["a", "each"]),
                ("risky", &["b", "risky"]),
                ("end", &["end"]),
            ])
        );
    }

    #[test]
    fn a_record_read_by_steps_that_may_finish_in_any_order_is_kept() {
        let yaml = "
name: fan
steps:
  - {id: a, uses: core.set, with: {n: 1}}
  - {id: left, needs: [a], uses: core.set, with: {n: '${{ steps.a.output.n }}'}}
  - {id: right, needs: [a], uses: core.set, with: {n: '${{ steps.a.output.n }}'}}
  - {id: join, needs: [left, right], uses: core.set, with: {n: '${{ steps.a.output.n }}'}}
  - {id: other, needs: [a], uses: core.set, with: {n: '${{ steps.a.output.n }}'}}
";
        // `other` may finish before or after `join`: `a` stays.
        let plan = releases(yaml);
        assert!(
            plan.iter().all(|(_, ids)| !ids.contains(&"a".to_string())),
            "{plan:?}"
        );
        let without_other = yaml.lines().take(7).collect::<Vec<_>>().join("\n");
        assert_eq!(
            releases(&without_other),
            super::tests::plan(&[
                ("a", &[]),
                ("left", &["left"]),
                ("right", &["right"]),
                ("join", &["a", "join"]),
            ])
        );
    }
}
