//! `http.request`: one HTTP call. Dry runs show the exact request from the same builder.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use weft_action::http_errors::{describe_reqwest_error, retry_after};
use weft_action::{ActionContext, DurationSpec};

use super::{ActionError, ActionInfo, DryRunEffect, ErrorKind, TypedAction};

pub struct HttpRequest;

#[derive(Deserialize, schemars::JsonSchema)]
pub struct HttpInput {
    /// Absolute http(s) URL.
    url: String,
    /// HTTP method (default GET).
    method: Option<Method>,
    /// Query parameters, appended to the URL.
    query: Option<Map<String, Value>>,
    /// Request headers.
    headers: Option<Map<String, Value>>,
    /// A JSON body (sets content-type: application/json).
    json: Option<Value>,
    /// A text body (use `json` for JSON).
    body: Option<String>,
    /// Limit for the whole request (default 30s).
    timeout: Option<DurationSpec>,
    /// Fail the step on a 4xx/5xx answer (default true); false returns it as output.
    fail_on_status: Option<bool>,
    /// The largest answer body read, in bytes (default 4 MiB, at most 64 MiB); a larger one fails the step.
    max_response_bytes: Option<u64>,
}

#[derive(Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
enum Method {
    Get,
    Head,
    Options,
    Post,
    Put,
    Patch,
    Delete,
}

impl From<Method> for reqwest::Method {
    fn from(method: Method) -> Self {
        match method {
            Method::Get => reqwest::Method::GET,
            Method::Head => reqwest::Method::HEAD,
            Method::Options => reqwest::Method::OPTIONS,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        }
    }
}

/// The answer body read when a step does not say (`max_response_bytes`).
pub const DEFAULT_RESPONSE_CAP: u64 = 4 * 1024 * 1024;
/// The most `max_response_bytes` may ask for: the body is held in memory as a step output.
pub const MAX_RESPONSE_CAP: u64 = 64 * 1024 * 1024;
/// The most values (elements, field values, containers) a JSON answer may parse into.
pub const MAX_RESPONSE_VALUES: usize = 1_000_000;
/// Of a failed answer's body only the start is shown (300 characters of up to 4 bytes each).
const ERROR_SNIPPET_BYTES: u64 = 1200;

/// A request as it will be sent: built once from the inputs, then either sent or shown.
#[derive(Debug)]
struct PreparedRequest {
    method: reqwest::Method,
    url: reqwest::Url,
    headers: BTreeMap<String, String>,
    body: Option<String>,
    /// The largest answer body that will be read.
    response_cap: u64,
}

fn response_cap(input: &HttpInput) -> Result<u64, ActionError> {
    match input.max_response_bytes {
        None => Ok(DEFAULT_RESPONSE_CAP),
        Some(value) => Some(value)
            .filter(|n| (1..=MAX_RESPONSE_CAP).contains(n))
            .ok_or_else(|| {
                ActionError::invalid_input(format!(
                    "`max_response_bytes` must be a whole number from 1 to {MAX_RESPONSE_CAP} (64 MiB), got {value}"
                ))
            }),
    }
}

/// "4 MiB" for whole mebibytes, else the number of bytes.
fn format_bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else {
        format!("{n} bytes")
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn prepare(input: &HttpInput) -> Result<PreparedRequest, ActionError> {
    let method = input
        .method
        .map_or(reqwest::Method::GET, reqwest::Method::from);
    let raw_url = &input.url;
    // URL parsers read `\` as `/` in http(s) URLs (WHATWG): send it as written, encoded.
    let mut url = reqwest::Url::parse(&raw_url.replace('\\', "%5C"))
        .map_err(|e| ActionError::invalid_input(format!("`{raw_url}` is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ActionError::invalid_input(format!(
            "`{raw_url}` is not an http(s) URL"
        )));
    }
    if let Some(query) = &input.query {
        let mut pairs = url.query_pairs_mut();
        for (key, value) in query {
            match value {
                Value::Array(items) => {
                    for item in items {
                        pairs.append_pair(key, &text_of(item));
                    }
                }
                Value::Null => {}
                other => {
                    pairs.append_pair(key, &text_of(other));
                }
            }
        }
    }
    let mut headers: BTreeMap<String, String> = input
        .headers
        .as_ref()
        .map(|h| {
            h.iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), text_of(v)))
                .collect()
        })
        .unwrap_or_default();
    let json = input.json.as_ref().filter(|json| !json.is_null());
    let body = match (json, &input.body) {
        (None, None) => None,
        (Some(json), None) => {
            headers
                .entry("content-type".into())
                .or_insert_with(|| "application/json".into());
            Some(json.to_string())
        }
        (None, Some(body)) => Some(body.clone()),
        (Some(_), Some(_)) => {
            return Err(ActionError::invalid_input(
                "give either `json` or `body`, not both",
            ))
        }
    };
    Ok(PreparedRequest {
        method,
        url,
        headers,
        body,
        response_cap: response_cap(input)?,
    })
}

