//! Hostile requests get a clean 4xx and the sandbox keeps serving: deep or out-of-range CQL,
//! absurd or broken bodies, wrong content types, huge fields, odd file names, huge clock advances.

mod common;

use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn q(cql: &str) -> String {
    url::form_urlencoded::byte_serialize(cql.as_bytes()).collect()
}

/// Sends raw bytes and reads what the server answers until it closes or a full head and a
/// little body have arrived.
async fn raw_exchange(sb: &weft_sandbox::Sandbox, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(sb.addr()).await.expect("connect");
    tcp.write_all(request).await.expect("write");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .expect("the server answers")
        .expect("read");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn raw_post(sb: &weft_sandbox::Sandbox, path: &str, token: &str, extra: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\n{extra}\r\n",
        sb.addr()
    )
}

fn v2_path(sb: &weft_sandbox::Sandbox, path: &str) -> String {
    format!("/ex/confluence/{}/wiki/api/v2{path}", cloudid(sb))
}

#[tokio::test]
async fn hostile_cql_is_a_400_with_a_cql_error_and_the_sandbox_keeps_serving() {
    let (sb, c, at) = demo().await;
    let deep = format!("{}type = page{}", "(".repeat(2000), ")".repeat(2000));
    for cql in [
        deep.as_str(),
        "lastmodified > now(\"-300000y\")",
        "created > startOfMonth(\"+99999999999M\")",
    ] {
        let (st, body) = get_json(&c, &v1(&sb, &format!("/search?cql={}", q(cql))), &at).await;
        assert_eq!(st, 400, "{cql}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("Could not parse cql"), "{message}");
        assert!(message.len() < 2_000, "the error quotes a capped query");
    }
    let (st, _) = get_json(
        &c,
        &v1(&sb, &format!("/search?cql={}", q("type = page"))),
        &at,
    )
    .await;
    assert_eq!(st, 200, "still serving");
    sb.shutdown().await;
}

#[tokio::test]
async fn an_absurd_length_with_expect_continue_is_refused_without_continue() {
    let (sb, _c, at) = empty().await;
    let head = raw_post(
        &sb,
        &v2_path(&sb, "/pages"),
        &at,
        "Content-Length: 99999999999999\r\nExpect: 100-continue\r\n",
    );
    let answer = raw_exchange(&sb, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    sb.shutdown().await;
}

#[tokio::test]
async fn a_json_body_over_5_mb_is_a_413_before_it_is_read() {
    let (sb, _c, at) = empty().await;
    let head = raw_post(
        &sb,
        &v2_path(&sb, "/pages"),
        &at,
        "Content-Length: 6000000\r\nExpect: 100-continue\r\n",
    );
    let answer = raw_exchange(&sb, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("REQUEST_ENTITY_TOO_LARGE"), "{answer}");
    sb.shutdown().await;
}

#[tokio::test]
async fn a_bad_chunk_size_is_a_400() {
    let (sb, _c, at) = empty().await;
    let mut request = raw_post(
        &sb,
        &v2_path(&sb, "/pages"),
        &at,
        "Transfer-Encoding: chunked\r\n",
    );
    request.push_str("zz\r\n{}\r\n0\r\n\r\n");
    let answer = raw_exchange(&sb, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("could not be read"), "{answer}");
    sb.shutdown().await;
}

#[tokio::test]
async fn json_without_a_json_content_type_is_a_415_in_the_api_shape() {
    let (sb, c, at) = demo().await;
    let (_, spaces) = get_json(&c, &v2(&sb, "/spaces?keys=ENG"), &at).await;
    let space = spaces["results"][0]["id"].as_str().unwrap().to_string();
    let body = json!({"spaceId": space, "title": "No type"}).to_string();
    for ctype in [None, Some("text/plain")] {
        let mut req = c
            .post(v2(&sb, "/pages"))
            .bearer_auth(&at)
            .body(body.clone());
        if let Some(t) = ctype {
            req = req.header("content-type", t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 415, "{ctype:?}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["errors"][0]["code"], "UNSUPPORTED_MEDIA_TYPE", "{v}");
    }
    let r = c
        .post(v2(&sb, "/pages"))
        .bearer_auth(&at)
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "a charset parameter is fine");
    sb.shutdown().await;
}

#[tokio::test]
async fn a_huge_field_is_not_echoed_back() {
    let (sb, c, _at) = empty().await;
    let huge = "g".repeat(10 * 1024 * 1024);
    let r = c
        .post(format!("{}/oauth/token", sb.base_url()))
        .json(&json!({"grant_type": huge}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    let text = r.text().await.unwrap();
    assert!(text.len() < 4096, "error of {} bytes", text.len());
    let r = c
        .post(format!("{}/oauth/token", sb.base_url()))
        .json(&json!({"grant_type": "g".repeat(2000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.unwrap();
    let description = v["error_description"].as_str().unwrap();
    assert!(description.len() < 1_200, "{description}");
    assert!(description.contains("cut: "), "{description}");
    sb.shutdown().await;
}

#[tokio::test]
async fn download_links_percent_encode_the_file_name() {
    let (sb, c, at) = demo().await;
    let (_, pages) = get_json(&c, &v2(&sb, "/pages"), &at).await;
    let page = pages["results"][0]["id"].as_str().unwrap().to_string();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("../../etc/pass wd"),
    );
    let r = c
        .post(v1(&sb, &format!("/content/{page}/child/attachment")))
        .bearer_auth(&at)
        .header("X-Atlassian-Token", "no-check")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, atts) = get_json(&c, &v2(&sb, &format!("/pages/{page}/attachments")), &at).await;
    let link = atts["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "../../etc/pass wd")
        .expect("uploaded")["downloadLink"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        link,
        format!("/download/attachments/{page}/..%2F..%2Fetc%2Fpass%20wd?version=1&api=v2")
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn a_clock_advance_beyond_range_is_a_400_and_moves_nothing() {
    let (sb, c, _at) = empty().await;
    let before = sb.admin().now();
    let advance = |seconds: f64| {
        c.post(format!("{}/__sandbox/clock/advance", sb.base_url()))
            .json(&json!({ "seconds": seconds }))
            .send()
    };
    for seconds in [1e30, 1e15] {
        let r = advance(seconds).await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "{seconds}");
        let v: Value = r.json().await.unwrap();
        assert!(
            v["error"].as_str().unwrap().contains("at most 10000 years"),
            "{v}"
        );
    }
    assert!(sb.admin().now() - before < chrono::Duration::minutes(1));
    let r = advance(3600.0).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(sb.admin().now() - before >= chrono::Duration::hours(1));
    sb.shutdown().await;
}
