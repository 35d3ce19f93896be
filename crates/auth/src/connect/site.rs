//! Choosing the Confluence site of a new connection: match `--site`, or ask; never silently
//! the first of several.

use crate::api::AccessibleResource;
use crate::error::{AuthError, Result};

/// Asks the user which of several sites to connect: the CLI prompts; a daemon asks the
/// `weft connect` that started the attempt, through its API (hence async).
#[async_trait::async_trait]
pub trait SiteChooser: Send + Sync {
    /// Index into `sites`, or `None` when the user cannot or does not choose.
    async fn choose(&self, sites: &[AccessibleResource]) -> Option<usize>;
}

/// A chooser that never chooses (non-interactive use): several sites need `--site`.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoChoice;

#[async_trait::async_trait]
impl SiteChooser for NoChoice {
    async fn choose(&self, _sites: &[AccessibleResource]) -> Option<usize> {
        None
    }
}

/// `https://Acme.atlassian.net/` and `acme.atlassian.net` name the same site.
fn normalize_site(site: &str) -> String {
    let lower = site.trim().to_ascii_lowercase();
    let without_scheme = lower
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(&lower);
    without_scheme.trim_end_matches('/').to_string()
}

fn is_confluence(resource: &AccessibleResource) -> bool {
    resource.scopes.iter().any(|s| s.contains("confluence"))
}

/// Picks the site to connect among the granted resources.
pub async fn select_site(
    resources: Vec<AccessibleResource>,
    wanted: Option<&str>,
    chooser: &dyn SiteChooser,
) -> Result<AccessibleResource> {
    // The same site appears once per product; keep Confluence entries when scopes say which.
    let any_scopes = resources.iter().any(|r| !r.scopes.is_empty());
    let mut candidates: Vec<AccessibleResource> = resources
        .into_iter()
        .filter(|r| !any_scopes || is_confluence(r))
        .collect();
    let mut seen = std::collections::HashSet::new();
    candidates.retain(|r| seen.insert(r.id.clone()));
    if candidates.is_empty() {
        return Err(AuthError::NoAccessibleSite);
    }
    if let Some(wanted) = wanted {
        let wanted_norm = normalize_site(wanted);
        let matched = candidates.iter().position(|r| {
            normalize_site(&r.url) == wanted_norm
                || r.id == wanted.trim()
                || normalize_site(&r.name) == wanted_norm
        });
        return match matched {
            Some(i) => Ok(candidates.swap_remove(i)),
            None => Err(AuthError::SiteNotGranted {
                site: wanted.to_string(),
                available: candidates.iter().map(|r| r.url.clone()).collect(),
            }),
        };
    }
    if candidates.len() == 1 {
        return Ok(candidates.swap_remove(0));
    }
    match chooser.choose(&candidates).await {
        Some(i) if i < candidates.len() => Ok(candidates.swap_remove(i)),
        _ => Err(AuthError::SiteChoiceRequired {
            sites: candidates.iter().map(|r| r.url.clone()).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(id: &str, url: &str, scope: &str) -> AccessibleResource {
        AccessibleResource {
            id: id.into(),
            name: id.into(),
            url: url.into(),
            scopes: vec![scope.into()],
        }
    }

    struct Pick(usize);
    #[async_trait::async_trait]
    impl SiteChooser for Pick {
        async fn choose(&self, _sites: &[AccessibleResource]) -> Option<usize> {
            Some(self.0)
        }
    }

    fn two_sites() -> Vec<AccessibleResource> {
        vec![
            site("a", "https://alpha.atlassian.net", "read:page:confluence"),
            site("j", "https://alpha.atlassian.net", "read:jira-work"),
            site("b", "https://beta.atlassian.net", "read:page:confluence"),
        ]
    }

    #[tokio::test]
    async fn several_sites_are_never_silently_resolved() {
        let err = select_site(two_sites(), None, &NoChoice).await.unwrap_err();
        assert!(
            matches!(&err, AuthError::SiteChoiceRequired { sites } if sites.len() == 2),
            "{err}"
        );
        assert_eq!(
            select_site(two_sites(), None, &Pick(1)).await.unwrap().id,
            "b"
        );
        assert!(select_site(two_sites(), None, &Pick(9)).await.is_err());
    }

    #[tokio::test]
    async fn site_flag_matches_url_loosely_and_ignores_other_products() {
        assert_eq!(
            select_site(two_sites(), Some("Beta.atlassian.net/"), &NoChoice)
                .await
                .unwrap()
                .id,
            "b"
        );
        assert_eq!(
            select_site(two_sites(), Some("https://alpha.atlassian.net"), &NoChoice)
                .await
                .unwrap()
                .id,
            "a"
        );
        let err = select_site(two_sites(), Some("gamma.atlassian.net"), &NoChoice)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("gamma") && err.contains("beta.atlassian.net"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn one_site_is_taken_and_none_is_an_error() {
        assert_eq!(
            select_site(vec![two_sites().remove(0)], None, &NoChoice)
                .await
                .unwrap()
                .id,
            "a"
        );
        assert!(matches!(
            select_site(vec![], None, &NoChoice).await,
            Err(AuthError::NoAccessibleSite)
        ));
        let jira_only = vec![site("j", "https://x.atlassian.net", "read:jira-work")];
        assert!(matches!(
            select_site(jira_only, None, &NoChoice).await,
            Err(AuthError::NoAccessibleSite)
        ));
    }
}
