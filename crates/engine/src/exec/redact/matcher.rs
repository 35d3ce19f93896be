//! Finds the forms of every value masked as a secret in a text.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};

/// The forms of every value masked as a secret, in a few automatons: a new value's forms make
/// a new small one, merged with the last one while that one is no larger (as a binary counter
/// carries). Adding a value rebuilds O(log n) forms' worth of automatons, amortized, not every
/// form: a loop that computes a value from a secret for each item rebuilt every form for each
/// item, quadratic in the items. A clone shares the automatons.
#[derive(Debug, Default, Clone)]
pub(super) struct Matcher {
    levels: Vec<Arc<Level>>,
}

#[derive(Debug)]
struct Level {
    forms: Vec<String>,
    automaton: AhoCorasick,
}

impl Matcher {
    /// This matcher with `forms` too.
    pub fn with(&self, forms: Vec<String>) -> Matcher {
        let mut levels = self.levels.clone();
        let mut forms = forms;
        while levels
            .last()
            .is_some_and(|last| last.forms.len() <= forms.len())
        {
            if let Some(last) = levels.pop() {
                forms.extend(last.forms.iter().cloned());
            }
        }
        let mut seen = HashSet::new();
        forms.retain(|form| seen.insert(form.clone()));
        // Leftmost-longest: a secret that contains another is replaced whole. A contiguous
        // NFA, not the DFA chosen for few forms: levels are built again as they merge, and
        // loops adding a value per item ran 2 to 3.5 times as long with DFAs.
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&forms);
        match automaton {
            Ok(automaton) => levels.push(Arc::new(Level { forms, automaton })),
            // Only a size limit fails a build: keep the forms of the levels merged above.
            Err(_) => levels.extend(Level::split(forms)),
        }
        Matcher { levels }
    }

    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    #[cfg(test)]
    pub fn form_count(&self) -> usize {
        self.levels.iter().map(|level| level.forms.len()).sum()
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.levels
            .iter()
            .any(|level| level.automaton.is_match(text))
    }

    /// The leftmost match that starts at `from` or after (the longest of those starting
    /// there).
    pub fn find(&self, text: &str, from: usize) -> Option<Range<usize>> {
        self.levels
            .iter()
            .filter_map(|level| level.automaton.find(Input::new(text).range(from..)))
            .map(|found| found.range())
            .min_by_key(|found| (found.start, std::cmp::Reverse(found.end)))
    }

    /// Every match of each automaton, the automatons one after the other.
    pub fn find_iter<'t>(&'t self, text: &'t str) -> impl Iterator<Item = Range<usize>> + 't {
        self.levels
            .iter()
            .flat_map(move |level| level.automaton.find_iter(text).map(|found| found.range()))
    }
}

impl Level {
    /// `forms` in levels of one form each: what is left when the automaton of them all cannot
    /// be built (every form is still found).
    fn split(forms: Vec<String>) -> Vec<Arc<Level>> {
        forms
            .into_iter()
            .filter_map(|form| {
                let automaton = AhoCorasick::new([&form]).ok()?;
                Some(Arc::new(Level {
                    forms: vec![form],
                    automaton,
                }))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i:04}")).collect()
    }

    /// Levels merge as a binary counter carries: a few automatons, every form found.
    #[test]
    fn forms_added_one_value_at_a_time_stay_in_a_few_automatons() {
        let mut matcher = Matcher::default();
        for value in 0..1000 {
            matcher = matcher.with(forms(&format!("v{value}-"), 3));
        }
        assert_eq!(matcher.form_count(), 3000);
        assert!(matcher.levels.len() <= 10, "{}", matcher.levels.len());
        assert!(matcher.is_match("x v0-0002 y"));
        assert!(matcher.is_match("v999-0000"));
        assert!(!matcher.is_match("v1000-0000"));
    }

    /// The leftmost match across automatons, the longest of those starting there.
    #[test]
    fn the_leftmost_longest_match_is_found_across_automatons() {
        let matcher = Matcher::default()
            .with(vec!["abcdef".into(), "other".into(), "more".into()])
            .with(vec!["cd".into(), "abcd".into()]);
        assert_eq!(matcher.levels.len(), 2, "fewer forms: a level of their own");
        assert_eq!(matcher.find("xxabcdefyy", 0), Some(2..8));
        assert_eq!(matcher.find("xxabcdefyy", 3), Some(4..6));
        assert_eq!(matcher.find("xxabcdyy", 0), Some(2..6));
        assert_eq!(matcher.find("nothing", 0), None);
        let all: Vec<_> = matcher.find_iter("abcd cd").collect();
        assert!(all.contains(&(0..4)) && all.contains(&(5..7)), "{all:?}");
    }
}
