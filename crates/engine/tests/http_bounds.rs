//! `http.request` reads at most its response cap, whatever the server sends or announces, and
//! says so when an answer labelled JSON is not JSON.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::http::header::CONTENT_TYPE;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weft_engine::exec::{Engine, RunOutcome, RunRequest};
use weft_engine::store::{NoStore, RunStatus};
use weft_engine::workflow;

const MIB: usize = 1024 * 1024;

struct Server {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(app: axum::Router) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server { addr, task }
}

/// Answers every connection with a body that never ends, after `length_header` (none: the body
/// lasts until the connection closes, and only a streamed cap stops reading it).
async fn endless_server(length_header: &'static str) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n{length_header}\r\n"
                );
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'x'; 64 * 1024];
                while socket.write_all(&chunk).await.is_ok() {}
            });
        }
    });
    Server { addr, task }
}

async fn get(url: &str, extra: &str) -> RunOutcome {
    let engine = Engine::new(
        Arc::new(weft_engine::actions::builtin_registry().expect("built-in actions")),
        Arc::new(weft_engine::trigger::SourceCatalog::default()),
        Arc::new(NoStore),
    );
    let yaml = format!(
        "name: get\nsteps:\n  - id: get\n    uses: http.request\n    with:\n      url: {url}\n{extra}outputs:\n  body: ${{{{ steps.get.output.body }}}}\n"
    );
    let loaded = workflow::load_bytes(Path::new("get.yaml"), yaml.as_bytes(), engine.catalog())
        .unwrap_or_else(|p| panic!("{}", p.render()));
    engine.run(loaded.workflow, RunRequest::default()).await
}

fn failure(outcome: &RunOutcome) -> &str {
    assert_eq!(outcome.status, RunStatus::Failed, "{:?}", outcome.outputs);
    outcome.error.as_deref().unwrap()
}

#[tokio::test]
async fn an_announced_length_over_the_cap_fails_before_reading() {
    let server = serve(axum::Router::new().route(
        "/big",
        axum::routing::get(|| async { vec![b'a'; 4 * MIB + 1] }),
    ))
    .await;
    let outcome = get(&format!("http://{}/big", server.addr), "").await;
    let error = failure(&outcome);
    assert!(
        error.contains("larger than the response limit of 4 MiB (4194305 bytes announced)")
            && error.contains("raise `max_response_bytes` (up to 64 MiB)"),
        "{error}"
    );
    // Raised per step, the same answer is read whole.
    let outcome = get(
        &format!("http://{}/big", server.addr),
        "      max_response_bytes: 5000000\n",
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(outcome.outputs["body"].as_str().unwrap().len(), 4 * MIB + 1);
}

#[tokio::test]
async fn an_endless_answer_without_a_length_stops_at_the_cap() {
    let server = endless_server("").await;
    let outcome = get(
        &format!("http://{}/", server.addr),
        "      max_response_bytes: 100000\n",
    )
    .await;
    let error = failure(&outcome);
    assert!(
        error.contains("larger than the response limit of 100000 bytes (more was sent)"),
        "{error}"
    );
}

#[tokio::test]
async fn a_server_sending_more_than_its_content_length_is_read_to_that_length() {
    let server = endless_server("content-length: 10\r\n").await;
    let outcome = get(&format!("http://{}/", server.addr), "").await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(outcome.outputs, json!({ "body": "xxxxxxxxxx" }));
}

#[tokio::test]
async fn a_streamed_chunked_answer_over_the_cap_fails() {
    let server = serve(axum::Router::new().route(
        "/stream",
        axum::routing::get(|| async {
            let chunks = futures::stream::iter(
                (0..200).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 64 * 1024])),
            );
            axum::body::Body::from_stream(chunks)
        }),
    ))
    .await;
    let error = get(&format!("http://{}/stream", server.addr), "").await;
    assert!(
        failure(&error).contains("larger than the response limit of 4 MiB (more was sent)"),
        "{:?}",
        error.error
    );
}

#[tokio::test]
async fn max_response_bytes_has_an_upper_limit() {
    let outcome = get(
        "http://127.0.0.1:9/",
        "      max_response_bytes: 1000000000\n",
    )
    .await;
    let error = failure(&outcome);
    assert!(
        error.contains("`max_response_bytes` must be a whole number from 1 to 67108864"),
        "{error}"
    );
}

#[tokio::test]
async fn a_json_answer_that_is_not_json_fails_the_step_and_an_empty_one_is_null() {
    let server = serve(
        axum::Router::new()
            .route(
                "/broken",
                axum::routing::get(|| async {
                    ([(CONTENT_TYPE, "application/json")], "<html>oops</html>")
                }),
            )
            .route(
                "/empty",
                axum::routing::get(|| async { ([(CONTENT_TYPE, "application/json")], "") }),
            )
            .route(
                "/good",
                axum::routing::get(|| async {
                    (
                        [(CONTENT_TYPE, "application/json; charset=utf-8")],
                        r#"{"ok":true}"#,
                    )
                }),
            ),
    )
    .await;
    let outcome = get(&format!("http://{}/broken", server.addr), "").await;
    let error = failure(&outcome);
    assert!(
        error.contains("answered 200 OK with a JSON content-type, but the body is not valid JSON")
            && error.contains("<html>oops</html>"),
        "{error}"
    );
    let outcome = get(&format!("http://{}/empty", server.addr), "").await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(outcome.outputs, json!({ "body": Value::Null }));
    let outcome = get(&format!("http://{}/good", server.addr), "").await;
    assert_eq!(outcome.outputs, json!({ "body": { "ok": true } }));
}

/// `[0,0,...]` is 2 bytes a value: 4 MiB of it parsed into 2,000,000 values took 334 MB.
/// An answer of more than 1,000,000 values fails cleanly before it is parsed.
#[tokio::test]
async fn a_json_answer_of_more_than_a_million_values_fails_before_parsing() {
    let array = |n: usize| format!("[{}]", vec!["0"; n].join(","));
    let over = array(1_000_000);
    let at = array(999_999);
    let server = serve(
        axum::Router::new()
            .route(
                "/over",
                axum::routing::get(
                    move || async move { ([(CONTENT_TYPE, "application/json")], over) },
                ),
            )
            .route(
                "/at",
                axum::routing::get(
                    move || async move { ([(CONTENT_TYPE, "application/json")], at) },
                ),
            ),
    )
    .await;
    let outcome = get(&format!("http://{}/over", server.addr), "").await;
    let error = failure(&outcome);
    assert!(
        error.contains("the answer has more than 1000000 JSON values")
            && error.contains("the limit for a parsed answer")
            && error.contains("ask for less per request"),
        "{error}"
    );
    // 999,999 elements and the array itself: exactly the limit, parsed.
    let outcome = get(&format!("http://{}/at", server.addr), "").await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(
        outcome.outputs["body"].as_array().map(Vec::len),
        Some(999_999)
    );
}
