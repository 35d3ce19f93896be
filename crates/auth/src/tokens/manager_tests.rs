//! Token manager behaviour against a scripted token endpoint and a manual clock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use parking_lot::Mutex;

use super::*;
use crate::clock::ManualClock;
use crate::connection::ConnectionStatus;
use crate::crypto::Keyring;
use crate::error::AuthError;
use crate::secret::{AccessToken, AuthorizationCode, RefreshToken};
use crate::store::conformance::sample_connection;
use crate::store::{ConnectionStore, SledConnectionStore};

type Answer = Result<TokenGrant, TokenEndpointError>;

/// Answers refreshes from a script (default: a rotated pair), counting calls.
#[derive(Default)]
struct ScriptedEndpoint {
    script: Mutex<VecDeque<Answer>>,
    calls: AtomicUsize,
    seen: Mutex<Vec<String>>,
    delay: Duration,
}

impl ScriptedEndpoint {
    fn push(&self, answer: Answer) {
        self.script.lock().push_back(answer);
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenEndpoint for ScriptedEndpoint {
    async fn exchange_code(&self, _code: &AuthorizationCode, _redirect: &str) -> Answer {
        unreachable!("not used by the token manager")
    }
    async fn refresh(&self, refresh_token: &RefreshToken) -> Answer {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        self.seen.lock().push(refresh_token.expose().to_string());
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.script
            .lock()
            .pop_front()
            .unwrap_or_else(|| Ok(grant(n, true)))
    }
}

fn grant(n: usize, rotate: bool) -> TokenGrant {
    TokenGrant {
        access_token: AccessToken::new(format!("AT-new-{n}")),
        refresh_token: rotate.then(|| RefreshToken::new(format!("RT-new-{n}"))),
        expires_in: Duration::from_secs(3600),
        scopes: None,
    }
}

fn error(status: Option<u16>, code: Option<&str>) -> TokenEndpointError {
    TokenEndpointError {
        status,
        code: code.map(String::from),
        description: None,
        retry_after: None,
        transport: status.is_none().then(|| "connection reset".to_string()),
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<SledConnectionStore>,
    endpoint: Arc<ScriptedEndpoint>,
    clock: Arc<ManualClock>,
    manager: Arc<TokenManager>,
    told: Arc<Told>,
}

/// What the manager's observer was told, in order.
#[derive(Default)]
struct Told(Mutex<Vec<String>>);

impl RefreshObserver for Told {
    fn refreshed(&self, connection: &str) {
        self.0.lock().push(format!("refreshed {connection}"));
    }
    fn refresh_failed(&self, connection: &str) {
        self.0.lock().push(format!("failed {connection}"));
    }
}

impl Told {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock())
    }
}

async fn fixture_with(endpoint: ScriptedEndpoint, expires_in: chrono::Duration) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SledConnectionStore::open(dir.path(), Keyring::from_key_bytes([9; 32], &[])).unwrap(),
    );
    let clock = Arc::new(ManualClock::new(Utc::now()));
    store
        .put(&sample_connection("acme", clock.now(), expires_in))
        .await
        .unwrap();
    let endpoint = Arc::new(endpoint);
    let told = Arc::new(Told::default());
    let manager = Arc::new(
        TokenManager::new(
            store.clone(),
            endpoint.clone(),
            clock.clone(),
            TokenOptions::default(),
        )
        .with_observer(told.clone()),
    );
    Fixture {
        _dir: dir,
        store,
        endpoint,
        clock,
        manager,
        told,
    }
}

async fn fixture(expires_in: chrono::Duration) -> Fixture {
    fixture_with(ScriptedEndpoint::default(), expires_in).await
}

impl Fixture {
    async fn stored(&self) -> crate::connection::Connection {
        self.store.get("acme").await.unwrap().unwrap().connection
    }
}

use crate::clock::Clock;

