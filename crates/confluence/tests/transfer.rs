//! Uploads and downloads against a scripted server: streamed, capped, never replayed blindly.

mod support;

use serde_json::json;
use support::mock::{Mock, Reply};
use weft_confluence::client::transfer::Upload;
use weft_confluence::client::{Api, Client, ConfluenceError, Request};

const SCOPES: &[&str] = &["write:attachment:confluence"];

fn upload_of(path: &std::path::Path) -> Upload {
    Upload {
        path: path.to_path_buf(),
        file_name: "report.csv".into(),
        media_type: Some("text/csv".into()),
        comment: Some("weekly".into()),
        minor_edit: true,
    }
}

fn attachment_request() -> Request {
    Request::post(Api::V1, "/content/65601/child/attachment")
}

#[tokio::test(start_paused = true)]
async fn an_upload_streams_the_file_as_multipart_with_the_token_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.csv");
    std::fs::write(&path, "a,b\n1,2\n").unwrap();
    let mock = Mock::start(vec![Reply::json(
        200,
        &json!({"results": [{"id": "att1"}]}).to_string(),
    )])
    .await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let answer = client
        .upload(&attachment_request(), upload_of(&path))
        .await
        .unwrap();
    assert_eq!(answer.body["results"][0]["id"], "att1");
    let received = &mock.received()[0];
    assert_eq!(received.header("x-atlassian-token"), Some("no-check"));
    assert!(received
        .header("content-type")
        .unwrap()
        .starts_with("multipart/form-data"));
    let body = String::from_utf8_lossy(&received.body);
    assert!(
        body.contains(r#"name="file"; filename="report.csv""#),
        "{body}"
    );
    assert!(
        body.contains("a,b\r\n1,2\r\n") || body.contains("a,b\n1,2\n"),
        "{body}"
    );
    assert!(body.contains(r#"name="comment""#) && body.contains("weekly"));
    assert!(body.contains(r#"name="minorEdit""#));
}

#[tokio::test(start_paused = true)]
async fn an_upload_is_not_replayed_after_a_server_error_but_is_after_a_401() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.csv");
    std::fs::write(&path, "a,b\n").unwrap();
    let mock = Mock::start(vec![Reply::json(503, "{}"), Reply::json(200, "{}")]).await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let error = client
        .upload(&attachment_request().idempotent(), upload_of(&path))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConfluenceError::Server { status: 503, .. }),
        "{error}"
    );
    assert_eq!(mock.received().len(), 1, "the body was sent: not again");

    let mock = Mock::start(vec![
        Reply::json(401, r#"{"code":401,"message":"Unauthorized"}"#),
        Reply::json(200, "{}"),
    ])
    .await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    client
        .upload(&attachment_request(), upload_of(&path))
        .await
        .unwrap();
    let received = mock.received();
    assert_eq!(received.len(), 2);
    for attempt in &received {
        let body = String::from_utf8_lossy(&attempt.body);
        assert!(
            body.contains("filename=\"report.csv\"\r\nContent-Type: text/csv\r\n\r\na,b\n\r\n"),
            "each attempt sends the whole file, read anew: {body}"
        );
    }
    assert_eq!(received[1].token, "token-2");
}

#[tokio::test(start_paused = true)]
async fn a_missing_file_fails_before_sending() {
    let mock = Mock::start(vec![]).await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let error = client
        .upload(
            &attachment_request(),
            upload_of(std::path::Path::new("/nonexistent/weft/report.csv")),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConfluenceError::UploadFile { .. }),
        "{error}"
    );
    assert!(mock.received().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_download_streams_to_the_file_and_is_retried_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("a.txt");
    let mock = Mock::start(vec![
        Reply::json(502, "{}"),
        Reply::bytes(200, "text/plain", "hello"),
    ])
    .await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let request = Request::link(Api::Site, "/wiki/download/attachments/1/a.txt?version=1");
    let downloaded = client.download(&request, &to, 1024).await.unwrap();
    assert_eq!(std::fs::read_to_string(&to).unwrap(), "hello");
    assert_eq!(downloaded.bytes, 5);
    assert_eq!(downloaded.media_type.as_deref(), Some("text/plain"));
    assert_eq!(
        downloaded.sha256,
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_eq!(mock.received().len(), 2);
    assert_eq!(
        mock.received()[1].uri,
        "/ex/confluence/cloud-1/wiki/download/attachments/1/a.txt?version=1"
    );
}

#[tokio::test(start_paused = true)]
async fn a_download_over_the_cap_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("big.bin");
    let mock = Mock::start(vec![Reply::bytes(
        200,
        "application/octet-stream",
        &"x".repeat(2048),
    )])
    .await;
    let connection = mock.connection(false);
    let client = Client::connect(&connection, SCOPES).await.unwrap();
    let error = client
        .download(&Request::get(Api::Site, "/wiki/download/x"), &to, 1024)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConfluenceError::DownloadTooLarge { .. }),
        "{error}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file left"
    );
}
