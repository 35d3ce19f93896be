//! `access_token(connection)`: a valid access token, refreshed single-flight per connection.
//!
//! Rules (see the Atlassian reference): refresh before expiry; one refresh at a time per
//! connection, the others wait and re-read the store; mark the refresh as started (durably)
//! before sending the refresh token, so a crash is recovered inside the reuse window; persist the
//! new pair with compare-and-swap + flush before anyone sees the new access token; keep the old
//! refresh token when none comes back; permanent errors stop everything until reconnection;
//! transient ones back off with jitter.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use weft_action::ConnectionInfo;

use super::{Backoff, RefreshObserver, TokenEndpoint, TokenEndpointError, TokenErrorKind};
use crate::clock::Clock;
use crate::connection::{Connection, ConnectionStatus, Tokens};
use crate::error::{AuthError, Result};
use crate::provider::ProviderEndpoints;
use crate::secret::AccessToken;
use crate::store::{ConnectionStore, StoredConnection};

/// Tunables of the token manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOptions {
    /// Refresh when the access token expires within this margin.
    pub refresh_margin: Duration,
    /// Keep-alive refreshes connections whose refresh token has not rotated for this long
    /// (Atlassian expires refresh tokens after 90 days without use).
    pub keep_alive_idle: Duration,
    pub backoff: Backoff,
    /// When a refresh call's outcome is unknown (network failure after sending), retry no later
    /// than this, so the retry still falls inside Atlassian's 10-minute reuse window.
    pub unknown_outcome_retry: Duration,
}

impl Default for TokenOptions {
    fn default() -> Self {
        Self {
            refresh_margin: Duration::from_secs(5 * 60),
            keep_alive_idle: Duration::from_secs(30 * 24 * 3600),
            backoff: Backoff::default(),
            unknown_outcome_retry: Duration::from_secs(2 * 60),
        }
    }
}

/// Why a refresh is considered.
#[derive(Debug, Clone)]
enum RefreshReason {
    /// The access token is about to expire.
    Expiring,
    /// A connector got a 401 with this token.
    Rejected(AccessToken),
    /// The refresh token has been idle too long.
    KeepAlive,
    /// The user asked (`weft connections refresh`): ignores cooldown and needs-reconnect.
    Manual,
    /// Start-up recovery of a refresh interrupted by a crash.
    Recovery,
}

/// What a pass over several connections did.
#[derive(Debug, Default)]
pub struct KeepAliveReport {
    pub refreshed: Vec<String>,
    /// Each connection whose refresh failed, with why.
    pub failed: Vec<(String, AuthError)>,
}

/// Hands out access tokens; one per process, shared by every connector.
pub struct TokenManager {
    store: Arc<dyn ConnectionStore>,
    /// Replaced when the app changes while the process runs ([`TokenManager::use_app`]); a
    /// refresh sent already finishes with the one it took.
    endpoint: Mutex<Arc<dyn TokenEndpoint>>,
    clock: Arc<dyn Clock>,
    options: TokenOptions,
    margin: chrono::Duration,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    crash_after_token_answer: AtomicBool,
    /// Where connections' API calls go (Atlassian's gateway, or the sandbox).
    endpoints: Mutex<ProviderEndpoints>,
    /// Told of every refresh sent, when the process installed one.
    observer: Option<Arc<dyn RefreshObserver>>,
    /// What each connection's record gave when last read, by name (at most [`MAX_KNOWN`]).
    known: Mutex<HashMap<String, Arc<Known>>>,
}

/// At most this many connections are kept known; past it they are all dropped and kept anew.
const MAX_KNOWN: usize = 1024;