#[tokio::test]
async fn a_fresh_token_is_returned_without_refreshing() {
    let f = fixture(chrono::Duration::hours(1)).await;
    assert_eq!(
        f.manager.access_token("acme").await.unwrap().expose(),
        "AT-acme-0"
    );
    assert_eq!(f.endpoint.calls(), 0);
    assert!(matches!(
        f.manager.access_token("nope").await,
        Err(AuthError::ConnectionNotFound(_))
    ));
}

#[tokio::test]
async fn a_token_inside_the_margin_is_refreshed_and_the_pair_persisted() {
    let f = fixture(chrono::Duration::hours(1)).await;
    f.clock.advance(chrono::Duration::minutes(56));
    let token = f.manager.access_token("acme").await.unwrap();
    assert_eq!(token.expose(), "AT-new-1");
    assert_eq!(f.endpoint.seen.lock().as_slice(), ["RT-acme-0"]);
    let stored = f.stored().await;
    assert_eq!(stored.tokens.refresh_token.expose(), "RT-new-1");
    assert_eq!(
        stored.tokens.access_expires_at,
        f.clock.now() + chrono::Duration::hours(1)
    );
    assert_eq!(stored.refresh_started_at, None);
    assert_eq!(stored.last_rotation_at, f.clock.now());
}

#[tokio::test]
async fn the_old_refresh_token_is_kept_when_none_comes_back() {
    let f = fixture(chrono::Duration::minutes(1)).await;
    f.endpoint.push(Ok(grant(1, false)));
    f.manager.access_token("acme").await.unwrap();
    assert_eq!(f.stored().await.tokens.refresh_token.expose(), "RT-acme-0");
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() {
    let endpoint = ScriptedEndpoint {
        delay: Duration::from_millis(30),
        ..Default::default()
    };
    let f = fixture_with(endpoint, chrono::Duration::minutes(1)).await;
    let calls = (0..1000).map(|_| {
        let manager = f.manager.clone();
        tokio::spawn(async move { manager.access_token("acme").await })
    });
    let tokens = futures::future::join_all(calls).await;
    assert!(tokens
        .into_iter()
        .all(|t| t.unwrap().unwrap().expose() == "AT-new-1"));
    assert_eq!(f.endpoint.calls(), 1);
}

#[tokio::test]
async fn a_permanent_error_needs_reconnect_and_stops_retries() {
    let f = fixture(chrono::Duration::minutes(1)).await;
    f.endpoint
        .push(Err(error(Some(403), Some("invalid_grant"))));
    let err = f.manager.access_token("acme").await.unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(&err, AuthError::NeedsReconnect { connection, .. } if connection == "acme"),
        "{message}"
    );
    assert!(message.contains("403 invalid_grant"), "{message}");
    assert!(!message.contains("weft "), "no CLI wording: {message}");
    for _ in 0..3 {
        assert!(matches!(
            f.manager.access_token("acme").await,
            Err(AuthError::NeedsReconnect { .. })
        ));
    }
    assert!(f.manager.keep_alive().await.unwrap().refreshed.is_empty());
    assert_eq!(f.endpoint.calls(), 1);
    assert!(matches!(
        f.stored().await.status,
        ConnectionStatus::NeedsReconnect { .. }
    ));
}

