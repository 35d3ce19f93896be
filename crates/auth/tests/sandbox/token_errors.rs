use std::sync::Arc;

use weft_auth::api::AtlassianApi;
use weft_auth::connect::NoChoice;
use weft_auth::{
    AuthError, ClientSecret, Clock, ConnectionStatus, ConnectionStore, OAuthClient, TokenManager,
    TokenOptions,
};
use weft_sandbox::{Fault, FaultRule, Seed};

use crate::common::{raw_refresh, World};

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

async fn connected() -> World {
    let world = World::start(Seed::Empty).await;
    world.connect("acme", None, &NoChoice).await.unwrap();
    world
}

async fn reconnect_reason(world: &World) -> String {
    match world.stored("acme").await.status {
        ConnectionStatus::NeedsReconnect { reason, .. } => reason,
        other => panic!("expected needs reconnect, got {other:?}"),
    }
}

#[tokio::test]
async fn rotation_stores_the_new_pair_and_the_new_token_works() {
    let world = connected().await;
    let before = world.stored("acme").await;
    world.advance(minutes(56));
    let token = world.manager.access_token("acme").await.unwrap();
    let after = world.stored("acme").await;
    assert_ne!(
        after.tokens.refresh_token, before.tokens.refresh_token,
        "refresh token rotated"
    );
    assert_ne!(&token, &before.tokens.access_token);
    assert_eq!(after.tokens.access_token, token);
    let api = AtlassianApi::new(world.http.clone(), world.app.endpoints.clone());
    assert!(api.me(&token).await.is_ok());
    // A second rotation starts from the stored (new) refresh token.
    world.advance(minutes(56));
    world.manager.access_token("acme").await.unwrap();
    assert_ne!(
        world.stored("acme").await.tokens.refresh_token,
        after.tokens.refresh_token
    );
    assert_eq!(
        world.token_requests().len(),
        3,
        "one exchange and two refreshes"
    );
    world.shutdown().await;
}

#[tokio::test]
async fn an_inactive_refresh_token_gives_invalid_grant_and_needs_reconnect() {
    let world = connected().await;
    world.advance(chrono::Duration::days(91));
    let err = world.manager.access_token("acme").await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, AuthError::NeedsReconnect { .. }), "{message}");
    assert!(
        message.contains("403 invalid_grant") && message.contains("expired, revoked"),
        "{message}"
    );
    let requests = world.token_requests().len();
    assert!(world.manager.access_token("acme").await.is_err());
    assert!(world
        .manager
        .keep_alive()
        .await
        .unwrap()
        .refreshed
        .is_empty());
    assert_eq!(
        world.token_requests().len(),
        requests,
        "no retry after a permanent failure"
    );
    world.shutdown().await;
}

#[tokio::test]
async fn a_rotated_out_token_gives_unauthorized_client_and_needs_reconnect() {
    let world = connected().await;
    let original = world.stored("acme").await;
    world.advance(minutes(56));
    world.manager.access_token("acme").await.unwrap();
    // The rotation got lost: the store still holds the retired token, past the reuse window.
    let mut lost = world.stored("acme").await;
    lost.tokens.refresh_token = original.tokens.refresh_token.clone();
    world.store.put(&lost).await.unwrap();
    world.advance(minutes(61));
    let err = world.manager.access_token("acme").await.unwrap_err();
    assert!(matches!(err, AuthError::NeedsReconnect { .. }), "{err}");
    assert!(
        reconnect_reason(&world)
            .await
            .contains("403 unauthorized_client"),
        "{}",
        reconnect_reason(&world).await
    );
    world.shutdown().await;
}

#[tokio::test]
async fn a_wrong_client_secret_gives_access_denied_and_a_fixed_secret_recovers() {
    let world = connected().await;
    let mut wrong = world.app.clone();
    wrong.client_secret = ClientSecret::new("not-the-secret");
    let bad_manager = TokenManager::new(
        world.store.clone(),
        Arc::new(OAuthClient::new(&wrong, world.http.clone())),
        world.clock.clone(),
        TokenOptions::default(),
    );
    world.advance(minutes(61));
    let err = bad_manager.access_token("acme").await.unwrap_err();
    assert!(matches!(err, AuthError::NeedsReconnect { .. }), "{err}");
    let reason = reconnect_reason(&world).await;
    assert!(
        reason.contains("401 access_denied") && reason.contains("client secret"),
        "{reason}"
    );
    // After fixing the secret, an explicit refresh brings the connection back.
    world.manager.refresh_now("acme").await.unwrap();
    assert_eq!(world.stored("acme").await.status, ConnectionStatus::Healthy);
    world.shutdown().await;
}

