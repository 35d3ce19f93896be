//! The OAuth scope catalogue of Confluence Cloud: classic scopes (checked by the v1 REST API),
//! granular scopes (v2), identity scopes and `offline_access`. The auth crate validates an app's
//! scope selection against it; the sandbox enables all of it on its built-in app. A test checks
//! that every scope in Atlassian's OpenAPI descriptions (through the committed facts) is here.

/// The scope that makes Atlassian issue refresh tokens; a daemon cannot live without it.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Classic Confluence scopes (checked by the v1 REST API).
pub const CLASSIC_SCOPES: &[&str] = &[
    "manage:confluence-configuration",
    "read:confluence-content",
    "read:confluence-content.all",
    "read:confluence-content.permission",
    "read:confluence-content.summary",
    "read:confluence-groups",
    "read:confluence-props",
    "read:confluence-space.summary",
    "read:confluence-user",
    "readonly:content.attachment:confluence",
    "search:confluence",
    "write:confluence-content",
    "write:confluence-file",
    "write:confluence-groups",
    "write:confluence-props",
    "write:confluence-space",
];

/// Identity scopes (the `/me` endpoint).
pub const IDENTITY_SCOPES: &[&str] = &["read:account", "read:me"];

/// Granular Confluence scopes (checked by the v2 REST API), sorted.
pub const GRANULAR_SCOPES: &[&str] = &[
    "delete:attachment:confluence",
    "delete:blogpost:confluence",
    "delete:comment:confluence",
    "delete:content:confluence",
    "delete:custom-content:confluence",
    "delete:database:confluence",
    "delete:embed:confluence",
    "delete:folder:confluence",
    "delete:page:confluence",
    "delete:space:confluence",
    "delete:whiteboard:confluence",
    "read:analytics.content:confluence",
    "read:attachment:confluence",
    "read:audit-log:confluence",
    "read:blogpost:confluence",
    "read:comment:confluence",
    "read:configuration:confluence",
    "read:content-details:confluence",
    "read:content.metadata:confluence",
    "read:content.permission:confluence",
    "read:content.property:confluence",
    "read:content.restriction:confluence",
    "read:content:confluence",
    "read:custom-content:confluence",
    "read:database:confluence",
    "read:embed:confluence",
    "read:folder:confluence",
    "read:group:confluence",
    "read:hierarchical-content:confluence",
    "read:inlinetask:confluence",
    "read:label:confluence",
    "read:page:confluence",
    "read:relation:confluence",
    "read:space-details:confluence",
    "read:space.permission:confluence",
    "read:space.property:confluence",
    "read:space.setting:confluence",
    "read:space:confluence",
    "read:task:confluence",
    "read:template:confluence",
    "read:user.property:confluence",
    "read:user:confluence",
    "read:watcher:confluence",
    "read:whiteboard:confluence",
    "write:attachment:confluence",
    "write:audit-log:confluence",
    "write:blogpost:confluence",
    "write:comment:confluence",
    "write:configuration:confluence",
    "write:content.property:confluence",
    "write:content.restriction:confluence",
    "write:content:confluence",
    "write:custom-content:confluence",
    "write:database:confluence",
    "write:embed:confluence",
    "write:folder:confluence",
    "write:group:confluence",
    "write:inlinetask:confluence",
    "write:label:confluence",
    "write:page:confluence",
    "write:relation:confluence",
    "write:space.permission:confluence",
    "write:space.property:confluence",
    "write:space.setting:confluence",
    "write:space:confluence",
    "write:task:confluence",
    "write:template:confluence",
    "write:user.property:confluence",
    "write:watcher:confluence",
    "write:whiteboard:confluence",
];

/// What kind of scope a string is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    Offline,
    Classic,
    Granular,
    Identity,
}

impl ScopeKind {
    pub fn label(self) -> &'static str {
        match self {
            ScopeKind::Offline => "offline",
            ScopeKind::Classic => "classic",
            ScopeKind::Granular => "granular",
            ScopeKind::Identity => "identity",
        }
    }
}

/// Looks a scope up in the catalogue.
pub fn catalogue_kind(scope: &str) -> Option<ScopeKind> {
    if scope == OFFLINE_ACCESS {
        Some(ScopeKind::Offline)
    } else if CLASSIC_SCOPES.binary_search(&scope).is_ok() {
        Some(ScopeKind::Classic)
    } else if GRANULAR_SCOPES.binary_search(&scope).is_ok() {
        Some(ScopeKind::Granular)
    } else if IDENTITY_SCOPES.binary_search(&scope).is_ok() {
        Some(ScopeKind::Identity)
    } else {
        None
    }
}

/// Every scope of the catalogue: `offline_access`, classic, identity, granular.
pub fn all() -> impl Iterator<Item = &'static str> {
    std::iter::once(OFFLINE_ACCESS)
        .chain(CLASSIC_SCOPES.iter().copied())
        .chain(IDENTITY_SCOPES.iter().copied())
        .chain(GRANULAR_SCOPES.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_lists_are_sorted_for_binary_search() {
        for list in [CLASSIC_SCOPES, GRANULAR_SCOPES, IDENTITY_SCOPES] {
            assert!(
                list.windows(2).all(|w| w[0] < w[1]),
                "{list:?} must be sorted and unique"
            );
        }
    }

    #[test]
    fn every_scope_in_the_openapi_descriptions_is_in_the_catalogue() {
        let facts = crate::facts::confluence();
        assert!(!facts.scopes.is_empty());
        let unknown: Vec<&String> = facts
            .scopes
            .iter()
            .filter(|scope| catalogue_kind(scope).is_none())
            .collect();
        assert!(
            unknown.is_empty(),
            "scopes used by the spec but missing from the catalogue: {unknown:?}"
        );
    }

    #[test]
    fn kinds() {
        assert_eq!(catalogue_kind("offline_access"), Some(ScopeKind::Offline));
        assert_eq!(catalogue_kind("read:me"), Some(ScopeKind::Identity));
        assert_eq!(
            catalogue_kind("read:page:confluence"),
            Some(ScopeKind::Granular)
        );
        assert_eq!(
            catalogue_kind("search:confluence"),
            Some(ScopeKind::Classic)
        );
        assert_eq!(catalogue_kind("read:pages:confluence"), None);
        assert_eq!(
            all().count(),
            1 + CLASSIC_SCOPES.len() + IDENTITY_SCOPES.len() + GRANULAR_SCOPES.len()
        );
    }
}
