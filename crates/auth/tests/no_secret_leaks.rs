//! Its own test binary: the tracing subscriber is process-global here, so no other test can
//! hide a log line from it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;
use weft_auth::api::AtlassianApi;
use weft_auth::connect::NoChoice;
use weft_sandbox::Seed;

#[path = "sandbox/common.rs"]
#[allow(dead_code)] // shared with the sandbox test binary, which uses all of it
mod common;

use common::{World, CLIENT_SECRET};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Connect, refresh, API call and a failing refresh with every weft log at TRACE: no token,
/// code or client secret appears in the logs or in the Debug/Display of what weft returns.
#[tokio::test]
async fn no_secret_appears_in_logs_debug_or_errors() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace,weft_sandbox=off"))
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber)
        .expect("the only subscriber of this binary");

    let world = World::start(Seed::Empty).await;
    let mut secrets = vec![CLIENT_SECRET.to_string()];
    let mut shown = Vec::new();

    let pending = world.flow.begin("acme", None).unwrap();
    let authorize_url = pending.authorize_url.clone();
    let completed = async {
        let grant = pending
            .wait(std::time::Duration::from_secs(10), &world.app.callback_url)
            .await
            .unwrap();
        let shown_grant = format!("{grant:?}");
        (
            shown_grant,
            world.flow.complete(grant, &NoChoice).await.unwrap(),
        )
    };
    let ((_, callback), (shown_grant, connection)) =
        tokio::join!(world.browse(&authorize_url), completed);
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    secrets.push(code);
    shown.push(shown_grant);
    secrets.push(connection.tokens.access_token.expose().to_string());
    secrets.push(connection.tokens.refresh_token.expose().to_string());
    shown.push(format!("{connection:?} {:?} {:?}", world.app, world.flow));

    world.advance(chrono::Duration::minutes(58));
    let token = world.manager.access_token("acme").await.unwrap();
    let refreshed = world.stored("acme").await;
    secrets.push(refreshed.tokens.access_token.expose().to_string());
    secrets.push(refreshed.tokens.refresh_token.expose().to_string());
    shown.push(format!(
        "{token} {token:?} {refreshed:?} {:?}",
        world.manager
    ));

    let api = AtlassianApi::new(world.http.clone(), world.app.endpoints.clone());
    shown.push(format!(
        "{:?}",
        api.current_user(&token, &refreshed.cloud_id).await.unwrap()
    ));

    // A failing refresh (inactivity) logs and returns an error: neither may carry a secret.
    world.advance(chrono::Duration::days(91));
    let err = world.manager.access_token("acme").await.unwrap_err();
    shown.push(format!("{err} {err:?}"));

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("access token refreshed"),
        "trace logs were captured:\n{logs}"
    );
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "low levels were captured"
    );
    let everything = format!("{logs}\n{}", shown.join("\n"));
    for secret in &secrets {
        assert!(secret.len() >= 8, "a real secret");
        assert!(
            !everything.contains(secret.as_str()),
            "a secret leaked:\n{everything}"
        );
    }
    world.shutdown().await;
}
