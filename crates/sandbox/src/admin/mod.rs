//! The admin API: an in-process handle ([`Admin`], synchronous) and the same operations over
//! HTTP under `/__sandbox/` (see [`http`]; not logged, never faulted, no auth: the sandbox binds
//! to localhost).

mod http;

pub use http::router;

use crate::error::SandboxError;
use crate::faults::FaultRule;
use crate::reqlog::LoggedRequest;
use crate::seed;
use crate::state::auth::{RegisteredApp, TokenPair};
use crate::state::model::{ContentKind, SiteInfo, User};
use crate::state::site::{NewContent, Site};
use crate::state::{persist, Shared, SANDBOX_ACCOUNT_ID};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// In-process control of a running sandbox. All methods are synchronous and cheap.
#[derive(Clone, Debug)]
pub struct Admin {
    shared: Shared,
}

/// A page to create through the admin API.
#[derive(Debug, Clone, Deserialize)]
pub struct NewPage {
    pub space_key: String,
    pub title: String,
    /// Storage-format body.
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub parent_id: Option<u64>,
    /// Blog post instead of page.
    #[serde(default)]
    pub blogpost: bool,
}

impl Admin {
    pub(crate) fn new(shared: Shared) -> Self {
        Admin { shared }
    }

    /// Registers (or replaces) an OAuth app. Callback URLs must be absolute URLs.
    pub fn register_app(&self, app: RegisteredApp) -> Result<(), SandboxError> {
        if app.client_id.trim().is_empty() || app.client_secret.is_empty() {
            return Err(SandboxError::Invalid(
                "an app needs a client_id and a client_secret".into(),
            ));
        }
        if let Some(bad) = app
            .callback_urls
            .iter()
            .find(|u| url::Url::parse(u).is_err())
        {
            return Err(SandboxError::Invalid(format!(
                "callback URL `{bad}` is not an absolute URL"
            )));
        }
        self.shared.auth.write().register_app(app);
        self.shared.touch();
        Ok(())
    }

    /// Adds a callback URL to the built-in app (it keeps the default one).
    pub fn add_builtin_callback(&self, url: &str) -> Result<(), SandboxError> {
        let mut app = self
            .shared
            .builtin_app()
            .ok_or_else(|| SandboxError::UnknownApp(crate::state::BUILTIN_CLIENT_ID.into()))?;
        if !app.callback_urls.iter().any(|u| u == url) {
            app.callback_urls.push(url.to_string());
        }
        self.register_app(app)
    }

    pub fn apps(&self) -> Vec<RegisteredApp> {
        self.shared.auth.read().apps()
    }

