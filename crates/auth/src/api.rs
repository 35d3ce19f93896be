//! The few Atlassian API calls the auth crate makes: accessible resources, the consenting
//! account, and the current Confluence user (`weft connections test`).

use serde::Deserialize;
use url::Url;

use crate::connection::Account;
use crate::error::{AuthError, Result};
use crate::provider::ProviderEndpoints;
use crate::secret::AccessToken;
use weft_action::http_errors::describe_reqwest_error;

/// One entry of `accessible-resources`: a site (per product) the user granted.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccessibleResource {
    /// The cloudid.
    pub id: String,
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// The current Confluence user, as `weft connections test` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ConfluenceUser {
    #[serde(rename = "accountId")]
    pub account_id: String,
    #[serde(rename = "displayName", default)]
    pub display_name: String,
}

#[derive(Deserialize)]
struct Me {
    account_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: Option<String>,
}

/// A small client for those calls.
#[derive(Debug, Clone)]
pub struct AtlassianApi {
    http: reqwest::Client,
    endpoints: ProviderEndpoints,
}

impl AtlassianApi {
    pub fn new(http: reqwest::Client, endpoints: ProviderEndpoints) -> Self {
        Self { http, endpoints }
    }

    pub async fn accessible_resources(
        &self,
        token: &AccessToken,
    ) -> Result<Vec<AccessibleResource>> {
        self.get_json(self.endpoints.accessible_resources_url(), token)
            .await
    }

    pub async fn me(&self, token: &AccessToken) -> Result<Account> {
        let me: Me = self.get_json(self.endpoints.me_url(), token).await?;
        Ok(Account {
            account_id: me.account_id,
            name: me.name,
            email: me.email,
        })
    }

    /// `GET /wiki/rest/api/user/current` on the connection's site.
    pub async fn current_user(
        &self,
        token: &AccessToken,
        cloud_id: &str,
    ) -> Result<ConfluenceUser> {
        let url = self
            .endpoints
            .confluence_api_base(cloud_id)
            .join("wiki/rest/api/user/current")
            .map_err(|e| AuthError::InvalidSetting {
                what: "cloud id",
                value: cloud_id.to_string(),
                reason: e.to_string(),
            })?;
        self.get_json(url, token).await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        token: &AccessToken,
    ) -> Result<T> {
        let failed = |reason: String| AuthError::Api {
            method: "GET",
            url: url.to_string(),
            reason,
        };
        let response = self
            .http
            .get(url.clone())
            .bearer_auth(token.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| failed(describe_reqwest_error(&e)))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| failed(describe_reqwest_error(&e)))?;
        if !status.is_success() {
            return Err(failed(format!(
                "answered {status}: {}",
                error_message(&body)
            )));
        }
        serde_json::from_slice(&body).map_err(|e| failed(format!("unexpected answer: {e}")))
    }
}

/// The message of an Atlassian error body (`message`, `error_description` or the raw text), short.
fn error_message(body: &[u8]) -> String {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let message = json.as_ref().and_then(|v| {
        ["message", "error_description", "error"]
            .iter()
            .find_map(|k| v.get(*k).and_then(|m| m.as_str()))
    });
    let text = message
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    weft_action::text::first_chars(&text, 300).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_are_extracted_and_shortened() {
        assert_eq!(
            error_message(br#"{"code":401,"message":"Unauthorized; scope does not match"}"#),
            "Unauthorized; scope does not match"
        );
        assert_eq!(error_message(b"plain"), "plain");
        assert_eq!(error_message(&[b'x'; 1000]).len(), 300);
    }
}
