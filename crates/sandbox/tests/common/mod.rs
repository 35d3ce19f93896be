//! Shared helpers for the sandbox integration tests.
#![allow(dead_code)]

use reqwest::redirect::Policy;
use serde_json::Value;
use weft_sandbox::{Sandbox, SandboxConfig, Seed};

pub async fn start() -> Sandbox {
    start_with(SandboxConfig::default()).await
}

pub async fn start_with(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config).await.expect("sandbox starts")
}

/// A sandbox seeded with the demo site, a client and an all-scopes token.
pub async fn demo() -> (Sandbox, reqwest::Client, String) {
    let sb = start_with(SandboxConfig {
        seed: Seed::Demo,
        ..Default::default()
    })
    .await;
    let at = token_all(&sb);
    (sb, client(), at)
}

/// A sandbox with the default (empty) site, a client and an all-scopes token.
pub async fn empty() -> (Sandbox, reqwest::Client, String) {
    let sb = start().await;
    let at = token_all(&sb);
    (sb, client(), at)
}

/// A client that does not follow redirects (so tests see the 302 of /authorize).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

pub fn cloudid(sb: &Sandbox) -> String {
    sb.admin().sites()[0].cloudid.clone()
}

pub fn v2(sb: &Sandbox, path: &str) -> String {
    format!(
        "{}/ex/confluence/{}/wiki/api/v2{path}",
        sb.base_url(),
        cloudid(sb)
    )
}

pub fn v1(sb: &Sandbox, path: &str) -> String {
    format!(
        "{}/ex/confluence/{}/wiki/rest/api{path}",
        sb.base_url(),
        cloudid(sb)
    )
}

/// An access token of the built-in app with every scope.
pub fn token_all(sb: &Sandbox) -> String {
    let scopes = weft_sandbox::all_scopes();
    let s: Vec<&str> = scopes.iter().map(String::as_str).collect();
    sb.admin()
        .issue_tokens_for_tests(&sb.app().client_id, &s, None)
        .expect("tokens")
        .access_token
}

pub fn token_with(sb: &Sandbox, scopes: &[&str]) -> String {
    sb.admin()
        .issue_tokens_for_tests(&sb.app().client_id, scopes, None)
        .expect("tokens")
        .access_token
}

/// A GET with a bearer token, for tests that read status and headers.
pub async fn get_raw(c: &reqwest::Client, url: &str, token: &str) -> reqwest::Response {
    c.get(url).bearer_auth(token).send().await.expect("request")
}

/// A DELETE with a bearer token.
pub async fn delete_raw(c: &reqwest::Client, url: &str, token: &str) -> reqwest::Response {
    c.delete(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

pub async fn get_json(c: &reqwest::Client, url: &str, token: &str) -> (u16, Value) {
    let r = get_raw(c, url, token).await;
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body)
}

pub async fn send_json(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: &Value,
) -> (u16, Value) {
    let r = c
        .request(method, url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body)
}
