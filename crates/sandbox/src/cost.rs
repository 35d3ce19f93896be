//! What a response costs against the points quota: handlers mark responses with the number of
//! objects returned, and the gateway charges for them after the handler ran.

use crate::api_error::json_response;
use axum::http::StatusCode;
use axum::response::Response;

/// Objects a response returned, for the quota (user objects count double).
#[derive(Clone, Copy, Debug)]
pub struct Cost(pub u64);

/// A 200 with one object (a get): one point.
pub fn one_object<T: serde::Serialize>(body: &T) -> Response {
    let mut resp = json_response(StatusCode::OK, body);
    resp.extensions_mut().insert(Cost(1));
    resp
}