    /// Moves the sandbox clock forward; an advance beyond about 10,000 years stops there.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
        self.shared.touch();
    }

    /// Moves the sandbox clock forward, or refuses an advance that would put it more than about
    /// 10,000 years ahead (the clock is left as it was).
    pub fn try_advance_clock(&self, by: Duration) -> Result<DateTime<Utc>, SandboxError> {
        self.shared
            .clock
            .try_advance(by)
            .map_err(|_| SandboxError::ClockRange {
                max_years: crate::clock::MAX_OFFSET_YEARS,
            })?;
        self.shared.touch();
        Ok(self.now())
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.log.all()
    }

    pub fn clear_requests(&self) {
        self.shared.log.clear();
    }

    pub fn set_fault(&self, rule: FaultRule) -> Result<(), SandboxError> {
        self.shared.faults.add(rule).map_err(SandboxError::Invalid)
    }

    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    pub fn faults(&self) -> Vec<FaultRule> {
        self.shared.faults.rules()
    }

    pub fn set_auto_approve(&self, on: bool) {
        self.shared.auto_approve.store(on, Ordering::Relaxed);
    }

    pub fn set_search_lag(&self, lag: Duration) {
        self.shared
            .search_lag_ms
            .store(lag.as_millis() as u64, Ordering::Relaxed);
    }

    /// Changes the hourly points pool and the per-second burst limit.
    pub fn set_quota(&self, points_per_hour: u64, burst_per_second: u32) {
        self.shared
            .quota
            .set_limits(points_per_hour, burst_per_second);
    }

    pub fn reset_quota(&self) {
        self.shared.quota.reset();
    }

    pub fn quota_remaining(&self, client_id: &str) -> u64 {
        self.shared
            .quota
            .remaining(client_id, self.shared.clock.now())
    }

    /// Mints an access/refresh token pair as if the user had consented (no browser dance).
    /// `sites` = None grants every site. A refresh token comes back when `offline_access` is asked.
    pub fn issue_tokens_for_tests(
        &self,
        client_id: &str,
        scopes: &[&str],
        sites: Option<&[&str]>,
    ) -> Result<TokenPair, SandboxError> {
        if self.shared.auth.read().app(client_id).is_none() {
            return Err(SandboxError::UnknownApp(client_id.to_string()));
        }
        let known = self.shared.site_infos();
        let sites: Vec<String> = match sites {
            None => known.iter().map(|s| s.cloudid.clone()).collect(),
            Some(list) => {
                if let Some(bad) = list
                    .iter()
                    .find(|c| !known.iter().any(|k| k.cloudid == **c))
                {
                    return Err(SandboxError::UnknownSite(bad.to_string()));
                }
                list.iter().map(|s| s.to_string()).collect()
            }
        };
        let pair = self.shared.auth.write().new_family(
            client_id,
            SANDBOX_ACCOUNT_ID,
            scopes.iter().map(|s| s.to_string()).collect(),
            sites,
            self.shared.clock.now(),
        );
        self.shared.touch();
        Ok(pair)
    }

    /// Revokes every token family of an app, as when the user removes its access: refresh
    /// answers `403 invalid_grant` and API calls 401. Returns how many families were revoked.
    pub fn revoke_grants(&self, client_id: &str) -> usize {
        let n = self.shared.auth.write().revoke_client(client_id);
        self.shared.touch();
        n
    }

    pub fn sites(&self) -> Vec<SiteInfo> {
        self.shared.site_infos()
    }

    /// Adds a site named `name` (URL `https://<name>.atlassian.net`).
    pub fn add_site(&self, name: &str) -> Result<SiteInfo, SandboxError> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(SandboxError::Invalid(format!(
                "site name `{name}` must be letters, digits and dashes"
            )));
        }
        let n = self.shared.sites.read().len() as u32 + 1;
        Ok(self.shared.add_site(seed::site_info(n, name)).info.clone())
    }

    pub fn users(&self) -> Vec<User> {
        self.shared.users.read().clone()
    }

    pub fn add_user(&self, user: User) {
        self.shared.upsert_user(user);
        self.shared.touch();
    }

    /// Account id of the sandbox user (the one who consents).
    pub fn sandbox_account_id(&self) -> &'static str {
        SANDBOX_ACCOUNT_ID
    }

    fn site(&self, cloudid: Option<&str>) -> Result<Arc<Site>, SandboxError> {
        match cloudid {
            Some(c) => self
                .shared
                .site(c)
                .ok_or_else(|| SandboxError::UnknownSite(c.to_string())),
            None => self
                .shared
                .sites
                .read()
                .first()
                .cloned()
                .ok_or_else(|| SandboxError::UnknownSite("(none)".into())),
        }
    }

    fn space_id(site: &Site, key: &str) -> Result<u64, SandboxError> {
        site.data
            .read()
            .space_by_key(key)
            .map(|s| s.id)
            .ok_or_else(|| {
                SandboxError::Invalid(format!("no space with key `{key}` on {}", site.info.url))
            })
    }

    /// Creates a space (with its home page) on a site (None = the first site). Returns its id.
    pub fn create_space(
        &self,
        cloudid: Option<&str>,
        key: &str,
        name: &str,
    ) -> Result<u64, SandboxError> {
        let site = self.site(cloudid)?;
        let now = self.now();
        let mut data = site.data.write();
        let id = data
            .create_space(key, name, "", SANDBOX_ACCOUNT_ID, now)
            .map_err(|e| SandboxError::Invalid(e.title))?;
        let home = data.spaces.get(&id).and_then(|s| s.homepage_id);
        for searchable in std::iter::once(id).chain(home) {
            site.index_now(&data, searchable);
        }
        self.shared.touch();
        Ok(id)
    }

    /// Creates a page or blog post, searchable at once. Returns its id.
    pub fn create_page(&self, cloudid: Option<&str>, page: NewPage) -> Result<u64, SandboxError> {
        let site = self.site(cloudid)?;
        let space_id = Self::space_id(&site, &page.space_key)?;
        let mut data = site.data.write();
        let id = data
            .create_content(
                NewContent::current(
                    if page.blogpost {
                        ContentKind::BlogPost
                    } else {
                        ContentKind::Page
                    },
                    space_id,
                    page.parent_id,
                    page.title,
                    page.body,
                    SANDBOX_ACCOUNT_ID.to_string(),
                ),
                self.now(),
            )
            .map_err(|e| SandboxError::Invalid(e.title))?;
        crate::confluence::tasks::sync_tasks(&mut data, id, SANDBOX_ACCOUNT_ID, self.now());
        site.index_now(&data, id);
        self.shared.touch();
        Ok(id)
    }

    /// Creates `count` pages in a space (under `parent` or the home page), searchable at once.
    pub fn seed_pages(
        &self,
        cloudid: Option<&str>,
        space_key: &str,
        count: usize,
        parent: Option<u64>,
    ) -> Result<Vec<u64>, SandboxError> {
        let site = self.site(cloudid)?;
        let space_id = Self::space_id(&site, space_key)?;
        let ids = seed::bulk_pages(
            &site,
            space_id,
            parent,
            count,
            "Generated page",
            SANDBOX_ACCOUNT_ID,
            self.now(),
        )
        .map_err(|e| SandboxError::Invalid(e.title))?;
        self.shared.touch();
        Ok(ids)
    }

    /// Adds a label to content, searchable at once.
    pub fn add_label(
        &self,
        cloudid: Option<&str>,
        content_id: u64,
        name: &str,
    ) -> Result<(), SandboxError> {
        let site = self.site(cloudid)?;
        let mut data = site.data.write();
        data.add_label(content_id, "global", name)
            .map_err(|e| SandboxError::Invalid(e.title))?;
        site.index_now(&data, content_id);
        self.shared.touch();
        Ok(())
    }

    /// Writes the state to the data dir now (no-op without one).
    pub fn save(&self) -> Result<(), SandboxError> {
        match &self.shared.config.data_dir {
            Some(dir) => persist::save(&self.shared, dir),
            None => Ok(()),
        }
    }
}
