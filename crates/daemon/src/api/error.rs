//! The one error shape of the API: `{"error": {"status": 404, "code": "not_found", "message":
//! "..."}}`, with the HTTP status it names.

use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use weft_action::text::echo;

/// The longest request target (path and query) answered: longer ones are `414`. (The HTTP
/// layer itself refuses targets over 64 KiB before any route sees them, with a bare `414`.)
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The longest error text of the HTTP layer kept as a message.
const MAX_MESSAGE_BYTES: usize = 4 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, for programs: `not_found`, `bad_request`, ...
    pub code: &'static str,
    /// For people: what was wrong and what to do.
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// The run history or trigger store failed: the request may work later.
    pub fn store(error: &weft_engine::store::StoreError) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            error.with_causes(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": {
            "status": self.status.as_u16(),
            "code": self.code,
            "message": self.message,
        }});
        (self.status, Json(body)).into_response()
    }
}

pub(super) async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no endpoint at {}", echo(uri.path())))
}

pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not answer {method}", echo(uri.path())),
    )
}

/// Refuses a request target over [`MAX_URI_BYTES`] before it is routed.
pub(super) async fn limit_uri(request: Request, next: Next) -> Response {
    let length = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if length > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the path and query are {length} bytes: at most {MAX_URI_BYTES}"),
        )
        .into_response();
    }
    next.run(request).await
}

/// Marks an answer meant for a person's browser (the OAuth callback page): its refusals keep
/// their own text instead of taking the JSON shape.
#[derive(Debug, Clone, Copy)]
pub(super) struct ForPeople;

/// Gives the API's error shape to the errors the HTTP framework answers by itself (a
/// rejection of an extractor, a body over the limit): a 4xx or 5xx answer that is not JSON
/// (nor marked [`ForPeople`]) becomes one, its text the message.
pub(super) async fn json_errors(response: Response) -> Response {
    if response.extensions().get::<ForPeople>().is_some() {
        return response;
    }
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (_, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_MESSAGE_BYTES).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    ApiError::new(status, code_of(status), message).into_response()
}

/// The `code` of an error the framework answered.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        status if status.is_client_error() => "client_error",
        _ => "server_error",
    }
}
