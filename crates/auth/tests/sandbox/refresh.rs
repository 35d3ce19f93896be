use std::collections::HashSet;

use weft_auth::connect::NoChoice;
use weft_sandbox::Seed;

use crate::common::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_callers_cause_exactly_one_refresh() {
    let world = World::start(Seed::Empty).await;
    world.connect("acme", None, &NoChoice).await.unwrap();
    world.advance(chrono::Duration::minutes(58));
    world.sandbox.admin().clear_requests();

    let calls = (0..1000).map(|_| {
        let manager = world.manager.clone();
        tokio::spawn(async move { manager.access_token("acme").await })
    });
    let tokens: Vec<_> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|t| t.unwrap().unwrap())
        .collect();

    assert_eq!(
        world.token_requests().len(),
        1,
        "exactly one refresh request reached the token endpoint"
    );
    let distinct: HashSet<_> = tokens.iter().map(|t| t.expose().to_string()).collect();
    assert_eq!(distinct.len(), 1, "every caller got the same new token");
    assert_eq!(world.stored("acme").await.tokens.access_token, tokens[0]);
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_connections_refresh_independently() {
    let world = World::start(Seed::Empty).await;
    world.connect("acme", None, &NoChoice).await.unwrap();
    world.connect("globex", None, &NoChoice).await.unwrap();
    world.advance(chrono::Duration::minutes(58));
    world.sandbox.admin().clear_requests();

    let calls = (0..200).map(|i| {
        let manager = world.manager.clone();
        let name = if i % 2 == 0 { "acme" } else { "globex" };
        tokio::spawn(async move { (name, manager.access_token(name).await.unwrap()) })
    });
    let results: Vec<_> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        world.token_requests().len(),
        2,
        "one refresh per connection"
    );
    let acme = world.stored("acme").await;
    let globex = world.stored("globex").await;
    assert_ne!(acme.tokens.refresh_token, globex.tokens.refresh_token);
    for (name, token) in results {
        let expected = if name == "acme" { &acme } else { &globex };
        assert_eq!(token, expected.tokens.access_token);
    }

    // One connection dying does not touch the other.
    let mut broken = world.stored("globex").await;
    broken.tokens.refresh_token = weft_auth::RefreshToken::new("garbage");
    weft_auth::ConnectionStore::put(&*world.store, &broken)
        .await
        .unwrap();
    world.advance(chrono::Duration::minutes(58));
    assert!(world.manager.access_token("globex").await.is_err());
    assert!(world.manager.access_token("acme").await.is_ok());
    assert_eq!(
        world.stored("acme").await.status,
        weft_auth::ConnectionStatus::Healthy
    );
    world.shutdown().await;
}

#[tokio::test]
async fn keep_alive_rotates_idle_refresh_tokens_before_they_expire() {
    let world = World::start(Seed::Empty).await;
    world.connect("acme", None, &NoChoice).await.unwrap();
    let before = world.stored("acme").await.tokens.refresh_token;
    // 31 days without any use: the default keep-alive period (30 days) has passed.
    world.advance(chrono::Duration::days(31));
    let report = world.manager.keep_alive().await.unwrap();
    assert_eq!(report.refreshed, ["acme"]);
    assert_ne!(world.stored("acme").await.tokens.refresh_token, before);
    // Three such periods later the connection still works, though 93 days passed since consent.
    world.advance(chrono::Duration::days(31));
    world.manager.keep_alive().await.unwrap();
    world.advance(chrono::Duration::days(31));
    world.manager.keep_alive().await.unwrap();
    assert!(world.manager.access_token("acme").await.is_ok());
    world.shutdown().await;
}
