use std::time::Duration;

use url::Url;
use weft_auth::api::{AccessibleResource, AtlassianApi};
use weft_auth::connect::{NoChoice, SiteChooser};
use weft_auth::{AuthError, ConnectionStatus, ConnectionStore};
use weft_sandbox::Seed;

use crate::common::{World, CLIENT_ID};

#[tokio::test]
async fn the_whole_connect_flow_stores_a_healthy_connection() {
    let world = World::start(Seed::Empty).await;
    let pending = world.flow.begin("acme", None).unwrap();
    let url = pending.authorize_url.clone();
    let params: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(params["audience"], "api.atlassian.com");
    assert_eq!(params["client_id"], CLIENT_ID);
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["prompt"], "consent");
    assert_eq!(params["redirect_uri"], world.app.callback_url.as_str());
    assert_eq!(
        params["scope"],
        "offline_access read:confluence-user read:me read:page:confluence"
    );
    assert!(params["state"].len() >= 43);

    let completed = async {
        let grant = pending
            .wait(Duration::from_secs(10), &world.app.callback_url)
            .await
            .unwrap();
        world.flow.complete(grant, &NoChoice).await.unwrap()
    };
    let ((status, callback), connection) = tokio::join!(world.browse(&url), completed);
    assert_eq!(status, 200);

    let site = &world.sandbox.admin().sites()[0];
    assert_eq!(connection.cloud_id, site.cloudid);
    assert_eq!(connection.site_url, site.url);
    assert_eq!(
        connection.account.account_id,
        world.sandbox.admin().sandbox_account_id()
    );
    assert!(!connection.account.name.is_empty());
    assert!(connection
        .granted_scopes
        .contains(&"read:page:confluence".to_string()));
    assert_eq!(connection.status, ConnectionStatus::Healthy);
    assert_eq!(world.stored("acme").await, connection);

    // The code exchange sent JSON with the credentials in the body (no Basic auth).
    let exchange = &world.token_requests()[0];
    assert!(exchange
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    assert!(exchange.header("authorization").is_none());

    // Replaying the callback is refused, and so is a forged state.
    let browser = reqwest::Client::new();
    let replay = browser.get(&callback).send().await.unwrap();
    assert_eq!(replay.status().as_u16(), 400);
    assert!(replay.text().await.unwrap().contains("already used"));
    let mut forged = Url::parse(&callback).unwrap();
    forged.set_query(Some("code=x&state=forged"));
    assert_eq!(
        browser.get(forged).send().await.unwrap().status().as_u16(),
        400
    );

    // `weft connections test`: a real API call with the stored token.
    let api = AtlassianApi::new(world.http.clone(), world.app.endpoints.clone());
    let token = world.manager.access_token("acme").await.unwrap();
    let user = api
        .current_user(&token, &connection.cloud_id)
        .await
        .unwrap();
    assert_eq!(user.account_id, connection.account.account_id);
    world.shutdown().await;
}

#[tokio::test]
async fn a_denied_consent_reaches_the_waiting_command() {
    let world = World::start(Seed::Empty).await;
    let pending = world.flow.begin("acme", None).unwrap();
    let state = pending
        .authorize_url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let mut callback = world.app.callback_url.clone();
    callback
        .query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("state", &state);
    let page = reqwest::get(callback).await.unwrap();
    assert_eq!(page.status().as_u16(), 400);
    let err = pending
        .wait(Duration::from_secs(5), &world.app.callback_url)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuthError::AuthorizationDenied { ref error, .. } if error == "access_denied"),
        "{err}"
    );
    assert!(world.store.get("acme").await.unwrap().is_none());
    world.shutdown().await;
}

struct PickSecond;
#[async_trait::async_trait]
impl SiteChooser for PickSecond {
    async fn choose(&self, sites: &[AccessibleResource]) -> Option<usize> {
        (sites.len() == 2).then_some(1)
    }
}

#[tokio::test]
async fn several_sites_need_a_choice_or_a_matching_site_flag() {
    let world = World::start(Seed::Empty).await;
    world.sandbox.admin().add_site("beta-docs").unwrap();
    let sites = world.sandbox.admin().sites();
    assert_eq!(sites.len(), 2);

    let err = world.connect("acme", None, &NoChoice).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::SiteChoiceRequired { sites } if sites.len() == 2),
        "{err}"
    );
    assert!(
        world.store.get("acme").await.unwrap().is_none(),
        "nothing stored without a choice"
    );

    let wanted = &sites[1];
    let connection = world
        .connect("acme", Some(&wanted.url), &NoChoice)
        .await
        .unwrap();
    assert_eq!(connection.cloud_id, wanted.cloudid);

    let chosen = world.connect("beta", None, &PickSecond).await.unwrap();
    assert_ne!(chosen.cloud_id, "");

    let err = world
        .connect("gamma", Some("https://nowhere.atlassian.net"), &NoChoice)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::SiteNotGranted { .. }), "{err}");
    world.shutdown().await;
}

#[tokio::test]
async fn reconnecting_replaces_a_connection_that_needs_reconnect() {
    let world = World::start(Seed::Empty).await;
    let first = world.connect("acme", None, &NoChoice).await.unwrap();
    world.advance(chrono::Duration::days(91));
    let err = world.manager.access_token("acme").await.unwrap_err();
    assert!(matches!(err, AuthError::NeedsReconnect { .. }), "{err}");
    let second = world.connect("acme", None, &NoChoice).await.unwrap();
    assert_eq!(second.created_at, first.created_at);
    assert_eq!(world.stored("acme").await.status, ConnectionStatus::Healthy);
    assert!(world.manager.access_token("acme").await.is_ok());
    world.shutdown().await;
}
