//! The admin API: an in-process handle ([`Admin`], synchronous) and the same operations over
//! HTTP under `/__sandbox/` (not logged, never faulted, no auth: the sandbox binds to localhost).

use crate::error::SandboxError;
use crate::faults::FaultRule;
use crate::reqlog::LoggedRequest;
use crate::seed;
use crate::state::auth::{SandboxApp, TokenPair};
use crate::state::model::{Body, ContentKind, SiteInfo, Status, User};
use crate::state::site::{NewContent, Site};
use crate::state::{persist, Shared, SANDBOX_ACCOUNT_ID};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
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
    pub fn register_app(&self, app: SandboxApp) -> Result<(), SandboxError> {
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

    pub fn apps(&self) -> Vec<SandboxApp> {
        self.shared.auth.read().apps()
    }

    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
        self.shared.touch();
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
        if let Some(home) = data.spaces.get(&id).and_then(|s| s.homepage_id) {
            site.index_now(&data, home);
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
                NewContent {
                    kind: if page.blogpost {
                        ContentKind::BlogPost
                    } else {
                        ContentKind::Page
                    },
                    space_id,
                    parent_id: page.parent_id,
                    title: page.title,
                    body: Body {
                        representation: "storage".into(),
                        value: page.body,
                    },
                    status: Status::Current,
                    author_id: SANDBOX_ACCOUNT_ID.to_string(),
                },
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

// ---- HTTP ----

pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/__sandbox/app", get(builtin_app))
        .route("/__sandbox/apps", get(list_apps).post(register_app))
        .route("/__sandbox/clock", get(clock))
        .route("/__sandbox/clock/advance", post(advance))
        .route("/__sandbox/requests", get(requests).delete(clear_requests))
        .route(
            "/__sandbox/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/__sandbox/tokens", post(tokens))
        .route("/__sandbox/sites", get(sites).post(add_site))
        .route("/__sandbox/users", get(users).post(add_user))
        .route("/__sandbox/spaces", post(create_space))
        .route("/__sandbox/pages", post(create_page))
        .route("/__sandbox/seed/pages", post(seed_pages))
        .route("/__sandbox/settings", post(settings))
        .route("/__sandbox/quota", get(quota))
        .route("/__sandbox/quota/reset", post(reset_quota))
        .route("/__sandbox/save", post(save))
        .with_state(shared)
}

fn admin_of(shared: Shared) -> Admin {
    Admin::new(shared)
}

fn fail(e: SandboxError) -> Response {
    let status = match e {
        SandboxError::UnknownSite(_) | SandboxError::UnknownApp(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, Json(json!({"error": e.to_string()}))).into_response()
}

fn ok<T: serde::Serialize>(v: T) -> Response {
    Json(v).into_response()
}

async fn builtin_app(State(s): State<Shared>) -> Response {
    match s.builtin_app() {
        Some(app) => ok(app),
        None => fail(SandboxError::UnknownApp(
            crate::state::BUILTIN_CLIENT_ID.into(),
        )),
    }
}

async fn list_apps(State(s): State<Shared>) -> Response {
    ok(admin_of(s).apps())
}

async fn register_app(State(s): State<Shared>, Json(app): Json<SandboxApp>) -> Response {
    match admin_of(s).register_app(app) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fail(e),
    }
}

async fn clock(State(s): State<Shared>) -> Response {
    ok(json!({"now": s.clock.now(), "offset_ms": s.clock.offset_ms()}))
}

#[derive(Deserialize)]
struct Advance {
    seconds: f64,
}

async fn advance(State(s): State<Shared>, Json(a): Json<Advance>) -> Response {
    if !(a.seconds.is_finite() && a.seconds >= 0.0) {
        return fail(SandboxError::Invalid(
            "seconds must be a non-negative number: the clock only moves forward".into(),
        ));
    }
    let admin = admin_of(s);
    admin.advance_clock(Duration::from_secs_f64(a.seconds));
    ok(json!({"now": admin.now()}))
}

async fn requests(State(s): State<Shared>) -> Response {
    ok(s.log.all())
}

async fn clear_requests(State(s): State<Shared>) -> Response {
    s.log.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn list_faults(State(s): State<Shared>) -> Response {
    ok(s.faults.rules())
}

async fn add_fault(State(s): State<Shared>, Json(rule): Json<FaultRule>) -> Response {
    match admin_of(s).set_fault(rule) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fail(e),
    }
}

async fn clear_faults(State(s): State<Shared>) -> Response {
    s.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct TokensReq {
    client_id: String,
    scopes: Vec<String>,
    #[serde(default)]
    sites: Option<Vec<String>>,
}

async fn tokens(State(s): State<Shared>, Json(r): Json<TokensReq>) -> Response {
    let scopes: Vec<&str> = r.scopes.iter().map(String::as_str).collect();
    let sites: Option<Vec<&str>> = r
        .sites
        .as_ref()
        .map(|v| v.iter().map(String::as_str).collect());
    match admin_of(s).issue_tokens_for_tests(&r.client_id, &scopes, sites.as_deref()) {
        Ok(pair) => ok(pair),
        Err(e) => fail(e),
    }
}

async fn sites(State(s): State<Shared>) -> Response {
    ok(s.site_infos())
}

#[derive(Deserialize)]
struct NewSite {
    name: String,
}

async fn add_site(State(s): State<Shared>, Json(r): Json<NewSite>) -> Response {
    match admin_of(s).add_site(&r.name) {
        Ok(info) => (StatusCode::CREATED, Json(info)).into_response(),
        Err(e) => fail(e),
    }
}

async fn users(State(s): State<Shared>) -> Response {
    ok(admin_of(s).users())
}

async fn add_user(State(s): State<Shared>, Json(u): Json<User>) -> Response {
    admin_of(s).add_user(u);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct SiteQuery {
    cloudid: Option<String>,
}

#[derive(Deserialize)]
struct NewSpace {
    key: String,
    name: String,
}

async fn create_space(
    State(s): State<Shared>,
    Query(q): Query<SiteQuery>,
    Json(r): Json<NewSpace>,
) -> Response {
    match admin_of(s).create_space(q.cloudid.as_deref(), &r.key, &r.name) {
        Ok(id) => (StatusCode::CREATED, Json(json!({"id": id.to_string()}))).into_response(),
        Err(e) => fail(e),
    }
}

async fn create_page(
    State(s): State<Shared>,
    Query(q): Query<SiteQuery>,
    Json(p): Json<NewPage>,
) -> Response {
    match admin_of(s).create_page(q.cloudid.as_deref(), p) {
        Ok(id) => (StatusCode::CREATED, Json(json!({"id": id.to_string()}))).into_response(),
        Err(e) => fail(e),
    }
}

#[derive(Deserialize)]
struct SeedPages {
    space_key: String,
    count: usize,
    #[serde(default)]
    parent_id: Option<u64>,
}

async fn seed_pages(
    State(s): State<Shared>,
    Query(q): Query<SiteQuery>,
    Json(r): Json<SeedPages>,
) -> Response {
    match admin_of(s).seed_pages(q.cloudid.as_deref(), &r.space_key, r.count, r.parent_id) {
        Ok(ids) => (
            StatusCode::CREATED,
            Json(json!({"count": ids.len(), "first_id": ids.first().map(|i| i.to_string())})),
        )
            .into_response(),
        Err(e) => fail(e),
    }
}

#[derive(Deserialize)]
struct Settings {
    auto_approve: Option<bool>,
    search_lag_ms: Option<u64>,
    quota_points_per_hour: Option<u64>,
    burst_per_second: Option<u32>,
}

async fn settings(State(s): State<Shared>, Json(r): Json<Settings>) -> Response {
    let admin = admin_of(s.clone());
    if let Some(a) = r.auto_approve {
        admin.set_auto_approve(a);
    }
    if let Some(ms) = r.search_lag_ms {
        admin.set_search_lag(Duration::from_millis(ms));
    }
    if r.quota_points_per_hour.is_some() || r.burst_per_second.is_some() {
        let points = r.quota_points_per_hour.unwrap_or_else(|| s.quota.limit());
        let burst = r.burst_per_second.unwrap_or(s.config.burst_per_second);
        admin.set_quota(points, burst);
    }
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct QuotaQuery {
    client_id: String,
}

async fn quota(State(s): State<Shared>, Query(q): Query<QuotaQuery>) -> Response {
    ok(json!({"limit": s.quota.limit(), "remaining": admin_of(s).quota_remaining(&q.client_id)}))
}

async fn reset_quota(State(s): State<Shared>) -> Response {
    s.quota.reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn save(State(s): State<Shared>) -> Response {
    match admin_of(s).save() {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fail(e),
    }
}
