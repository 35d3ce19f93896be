//! weft-auth against the sandbox: connect flow, token errors, rotation, reuse window,
//! single-flight refresh, and no secret in any log line.

mod common;
mod connect;
mod refresh;
mod token_errors;