/// What a connection's record gave when it was last read, kept while the store counts no write
/// since (see [`ConnectionStore::writes`]; a refresh is a write): every step reads its
/// connection twice, for its API base and for its token, and reading and decoding the record
/// each time cost more than the rest of the connector's work for a call.
pub(super) struct Known {
    /// The store's count of writes before the record was read.
    writes: u64,
    pub(super) info: ConnectionInfo,
    token: AccessToken,
    /// Until when `token` is handed out without a refresh (its expiry less the margin);
    /// `None` when it is not: a refresh was interrupted, or the connection needs reconnecting.
    fresh_until: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl TokenManager {
    pub fn new(
        store: Arc<dyn ConnectionStore>,
        endpoint: Arc<dyn TokenEndpoint>,
        clock: Arc<dyn Clock>,
        options: TokenOptions,
    ) -> Self {
        let margin = chrono_duration(options.refresh_margin);
        Self {
            store,
            endpoint: Mutex::new(endpoint),
            clock,
            options,
            margin,
            locks: Mutex::new(HashMap::new()),
            crash_after_token_answer: AtomicBool::new(false),
            endpoints: Mutex::new(ProviderEndpoints::atlassian()),
            observer: None,
            known: Mutex::new(HashMap::new()),
        }
    }

    /// Tells `observer` of every refresh this manager sends, and of how it ended.
    pub fn with_observer(mut self, observer: Arc<dyn RefreshObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Points connections' API calls at `endpoints` (the app's, which may be the sandbox's).
    pub fn with_endpoints(self, endpoints: ProviderEndpoints) -> Self {
        *self.endpoints.lock() = endpoints;
        self
    }

    /// Where connections' API calls go now.
    pub fn endpoints(&self) -> ProviderEndpoints {
        self.endpoints.lock().clone()
    }

    /// Refreshes from now on with `endpoint` (a changed app's credentials) and points API
    /// calls at `endpoints`, keeping the connections' refresh locks: a refresh going finishes
    /// first, as any refresh does before the next.
    pub fn use_app(&self, endpoint: Arc<dyn TokenEndpoint>, endpoints: ProviderEndpoints) {
        *self.endpoint.lock() = endpoint;
        *self.endpoints.lock() = endpoints;
        // What was kept holds API bases of the previous app.
        self.known.lock().clear();
    }

    pub fn store(&self) -> &Arc<dyn ConnectionStore> {
        &self.store
    }

    /// Test hook: behave as if the process died right after the token endpoint answered a
    /// refresh, before the answer was stored.
    #[doc(hidden)]
    pub fn simulate_crash_after_token_answer(&self, enabled: bool) {
        self.crash_after_token_answer
            .store(enabled, Ordering::SeqCst);
    }

    /// A valid access token for `connection`, refreshed first when it expires within the margin.
    pub async fn access_token(&self, connection: &str) -> Result<AccessToken> {
        let known = self.known(connection).await?;
        if known
            .fresh_until
            .is_some_and(|until| until > self.clock.now())
        {
            return Ok(known.token.clone());
        }
        self.refresh_with(connection, RefreshReason::Expiring).await
    }

    /// The connection as [`Known`] from its record, read again only when the store was
    /// written since (or cannot say).
    pub(super) async fn known(&self, name: &str) -> Result<Arc<Known>> {
        // Counted before the read: a write during it makes what is read look old next time.
        let writes = self.store.writes();
        if let Some(writes) = writes {
            if let Some(known) = self.known.lock().get(name) {
                if known.writes == writes {
                    return Ok(known.clone());
                }
            }
        }
        let stored = match self.load(name).await {
            Ok(stored) => stored,
            Err(error) => {
                // A deleted connection's token is not kept.
                self.known.lock().remove(name);
                return Err(error);
            }
        };
        let conn = &stored.connection;
        let usable = conn.refresh_started_at.is_none()
            && !matches!(conn.status, ConnectionStatus::NeedsReconnect { .. });
        let known = Arc::new(Known {
            writes: writes.unwrap_or_default(),
            info: self.info_of(conn),
            token: conn.tokens.access_token.clone(),
            fresh_until: usable.then(|| conn.tokens.access_expires_at - self.margin),
        });
        if writes.is_some() {
            let mut all = self.known.lock();
            if all.len() >= MAX_KNOWN {
                all.clear();
            }
            all.insert(name.to_string(), known.clone());
        }
        Ok(known)
    }

    /// What a connector needs to know of `conn` besides its token.
    fn info_of(&self, conn: &Connection) -> ConnectionInfo {
        let api_base = self.endpoints.lock().confluence_api_base(&conn.cloud_id);
        ConnectionInfo {
            api_base: api_base.as_str().trim_end_matches('/').to_string(),
            name: conn.name.clone(),
            provider: conn.provider.clone(),
            cloud_id: conn.cloud_id.clone(),
            site_url: conn.site_url.clone(),
            granted_scopes: conn.granted_scopes.clone(),
            config: conn.config.clone(),
        }
    }

    /// For a connector whose call was answered 401 with `rejected`: one refresh, unless another
    /// caller already replaced that token.
    pub async fn force_refresh(
        &self,
        connection: &str,
        rejected: &AccessToken,
    ) -> Result<AccessToken> {
        self.refresh_with(connection, RefreshReason::Rejected(rejected.clone()))
            .await
    }

    /// Refreshes now, whatever the state (`weft connections refresh`).
    pub async fn refresh_now(&self, connection: &str) -> Result<AccessToken> {
        self.refresh_with(connection, RefreshReason::Manual).await
    }

    /// At start-up: redoes refreshes that a crash interrupted, while the reuse window still
    /// accepts the old refresh token. Returns the connections recovered or failed.
    pub async fn recover_interrupted(&self) -> Result<KeepAliveReport> {
        let interrupted = self
            .store
            .list()
            .await?
            .into_iter()
            .filter(|c| c.refresh_started_at.is_some());
        self.refresh_each(interrupted.map(|c| c.name), RefreshReason::Recovery)
            .await
    }

    /// Refreshes connections whose refresh token has been idle longer than `keep_alive_idle`
    /// (and any interrupted refresh). The daemon calls this on a schedule.
    pub async fn keep_alive(&self) -> Result<KeepAliveReport> {
        let now = self.clock.now();
        let idle = chrono_duration(self.options.keep_alive_idle);
        let due = self.store.list().await?.into_iter().filter(|c| {
            !matches!(c.status, ConnectionStatus::NeedsReconnect { .. })
                && (c.refresh_started_at.is_some() || now - c.last_rotation_at >= idle)
        });
        self.refresh_each(due.map(|c| c.name), RefreshReason::KeepAlive)
            .await
    }

    /// Refreshes every connection now (`weft connections refresh --all`).
    pub async fn refresh_all(&self) -> Result<KeepAliveReport> {
        let names = self.store.list().await?.into_iter().map(|c| c.name);
        self.refresh_each(names, RefreshReason::Manual).await
    }

    async fn refresh_each(
        &self,
        names: impl Iterator<Item = String>,
        refresh_reason: RefreshReason,
    ) -> Result<KeepAliveReport> {
        let mut report = KeepAliveReport::default();
        for name in names {
            match self.refresh_with(&name, refresh_reason.clone()).await {
                Ok(_) => report.refreshed.push(name),
                Err(e) => report.failed.push((name, e)),
            }
        }
        Ok(report)
    }

    async fn load(&self, connection: &str) -> Result<StoredConnection> {
        self.store
            .get(connection)
            .await?
            .ok_or_else(|| AuthError::ConnectionNotFound(connection.to_string()))
    }

    fn lock_for(&self, connection: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .entry(connection.to_string())
            .or_default()
            .clone()
    }

    async fn refresh_with(&self, name: &str, refresh_reason: RefreshReason) -> Result<AccessToken> {
        let lock = self.lock_for(name);
        let _single_flight = lock.lock().await;
        // Someone may have refreshed while we waited: decide on what is stored now.
        let stored = self.load(name).await?;
        let conn = &stored.connection;
        let now = self.clock.now();
        // Under the lock no refresh of ours is in flight: a marker is left over from a crash.
        let interrupted = conn.refresh_started_at.is_some();

        if let ConnectionStatus::NeedsReconnect { reason, .. } = &conn.status {
            if !matches!(refresh_reason, RefreshReason::Manual) {
                return Err(AuthError::NeedsReconnect {
                    connection: name.to_string(),
                    reason: reason.clone(),
                });
            }
        }
        if !interrupted {
            let still_good = match &refresh_reason {
                RefreshReason::Expiring => conn.fresh_access_token(now, self.margin).is_some(),
                RefreshReason::Rejected(bad) => {
                    conn.tokens.access_token != *bad && conn.tokens.access_expires_at > now
                }
                RefreshReason::KeepAlive => {
                    now - conn.last_rotation_at < chrono_duration(self.options.keep_alive_idle)
                }
                RefreshReason::Manual | RefreshReason::Recovery => false,
            };
            if still_good {
                return Ok(conn.tokens.access_token.clone());
            }
        }
        if let ConnectionStatus::RefreshFailing {
            retry_at,
            last_error,
            ..
        } = &conn.status
        {
            let honours_cooldown = matches!(
                refresh_reason,
                RefreshReason::Expiring | RefreshReason::Rejected(_) | RefreshReason::KeepAlive
            );
            if honours_cooldown && now < *retry_at {
                if usable_after_failure(conn, &refresh_reason, now) {
                    return Ok(conn.tokens.access_token.clone());
                }
                return Err(AuthError::RefreshCoolingDown {
                    connection: name.to_string(),
                    last_error: last_error.clone(),
                    retry_at: *retry_at,
                });
            }
        }
        self.run_refresh(stored, refresh_reason, now).await
    }

    async fn run_refresh(
        &self,
        stored: StoredConnection,
        refresh_reason: RefreshReason,
        now: DateTime<Utc>,
    ) -> Result<AccessToken> {
        let name = stored.connection.name.clone();
        let interrupted_at = stored.connection.refresh_started_at;
        let mut marked = stored.connection.clone();
        marked.refresh_started_at = Some(interrupted_at.unwrap_or(now));
        let stored = self.store.compare_and_swap(&stored, &marked).await?;

        tracing::debug!(connection = %name, "refreshing access token");
        let endpoint = self.endpoint.lock().clone();
        let answer = endpoint.refresh(&marked.tokens.refresh_token).await;
        if self.crash_after_token_answer.load(Ordering::SeqCst) {
            return Err(AuthError::Storage {
                operation: "refresh (test hook)",
                reason: "simulated crash after the token endpoint answered".to_string(),
            });
        }

        let now = self.clock.now();
        let mut next = marked.clone();
        next.refresh_started_at = None;
        next.updated_at = now;
        match answer {
            Ok(grant) => {
                next.tokens = Tokens {
                    access_token: grant.access_token,
                    refresh_token: grant
                        .refresh_token
                        .unwrap_or_else(|| marked.tokens.refresh_token.clone()),
                    access_expires_at: now + chrono_duration(grant.expires_in),
                };
                if let Some(scopes) = grant.scopes {
                    next.granted_scopes = scopes;
                }
                next.last_rotation_at = now;
                next.status = ConnectionStatus::Healthy;
                if let Err(e) = self.store.compare_and_swap(&stored, &next).await {
                    self.observe(|o| o.refresh_failed(&name));
                    return Err(e);
                }
                self.observe(|o| o.refreshed(&name));
                tracing::info!(connection = %name, expires_at = %next.tokens.access_expires_at, "access token refreshed");
                Ok(next.tokens.access_token)
            }
            Err(error) if error.kind() == TokenErrorKind::Permanent => {
                let mut reason = error.reconnect_reason();
                if let Some(at) = interrupted_at {
                    reason = format!(
                        "a refresh interrupted at {} was not redone within Atlassian's 10-minute reuse window; {reason}",
                        at.format("%Y-%m-%d %H:%M:%S UTC")
                    );
                }
                next.status = ConnectionStatus::NeedsReconnect {
                    since: now,
                    reason: reason.clone(),
                };
                self.observe(|o| o.refresh_failed(&name));
                self.store.compare_and_swap(&stored, &next).await?;
                tracing::warn!(connection = %name, %reason, "connection needs to be reconnected");
                Err(AuthError::NeedsReconnect {
                    connection: name,
                    reason,
                })
            }
            Err(error) => {
                self.observe(|o| o.refresh_failed(&name));
                self.record_transient_failure(stored, next, &marked, &error, interrupted_at, now)
                    .await?;
                if usable_after_failure(&marked, &refresh_reason, now) {
                    return Ok(marked.tokens.access_token);
                }
                Err(AuthError::TokenEndpoint {
                    connection: name,
                    source: error,
                })
            }
        }
    }

    fn observe(&self, tell: impl FnOnce(&dyn RefreshObserver)) {
        if let Some(observer) = &self.observer {
            tell(observer.as_ref());
        }
    }

    async fn record_transient_failure(
        &self,
        stored: StoredConnection,
        mut next: Connection,
        before: &Connection,
        error: &TokenEndpointError,
        interrupted_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (since, failures) = match &before.status {
            ConnectionStatus::RefreshFailing {
                since, failures, ..
            } => (*since, failures + 1),
            _ => (now, 1),
        };
        let mut delay = self.options.backoff.delay(failures, error.retry_after);
        if error.outcome_unknown() {
            // No usable answer: Atlassian may have rotated the token anyway. Keep the marker and
            // retry soon enough to stay inside the reuse window.
            next.refresh_started_at = Some(interrupted_at.unwrap_or(now));
            delay = delay.min(self.options.unknown_outcome_retry);
        }
        let retry_at = now + chrono_duration(delay);
        next.status = ConnectionStatus::RefreshFailing {
            since,
            failures,
            last_error: error.to_string(),
            retry_at,
        };
        self.store.compare_and_swap(&stored, &next).await?;
        tracing::warn!(connection = %next.name, error = %error, %retry_at, "refresh failed; backing off");
        Ok(())
    }
}

/// After a failed refresh the old access token is still handed out while it has not expired to
/// callers that need a token, except to the one who was just told it is rejected. Callers that
/// asked for the refresh itself (by hand, keep-alive, recovery) are told it failed.
fn usable_after_failure(
    conn: &Connection,
    refresh_reason: &RefreshReason,
    now: DateTime<Utc>,
) -> bool {
    match refresh_reason {
        RefreshReason::Expiring => conn.tokens.access_expires_at > now,
        RefreshReason::Rejected(bad) => {
            *bad != conn.tokens.access_token && conn.tokens.access_expires_at > now
        }
        RefreshReason::KeepAlive | RefreshReason::Manual | RefreshReason::Recovery => false,
    }
}
