//! What requests carry, read into typed values with every refusal in the one error shape:
//! JSON bodies (content type, size, syntax, unknown fields), query strings and run ids.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::{ApiError, MAX_BODY_BYTES};

/// A JSON body. An empty body (no content type needed) reads as `T::default()`, so `POST`s
/// that need nothing can be sent bare.
pub(super) struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_error)?;
        if bytes.is_empty() {
            return Ok(JsonBody(T::default()));
        }
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bad_json =
            |message: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_json", message);
        // A struct would also be read from an array of its fields' values: only an object is.
        match serde_json::from_slice(&bytes).map_err(|e| bad_json(e.to_string()))? {
            object @ serde_json::Value::Object(_) => serde_json::from_value(object)
                .map(JsonBody)
                .map_err(|e| bad_json(e.to_string())),
            other => Err(bad_json(format!(
                "the body must be a JSON object, not {}",
                json_kind(&other)
            ))),
        }
    }
}

/// What a JSON value is, for messages: `an array`, `a string`, ...
pub(super) fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A body axum could not read: over the cap (413) or cut short (400).
pub(super) fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is larger than {MAX_BODY_BYTES} bytes"),
        );
    }
    ApiError::bad_request(rejection.body_text())
}

/// A body or query string that must hold nothing (an empty JSON object at most).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Nothing {}

/// A query string; unknown parameters are refused (the type says `deny_unknown_fields`).
pub(super) struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|query| ApiQuery(query.0))
            .map_err(|rejection: QueryRejection| {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_query", rejection.body_text())
            })
    }
}

/// A path parameter; one that is not UTF-8 once decoded is refused in the API's shape.
pub(super) struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|path| ApiPath(path.0))
            .map_err(|rejection: PathRejection| {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_path", rejection.body_text())
            })
    }
}

/// A run id from a path: a ULID, as weft makes them (a prefix is not enough here).
pub(super) fn run_id(text: &str) -> Result<String, ApiError> {
    // Only the id's own spelling (any case): the parser drops the bits of a first character
    // above `7`, which would make another id name the same run.
    match ulid::Ulid::from_string(text) {
        Ok(id) if id.to_string().eq_ignore_ascii_case(text) => Ok(id.to_string()),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_run_id",
            "a run id is 26 letters and digits, as `POST .../runs` and `GET /api/v1/runs` give them",
        )),
    }
}

/// A duration such as `30s` or `2m`, at most `max`.
pub(super) fn duration(
    name: &str,
    text: &str,
    max: std::time::Duration,
) -> Result<std::time::Duration, ApiError> {
    let bad_query = |message: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", message);
    // A bare number would be read as seconds: a unit makes the request say what it means.
    if text.parse::<u64>().is_ok() {
        return Err(bad_query(format!(
            "{name}: `{text}` has no unit: write `{text}s` (or ms, m, h)"
        )));
    }
    let parsed = weft_engine::duration::parse_duration(text)
        .map_err(|e| bad_query(format!("{name}: {e}")))?;
    if parsed > max {
        return Err(bad_query(format!("{name}: at most {}s", max.as_secs())));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_id_is_taken_only_in_its_own_spelling() {
        let id = "01M8RPQTDR6RD5S654YEDSGEAV";
        assert_eq!(run_id(id).unwrap(), id);
        assert_eq!(run_id(&id.to_ascii_lowercase()).unwrap(), id);
        for other in [
            "81M8RPQTDR6RD5S654YEDSGEAV",
            "ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "01M8",
            "",
        ] {
            assert_eq!(run_id(other).unwrap_err().code, "bad_run_id", "{other}");
        }
    }
}
