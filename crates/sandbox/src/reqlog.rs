//! The log of every request the sandbox answered (admin routes excluded), for test assertions.

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::VecDeque;

/// One request as seen by the sandbox. Authorization header values are redacted.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    /// Header names and values; `authorization` shows only its scheme (`Bearer <redacted>`).
    pub headers: Vec<(String, String)>,
    /// Sandbox-clock time the request arrived.
    pub time: DateTime<Utc>,
    /// The injected fault, if one was applied (e.g. `status 503`, `close_connection`).
    pub fault: Option<String>,
    /// The JSON body of a Confluence API request of at most [`MAX_LOGGED_BODY`] bytes (other
    /// bodies are not kept: OAuth bodies carry secrets, uploads are large).
    pub json_body: Option<serde_json::Value>,
}

/// The largest JSON body the log keeps.
pub const MAX_LOGGED_BODY: usize = 256 * 1024;

impl LoggedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
pub struct RequestLog {
    capacity: usize,
    entries: Mutex<VecDeque<LoggedRequest>>,
}

impl RequestLog {
    pub fn new(capacity: usize) -> Self {
        RequestLog {
            capacity: capacity.max(1),
            entries: Mutex::new(VecDeque::new()),
        }
    }
    pub fn push(&self, entry: LoggedRequest) {
        let mut e = self.entries.lock();
        if e.len() >= self.capacity {
            e.pop_front();
        }
        e.push_back(entry);
    }
    pub fn all(&self) -> Vec<LoggedRequest> {
        self.entries.lock().iter().cloned().collect()
    }
    pub fn clear(&self) {
        self.entries.lock().clear();
    }
}

/// Redacts secrets in a header value: authorization keeps only its scheme.
pub fn redact_header(name: &str, value: &str) -> String {
    if name.eq_ignore_ascii_case("authorization") {
        let scheme = value.split_whitespace().next().unwrap_or("");
        format!("{scheme} <redacted>")
    } else {
        value.to_string()
    }
}
