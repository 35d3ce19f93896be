//! Data the sandbox starts with: the built-in app, the sandbox user, sites, and the demo set.

use crate::scopes::all_scopes;
use crate::state::auth::RegisteredApp;
use crate::state::model::{ContentKind, SiteInfo, User};
use crate::state::site::{NewContent, Site};
use crate::state::{Inner, BUILTIN_CLIENT_ID, DEFAULT_CALLBACK, SANDBOX_ACCOUNT_ID};
use chrono::{DateTime, Utc};

/// Secret of the built-in app. Not a secret in any real sense: the sandbox is local and prints it.
pub const BUILTIN_CLIENT_SECRET: &str = "weft-sandbox-secret";

/// Ensures the built-in app, the sandbox user and at least one site exist.
pub fn base(inner: &Inner) {
    if inner.builtin_app().is_none() {
        inner.auth.write().register_app(RegisteredApp {
            client_id: BUILTIN_CLIENT_ID.to_string(),
            client_secret: BUILTIN_CLIENT_SECRET.to_string(),
            name: "weft sandbox app".to_string(),
            callback_urls: vec![DEFAULT_CALLBACK.to_string()],
            scopes: all_scopes(),
        });
    }
    if inner.user(SANDBOX_ACCOUNT_ID).is_none() {
        inner.upsert_user(User {
            account_id: SANDBOX_ACCOUNT_ID.to_string(),
            display_name: "Sandbox User".to_string(),
            email: "sandbox.user@example.com".to_string(),
            time_zone: inner.config.user_time_zone.clone(),
            has_access: true,
        });
    }
    if inner.sites.read().is_empty() {
        inner.add_site(site_info(1, "weft-sandbox"));
    }
}

/// A site with a stable cloud id derived from its number.
pub fn site_info(n: u32, name: &str) -> SiteInfo {
    SiteInfo {
        cloudid: format!("5a4d2c3b-0000-4000-8000-{n:012}"),
        url: format!("https://{name}.atlassian.net"),
        name: name.to_string(),
    }
}

/// Creates `count` pages under `parent` (or the space home page) and indexes them at once.
/// Used by the admin API and benchmarks; 100,000 pages take well under a second.
pub fn bulk_pages(
    site: &Site,
    space_id: u64,
    parent: Option<u64>,
    count: usize,
    title_prefix: &str,
    author: &str,
    now: DateTime<Utc>,
) -> Result<Vec<u64>, crate::api_error::ApiError> {
    let mut data = site.data.write();
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let id = data.create_content(
            NewContent::current(
                ContentKind::Page,
                space_id,
                parent,
                format!("{title_prefix} {i}"),
                format!("<p>Generated page {i}.</p>"),
                author.to_string(),
            ),
            now,
        )?;
        ids.push(id);
    }
    let mut index = site.index.lock();
    for &id in &ids {
        if let Some(doc) = data.search_doc(id) {
            index.insert_now(doc);
        }
    }
    Ok(ids)
}
