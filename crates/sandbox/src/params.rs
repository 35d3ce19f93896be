//! Request extractors that fail with Confluence-shaped errors: query parameters, numeric path
//! ids, and bodies read with a cap (JSON bodies with Confluence's 5 MB limit).

use crate::api_error::ApiError;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use serde::de::DeserializeOwned;

/// Decoded query parameters in request order.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>) -> Self {
        Params(
            query
                .map(|q| {
                    url::form_urlencoded::parse(q.as_bytes())
                        .into_owned()
                        .collect()
                })
                .unwrap_or_default(),
        )
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
    /// Array parameters: repeated (`id=1&id=2`) or comma separated (`id=1,2`).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }
    pub fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
    pub fn num<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::invalid_param(format!(
                    "Query parameter `{name}` must be a number, got `{v}`"
                ))
            }),
        }
    }
    pub fn ids(&self, name: &str) -> Result<Vec<u64>, ApiError> {
        self.all(name)
            .into_iter()
            .map(|v| {
                v.parse().map_err(|_| {
                    ApiError::invalid_param(format!(
                        "Query parameter `{name}` must hold numeric ids, got `{v}`"
                    ))
                })
            })
            .collect()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Params::parse(parts.uri.query()))
    }
}

async fn path_values<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<Vec<String>, ApiError> {
    let raw = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::no_endpoint(parts.uri.path()))?;
    // The first parameter is the cloud id; handlers see only their own.
    Ok(raw
        .iter()
        .filter(|(k, _)| *k != "cloudid")
        .map(|(_, v)| v.to_string())
        .collect())
}

/// Parses a numeric id; attachment ids carry Confluence's `att` prefix.
fn numeric(v: &str) -> Result<u64, ApiError> {
    v.strip_prefix("att").unwrap_or(v).parse().map_err(|_| {
        ApiError::invalid_param(format!(
            "Path id `{v}` is not valid: Confluence ids are numbers"
        ))
    })
}

/// The last path parameter as a numeric id.
#[derive(Debug, Clone, Copy)]
pub struct Id(pub u64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let v = path_values(parts, state).await?;
        Ok(Id(numeric(v.last().map(String::as_str).unwrap_or(""))?))
    }
}

/// The first two path parameters as numeric ids.
#[derive(Debug, Clone, Copy)]
pub struct Ids2(pub u64, pub u64);

impl<S: Send + Sync> FromRequestParts<S> for Ids2 {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let v = path_values(parts, state).await?;
        match v.as_slice() {
            [a, b, ..] => Ok(Ids2(numeric(a)?, numeric(b)?)),
            _ => Err(ApiError::no_endpoint(parts.uri.path())),
        }
    }
}

/// A numeric id followed by a free-form last parameter (e.g. a label name).
#[derive(Debug, Clone)]
pub struct IdAndName(pub u64, pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdAndName {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let v = path_values(parts, state).await?;
        match v.as_slice() {
            [a, b, ..] => Ok(IdAndName(numeric(a)?, b.clone())),
            _ => Err(ApiError::no_endpoint(parts.uri.path())),
        }
    }
}

/// Largest request body Confluence accepts for content writes.
pub const MAX_BODY: usize = 5 * 1024 * 1024;

/// Why a request body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Declared (`Content-Length`) or sent beyond the cap.
    TooLarge,
    /// The body broke off or was badly framed (e.g. a bad chunk size).
    Unreadable(String),
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => ApiError::too_large(),
            BodyError::Unreadable(why) => {
                ApiError::bad_request(format!("Request body could not be read: {why}"))
            }
        }
    }
}

/// True when the declared `Content-Length` is beyond `cap`. Checked before the body is touched,
/// so a client sending `Expect: 100-continue` gets the refusal instead of `100 Continue`.
pub fn declared_too_large(headers: &HeaderMap, cap: usize) -> bool {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > cap as u64)
}

/// Reads a body of at most `cap` bytes.
pub async fn read_body(req: Request, cap: usize) -> Result<Bytes, BodyError> {
    if declared_too_large(req.headers(), cap) {
        return Err(BodyError::TooLarge);
    }
    let mut stream = req.into_body().into_data_stream();
    let mut out = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Unreadable(e.to_string()))?;
        if out.len() + chunk.len() > cap {
            return Err(BodyError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// True for `application/json` and `application/*+json`, parameters aside.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

/// A JSON body, as Confluence takes it: another content type is a 415, more than 5 MB a 413,
/// a broken body or malformed JSON a 400.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::unsupported_media_type());
        }
        let bytes = read_body(req, MAX_BODY).await?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("Request body is not valid: {e}")))
    }
}