fn is_write(method: &reqwest::Method) -> bool {
    !matches!(
        *method,
        reqwest::Method::GET | reqwest::Method::HEAD | reqwest::Method::OPTIONS
    )
}

#[async_trait]
impl TypedAction for HttpRequest {
    type Input = HttpInput;

    const INFO: ActionInfo = ActionInfo {
        name: "http.request",
        description: "Sends an HTTP request and returns the status, headers and body.",
        output_description: "`status` (number), `headers` (lower-case names), `body` (parsed JSON when the content-type is JSON, else text; an empty JSON answer is null).",
        output_example: r#"{"status": 200, "headers": {"content-type": "application/json"}, "body": {"ok": true}}"#,
        writes: true,
        scopes: &[],
    };

    async fn run(&self, input: HttpInput, ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        let request = prepare(&input)?;
        let timeout = input
            .timeout
            .map_or(std::time::Duration::from_secs(30), |t| t.0);
        let call = format!("{} {}", request.method, request.url);
        let mut builder = ctx
            .http()
            .request(request.method.clone(), request.url.clone())
            .timeout(timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| transport_error(format!("{call} failed"), &e))?;
        let status = response.status();
        let wait = retry_after(response.headers());
        let mut headers = Map::new();
        for (name, value) in response.headers() {
            headers.insert(
                name.as_str().to_string(),
                Value::from(String::from_utf8_lossy(value.as_bytes()).into_owned()),
            );
        }
        let is_json = headers
            .get("content-type")
            .and_then(Value::as_str)
            .is_some_and(is_json_media_type);
        let fail_on_status = input.fail_on_status.unwrap_or(true);
        if fail_on_status && (status.is_client_error() || status.is_server_error()) {
            // Only the start of a failed answer is shown, so only the start is read.
            let start = read_body(response, ERROR_SNIPPET_BYTES, &call).await?;
            let text = String::from_utf8_lossy(start.bytes());
            let snippet = weft_action::text::first_chars(&text, 300);
            let hint = match status.as_u16() {
                401 | 403 => " (check the credentials and permissions sent)",
                404 => " (check the URL)",
                429 => " (rate limited: add `retry` to wait and try again)",
                500..=599 => " (a server error: `retry` with backoff usually helps)",
                _ => "",
            };
            let mut error = ActionError::new(
                ErrorKind::Http {
                    status: status.as_u16(),
                },
                format!("{call} answered {status}{hint}: {snippet}"),
            );
            error.retry_after = wait;
            return Err(error);
        }
        let cap = request.response_cap;
        let too_large = |size: String| {
            ActionError::failed(format!(
                "{call}: the answer is larger than the response limit of {} ({size}); raise `max_response_bytes` (up to {}) if it is expected",
                format_bytes(cap),
                format_bytes(MAX_RESPONSE_CAP)
            ))
        };
        // A declared length over the cap fails before any of the body is read.
        if let Some(length) = response.content_length().filter(|&n| n > cap) {
            return Err(too_large(format!("{length} bytes announced")));
        }
        let bytes = match read_body(response, cap, &call).await? {
            Body::Complete(bytes) => bytes,
            Body::Truncated(_) => return Err(too_large("more was sent".into())),
        };
        let body = if !is_json {
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        } else if bytes.is_empty() {
            Value::Null
        } else {
            // Parsed JSON takes tens of bytes per value: a bound on values keeps memory
            // proportionate whatever the answer's shape (`[0,0,...]` is 2 bytes a value).
            if json_values_over(&bytes, MAX_RESPONSE_VALUES).is_some() {
                return Err(ActionError::failed(format!(
                    "{call}: the answer has more than {MAX_RESPONSE_VALUES} JSON values, the limit for a parsed answer; ask for less per request (a smaller page size or a filter)"
                )));
            }
            // A body labelled JSON that is not JSON is a broken answer, not text to pass on.
            serde_json::from_slice(&bytes).map_err(|e| {
                let text = String::from_utf8_lossy(&bytes);
                let start = weft_action::text::first_chars(&text, 100);
                ActionError::failed(format!(
                    "{call} answered {status} with a JSON content-type, but the body is not valid JSON ({e}): {start}"
                ))
            })?
        };
        Ok(json!({ "status": status.as_u16(), "headers": headers, "body": body }))
    }

    fn dry_run(&self, input: &HttpInput) -> DryRunEffect {
        match prepare(input) {
            Ok(request) => DryRunEffect::Http {
                writes: is_write(&request.method),
                method: request.method.to_string(),
                url: request.url.to_string(),
                headers: request.headers,
                body: request.body,
            },
            Err(e) => DryRunEffect::Local {
                summary: format!("invalid request: {}", e.message),
            },
        }
    }

    fn writes(&self, input: &HttpInput) -> bool {
        prepare(input).map(|r| is_write(&r.method)).unwrap_or(true)
    }
}

/// `application/json`, `text/json` and `+json` types (`application/problem+json`) hold one JSON
/// document; `application/x-ndjson` and the like hold several, and are passed on as text.
fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}

/// An answer body read up to a cap.
enum Body {
    Complete(Vec<u8>),
    /// The first `cap` bytes: the server sent more.
    Truncated(Vec<u8>),
}

