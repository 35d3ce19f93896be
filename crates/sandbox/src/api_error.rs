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
    /// v2 `detail` (Confluence sends `null` for most errors).
    pub detail: Option<String>,
}

/// Longest message an error answer carries: messages quote what the client sent, and a
/// 10 MB field must not come back as a 10 MB error.
pub const MAX_ERROR_MESSAGE: usize = 1024;

/// `message` cut to [`MAX_ERROR_MESSAGE`] bytes (at a character boundary), saying so.
pub fn capped_message(message: String) -> String {
    match weft_text::cut(&message, usize::MAX, MAX_ERROR_MESSAGE) {
        Some(start) => format!("{start}... (cut: {} bytes in all)", message.len()),
        None => message,
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, title: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            title: capped_message(title.into()),
            detail: None,
        }
    }
    /// A 404 naming what is missing, e.g. `Cannot find a page with id [123]`. Missing objects and
    /// objects the user may not see look the same, as in Confluence.
    pub fn missing(what: &str, id: impl std::fmt::Display) -> Self {
        let article = match what {
            "content" => "",
            w if w.starts_with(['a', 'e', 'i', 'o']) => "an ",
            _ => "a ",
        };
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("Cannot find {article}{what} with id [{id}]"),
        )
    }
    /// A 404 for a path no endpoint serves, naming the path.
    pub fn no_endpoint(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("No API endpoint at {path}"),
        )
    }
    /// Confluence's answer to a `cursor` that is not one of its cursors (for example the whole
    /// `_links.next` URL passed as the cursor).
    pub fn bad_cursor() -> Self {
        let mut e = Self::invalid_param(
            "Provided value for 'cursor' is not the correct type. Expected type is Cursor.",
        );
        e.detail = Some(
            "Pass only the cursor value taken from _links.next, not the whole URL".to_string(),
        );
        e
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

    /// The v2 shape; `status_as_string` renders `"409"` instead of `409`, as Confluence sometimes does.
    pub fn v2_body(&self, status_as_string: bool) -> serde_json::Value {
        let status = if status_as_string {
            json!(self.status.as_u16().to_string())
        } else {
            json!(self.status.as_u16())
        };
        json!({"errors": [{
            "status": status,
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
        }]})
    }

    /// The v1 shape; a 400's message starts with the Java exception class, as Confluence's does.
    pub fn v1_body(&self) -> serde_json::Value {
        let message = if self.status == StatusCode::BAD_REQUEST {
            format!("{V1_BAD_REQUEST_CLASS}: {}", self.title)
        } else {
            self.title.clone()
        };
        json!({
            "statusCode": self.status.as_u16(),
            "message": message,
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

/// The exception class that prefixes the message of a v1 400.
pub const V1_BAD_REQUEST_CLASS: &str =
    "com.atlassian.confluence.api.service.exceptions.api.BadRequestException";

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_404_names_what_is_missing_in_plain_english() {
        let title = |what, id: &str| ApiError::missing(what, id).title;
        assert_eq!(title("page", "7"), "Cannot find a page with id [7]");
        assert_eq!(
            title("attachment", "att7"),
            "Cannot find an attachment with id [att7]"
        );
        assert_eq!(title("user", "u"), "Cannot find a user with id [u]");
        assert_eq!(title("content", "7"), "Cannot find content with id [7]");
    }

    #[test]
    fn v1_bad_requests_carry_the_exception_class_and_v2_may_stringify_the_status() {
        let e = ApiError::bad_request("Could not parse Labels");
        assert_eq!(
            e.v1_body()["message"],
            format!("{V1_BAD_REQUEST_CLASS}: Could not parse Labels")
        );
        assert_eq!(e.v2_body(false)["errors"][0]["status"], 400);
        assert_eq!(e.v2_body(true)["errors"][0]["status"], "400");
        let missing = ApiError::missing("page", 1);
        assert_eq!(
            missing.v1_body()["message"],
            "Cannot find a page with id [1]"
        );
    }
}