#[tokio::test]
async fn transient_errors_back_off_and_serve_the_still_valid_token() {
    let f = fixture(chrono::Duration::minutes(1)).await;
    let start = f.clock.now();
    let mut rate_limited = error(Some(429), None);
    rate_limited.retry_after = Some(Duration::from_secs(300));
    f.endpoint.push(Err(rate_limited));
    // Inside the margin but not expired: the old token is still served.
    assert_eq!(
        f.manager.access_token("acme").await.unwrap().expose(),
        "AT-acme-0"
    );
    let ConnectionStatus::RefreshFailing {
        retry_at,
        failures,
        ref last_error,
        ..
    } = f.stored().await.status
    else {
        panic!(
            "expected refresh failing, got {:?}",
            f.stored().await.status
        )
    };
    assert_eq!(failures, 1);
    assert!(last_error.contains("429"), "{last_error}");
    assert!(
        retry_at >= start + chrono::Duration::seconds(300),
        "Retry-After honoured"
    );
    for _ in 0..5 {
        f.manager.access_token("acme").await.unwrap();
    }
    assert_eq!(f.endpoint.calls(), 1, "no call during the cooldown");
    // Expired and still cooling down: a clear error, still no call.
    f.clock.set(start + chrono::Duration::seconds(61));
    let err = f.manager.access_token("acme").await.unwrap_err();
    assert!(matches!(err, AuthError::RefreshCoolingDown { .. }), "{err}");
    assert_eq!(f.endpoint.calls(), 1);
    f.clock.set(retry_at + chrono::Duration::seconds(1));
    assert_eq!(
        f.manager.access_token("acme").await.unwrap().expose(),
        "AT-new-2"
    );
    assert_eq!(f.stored().await.status, ConnectionStatus::Healthy);
}

#[tokio::test]
async fn a_network_failure_keeps_the_marker_and_retries_inside_the_reuse_window() {
    let f = fixture(chrono::Duration::minutes(1)).await;
    f.endpoint.push(Err(error(None, None)));
    assert_eq!(
        f.manager.access_token("acme").await.unwrap().expose(),
        "AT-acme-0"
    );
    let stored = f.stored().await;
    assert!(
        stored.refresh_started_at.is_some(),
        "outcome unknown: marker kept"
    );
    let ConnectionStatus::RefreshFailing { retry_at, .. } = stored.status else {
        panic!()
    };
    assert!(retry_at <= f.clock.now() + chrono::Duration::minutes(2));
    let report = f.manager.recover_interrupted().await.unwrap();
    assert_eq!(report.refreshed, ["acme"]);
    assert_eq!(f.stored().await.refresh_started_at, None);
}

#[tokio::test]
async fn a_forced_refresh_after_401_happens_once() {
    let f = fixture(chrono::Duration::hours(1)).await;
    let rejected = f.manager.access_token("acme").await.unwrap();
    let (a, b) = tokio::join!(
        f.manager.force_refresh("acme", &rejected),
        f.manager.force_refresh("acme", &rejected)
    );
    assert_eq!(a.unwrap().expose(), "AT-new-1");
    assert_eq!(b.unwrap().expose(), "AT-new-1");
    assert_eq!(f.endpoint.calls(), 1);
}

#[tokio::test]
async fn a_crash_after_the_answer_is_recovered_at_next_start() {
    let f = fixture(chrono::Duration::minutes(1)).await;
    f.manager.simulate_crash_after_token_answer(true);
    assert!(f.manager.access_token("acme").await.is_err());
    assert!(f.stored().await.refresh_started_at.is_some());
    assert_eq!(
        f.stored().await.tokens.refresh_token.expose(),
        "RT-acme-0",
        "the answer was lost"
    );
    let restarted = TokenManager::new(
        f.store.clone(),
        f.endpoint.clone(),
        f.clock.clone(),
        TokenOptions::default(),
    );
    let report = restarted.recover_interrupted().await.unwrap();
    assert_eq!(report.refreshed, ["acme"]);
    assert_eq!(
        f.endpoint.seen.lock().as_slice(),
        ["RT-acme-0", "RT-acme-0"],
        "old token reused in the window"
    );
    assert_eq!(f.stored().await.tokens.refresh_token.expose(), "RT-new-2");
}

