//! Error responses in the three shapes Atlassian uses: Confluence v2, Confluence v1, and the API
//! gateway in front of both.
//!
//! Handlers return [`ApiError`] without knowing which API they serve (several are shared by v1
//! and v2); the response carries the error as an extension and the guard renders the right shape.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A Confluence error, rendered by the guard in the v1 or v2 shape of the route.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// v2 `code` (e.g. `NOT_FOUND`).
    pub code: &'static str,
    /// v2 `title` and v1 `message`.
    pub title: String,
}

/// Longest message an error answer carries: messages quote what the client sent, and a
/// 10 MB field must not come back as a 10 MB error.
pub const MAX_ERROR_MESSAGE: usize = 1024;

/// `message` cut to [`MAX_ERROR_MESSAGE`] bytes (at a character boundary), saying so.
pub fn capped_message(message: String) -> String {
    if message.len() <= MAX_ERROR_MESSAGE {
        return message;
    }
    let mut end = MAX_ERROR_MESSAGE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}... (cut: {} bytes in all)",
        &message[..end],
        message.len()
    )
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, title: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            title: capped_message(title.into()),
        }
    }
    /// Missing content and content the user may not see look the same, as in Confluence.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", "Not Found")
    }
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", msg)
    }
    pub fn invalid_param(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETER", msg)
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "CONFLICT", msg)
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", msg)
    }
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "Unsupported Media Type: send the body with Content-Type: application/json",
        )
    }
    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "REQUEST_ENTITY_TOO_LARGE",
            "Request entity too large",
        )
    }

    pub fn v2_body(&self) -> serde_json::Value {
        json!({"errors": [{
            "status": self.status.as_u16(),
            "code": self.code,
            "title": self.title,
            "detail": null,
        }]})
    }

    pub fn v1_body(&self) -> serde_json::Value {
        json!({
            "statusCode": self.status.as_u16(),
            "message": self.title,
            "data": {
                "authorized": self.status != StatusCode::FORBIDDEN,
                "valid": self.status != StatusCode::BAD_REQUEST,
                "allowedInReadOnlyMode": true,
                "errors": [],
                "successful": false
            },
            "reason": self.status.canonical_reason().unwrap_or(""),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut resp = status.into_response();
        resp.extensions_mut().insert(self);
        resp
    }
}

/// `{"code":N,"message":"..."}` from the gateway (bad token, scope mismatch, rate limits).
pub fn gateway(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        &json!({"code": status.as_u16(), "message": message}),
    )
}

pub const SCOPE_MISMATCH: &str = "Unauthorized; scope does not match";

/// Serializes a JSON body with the content type Atlassian sends.
pub fn json_response<T: serde::Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = (status, bytes).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    resp
}
