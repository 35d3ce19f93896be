//! The OAuth app configuration of a provider, kept in `<data_dir>/apps/<provider>.json`.
//! The file never holds a client secret: only where to read it (an environment variable or a file).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{AuthError, Result};
use crate::private_fs::write_private_file;
use crate::provider::{ProviderEndpoints, CONFLUENCE};
use crate::scopes::ScopeSelection;
use crate::secret::ClientSecret;

/// Callback URL used when none is configured (what `weft connect` listens on).
pub const DEFAULT_CALLBACK_URL: &str = "http://127.0.0.1:8976/callback";

/// Where the client secret is read from at run time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "from")]
pub enum SecretSource {
    Env { var: String },
    File { path: PathBuf },
}

impl SecretSource {
    pub fn describe(&self) -> String {
        match self {
            SecretSource::Env { var } => format!("environment variable {var}"),
            SecretSource::File { path } => format!("file {}", path.display()),
        }
    }

    /// Reads the secret (trimmed); `env` is the environment lookup (injectable for tests).
    pub fn read(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<ClientSecret> {
        let unavailable = |reason: String| AuthError::ClientSecretUnavailable {
            source_desc: self.describe(),
            reason,
        };
        let raw = match self {
            SecretSource::Env { var } => {
                env(var).ok_or_else(|| unavailable("it is not set".to_string()))?
            }
            SecretSource::File { path } => {
                std::fs::read_to_string(path).map_err(|e| unavailable(e.to_string()))?
            }
        };
        let secret = raw.trim();
        if secret.is_empty() {
            return Err(unavailable("it is empty".to_string()));
        }
        Ok(ClientSecret::new(secret))
    }
}

/// Whose OAuth app weft uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum Credentials {
    /// Not configured yet.
    None,
    /// The user's own Atlassian app.
    Own {
        client_id: String,
        client_secret: SecretSource,
    },
    /// The sandbox's built-in app (for trying weft without an Atlassian app).
    Sandbox,
}

/// The sandbox's built-in app, supplied by whoever knows it (the CLI, tests).
#[derive(Debug, Clone)]
pub struct SandboxApp {
    pub client_id: String,
    pub client_secret: ClientSecret,
}

/// Configuration of one provider's OAuth app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppConfig {
    pub provider: String,
    pub credentials: Credentials,
    #[serde(default)]
    pub scopes: ScopeSelection,
    pub callback_url: Url,
    /// Override of https://auth.atlassian.com (the sandbox, a proxy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_base_url: Option<String>,
    /// Override of https://api.atlassian.com.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<String>,
}

/// An app configuration with its secret read, ready for a flow.
#[derive(Debug, Clone)]
pub struct ResolvedApp {
    pub provider: String,
    pub client_id: String,
    pub client_secret: ClientSecret,
    pub endpoints: ProviderEndpoints,
    pub callback_url: Url,
    pub requested_scopes: Vec<String>,
}

impl AppConfig {
    /// A fresh configuration for a provider: no credentials, default scopes and callback.
    pub fn new(provider: &str) -> Result<Self> {
        if provider != CONFLUENCE {
            return Err(AuthError::UnknownProvider(provider.to_string()));
        }
        Ok(Self {
            provider: provider.to_string(),
            credentials: Credentials::None,
            scopes: ScopeSelection::with_defaults(),
            callback_url: parse_callback(DEFAULT_CALLBACK_URL)?,
            auth_base_url: None,
            api_base_url: None,
        })
    }

    fn path(data_dir: &Path, provider: &str) -> PathBuf {
        data_dir.join("apps").join(format!("{provider}.json"))
    }

    /// Loads the provider's configuration, or the default one when none was saved.
    pub fn load(data_dir: &Path, provider: &str) -> Result<Self> {
        let path = Self::path(data_dir, provider);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| AuthError::InvalidFile {
                path,
                reason: format!("not a valid app configuration: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::new(provider),
            Err(e) => Err(AuthError::io(path, "reading app configuration", e)),
        }
    }

    pub fn save(&self, data_dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|e| AuthError::Storage {
            operation: "serializing app configuration",
            reason: e.to_string(),
        })?;
        write_private_file(&Self::path(data_dir, &self.provider), text.as_bytes())
    }

    pub fn endpoints(&self) -> Result<ProviderEndpoints> {
        ProviderEndpoints::with_bases(self.auth_base_url.as_deref(), self.api_base_url.as_deref())
    }

    pub fn set_callback_url(&mut self, raw: &str) -> Result<()> {
        self.callback_url = parse_callback(raw)?;
        Ok(())
    }