#[tokio::test]
async fn the_observer_hears_of_every_refresh_sent_whoever_asked() {
    let f = fixture(chrono::Duration::hours(1)).await;
    f.manager.access_token("acme").await.unwrap();
    assert!(f.told.take().is_empty(), "a fresh token is no refresh");

    // A step's or a poll's token about to expire.
    f.clock.advance(chrono::Duration::minutes(56));
    f.manager.access_token("acme").await.unwrap();
    assert_eq!(f.told.take(), ["refreshed acme"]);

    // A failure for now, while the old token is still served.
    f.clock.advance(chrono::Duration::minutes(56));
    f.endpoint.push(Err(error(Some(503), None)));
    f.manager.access_token("acme").await.unwrap();
    assert_eq!(f.told.take(), ["failed acme"]);
    f.manager.access_token("acme").await.unwrap();
    assert!(
        f.told.take().is_empty(),
        "nothing is sent while cooling down"
    );

    // Keep-alive, then a refusal for good.
    f.clock.advance(chrono::Duration::days(31));
    assert_eq!(f.manager.keep_alive().await.unwrap().refreshed, ["acme"]);
    assert_eq!(f.told.take(), ["refreshed acme"]);
    f.endpoint
        .push(Err(error(Some(403), Some("invalid_grant"))));
    f.manager.refresh_now("acme").await.unwrap_err();
    f.manager.access_token("acme").await.unwrap_err();
    assert_eq!(
        f.told.take(),
        ["failed acme"],
        "a connection that needs reconnecting sends nothing more"
    );
}

#[tokio::test]
async fn keep_alive_refreshes_only_idle_connections() {
    let f = fixture(chrono::Duration::hours(1)).await;
    f.store
        .put(&sample_connection(
            "busy",
            f.clock.now() + chrono::Duration::days(29),
            chrono::Duration::hours(1),
        ))
        .await
        .unwrap();
    f.clock.advance(chrono::Duration::days(31));
    let report = f.manager.keep_alive().await.unwrap();
    assert_eq!(report.refreshed, ["acme"]);
    assert_eq!(f.endpoint.calls(), 1);
    assert!(f.manager.keep_alive().await.unwrap().refreshed.is_empty());
}

#[tokio::test]
async fn manual_refresh_retries_a_connection_that_needs_reconnect() {
    let f = fixture(chrono::Duration::minutes(1)).await;
    f.endpoint
        .push(Err(error(Some(401), Some("access_denied"))));
    let err = f
        .manager
        .access_token("acme")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("client secret"), "{err}");
    assert_eq!(
        f.manager.refresh_now("acme").await.unwrap().expose(),
        "AT-new-2"
    );
    assert_eq!(f.stored().await.status, ConnectionStatus::Healthy);
}

#[tokio::test]
async fn a_failed_refresh_asked_for_is_reported_even_while_the_old_token_is_valid() {
    let f = fixture(chrono::Duration::minutes(30)).await;
    f.endpoint.push(Err(error(Some(503), None)));
    let err = f.manager.refresh_now("acme").await.unwrap_err();
    assert!(
        matches!(&err, AuthError::TokenEndpoint { connection, source } if connection == "acme" && source.status == Some(503)),
        "{err}"
    );
    // A caller that only needs a token still gets the valid one.
    assert_eq!(
        f.manager.access_token("acme").await.unwrap().expose(),
        "AT-acme-0"
    );
    f.endpoint.push(Err(error(Some(503), None)));
    let report = f.manager.refresh_all().await.unwrap();
    assert!(report.refreshed.is_empty(), "{report:?}");
    assert!(
        matches!(report.failed.as_slice(), [(name, AuthError::TokenEndpoint { .. })] if name == "acme"),
        "{report:?}"
    );
}

