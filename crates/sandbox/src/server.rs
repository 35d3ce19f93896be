//! Router assembly and the outermost layer: request log and fault injection for every
//! non-admin request.

use crate::api_error::gateway;
use crate::faults::Fault;
use crate::params::declared_too_large;
use crate::reqlog::{redact_header, LoggedRequest, MAX_LOGGED_BODY};
use crate::state::Shared;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::uri::PathAndQuery;
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub fn router(shared: Shared) -> Router {
    let served = Router::new()
        .merge(crate::oauth::router(shared.clone()))
        .merge(crate::routes::api_router(shared.clone()))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(shared.clone(), edge));
    let routed = Router::new()
        .merge(crate::admin::router(shared.clone()))
        .merge(served)
        .layer(DefaultBodyLimit::max(MAX_REQUEST));
    // Layers of a router run after its routing; the path is rewritten before `routed` routes.
    Router::new()
        .fallback_service(routed)
        .layer(middleware::from_fn_with_state(shared, front_door))
}

/// Runs before routing, for every request: answers 413 to a request that announces a body
/// beyond [`MAX_REQUEST`] before anything reads it (hyper sends `100 Continue` only once the body
/// is read), reads a doubled slash in the path as one (Atlassian's edge tolerates
/// `/wiki/api/v2//pages`), and stamps every answer, errors included, with an `atl-request-id`.
async fn front_door(State(shared): State<Shared>, mut req: Request, next: Next) -> Response {
    let n = shared.request_ids.fetch_add(1, Ordering::Relaxed);
    let mut resp = if declared_too_large(req.headers(), MAX_REQUEST) {
        gateway(StatusCode::PAYLOAD_TOO_LARGE, "Request entity too large")
    } else {
        if req.uri().path().contains("//") {
            if let Some(uri) = collapse_slashes(req.uri()) {
                *req.uri_mut() = uri;
            }
        }
        next.run(req).await
    };
    if let Ok(v) = HeaderValue::try_from(format!("00000000-0000-4000-8000-{n:012x}")) {
        resp.headers_mut().insert("atl-request-id", v);
    }
    resp
}

/// The URI with each run of slashes in its path made one slash (the query is kept as it is).
fn collapse_slashes(uri: &Uri) -> Option<Uri> {
    let mut path = String::with_capacity(uri.path().len());
    for ch in uri.path().chars() {
        if !(ch == '/' && path.ends_with('/')) {
            path.push(ch);
        }
    }
    let pq = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(pq).ok()?);
    Uri::from_parts(parts).ok()
}

/// Largest request body of any kind (attachment uploads are the big ones); JSON bodies have
/// Confluence's smaller limit ([`crate::params::MAX_BODY`]).
pub const MAX_REQUEST: usize = 64 * 1024 * 1024;

async fn not_found(req: Request) -> Response {
    let path = req.uri().path();
    let e = crate::api_error::ApiError::no_endpoint(path);
    if path.contains("/wiki/api/v2/") {
        crate::api_error::json_response(StatusCode::NOT_FOUND, &e.v2_body(false))
    } else if path.contains("/wiki/rest/api/") {
        crate::api_error::json_response(StatusCode::NOT_FOUND, &e.v1_body())
    } else {
        gateway(StatusCode::NOT_FOUND, "Not Found")
    }
}

/// Logs the request and applies an injected fault, if a rule fires.
async fn edge(State(shared): State<Shared>, req: Request, next: Next) -> Response {
    let time = shared.clock.now();
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            let v = String::from_utf8_lossy(v.as_bytes());
            (k.as_str().to_string(), redact_header(k.as_str(), &v))
        })
        .collect();
    let (req, json_body) = logged_json_body(req).await;
    let fault = shared.faults.pick(&method, &path);
    let mut resp = match &fault {
        None => next.run(req).await,
        Some(Fault::Status { status }) => {
            drain(req).await;
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            gateway(status, status.canonical_reason().unwrap_or("Error"))
        }
        Some(Fault::RateLimited { retry_after_secs }) => {
            drain(req).await;
            let mut r = gateway(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded");
            if let Some(s) = retry_after_secs {
                if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                    r.headers_mut().insert("retry-after", v);
                }
            }
            r.headers_mut().insert(
                "ratelimit-reason",
                HeaderValue::from_static("confluence-burst-based"),
            );
            r
        }
        Some(Fault::Latency { ms }) => {
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            next.run(req).await
        }
        Some(Fault::CloseConnection) => cut_mid_body(next.run(req).await).await,
        Some(Fault::MalformedJson) => truncate_json(next.run(req).await).await,
    };
    if resp.status() == StatusCode::TOO_MANY_REQUESTS && shared.realism.drop_retry_after() {
        resp.headers_mut().remove("retry-after");
    }
    shared.log.push(LoggedRequest {
        method,
        path,
        query,
        status: resp.status().as_u16(),
        headers,
        time,
        fault: fault.map(|f| f.label()),
        json_body,
    });
    resp
}

/// Reads a request that is answered without being served to its end, as the service's front
/// end does: a client still sending its body (an upload) then reads the answer instead of
/// failing on a connection closed under it.
async fn drain(req: Request) {
    // A body that breaks off or is too long is simply not read further.
    let _ = axum::body::to_bytes(req.into_body(), MAX_REQUEST).await;
}

fn is_small_confluence_json(req: &Request) -> bool {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let json = header(CONTENT_TYPE).is_some_and(|v| v.starts_with("application/json"));
    let small = header(CONTENT_LENGTH)
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n <= MAX_LOGGED_BODY);
    json && small && req.uri().path().starts_with("/ex/confluence/")
}

/// The JSON body of a Confluence API request that declares a length of at most
/// [`MAX_LOGGED_BODY`], for the log, with the request to serve (its body read into memory and
/// put back). Other requests pass untouched.
async fn logged_json_body(req: Request) -> (Request, Option<serde_json::Value>) {
    if !is_small_confluence_json(&req) {
        return (req, None);
    }
    let (parts, body) = req.into_parts();
    // A body shorter or longer than it declared is served as read (the route refuses it).
    let bytes = axum::body::to_bytes(body, MAX_LOGGED_BODY)
        .await
        .unwrap_or_default();
    let logged = serde_json::from_slice(&bytes).ok();
    (Request::from_parts(parts, Body::from(bytes)), logged)
}

async fn body_bytes(resp: Response) -> (axum::http::response::Parts, Bytes) {
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    (parts, bytes)
}

/// Announces the full length, sends half, then fails the body so the connection is dropped.
async fn cut_mid_body(resp: Response) -> Response {
    let (mut parts, bytes) = body_bytes(resp).await;
    let full = bytes.len().max(2);
    let half = bytes.slice(..bytes.len() / 2);
    parts
        .headers
        .insert(axum::http::header::CONTENT_LENGTH, HeaderValue::from(full));
    let stream = futures::stream::iter(vec![
        Ok(half),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox fault: connection closed mid-response",
        )),
    ]);
    Response::from_parts(parts, Body::from_stream(stream))
}

/// Keeps status and headers but cuts the JSON so it does not parse.
async fn truncate_json(resp: Response) -> Response {
    let (mut parts, bytes) = body_bytes(resp).await;
    let cut = if bytes.len() > 2 {
        bytes.slice(..bytes.len() / 2)
    } else {
        Bytes::from_static(b"{\"results\":[")
    };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    Response::from_parts(parts, Body::from(cut))
}
