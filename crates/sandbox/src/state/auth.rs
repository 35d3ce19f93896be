//! OAuth state: registered apps, authorization codes, access tokens and rotating refresh-token
//! families. Pure logic over the sandbox clock so every rule (single-use codes, expiry, the
//! 10-minute reuse window, family revocation) is testable without HTTP.

use crate::scopes::ScopeSet;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// An OAuth app known to the sandbox (the built-in one or one registered through the admin API).
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RegisteredApp {
    pub client_id: String,
    pub client_secret: String,
    pub name: String,
    /// Callback URLs accepted byte for byte as `redirect_uri`.
    pub callback_urls: Vec<String>,
    /// Scopes enabled on the app ("added in the developer console"); asking for others fails.
    pub scopes: Vec<String>,
}

impl fmt::Debug for RegisteredApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("name", &self.name)
            .field("callback_urls", &self.callback_urls)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// What the token endpoint answers on success.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenPair {
    pub access_token: String,
    pub expires_in: u64,
    pub scope: String,
    pub token_type: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub refresh_token: Option<String>,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The identity and rights behind a valid access token, shared cheaply with request handlers.
#[derive(Debug)]
pub struct Grant {
    pub client_id: String,
    pub account_id: String,
    pub scopes: ScopeSet,
    /// The granted scopes in grant order (for accessible-resources).
    pub scope_list: Vec<String>,
    /// Cloud ids the user granted.
    pub sites: Vec<String>,
}

/// Errors of the token endpoint, rendered as `{"error","error_description"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    InvalidRequest(String),
    UnsupportedGrantType(String),
    /// 403 invalid_grant.
    InvalidGrant(&'static str),
    /// 403 unauthorized_client.
    UnauthorizedClient(&'static str),
    /// 401 access_denied "Unauthorized": unknown client or wrong secret.
    AccessDenied,
}

impl TokenError {
    pub fn status(&self) -> u16 {
        match self {
            TokenError::InvalidRequest(_) | TokenError::UnsupportedGrantType(_) => 400,
            TokenError::InvalidGrant(_) | TokenError::UnauthorizedClient(_) => 403,
            TokenError::AccessDenied => 401,
        }
    }
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::InvalidRequest(_) => "invalid_request",
            TokenError::UnsupportedGrantType(_) => "unsupported_grant_type",
            TokenError::InvalidGrant(_) => "invalid_grant",
            TokenError::UnauthorizedClient(_) => "unauthorized_client",
            TokenError::AccessDenied => "access_denied",
        }
    }
    pub fn description(&self) -> String {
        crate::api_error::capped_message(match self {
            TokenError::InvalidRequest(s) => s.clone(),
            TokenError::UnsupportedGrantType(g) => format!("Unsupported grant type: {g}"),
            TokenError::InvalidGrant(s) | TokenError::UnauthorizedClient(s) => (*s).to_string(),
            TokenError::AccessDenied => "Unauthorized".to_string(),
        })
    }
}

