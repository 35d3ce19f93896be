//! `POST /oauth/token`: authorization_code and refresh_token grants, JSON bodies (form bodies are
//! also read, since Atlassian's behaviour there is unconfirmed; the request log shows which).

use crate::params::{read_body, BodyError};
use crate::state::auth::TokenError;
use crate::state::Shared;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::HashMap;

fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, TokenError> {
    let ctype = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ctype.starts_with("application/x-www-form-urlencoded") {
        return Ok(url::form_urlencoded::parse(body).into_owned().collect());
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        TokenError::InvalidRequest(format!("Request body must be a JSON object: {e}"))
    })?;
    let obj = v
        .as_object()
        .ok_or_else(|| TokenError::InvalidRequest("Request body must be a JSON object".into()))?;
    Ok(obj
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
        .collect())
}

fn field<'a>(f: &'a HashMap<String, String>, name: &str) -> Result<&'a str, TokenError> {
    f.get(name)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| TokenError::InvalidRequest(format!("Missing required parameter: {name}")))
}

fn run(
    shared: &Shared,
    f: &HashMap<String, String>,
) -> Result<crate::state::auth::TokenPair, TokenError> {
    let grant_type = field(f, "grant_type")?;
    let now = shared.clock.now();
    let client = |f| field(f, "client_id").map_err(|_| TokenError::AccessDenied);
    let secret = |f| field(f, "client_secret").map_err(|_| TokenError::AccessDenied);
    match grant_type {
        "authorization_code" => {
            let (id, sec) = (client(f)?, secret(f)?);
            let code = field(f, "code")?;
            let redirect = field(f, "redirect_uri")?;
            shared
                .auth
                .write()
                .exchange_code(id, sec, code, redirect, now)
        }
        "refresh_token" => {
            let (id, sec) = (client(f)?, secret(f)?);
            let rt = field(f, "refresh_token")?;
            shared.auth.write().refresh(id, sec, rt, now)
        }
        other => Err(TokenError::UnsupportedGrantType(other.to_string())),
    }
}

/// Largest token request read: a few fields of a few hundred bytes each.
const MAX_TOKEN_REQUEST: usize = 64 * 1024;

pub async fn token(State(shared): State<Shared>, req: Request) -> Response {
    let headers = req.headers().clone();
    let result = match read_body(req, MAX_TOKEN_REQUEST).await {
        Ok(body) => parse_body(&headers, &body).and_then(|f| run(&shared, &f)),
        Err(BodyError::TooLarge) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "Request entity too large").into_response()
        }
        Err(BodyError::Unreadable(why)) => Err(TokenError::InvalidRequest(format!(
            "Request body could not be read: {why}"
        ))),
    };
    let (status, body) = match result {
        Ok(pair) => {
            shared.touch();
            (
                StatusCode::OK,
                serde_json::to_value(&pair).unwrap_or_default(),
            )
        }
        Err(e) => (
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
            json!({"error": e.code(), "error_description": e.description()}),
        ),
    };
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    resp
}