#[tokio::test]
async fn rate_limits_and_server_errors_back_off_without_hammering() {
    for fault in [
        Fault::RateLimited {
            retry_after_secs: Some(120),
        },
        Fault::Status { status: 503 },
    ] {
        let world = connected().await;
        world
            .sandbox
            .admin()
            .set_fault(FaultRule::always("/oauth/token", fault.clone()))
            .unwrap();
        world.advance(minutes(57));
        let before = world.token_requests().len();
        // Inside the margin the old token is still valid and still served.
        let old = world.manager.access_token("acme").await.unwrap();
        assert_eq!(old, world.stored("acme").await.tokens.access_token);
        let ConnectionStatus::RefreshFailing {
            retry_at, failures, ..
        } = world.stored("acme").await.status
        else {
            panic!("{fault:?}: expected refresh failing")
        };
        assert_eq!(failures, 1);
        if matches!(fault, Fault::RateLimited { .. }) {
            assert!(
                retry_at >= world.clock.now() + chrono::Duration::seconds(120),
                "Retry-After honoured"
            );
        }
        for _ in 0..20 {
            let _ = world.manager.access_token("acme").await;
        }
        world.advance(chrono::Duration::seconds(10));
        let _ = world.manager.access_token("acme").await;
        assert_eq!(
            world.token_requests().len(),
            before + 1,
            "{fault:?}: one call, then cooldown"
        );
        world.sandbox.admin().clear_faults();
        world.clock.set(retry_at + chrono::Duration::seconds(1));
        world
            .sandbox
            .admin()
            .advance_clock(std::time::Duration::from_secs(180));
        assert_ne!(world.manager.access_token("acme").await.unwrap(), old);
        assert_eq!(world.stored("acme").await.status, ConnectionStatus::Healthy);
        world.shutdown().await;
    }
}

#[tokio::test]
async fn a_lost_answer_is_recovered_through_the_reuse_window() {
    for fault in [Fault::CloseConnection, Fault::MalformedJson] {
        let world = connected().await;
        world
            .sandbox
            .admin()
            .set_fault(FaultRule::always("/oauth/token", fault.clone()))
            .unwrap();
        world.advance(minutes(61));
        let err = world.manager.access_token("acme").await.unwrap_err();
        assert!(
            matches!(err, AuthError::TokenEndpoint { .. }),
            "{fault:?}: {err}"
        );
        // The sandbox rotated the token but weft never saw the new one.
        assert!(
            world.stored("acme").await.refresh_started_at.is_some(),
            "{fault:?}: outcome unknown, marker kept"
        );
        world.sandbox.admin().clear_faults();
        world.advance(minutes(2));
        let report = world.manager.recover_interrupted().await.unwrap();
        assert_eq!(report.refreshed, ["acme"], "{fault:?}: {report:?}");
        assert_eq!(world.stored("acme").await.status, ConnectionStatus::Healthy);
        let api = AtlassianApi::new(world.http.clone(), world.app.endpoints.clone());
        assert!(api
            .me(&world.manager.access_token("acme").await.unwrap())
            .await
            .is_ok());
        world.shutdown().await;
    }
}

#[tokio::test]
async fn a_crash_after_the_answer_is_survived_inside_the_reuse_window() {
    let world = connected().await;
    world.advance(minutes(56));
    world.manager.simulate_crash_after_token_answer(true);
    assert!(world.manager.access_token("acme").await.is_err());
    assert!(world.stored("acme").await.refresh_started_at.is_some());
    // The process restarts a few minutes later.
    world.advance(minutes(4));
    let restarted = world.restarted_manager();
    let report = restarted.recover_interrupted().await.unwrap();
    assert_eq!(report.refreshed, ["acme"], "{report:?}");
    let token = restarted.access_token("acme").await.unwrap();
    let api = AtlassianApi::new(world.http.clone(), world.app.endpoints.clone());
    assert!(api.me(&token).await.is_ok());
    // And the family is alive: later rotations work.
    world.advance(minutes(56));
    assert!(restarted.access_token("acme").await.is_ok());
    world.shutdown().await;
}

#[tokio::test]
async fn a_crash_recovered_too_late_needs_reconnect_with_the_reason() {
    let world = connected().await;
    world.advance(minutes(56));
    world.manager.simulate_crash_after_token_answer(true);
    assert!(world.manager.access_token("acme").await.is_err());
    world.advance(minutes(11));
    let report = world
        .restarted_manager()
        .recover_interrupted()
        .await
        .unwrap();
    assert_eq!(report.failed.len(), 1);
    let reason = reconnect_reason(&world).await;
    assert!(reason.contains("reuse window"), "{reason}");
    world.shutdown().await;
}

#[tokio::test]
async fn a_revoked_family_turns_the_connection_to_needs_reconnect() {
    let world = connected().await;
    let original = world.stored("acme").await.tokens.refresh_token;
    world.advance(minutes(56));
    world.manager.access_token("acme").await.unwrap();
    // Someone presents the retired token outside the reuse window: Atlassian revokes the family.
    world.advance(minutes(11));
    let (status, body) = raw_refresh(&world, original.expose()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("unauthorized_client"))
    );
    world.advance(minutes(60));
    let err = world.manager.access_token("acme").await.unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(&err, AuthError::NeedsReconnect { connection, .. } if connection == "acme"),
        "{message}"
    );
    assert!(message.contains("revoked"), "{message}");
    world.shutdown().await;
}
