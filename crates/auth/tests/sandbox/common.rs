//! A sandbox plus a fully wired weft-auth (app config, store, callback server, token manager).

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use url::Url;
use weft_auth::app_config::{AppConfig, Credentials, SecretSource};
use weft_auth::connect::{CallbackServer, ConnectFlow, SiteChooser};
use weft_auth::{
    Connection, ConnectionStore, Keyring, ManualClock, OAuthClient, ResolvedApp,
    SledConnectionStore, TokenManager, TokenOptions,
};
use weft_sandbox::{RegisteredApp, Sandbox, SandboxConfig, Seed};

pub const CLIENT_ID: &str = "weft-test-app";
pub const CLIENT_SECRET: &str = "test-client-secret-5f8e2c";
pub const APP_SCOPES: &[&str] = &["read:me", "read:confluence-user", "read:page:confluence"];

pub struct World {
    pub sandbox: Sandbox,
    /// Keeps the data directory alive as long as the world.
    pub _dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub store: Arc<SledConnectionStore>,
    pub app: ResolvedApp,
    pub flow: Arc<ConnectFlow>,
    pub callback: Option<CallbackServer>,
    pub manager: Arc<TokenManager>,
    pub http: reqwest::Client,
}

impl World {
    pub async fn start(seed: Seed) -> World {
        Self::start_with(seed, CLIENT_SECRET).await
    }

    /// `secret` is what weft sends; the sandbox app always has [`CLIENT_SECRET`].
    pub async fn start_with(seed: Seed, secret: &str) -> World {
        let sandbox = Sandbox::start(SandboxConfig {
            auto_approve: true,
            seed,
            ..Default::default()
        })
        .await
        .expect("sandbox starts");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind callback");
        let callback_url = format!(
            "http://127.0.0.1:{}/callback",
            listener.local_addr().unwrap().port()
        );
        sandbox
            .admin()
            .register_app(RegisteredApp {
                client_id: CLIENT_ID.into(),
                client_secret: CLIENT_SECRET.into(),
                name: "weft tests".into(),
                callback_urls: vec![callback_url.clone()],
                scopes: APP_SCOPES.iter().map(|s| s.to_string()).collect(),
            })
            .expect("register app");

        let dir = tempfile::tempdir().unwrap();
        let secret_file = dir.path().join("client-secret");
        std::fs::write(&secret_file, secret).unwrap();
        let mut config = AppConfig::new("confluence").unwrap();
        config.credentials = Credentials::Own {
            client_id: CLIENT_ID.into(),
            client_secret: SecretSource::File { path: secret_file },
        };
        config.set_base_url(&sandbox.base_url()).unwrap();
        config.set_callback_url(&callback_url).unwrap();
        for scope in APP_SCOPES {
            config.scopes.add(scope).unwrap();
        }
        let app = config.resolve(&|_| None, None).unwrap();

        let clock = Arc::new(ManualClock::new(sandbox.admin().now()));
        let store = Arc::new(
            SledConnectionStore::open(
                &dir.path().join("data"),
                Keyring::from_key_bytes([7; 32], &[]),
            )
            .unwrap(),
        );
        let http = reqwest::Client::new();
        let flow = Arc::new(ConnectFlow::new(
            app.clone(),
            store.clone(),
            clock.clone(),
            http.clone(),
        ));
        let callback = CallbackServer::start(listener, flow.clone()).unwrap();
        let manager = Arc::new(Self::manager_for(&app, &store, &clock, &http));
        World {
            sandbox,
            _dir: dir,
            clock,
            store,
            app,
            flow,
            callback: Some(callback),
            manager,
            http,
        }
    }

    pub fn manager_for(
        app: &ResolvedApp,
        store: &Arc<SledConnectionStore>,
        clock: &Arc<ManualClock>,
        http: &reqwest::Client,
    ) -> TokenManager {
        TokenManager::new(
            store.clone(),
            Arc::new(OAuthClient::new(app, http.clone())),
            clock.clone(),
            TokenOptions::default(),
        )
    }

    /// A new token manager over the same store and endpoint (a restarted process).
    pub fn restarted_manager(&self) -> TokenManager {
        Self::manager_for(&self.app, &self.store, &self.clock, &self.http)
    }

    /// Plays the user's browser: opens the authorize URL and follows the redirect to the callback.
    pub async fn browse(&self, authorize_url: &Url) -> (u16, String) {
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let answer = browser.get(authorize_url.clone()).send().await.unwrap();
        assert_eq!(
            answer.status().as_u16(),
            302,
            "sandbox consent: {}",
            answer.text().await.unwrap_or_default()
        );
        let location = answer.headers()["location"].to_str().unwrap().to_string();
        let page = browser.get(&location).send().await.unwrap();
        (page.status().as_u16(), location)
    }

    pub async fn connect(
        &self,
        name: &str,
        site: Option<&str>,
        chooser: &dyn SiteChooser,
    ) -> weft_auth::Result<Connection> {
        let pending = self.flow.begin(name, site)?;
        let authorize_url = pending.authorize_url.clone();
        // The callback page answers once the connection is completed (or not).
        let completed = async {
            let grant = pending
                .wait(Duration::from_secs(10), &self.app.callback_url)
                .await?;
            self.flow.complete(grant, chooser).await
        };
        let ((status, _), connection) = tokio::join!(self.browse(&authorize_url), completed);
        assert_eq!(
            status,
            if connection.is_ok() { 200 } else { 400 },
            "the browser page tells the outcome: {connection:?}"
        );
        connection
    }

    /// Moves weft's clock and the sandbox's clock together.
    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
        self.sandbox.admin().advance_clock(by.to_std().unwrap());
    }

    pub fn token_requests(&self) -> Vec<weft_sandbox::LoggedRequest> {
        self.sandbox
            .admin()
            .requests()
            .into_iter()
            .filter(|r| r.path == "/oauth/token")
            .collect()
    }

    pub async fn stored(&self, name: &str) -> Connection {
        self.store.get(name).await.unwrap().unwrap().connection
    }

    pub async fn shutdown(mut self) {
        if let Some(callback) = self.callback.take() {
            callback.shutdown().await;
        }
        self.sandbox.shutdown().await;
    }
}

/// Uses a retired refresh token directly (another party, or a lost rotation).
pub async fn raw_refresh(world: &World, refresh_token: &str) -> (u16, serde_json::Value) {
    let answer = world
        .http
        .post(world.app.endpoints.token_url())
        .json(&serde_json::json!({
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": refresh_token,
        }))
        .send()
        .await
        .unwrap();
    (
        answer.status().as_u16(),
        answer.json().await.unwrap_or_default(),
    )
}
