//! The app's scope selection, where `offline_access` is mandatory, checked against the scope
//! catalogue shared with the sandbox (`weft_atlassian::scopes`, re-exported here).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::{AuthError, Result};

pub use weft_atlassian::scopes::{
    catalogue_kind, ScopeKind, CLASSIC_SCOPES, GRANULAR_SCOPES, IDENTITY_SCOPES, OFFLINE_ACCESS,
};

/// The closest catalogue scope to a misspelt one, for "did you mean".
fn closest_scope(scope: &str) -> Option<&'static str> {
    CLASSIC_SCOPES
        .iter()
        .chain(GRANULAR_SCOPES)
        .chain(IDENTITY_SCOPES)
        .map(|candidate| (strsim::levenshtein(scope, candidate), *candidate))
        .filter(|(distance, _)| *distance <= 3)
        .min()
        .map(|(_, candidate)| candidate)
}

/// The scopes an app asks for: `offline_access` always, plus catalogue scopes and
/// explicitly declared custom scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ScopeSelection {
    /// Catalogue scopes besides `offline_access`.
    #[serde(default)]
    additional: BTreeSet<String>,
    /// Scopes outside the catalogue that the user declared on purpose.
    #[serde(default)]
    custom: BTreeSet<String>,
}

impl ScopeSelection {
    /// The default for a new app: identity (to name the connected account) only.
    pub fn with_defaults() -> Self {
        let mut selection = Self::default();
        selection.additional.insert("read:me".to_string());
        selection
    }

    /// Adds a catalogue scope; refuses one outside the catalogue.
    pub fn add(&mut self, scope: &str) -> Result<()> {
        let scope = scope.trim();
        match catalogue_kind(scope) {
            Some(ScopeKind::Offline) => Ok(()),
            Some(_) => {
                self.additional.insert(scope.to_string());
                Ok(())
            }
            None => Err(AuthError::UnknownScope {
                scope: scope.to_string(),
                hint: closest_scope(scope)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default(),
            }),
        }
    }

    /// Declares a scope outside the catalogue (Atlassian may still refuse it).
    pub fn add_custom(&mut self, scope: &str) -> Result<()> {
        let scope = scope.trim();
        let valid =
            !scope.is_empty() && !scope.chars().any(|c| c.is_whitespace() || c.is_control());
        if !valid {
            return Err(AuthError::InvalidSetting {
                what: "custom scope",
                value: scope.to_string(),
                reason: "a scope is one word without spaces".to_string(),
            });
        }
        if catalogue_kind(scope).is_some() {
            return self.add(scope);
        }
        self.custom.insert(scope.to_string());
        Ok(())
    }

    /// Removes a scope; `offline_access` is refused with the reason.
    pub fn remove(&mut self, scope: &str) -> Result<bool> {
        let scope = scope.trim();
        if scope == OFFLINE_ACCESS {
            return Err(AuthError::MandatoryScope);
        }
        Ok(self.additional.remove(scope) | self.custom.remove(scope))
    }

    pub fn contains(&self, scope: &str) -> bool {
        scope == OFFLINE_ACCESS || self.additional.contains(scope) || self.custom.contains(scope)
    }

    /// Every scope to request, `offline_access` first.
    pub fn requested(&self) -> Vec<String> {
        std::iter::once(OFFLINE_ACCESS.to_string())
            .chain(self.additional.iter().cloned())
            .chain(self.custom.iter().cloned())
            .collect()
    }

    pub fn custom(&self) -> impl Iterator<Item = &str> {
        self.custom.iter().map(String::as_str)
    }
}

