//! The dependency graph of a block: order, cycles, and which steps a step can see.

use std::ops::Range;

use super::*;

/// Every step of `block` (compiled as block `number`), as the steps after it see them. A block
/// that did not compile shows no step.
pub(super) fn all_of(number: BlockNumber, block: &Block) -> (BlockNumber, PositionSet) {
    match block.is_empty() {
        true => (NO_BLOCK, PositionSet::default()),
        false => (number, PositionSet::below(block.steps.len())),
    }
}

/// A set of step positions as sorted, disjoint, non-adjacent ranges. A step's ancestors in
/// the usual chain are one range (`0..i`), so keeping every step's set costs a few words
/// each, not a bit per step of the block (which grew with the square of its length); one
/// range is held inline, without a heap block. Positions are `u32` (the loader caps a
/// workflow far below 2^32 steps): a block keeps one set a step while it compiles, 16 bytes
/// each instead of 24.
#[derive(Clone, Default)]
pub(super) struct PositionSet(Ranges);

#[derive(Clone, Default)]
enum Ranges {
    #[default]
    Empty,
    One(Range<u32>),
    /// Boxed twice: a thin pointer beside `One`'s two `u32`s keeps the set at 16 bytes (a
    /// slice's own pointer and length made it 24); sets of several ranges are rare.
    Many(Box<Box<[Range<u32>]>>),
}

/// A position as the sets hold it.
fn narrow(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl PositionSet {
    fn of(mut ranges: Vec<Range<u32>>) -> Self {
        PositionSet(match ranges.len() {
            0 => Ranges::Empty,
            1 => Ranges::One(ranges.swap_remove(0)),
            _ => Ranges::Many(Box::new(ranges.into_boxed_slice())),
        })
    }
    /// Every position below `n`.
    pub(super) fn below(n: usize) -> Self {
        Self::of((n > 0).then_some(0..narrow(n)).into_iter().collect())
    }
    fn ranges(&self) -> &[Range<u32>] {
        match &self.0 {
            Ranges::Empty => &[],
            Ranges::One(range) => std::slice::from_ref(range),
            Ranges::Many(ranges) => ranges,
        }
    }
    pub(super) fn insert(&mut self, i: usize) {
        let i = narrow(i);
        self.union_with(&PositionSet(Ranges::One(i..i.saturating_add(1))));
    }
    pub(super) fn contains(&self, i: usize) -> bool {
        let Ok(i) = u32::try_from(i) else {
            return false;
        };
        let ranges = self.ranges();
        let after = ranges.partition_point(|r| r.end <= i);
        ranges.get(after).is_some_and(|r| r.start <= i)
    }
    pub(super) fn union_with(&mut self, other: &PositionSet) {
        if other.ranges().is_empty() {
            return;
        }
        let mut merged: Vec<Range<u32>> =
            Vec::with_capacity(self.ranges().len() + other.ranges().len());
        let mut mine = self.ranges().iter().peekable();
        let mut theirs = other.ranges().iter().peekable();
        loop {
            let next = match (mine.peek(), theirs.peek()) {
                (Some(a), Some(b)) if a.start <= b.start => mine.next(),
                (Some(_), Some(_)) => theirs.next(),
                (Some(_), None) => mine.next(),
                (None, Some(_)) => theirs.next(),
                (None, None) => break,
            };
            let Some(next) = next else { break };
            match merged.last_mut() {
                // Overlapping or touching ranges become one.
                Some(last) if next.start <= last.end => last.end = last.end.max(next.end),
                _ => merged.push(next.clone()),
            }
        }
        *self = PositionSet::of(merged);
    }
}

/// The steps whose records a step may read: its ancestors in its block (by their positions,
/// which the checker's places hold), and what the enclosing step could read.
pub(super) struct Visibility<'p> {
    pub(super) parent: Option<&'p Visibility<'p>>,
    /// The block whose positions `mask` lists; [`NO_BLOCK`] for none.
    pub(super) block: BlockNumber,
    pub(super) mask: &'p PositionSet,
}

impl Visibility<'_> {
    /// Nothing but what the enclosing step could read.
    pub(super) fn within<'p>(
        parent: Option<&'p Visibility<'p>>,
        none: &'p PositionSet,
    ) -> Visibility<'p> {
        Visibility {
            parent,
            block: NO_BLOCK,
            mask: none,
        }
    }
}

/// Kahn's algorithm, preferring file order; `Err` holds the steps of one cycle.
pub(super) fn topological_order(deps: &StepLists) -> Result<Vec<usize>, Vec<usize>> {
    let n = deps.len();
    let mut remaining: Vec<usize> = deps.iter().map(<[u32]>::len).collect();
    let dependents = deps.dependents();
    let mut ready: std::collections::BTreeSet<usize> =
        (0..n).filter(|&i| remaining[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &j in &dependents[i] {
            let j = j as usize;
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
        let Some(next) = deps[current]
            .iter()
            .map(|&d| d as usize)
            .find(|&d| remaining[d] > 0)
        else {
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
        fn deps(lists: &[&[usize]]) -> StepLists {
            let mut deps = StepLists::default();
            for list in lists {
                deps.push(list.iter().copied());
            }
            deps
        }
        assert_eq!(
            topological_order(&deps(&[&[], &[0], &[]])).unwrap(),
            vec![0, 1, 2]
        );
        assert_eq!(topological_order(&deps(&[&[1], &[]])).unwrap(), vec![1, 0]);
        let cycle = topological_order(&deps(&[&[2], &[0], &[1]])).unwrap_err();
        assert_eq!(cycle.len(), 3);
    }

    #[test]
    fn position_sets_merge_ranges_and_answer_membership() {
        let mut set = PositionSet::default();
        for i in [5, 3, 4, 9, 0] {
            set.insert(i);
        }
        assert_eq!(set.ranges(), [0..1, 3..6, 9..10]);
        let mut other = PositionSet::default();
        other.insert(1);
        other.insert(7);
        set.union_with(&other);
        assert_eq!(set.ranges(), [0..2, 3..6, 7..8, 9..10]);
        let members: Vec<usize> = (0..12).filter(|&i| set.contains(i)).collect();
        assert_eq!(members, [0, 1, 3, 4, 5, 7, 9]);
        // A chain's ancestors stay one range however long it is.
        let mut chain = PositionSet::default();
        for i in 0..10_000 {
            chain.insert(i);
        }
        assert_eq!(chain.ranges(), std::slice::from_ref(&(0..10_000)));
    }

    #[test]
    fn a_position_set_is_two_words() {
        assert!(
            size_of::<PositionSet>() <= 16,
            "{}",
            size_of::<PositionSet>()
        );
    }
}
