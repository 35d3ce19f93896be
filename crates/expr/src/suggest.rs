//! "Did you mean" helpers built on string similarity.

/// Similarity above which a name is offered as a suggestion.
const THRESHOLD: f64 = 0.8;

/// The most similar candidate, if it is similar enough.
pub(crate) fn closest<'c>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    candidates
        .into_iter()
        // A name with a hidden or look-alike character is itself a mistake: never offer it.
        .filter(|c| crate::lexer::misleading_char(c).is_none())
        .map(|c| (strsim::jaro_winkler(wanted, c), c))
        .filter(|(score, _)| *score >= THRESHOLD)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Candidates ordered nearest first, as "a, b, c", at most `limit` of them
/// followed by "and N more".
pub(crate) fn ranked_list<'c>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'c str>,
    limit: usize,
) -> String {
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(wanted, c), c))
        .collect();
    // Stable sort keeps document order among equally distant names.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let shown: Vec<&str> = scored.iter().take(limit).map(|(_, c)| *c).collect();
    let mut list = shown.join(", ");
    if scored.len() > limit {
        list.push_str(&format!(" and {} more", scored.len() - limit));
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos_and_rejects_strangers() {
        assert_eq!(closest("itemz", ["total", "items"]), Some("items"));
        assert_eq!(closest("zzz", ["total", "items"]), None);
    }

    #[test]
    fn ranked_list_puts_nearest_first_and_truncates() {
        assert_eq!(ranked_list("itemz", ["total", "items"], 10), "items, total");
        assert_eq!(ranked_list("a", ["a", "b", "c"], 2), "a, b and 1 more");
    }
}