pub const UNKNOWN_REFRESH: &str = "Unknown or invalid refresh token.";
pub const ROTATED_REFRESH: &str = "refresh_token is invalid";
pub const INVALID_CODE: &str = "Invalid authorization code";
pub const REDIRECT_MISMATCH: &str = "Invalid redirect_uri";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    sites: Vec<String>,
    account_id: String,
    expires_at: DateTime<Utc>,
    used: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct Family {
    client_id: String,
    account_id: String,
    scopes: Vec<String>,
    sites: Vec<String>,
    revoked: bool,
    /// When the user consented (for the optional absolute lifetime).
    #[serde(default)]
    consented_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    grant: Option<Arc<Grant>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccessRec {
    family: u64,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RefreshRec {
    family: u64,
    issued_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
}

/// Lifetimes used by the auth store (copied from the config).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Lifetimes {
    pub access: chrono::Duration,
    pub code: chrono::Duration,
    pub refresh_inactivity: chrono::Duration,
    pub reuse_window: chrono::Duration,
    pub absolute: Option<chrono::Duration>,
}

/// Why an access token was refused by the API gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessRefused {
    Unknown,
    Expired,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AuthStore {
    apps: HashMap<String, RegisteredApp>,
    codes: HashMap<String, CodeGrant>,
    access: HashMap<String, AccessRec>,
    refresh: HashMap<String, RefreshRec>,
    families: HashMap<u64, Family>,
    next_family: u64,
    #[serde(skip, default = "default_lifetimes")]
    lifetimes: Lifetimes,
}

fn default_lifetimes() -> Lifetimes {
    Lifetimes {
        access: chrono::Duration::seconds(3600),
        code: chrono::Duration::seconds(300),
        refresh_inactivity: chrono::Duration::days(90),
        reuse_window: chrono::Duration::minutes(10),
        absolute: None,
    }
}

/// Details of a consent to turn into an authorization code.
#[derive(Debug, Clone)]
pub struct Consent {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub sites: Vec<String>,
    pub account_id: String,
}

impl AuthStore {
    pub fn new(lifetimes: Lifetimes) -> Self {
        AuthStore {
            apps: HashMap::new(),
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            families: HashMap::new(),
            next_family: 1,
            lifetimes,
        }
    }

    pub fn set_lifetimes(&mut self, lifetimes: Lifetimes) {
        self.lifetimes = lifetimes;
    }

    pub fn register_app(&mut self, app: RegisteredApp) {
        self.apps.insert(app.client_id.clone(), app);
    }

    pub fn app(&self, client_id: &str) -> Option<&RegisteredApp> {
        self.apps.get(client_id)
    }

    pub fn apps(&self) -> Vec<RegisteredApp> {
        let mut v: Vec<_> = self.apps.values().cloned().collect();
        v.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        v
    }

    /// Issues a single-use authorization code for an approved consent.
    pub fn issue_code(&mut self, consent: Consent, now: DateTime<Utc>) -> String {
        // Drop long-dead codes so the map does not grow without bound.
        self.codes
            .retain(|_, c| c.expires_at + chrono::Duration::hours(1) > now);
        let code = random_token("code", 32);
        self.codes.insert(
            code.clone(),
            CodeGrant {
                client_id: consent.client_id,
                redirect_uri: consent.redirect_uri,
                scopes: consent.scopes,
                sites: consent.sites,
                account_id: consent.account_id,
                expires_at: now + self.lifetimes.code,
                used: false,
            },
        );
        code
    }

    fn authenticate(&self, client_id: &str, client_secret: &str) -> Result<(), TokenError> {
        match self.apps.get(client_id) {
            Some(app)
                if constant_time_eq(app.client_secret.as_bytes(), client_secret.as_bytes()) =>
            {
                Ok(())
            }
            _ => Err(TokenError::AccessDenied),
        }
    }

    /// `grant_type=authorization_code`.
    pub fn exchange_code(
        &mut self,
        client_id: &str,
        client_secret: &str,
        code: &str,
        redirect_uri: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, TokenError> {
        self.authenticate(client_id, client_secret)?;
        let grant = match self.codes.get_mut(code) {
            Some(g) if g.client_id == client_id && !g.used && g.expires_at > now => g,
            _ => return Err(TokenError::InvalidGrant(INVALID_CODE)),
        };
        if grant.redirect_uri != redirect_uri {
            return Err(TokenError::InvalidGrant(REDIRECT_MISMATCH));
        }
        grant.used = true;
        let grant = grant.clone();
        Ok(self.new_family(
            &grant.client_id,
            &grant.account_id,
            grant.scopes,
            grant.sites,
            now,
        ))
    }

    /// Mints a grant without the browser dance (admin `issue_tokens_for_tests`).
    pub fn new_family(
        &mut self,
        client_id: &str,
        account_id: &str,
        scopes: Vec<String>,
        sites: Vec<String>,
        now: DateTime<Utc>,
    ) -> TokenPair {
        let id = self.next_family;
        self.next_family += 1;
        let offline = scopes.iter().any(|s| s == "offline_access");
        self.families.insert(
            id,
            Family {
                client_id: client_id.to_string(),
                account_id: account_id.to_string(),
                scopes,
                sites,
                revoked: false,
                consented_at: Some(now),
                grant: None,
            },
        );
        self.mint(id, offline, now)
    }

    fn mint(&mut self, family: u64, with_refresh: bool, now: DateTime<Utc>) -> TokenPair {
        let access_token = random_token("sbx_at", 40);
        self.access.insert(
            access_token.clone(),
            AccessRec {
                family,
                expires_at: now + self.lifetimes.access,
            },
        );
        let refresh_token = with_refresh.then(|| {
            let t = random_token("sbx_rt", 40);
            self.refresh.insert(
                t.clone(),
                RefreshRec {
                    family,
                    issued_at: now,
                    retired_at: None,
                },
            );
            t
        });
        let scope = self
            .families
            .get(&family)
            .map(|f| f.scopes.join(" "))
            .unwrap_or_default();
        TokenPair {
            access_token,
            expires_in: self.lifetimes.access.num_seconds().max(0) as u64,
            scope,
            token_type: "Bearer".to_string(),
            refresh_token,
        }
    }

    /// `grant_type=refresh_token`: rotates the refresh token; the old one stays usable for the
    /// reuse window; reuse after the window revokes the whole family.
    pub fn refresh(
        &mut self,
        client_id: &str,
        client_secret: &str,
        refresh_token: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, TokenError> {
        self.authenticate(client_id, client_secret)?;
        let rec = match self.refresh.get(refresh_token) {
            Some(r) => r.clone(),
            None => return Err(TokenError::InvalidGrant(UNKNOWN_REFRESH)),
        };
        let (family, consented_at) = match self.families.get(&rec.family) {
            Some(f) if !f.revoked && f.client_id == client_id => (rec.family, f.consented_at),
            _ => return Err(TokenError::InvalidGrant(UNKNOWN_REFRESH)),
        };
        let past_absolute = match (self.lifetimes.absolute, consented_at) {
            (Some(limit), Some(at)) => now >= at + limit,
            _ => false,
        };
        if past_absolute || now >= rec.issued_at + self.lifetimes.refresh_inactivity {
            return Err(TokenError::InvalidGrant(UNKNOWN_REFRESH));
        }
        if let Some(retired) = rec.retired_at {
            if now > retired + self.lifetimes.reuse_window {
                self.revoke_family(family);
                return Err(TokenError::UnauthorizedClient(ROTATED_REFRESH));
            }
        }
        // Retire every still-current token of the family: from now on only the new one is current.
        for r in self.refresh.values_mut() {
            if r.family == family && r.retired_at.is_none() {
                r.retired_at = Some(now);
            }
        }
        Ok(self.mint(family, true, now))
    }

    /// Revokes every grant of an app (the user removed the app, changed the password...).
    /// Returns how many token families were revoked.
    pub fn revoke_client(&mut self, client_id: &str) -> usize {
        let ids: Vec<u64> = self
            .families
            .iter()
            .filter(|(_, f)| f.client_id == client_id && !f.revoked)
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            self.revoke_family(*id);
        }
        ids.len()
    }

    pub fn revoke_family(&mut self, family: u64) {
        if let Some(f) = self.families.get_mut(&family) {
            f.revoked = true;
            f.grant = None;
        }
        self.access.retain(|_, a| a.family != family);
        self.refresh.retain(|_, r| r.family != family);
    }

    /// Looks up a bearer token for an API call.
    pub fn check_access(
        &mut self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Arc<Grant>, AccessRefused> {
        let rec = self.access.get(token).ok_or(AccessRefused::Unknown)?;
        if rec.expires_at <= now {
            return Err(AccessRefused::Expired);
        }
        let family = self
            .families
            .get_mut(&rec.family)
            .filter(|f| !f.revoked)
            .ok_or(AccessRefused::Unknown)?;
        if let Some(g) = &family.grant {
            return Ok(g.clone());
        }
        let grant = Arc::new(Grant {
            client_id: family.client_id.clone(),
            account_id: family.account_id.clone(),
            scopes: ScopeSet::new(family.scopes.iter().cloned()),
            scope_list: family.scopes.clone(),
            sites: family.sites.clone(),
        });
        family.grant = Some(grant.clone());
        Ok(grant)
    }

    /// Peek without caching (used by the read-only fast path).
    pub fn cached_grant(&self, token: &str, now: DateTime<Utc>) -> Option<Arc<Grant>> {
        let rec = self.access.get(token)?;
        if rec.expires_at <= now {
            return None;
        }
        self.families.get(&rec.family)?.grant.clone()
    }
}

/// Random URL-safe token with a readable prefix (so logs and tests can tell kinds apart).
pub fn random_token(prefix: &str, len: usize) -> String {
    use rand::distr::Alphanumeric;
    use rand::Rng;
    let body: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect();
    format!("{prefix}_{body}")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
