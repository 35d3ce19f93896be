//! For the tests of connector crates (feature `test-support`): a sandbox with an OAuth app and a
//! connection made through the real consent flow, as `weft connect` makes one.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use weft_auth::app_config::{AppConfig, Credentials, SecretSource};
use weft_auth::connect::{CallbackServer, ConnectFlow, NoChoice};
use weft_auth::{Keyring, SledConnectionStore, SystemClock, TokenManager};
use weft_sandbox::{RegisteredApp, Sandbox, SandboxConfig};

/// The name of the connection [`SandboxConnection::start`] makes.
pub const CONNECTION: &str = "acme";

/// The client id of the app [`SandboxConnection::start`] registers.
pub const CLIENT_ID: &str = "weft-connector-test";
const CLIENT_SECRET: &str = "weft-connector-test-secret-93c1";

/// A running sandbox and a connection `acme` to its first site.
pub struct SandboxConnection {
    pub sandbox: Sandbox,
    /// The token provider of the connection (give it to `Runtime::engine`).
    pub tokens: Arc<TokenManager>,
    pub cloud_id: String,
    /// `<sandbox>/ex/confluence/<cloud id>`: the connection's API base.
    pub api_base: String,
}

impl SandboxConnection {
    /// Starts a sandbox with `config` (auto-approval is switched on), registers an app asking for
    /// `scopes` and connects `acme` through the consent flow. Stores live under `data_dir`.
    /// Panics on any failure: it is test setup.
    pub async fn start(config: SandboxConfig, scopes: &[&str], data_dir: &Path) -> Self {
        let sandbox = Sandbox::start(SandboxConfig {
            auto_approve: true,
            ..config
        })
        .await
        .expect("sandbox starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind callback");
        let callback_url = format!(
            "http://127.0.0.1:{}/callback",
            listener.local_addr().expect("callback address").port()
        );
        let secret_file = data_dir.join("client-secret");
        std::fs::write(&secret_file, CLIENT_SECRET).expect("write secret");
        let mut config = AppConfig::new("confluence").expect("app config");
        config.credentials = Credentials::Own {
            client_id: CLIENT_ID.into(),
            client_secret: SecretSource::File { path: secret_file },
        };
        config.set_base_url(&sandbox.base_url()).expect("base url");
        config
            .set_callback_url(&callback_url)
            .expect("callback url");
        for scope in scopes {
            config.scopes.add(scope).expect("scope");
        }
        let app = config.resolve(&|_| None, None).expect("resolve app");
        // The app enables what it asks for: `scopes` and weft's defaults (`read:me`...).
        sandbox
            .admin()
            .register_app(RegisteredApp {
                client_id: CLIENT_ID.into(),
                client_secret: CLIENT_SECRET.into(),
                name: "connector test".into(),
                callback_urls: vec![callback_url.clone()],
                scopes: app.requested_scopes.clone(),
            })
            .expect("register app");
        let store = Arc::new(
            SledConnectionStore::open(
                &data_dir.join("data"),
                Keyring::from_key_bytes([3; 32], &[]),
            )
            .expect("open connection store"),
        );
        let http = reqwest::Client::new();
        let flow = Arc::new(ConnectFlow::new(
            app.clone(),
            store.clone(),
            Arc::new(SystemClock),
            http.clone(),
        ));
        let callback = CallbackServer::start(listener, flow.clone()).expect("callback server");
        // The sandbox grants every site (the demo data has two): connect the first.
        let first_site = sandbox.admin().sites().first().map(|s| s.cloudid.clone());
        let pending = flow
            .begin(CONNECTION, first_site.as_deref())
            .expect("begin consent");
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("browser");
        let consent = browser
            .get(pending.authorize_url.clone())
            .send()
            .await
            .expect("authorize");
        let Some(location) = consent.headers().get("location") else {
            let status = consent.status();
            let body = consent.text().await.unwrap_or_default();
            panic!("the sandbox refused the consent ({status}): {body}");
        };
        let location = location.to_str().expect("redirect").to_string();
        // The callback page answers only once the grant is completed: the browser and the
        // completion run together.
        let completed = async {
            let grant = pending
                .wait(Duration::from_secs(10), &app.callback_url)
                .await
                .expect("grant");
            flow.complete(grant, &NoChoice).await.expect("connected")
        };
        let (page, connection) = tokio::join!(browser.get(&location).send(), completed);
        assert_eq!(page.expect("callback").status(), 200);
        callback.shutdown().await;
        let tokens = Arc::new(weft_auth::setup::token_manager(store, &app, http));
        let api_base = format!(
            "{}/ex/confluence/{}",
            sandbox.base_url().trim_end_matches('/'),
            connection.cloud_id
        );
        SandboxConnection {
            sandbox,
            tokens,
            cloud_id: connection.cloud_id,
            api_base,
        }
    }
}
