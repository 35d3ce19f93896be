//! The dependency graph of a block: order, cycles, and which steps a step can see.

use super::*;

pub(super) fn index_of(block: &Block) -> (HashMap<String, usize>, BitSet) {
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

#[derive(Clone, Default)]
pub(super) struct BitSet(Vec<u64>);

impl BitSet {
    pub(super) fn with_len(len: usize) -> Self {
        BitSet(vec![0; len.div_ceil(64)])
    }
    pub(super) fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    pub(super) fn contains(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    pub(super) fn union_with(&mut self, other: &BitSet) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
}

/// The steps whose records a step may read: its ancestors in its block, and what the
/// enclosing step could read.
pub(super) struct Visibility<'p> {
    pub(super) parent: Option<&'p Visibility<'p>>,
    pub(super) index: &'p HashMap<String, usize>,
    pub(super) mask: &'p BitSet,
}

impl Visibility<'_> {
    pub(super) fn sees(&self, id: &str) -> bool {
        self.index.get(id).is_some_and(|&i| self.mask.contains(i))
            || self.parent.is_some_and(|p| p.sees(id))
    }
}

/// Kahn's algorithm, preferring file order; `Err` holds the steps of one cycle.
pub(super) fn topological_order(deps: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
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
}
