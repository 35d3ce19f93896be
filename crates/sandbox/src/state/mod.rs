//! Shared sandbox state: config, clock, OAuth store, users, sites, request log, faults, quota.

pub mod auth;
pub mod model;
pub mod persist;
pub mod search_index;
pub mod site;

use crate::clock::{chrono_duration, SandboxClock};
use crate::config::SandboxConfig;
use crate::faults::Faults;
use crate::ratelimit::Quota;
use crate::realism::Realism;
use crate::reqlog::RequestLog;
use auth::{AuthStore, Lifetimes, RegisteredApp};
use model::{SiteInfo, User};
use parking_lot::{Mutex, RwLock};
use site::{IdGen, Site, SiteData};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub type Shared = Arc<Inner>;

/// Client id of the built-in app ("sandbox credentials"); stable so docs and demos can name it.
pub const BUILTIN_CLIENT_ID: &str = "weft-sandbox-client";
/// Default callback of `weft connect`.
pub const DEFAULT_CALLBACK: &str = "http://127.0.0.1:8976/callback";
/// Account id of the sandbox user who consents on the authorize page.
pub const SANDBOX_ACCOUNT_ID: &str = "557058:sandbox-user-0001";

fn lifetimes_of(config: &SandboxConfig) -> Lifetimes {
    Lifetimes {
        access: chrono_duration(config.access_token_lifetime),
        code: chrono_duration(config.code_lifetime),
        refresh_inactivity: chrono_duration(config.refresh_token_inactivity),
        reuse_window: chrono_duration(config.refresh_reuse_window),
        absolute: config.refresh_token_absolute_lifetime.map(chrono_duration),
    }
}

#[derive(Debug)]
pub struct Inner {
    pub clock: SandboxClock,
    pub auth: RwLock<AuthStore>,
    pub users: RwLock<Vec<User>>,
    pub sites: RwLock<Vec<Arc<Site>>>,
    pub ids: Arc<IdGen>,
    pub log: RequestLog,
    pub faults: Faults,
    pub quota: Quota,
    pub auto_approve: AtomicBool,
    /// Search lag in milliseconds (admin can change it).
    pub search_lag_ms: AtomicU64,
    /// Bumped by every mutation; the autosaver persists when it moved.
    pub generation: AtomicU64,
    pub config: SandboxConfig,
    pub base_url: Mutex<String>,
    /// The untidy answers of realistic mode (inert when it is off).
    pub realism: Realism,
    /// Numbers the `atl-request-id` of each answer.
    pub request_ids: AtomicU64,
}

impl Inner {
    pub fn new(config: SandboxConfig) -> Self {
        let lifetimes = lifetimes_of(&config);
        Inner {
            clock: SandboxClock::default(),
            auth: RwLock::new(AuthStore::new(lifetimes)),
            users: RwLock::new(Vec::new()),
            sites: RwLock::new(Vec::new()),
            ids: Arc::new(IdGen::starting_at(65_537)),
            log: RequestLog::new(config.request_log_capacity),
            faults: Faults::default(),
            quota: Quota::new(config.quota_points_per_hour, config.burst_per_second),
            auto_approve: AtomicBool::new(config.auto_approve),
            search_lag_ms: AtomicU64::new(config.search_index_lag.as_millis() as u64),
            generation: AtomicU64::new(0),
            realism: Realism::new(config.realistic, config.realistic_seed),
            request_ids: AtomicU64::new(0),
            config,
            base_url: Mutex::new(String::new()),
        }
    }

    pub fn lifetimes(&self) -> Lifetimes {
        lifetimes_of(&self.config)
    }

    pub fn touch(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    pub fn site(&self, cloudid: &str) -> Option<Arc<Site>> {
        self.sites
            .read()
            .iter()
            .find(|s| s.info.cloudid == cloudid)
            .cloned()
    }

    pub fn site_infos(&self) -> Vec<SiteInfo> {
        self.sites.read().iter().map(|s| s.info.clone()).collect()
    }

    pub fn add_site(&self, info: SiteInfo) -> Arc<Site> {
        let site = Arc::new(Site::new(info, SiteData::new(self.ids.clone())));
        self.sites.write().push(site.clone());
        self.touch();
        site
    }

    pub fn user(&self, account_id: &str) -> Option<User> {
        self.users
            .read()
            .iter()
            .find(|u| u.account_id == account_id)
            .cloned()
    }

    pub fn upsert_user(&self, user: User) {
        let mut users = self.users.write();
        match users.iter_mut().find(|u| u.account_id == user.account_id) {
            Some(u) => *u = user,
            None => users.push(user),
        }
    }

    pub fn search_lag(&self) -> chrono::Duration {
        chrono_duration(Duration::from_millis(
            self.search_lag_ms.load(Ordering::Relaxed),
        ))
    }

    pub fn builtin_app(&self) -> Option<RegisteredApp> {
        self.auth.read().app(BUILTIN_CLIENT_ID).cloned()
    }
}