impl Body {
    fn bytes(&self) -> &[u8] {
        match self {
            Body::Complete(bytes) | Body::Truncated(bytes) => bytes,
        }
    }
}

/// Reads the body chunk by chunk and stops at `cap`: whatever the server sends or announces,
/// at most `cap` bytes (plus one chunk in flight) are held.
async fn read_body(
    mut response: reqwest::Response,
    cap: u64,
    call: &str,
) -> Result<Body, ActionError> {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let expected = response.content_length().unwrap_or(0);
    let mut bytes = Vec::with_capacity(usize::try_from(expected).unwrap_or(0).min(cap));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(format!("{call}: reading the answer failed"), &e))?
    {
        let room = cap - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            return Ok(Body::Truncated(bytes));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Body::Complete(bytes))
}

fn transport_error(what: String, error: &reqwest::Error) -> ActionError {
    let kind = if error.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Network
    };
    ActionError::new(kind, format!("{what}: {}", describe_reqwest_error(error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepare(input: &Value) -> Result<PreparedRequest, ActionError> {
        super::prepare(
            &HttpInput::deserialize(input)
                .map_err(|e| ActionError::invalid_input(e.to_string()))?,
        )
    }

    #[test]
    fn prepare_builds_the_exact_request() {
        let request = prepare(&json!({
            "method": "POST",
            "url": "http://127.0.0.1:9/items?x=1",
            "query": {"tag": ["a", "b"], "n": 2},
            "headers": {"X-Token": "t"},
            "json": {"title": "Hi"}
        }))
        .unwrap();
        assert_eq!(
            request.url.as_str(),
            "http://127.0.0.1:9/items?x=1&tag=a&tag=b&n=2"
        );
        assert_eq!(request.headers["content-type"], "application/json");
        assert_eq!(request.headers["x-token"], "t");
        assert_eq!(request.body.as_deref(), Some(r#"{"title":"Hi"}"#));
        assert!(is_write(&request.method));
    }

    #[test]
    fn json_media_types_are_those_of_one_document() {
        for json in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/problem+json",
            "text/json",
        ] {
            assert!(is_json_media_type(json), "{json}");
        }
        for other in [
            "application/x-ndjson",
            "application/jsonl",
            "text/plain",
            "",
        ] {
            assert!(!is_json_media_type(other), "{other}");
        }
    }

    #[test]
    fn prepare_refuses_bad_input() {
        assert!(prepare(&json!({"url": "http://x", "method": "BREW"})).is_err());
        assert!(prepare(&json!({"url": "ftp://x"}))
            .unwrap_err()
            .message
            .contains("not an http(s) URL"));
        assert!(prepare(&json!({"url": "nope"}))
            .unwrap_err()
            .message
            .contains("not a valid URL"));
        assert!(prepare(&json!({"url": "http://x", "json": 1, "body": "b"})).is_err());
    }
}

/// Counts the values of JSON text without parsing it (one pass over the bytes, nothing
/// allocated): every `[` and `{` is a value, every `,` outside strings starts one more, and a
/// non-empty document has one more. `Some(count)` when the count passes `limit` (as soon as a
/// comma shows it).
/// Invalid JSON is counted all the same; the parser reports it afterwards.
fn json_values_over(bytes: &[u8], limit: usize) -> Option<usize> {
    let mut count = 1usize;
    let mut in_string = false;
    let mut escaped = false;
    // The last byte outside strings that was not whitespace, to not count `[]` and `{}` twice.
    let mut last = 0u8;
    for &byte in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' | b',' => count += 1,
            b']' | b'}' if matches!(last, b'[' | b'{') => count -= 1,
            _ => {}
        }
        if !byte.is_ascii_whitespace() {
            last = byte;
        }
        // Checked at commas only: `[` may be followed by `]` and count once less.
        if byte == b',' && count > limit {
            return Some(count);
        }
    }
    (count > limit).then_some(count)
}

#[cfg(test)]
mod value_count_tests {
    use super::json_values_over;

    #[track_caller]
    fn count(text: &str) -> usize {
        let parsed: serde_json::Value = serde_json::from_str(text).unwrap();
        fn nodes(v: &serde_json::Value) -> usize {
            1 + match v {
                serde_json::Value::Array(a) => a.iter().map(nodes).sum(),
                serde_json::Value::Object(o) => o.values().map(nodes).sum(),
                _ => 0,
            }
        }
        let exact = nodes(&parsed);
        assert_eq!(json_values_over(text.as_bytes(), exact), None, "{text}");
        assert!(
            json_values_over(text.as_bytes(), exact - 1).is_some(),
            "{text}"
        );
        exact
    }

    #[test]
    fn counts_every_value_of_the_document() {
        assert_eq!(count("0"), 1);
        assert_eq!(count("[0,0,0]"), 4);
        assert_eq!(count("[ ]"), 1);
        assert_eq!(
            count(r#"{"a": [], "b": {}, "c": "x,[{\\\"", "d": [1, [2, {}]]}"#),
            9
        );
    }
}