    /// Points both base URLs at one origin (the sandbox serves OAuth and the API together).
    pub fn set_base_url(&mut self, raw: &str) -> Result<()> {
        ProviderEndpoints::with_bases(Some(raw), Some(raw))?;
        self.auth_base_url = Some(raw.to_string());
        self.api_base_url = Some(raw.to_string());
        Ok(())
    }

    /// Reads the secret and resolves endpoints; `sandbox` is the sandbox's built-in app.
    pub fn resolve(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        sandbox: Option<&SandboxApp>,
    ) -> Result<ResolvedApp> {
        let (client_id, client_secret) = match &self.credentials {
            Credentials::None => return Err(AuthError::AppNotConfigured),
            Credentials::Own {
                client_id,
                client_secret,
            } => (client_id.clone(), client_secret.read(env)?),
            Credentials::Sandbox => {
                let app = sandbox.ok_or(AuthError::AppNotConfigured)?;
                (app.client_id.clone(), app.client_secret.clone())
            }
        };
        Ok(ResolvedApp {
            provider: self.provider.clone(),
            client_id,
            client_secret,
            endpoints: self.endpoints()?,
            callback_url: self.callback_url.clone(),
            requested_scopes: self.scopes.requested(),
        })
    }
}

fn parse_callback(raw: &str) -> Result<Url> {
    let invalid = |reason: String| AuthError::InvalidSetting {
        what: "callback URL",
        value: raw.to_string(),
        reason,
    };
    let url = Url::parse(raw).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(
            "expected an http(s) URL such as http://127.0.0.1:8976/callback".to_string(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "a callback URL carries no query or fragment".to_string(),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn new_app_has_defaults_and_is_not_resolvable() {
        let app = AppConfig::new("confluence").unwrap();
        assert_eq!(app.callback_url.as_str(), DEFAULT_CALLBACK_URL);
        assert!(matches!(
            app.resolve(&no_env, None),
            Err(AuthError::AppNotConfigured)
        ));
        assert!(matches!(
            AppConfig::new("jira"),
            Err(AuthError::UnknownProvider(_))
        ));
    }

    #[test]
    fn own_credentials_read_the_secret_from_env_or_file_and_never_store_it() {
        let tmp = tempfile::tempdir().unwrap();
        let mut app = AppConfig::new("confluence").unwrap();
        app.credentials = Credentials::Own {
            client_id: "cid".into(),
            client_secret: SecretSource::Env {
                var: "MY_SECRET".into(),
            },
        };
        let env = |name: &str| (name == "MY_SECRET").then(|| "s3cret-value\n".to_string());
        let resolved = app.resolve(&env, None).unwrap();
        assert_eq!(resolved.client_secret.expose(), "s3cret-value");
        let err = app.resolve(&no_env, None).unwrap_err().to_string();
        assert!(
            err.contains("environment variable MY_SECRET") && err.contains("not set"),
            "{err}"
        );

        let secret_file = tmp.path().join("secret");
        std::fs::write(&secret_file, "from-file").unwrap();
        app.credentials = Credentials::Own {
            client_id: "cid".into(),
            client_secret: SecretSource::File { path: secret_file },
        };
        assert_eq!(
            app.resolve(&no_env, None).unwrap().client_secret.expose(),
            "from-file"
        );

        app.save(tmp.path()).unwrap();
        let saved = std::fs::read_to_string(tmp.path().join("apps/confluence.json")).unwrap();
        assert!(!saved.contains("from-file"));
        assert_eq!(AppConfig::load(tmp.path(), "confluence").unwrap(), app);
    }

    #[test]
    fn sandbox_mode_uses_the_sandbox_app_and_base_url() {
        let mut app = AppConfig::new("confluence").unwrap();
        app.credentials = Credentials::Sandbox;
        app.set_base_url("http://127.0.0.1:9999").unwrap();
        let sandbox = SandboxApp {
            client_id: "sandbox-id".into(),
            client_secret: ClientSecret::new("x"),
        };
        let resolved = app.resolve(&no_env, Some(&sandbox)).unwrap();
        assert_eq!(resolved.client_id, "sandbox-id");
        assert_eq!(
            resolved.endpoints.token_url().as_str(),
            "http://127.0.0.1:9999/oauth/token"
        );
        assert_eq!(resolved.requested_scopes[0], "offline_access");
    }

    #[test]
    fn bad_callback_and_corrupt_file_are_clear_errors() {
        let mut app = AppConfig::new("confluence").unwrap();
        let err = app
            .set_callback_url("http://x/cb?a=1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no query"), "{err}");
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("apps")).unwrap();
        std::fs::write(tmp.path().join("apps/confluence.json"), "{").unwrap();
        let err = AppConfig::load(tmp.path(), "confluence")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("apps/confluence.json") && err.contains("not a valid app configuration"),
            "{err}"
        );
    }
}