/// Scopes that were asked for but not granted (`offline_access` is judged by the presence of a
/// refresh token instead, since Atlassian does not always echo it).
pub fn missing_scopes(requested: &[String], granted: &[String]) -> Vec<String> {
    requested
        .iter()
        .filter(|scope| scope.as_str() != OFFLINE_ACCESS && !granted.contains(scope))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_access_is_always_requested_and_cannot_be_removed() {
        let mut scopes = ScopeSelection::default();
        assert_eq!(scopes.requested(), vec![OFFLINE_ACCESS.to_string()]);
        let err = scopes.remove("offline_access").unwrap_err();
        assert!(err.to_string().contains("no refresh token"), "{err}");
        assert_eq!(scopes.requested()[0], OFFLINE_ACCESS);
    }

    #[test]
    fn catalogue_scopes_are_accepted_and_unknown_ones_refused_with_a_suggestion() {
        let mut scopes = ScopeSelection::default();
        scopes.add("read:page:confluence").unwrap();
        scopes.add("read:confluence-content.all").unwrap();
        let err = scopes.add("read:pages:confluence").unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("did you mean `read:page:confluence`"),
            "{message}"
        );
        assert!(
            matches!(&err, AuthError::UnknownScope { scope, .. } if scope == "read:pages:confluence"),
            "{message}"
        );
        assert!(!scopes.contains("read:pages:confluence"));
    }

    #[test]
    fn custom_scopes_are_accepted_when_declared() {
        let mut scopes = ScopeSelection::default();
        scopes.add_custom("read:experimental:confluence").unwrap();
        assert!(scopes
            .requested()
            .contains(&"read:experimental:confluence".to_string()));
        assert!(scopes.add_custom("two words").is_err());
        assert!(scopes.remove("read:experimental:confluence").unwrap());
        assert!(!scopes.contains("read:experimental:confluence"));
    }

    #[test]
    fn missing_scopes_ignores_offline_access() {
        let requested = vec![
            OFFLINE_ACCESS.to_string(),
            "read:me".into(),
            "read:page:confluence".into(),
        ];
        let granted = vec!["read:me".to_string()];
        assert_eq!(
            missing_scopes(&requested, &granted),
            vec!["read:page:confluence".to_string()]
        );
    }
}

/// What `weft scopes FILES...` reports: the scopes the workflows' actions need, and which of
/// them the app does not request yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkflowScopeReport {
    /// Needed scope → actions needing it.
    pub needed: std::collections::BTreeMap<String, BTreeSet<String>>,
    /// Needed scopes the app configuration lacks.
    pub missing: Vec<String>,
    /// Actions whose scopes are unknown (not a known action).
    pub unknown_actions: BTreeSet<String>,
}

impl WorkflowScopeReport {
    /// `actions` are the actions the workflows use; `scopes_of` says what each one needs.
    pub fn build<'a>(
        actions: impl IntoIterator<Item = &'a str>,
        scopes_of: &dyn Fn(&str) -> Option<&'static [&'static str]>,
        app: &ScopeSelection,
    ) -> Self {
        let mut report = Self::default();
        for action in actions {
            match scopes_of(action) {
                Some(scopes) => {
                    for scope in scopes {
                        report
                            .needed
                            .entry(scope.to_string())
                            .or_default()
                            .insert(action.to_string());
                    }
                }
                None => {
                    report.unknown_actions.insert(action.to_string());
                }
            }
        }
        report.missing = report
            .needed
            .keys()
            .filter(|s| !app.contains(s))
            .cloned()
            .collect();
        report
    }
}

#[cfg(test)]
mod report_tests {
    use super::*;

    #[test]
    fn report_lists_needed_and_missing_scopes() {
        let lookup = |action: &str| -> Option<&'static [&'static str]> {
            match action {
                "confluence.get_page" => Some(&["read:page:confluence"]),
                "confluence.create_page" => {
                    Some(&["write:page:confluence", "read:page:confluence"])
                }
                "core.log" => Some(&[]),
                _ => None,
            }
        };
        let mut app = ScopeSelection::default();
        app.add("read:page:confluence").unwrap();
        let report = WorkflowScopeReport::build(
            [
                "confluence.get_page",
                "confluence.create_page",
                "core.log",
                "mystery.action",
            ],
            &lookup,
            &app,
        );
        assert_eq!(report.needed.len(), 2);
        assert_eq!(report.needed["read:page:confluence"].len(), 2);
        assert_eq!(report.missing, ["write:page:confluence"]);
        assert_eq!(
            report.unknown_actions.iter().collect::<Vec<_>>(),
            ["mystery.action"]
        );
    }
}
