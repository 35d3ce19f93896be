//! The client's log of rate-limit waits. Its own test binary, with the one test in it: the
//! tracing subscriber is process-global here, because a thread-local one misses events when
//! another test registers the same callsite at the moment it is installed (tracing's interest
//! cache), which made such tests flaky.

mod support;

use serde_json::json;
use support::mock::{Mock, Reply};
use weft_confluence::client::{Api, Client, Request};

const SCOPES: &[&str] = &["read:page:confluence", "write:page:confluence"];

fn page(id: u64) -> String {
    json!({"id": id.to_string(), "title": "T"}).to_string()
}

/// What the process logged.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<parking_lot::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test(start_paused = true)]
async fn each_rate_limit_wait_taken_is_logged_without_secrets() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let mock = Mock::start(vec![
        Reply::json(429, "{}").header("retry-after", "7"),
        Reply::json(200, &page(1)),
    ])
    .await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    client
        .json(&Request::get(Api::V2, "/pages/1").query("body-format", "storage"))
        .await
        .unwrap();
    let logged = String::from_utf8(captured.0.lock().clone()).unwrap();
    let lines: Vec<&str> = logged
        .lines()
        .filter(|l| l.contains("rate limited by Atlassian; retrying after 7 s"))
        .collect();
    assert_eq!(lines.len(), 1, "{logged}");
    assert!(lines[0].contains("GET /wiki/api/v2/pages/1"), "{logged}");
    assert!(lines[0].contains("connection=acme"), "{logged}");
    assert!(!logged.contains("token-1"), "{logged}");
}
