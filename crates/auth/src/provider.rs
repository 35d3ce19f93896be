//! The built-in `confluence` provider: Atlassian's endpoints, with overridable base URLs
//! (that is how weft points at the sandbox).

use url::Url;

use crate::error::{AuthError, Result};

/// Atlassian's authorization server.
pub const ATLASSIAN_AUTH_BASE: &str = "https://auth.atlassian.com";
/// Atlassian's API gateway.
pub const ATLASSIAN_API_BASE: &str = "https://api.atlassian.com";
/// The `audience` parameter of the authorize URL.
pub const AUDIENCE: &str = "api.atlassian.com";
/// The only provider weft knows today.
pub const CONFLUENCE: &str = "confluence";

/// Resolved endpoints of a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEndpoints {
    auth_base: Url,
    api_base: Url,
}

impl ProviderEndpoints {
    /// Atlassian's production endpoints.
    pub fn atlassian() -> Self {
        Self::with_bases(None, None).unwrap_or_else(|_| unreachable!("built-in URLs are valid"))
    }

    /// Endpoints with optional overrides of the two base URLs.
    pub fn with_bases(auth_base: Option<&str>, api_base: Option<&str>) -> Result<Self> {
        Ok(Self {
            auth_base: parse_base("auth base URL", auth_base.unwrap_or(ATLASSIAN_AUTH_BASE))?,
            api_base: parse_base("API base URL", api_base.unwrap_or(ATLASSIAN_API_BASE))?,
        })
    }

    pub fn authorize_url(&self) -> Url {
        join(&self.auth_base, "authorize")
    }

    pub fn token_url(&self) -> Url {
        join(&self.auth_base, "oauth/token")
    }

    pub fn accessible_resources_url(&self) -> Url {
        join(&self.api_base, "oauth/token/accessible-resources")
    }

    pub fn me_url(&self) -> Url {
        join(&self.api_base, "me")
    }

    /// Base of the Confluence REST API for one site: `.../ex/confluence/{cloudid}/`.
    pub fn confluence_api_base(&self, cloud_id: &str) -> Url {
        join(&self.api_base, &format!("ex/confluence/{cloud_id}/"))
    }

    pub fn auth_base(&self) -> &Url {
        &self.auth_base
    }

    pub fn api_base(&self) -> &Url {
        &self.api_base
    }
}

/// Parses a base URL and makes sure it ends with `/` so joins append instead of replacing.
fn parse_base(what: &'static str, raw: &str) -> Result<Url> {
    let mut url = Url::parse(raw).map_err(|e| AuthError::InvalidSetting {
        what,
        value: raw.to_string(),
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(AuthError::InvalidSetting {
            what,
            value: raw.to_string(),
            reason: "expected an http(s) URL such as https://auth.atlassian.com".to_string(),
        });
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn join(base: &Url, path: &str) -> Url {
    base.join(path)
        .unwrap_or_else(|_| unreachable!("relative paths always join onto a base URL"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atlassian_endpoints() {
        let p = ProviderEndpoints::atlassian();
        assert_eq!(
            p.authorize_url().as_str(),
            "https://auth.atlassian.com/authorize"
        );
        assert_eq!(
            p.token_url().as_str(),
            "https://auth.atlassian.com/oauth/token"
        );
        assert_eq!(
            p.accessible_resources_url().as_str(),
            "https://api.atlassian.com/oauth/token/accessible-resources"
        );
        assert_eq!(
            p.confluence_api_base("abc")
                .join("wiki/api/v2/pages")
                .unwrap()
                .as_str(),
            "https://api.atlassian.com/ex/confluence/abc/wiki/api/v2/pages"
        );
    }

    #[test]
    fn overridden_bases_keep_their_path() {
        let p = ProviderEndpoints::with_bases(
            Some("http://127.0.0.1:9000/prefix"),
            Some("http://127.0.0.1:9000"),
        )
        .unwrap();
        assert_eq!(
            p.token_url().as_str(),
            "http://127.0.0.1:9000/prefix/oauth/token"
        );
        assert_eq!(p.me_url().as_str(), "http://127.0.0.1:9000/me");
    }

    #[test]
    fn bad_base_urls_are_refused_with_the_value() {
        let err = ProviderEndpoints::with_bases(Some("ftp://x"), None).unwrap_err();
        assert!(err.to_string().contains("ftp://x"), "{err}");
        assert!(ProviderEndpoints::with_bases(None, Some("not a url")).is_err());
    }
}