#[tokio::test]
async fn connection_info_points_at_the_app_gateway_and_carries_settings() {
    use weft_action::TokenProvider;
    let f = fixture(chrono::Duration::hours(1)).await;
    let mut stored = f.stored().await;
    stored.config.insert("space".into(), "ENG".into());
    f.store.put(&stored).await.unwrap();
    let atlassian = f.manager.connection_info("acme").await.unwrap();
    assert_eq!(
        atlassian.api_base,
        "https://api.atlassian.com/ex/confluence/cloud-acme"
    );
    assert_eq!(
        atlassian.config.get("space").map(String::as_str),
        Some("ENG")
    );
    let sandbox = TokenManager::new(
        f.store.clone(),
        f.endpoint.clone(),
        f.clock.clone(),
        TokenOptions::default(),
    )
    .with_endpoints(
        crate::provider::ProviderEndpoints::with_bases(None, Some("http://127.0.0.1:4010"))
            .unwrap(),
    );
    let info = sandbox.connection_info("acme").await.unwrap();
    assert_eq!(
        info.api_base,
        "http://127.0.0.1:4010/ex/confluence/cloud-acme"
    );
    assert_eq!(info.granted_scopes, vec!["read:me".to_string()]);
    let missing = sandbox.connection_info("nope").await.unwrap_err();
    assert!(matches!(
        missing,
        weft_action::TokenError::Failed {
            transient: false,
            ..
        }
    ));
    assert_eq!(f.endpoint.calls(), 0, "reading info never refreshes");
}

#[tokio::test]
async fn a_changed_app_refreshes_with_its_own_endpoint_and_gateway() {
    use weft_action::TokenProvider;
    let f = fixture(chrono::Duration::hours(1)).await;
    // Read before the change, so what the manager kept of the connection holds the old base.
    let before = f.manager.connection_info("acme").await.unwrap();
    let changed = Arc::new(ScriptedEndpoint::default());
    f.manager.use_app(
        changed.clone(),
        crate::provider::ProviderEndpoints::with_bases(None, Some("http://127.0.0.1:4011"))
            .unwrap(),
    );
    let info = f.manager.connection_info("acme").await.unwrap();
    assert_eq!(
        info.api_base,
        "http://127.0.0.1:4011/ex/confluence/cloud-acme"
    );
    assert_ne!(before.api_base, info.api_base);
    f.clock.advance(chrono::Duration::minutes(56));
    f.manager.access_token("acme").await.unwrap();
    assert_eq!(
        (f.endpoint.calls(), changed.calls()),
        (0, 1),
        "the new app's endpoint refreshes"
    );
    let info = f.manager.connection_info("acme").await.unwrap();
    assert_eq!(
        info.api_base,
        "http://127.0.0.1:4011/ex/confluence/cloud-acme"
    );
}

#[tokio::test]
async fn what_a_call_read_is_kept_until_the_store_is_written() {
    use weft_action::TokenProvider;
    let f = fixture(chrono::Duration::hours(1)).await;
    let first = f.manager.connection_info("acme").await.unwrap();
    assert!(first.config.is_empty());
    assert_eq!(
        f.manager.access_token("acme").await.unwrap().expose(),
        "AT-acme-0"
    );
    // A setting changed through the store (as `weft connections set` does) is seen at once.
    let mut stored = f.stored().await;
    stored.config.insert("space".into(), "ENG".into());
    f.store.put(&stored).await.unwrap();
    let changed = f.manager.connection_info("acme").await.unwrap();
    assert_eq!(changed.config.get("space").map(String::as_str), Some("ENG"));
    // The kept token is still checked against the clock: near its expiry it is refreshed, and
    // the new one is what the next call gets.
    f.clock.advance(chrono::Duration::minutes(56));
    assert_eq!(
        f.manager.access_token("acme").await.unwrap().expose(),
        "AT-new-1"
    );
    assert_eq!(
        f.manager.access_token("acme").await.unwrap().expose(),
        "AT-new-1"
    );
    assert_eq!(f.endpoint.calls(), 1);
    // A deleted connection has no token any more.
    assert!(f.store.delete("acme").await.unwrap());
    assert!(matches!(
        f.manager.access_token("acme").await,
        Err(AuthError::ConnectionNotFound(_))
    ));
}
