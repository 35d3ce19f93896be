//! OAuth scopes at the gateway: what the built-in app enables (the catalogue of
//! `weft_atlassian::scopes`), a fast set type, and the per-endpoint check (granular scopes for
//! v2, classic for v1 with granular "beta" alternatives).

use std::collections::HashSet;

/// Every scope the built-in app enables: the whole catalogue shared with the auth crate.
pub fn all_scopes() -> Vec<String> {
    weft_atlassian::scopes::all().map(str::to_string).collect()
}

/// A granted scope set, checked on every API call.
#[derive(Debug, Clone, Default)]
pub struct ScopeSet(HashSet<Box<str>>);

impl ScopeSet {
    pub fn new(scopes: impl IntoIterator<Item = String>) -> Self {
        ScopeSet(scopes.into_iter().map(String::into_boxed_str).collect())
    }

    /// True when `scope` is granted, directly or through a broader classic scope.
    pub fn has(&self, scope: &str) -> bool {
        self.0.contains(scope)
            || (scope == "read:confluence-content.summary"
                && self.0.contains("read:confluence-content.all"))
    }

    fn has_all(&self, scopes: &[&str]) -> bool {
        scopes.iter().all(|s| self.has(s))
    }
}

/// Scopes an endpoint needs, as listed under `x-atlassian-oauth2-scopes` in the spec:
/// `current` (granular on v2, classic on v1) or, when present, all of `beta` (granular on v1).
#[derive(Debug, Clone, Copy)]
pub struct ScopeReq {
    pub current: &'static [&'static str],
    pub beta: &'static [&'static str],
}

impl ScopeReq {
    pub const NONE: ScopeReq = ScopeReq {
        current: &[],
        beta: &[],
    };

    pub fn satisfied_by(&self, granted: &ScopeSet) -> bool {
        granted.has_all(self.current) || (!self.beta.is_empty() && granted.has_all(self.beta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_accepts_classic_or_complete_beta_set() {
        let req = ScopeReq {
            current: &["search:confluence"],
            beta: &["read:content-details:confluence"],
        };
        assert!(req.satisfied_by(&ScopeSet::new(["search:confluence".to_string()])));
        assert!(req.satisfied_by(&ScopeSet::new([
            "read:content-details:confluence".to_string()
        ])));
        assert!(!req.satisfied_by(&ScopeSet::new(["read:page:confluence".to_string()])));
    }

    #[test]
    fn content_all_implies_summary() {
        let s = ScopeSet::new(["read:confluence-content.all".to_string()]);
        assert!(s.has("read:confluence-content.summary"));
        assert!(!s.has("write:confluence-content"));
    }

    #[test]
    fn catalogue_has_both_kinds() {
        let all = all_scopes();
        assert!(all.iter().any(|s| s == "read:page:confluence"));
        assert!(all.iter().any(|s| s == "read:confluence-content.all"));
        assert!(all.iter().any(|s| s == "offline_access"));
        assert!(all
            .iter()
            .any(|s| s == "read:hierarchical-content:confluence"));
    }
}
