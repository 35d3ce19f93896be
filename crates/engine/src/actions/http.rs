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

/// A request as it will be sent: built once from the inputs, then either sent or shown.
#[derive(Debug)]
struct PreparedRequest {
    method: reqwest::Method,
    url: reqwest::Url,
    headers: BTreeMap<String, String>,
    body: Option<String>,
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
    let mut url = reqwest::Url::parse(raw_url)
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
        output_description: "`status` (number), `headers` (lower-case names), `body` (parsed JSON when the answer is JSON, else text).",
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
        let response = builder.send().await.map_err(|e| {
            let kind = if e.is_timeout() {
                ErrorKind::Timeout
            } else {
                ErrorKind::Network
            };
            ActionError::new(
                kind,
                format!("{call} failed: {}", describe_reqwest_error(&e)),
            )
        })?;
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
            .is_some_and(|ct| ct.contains("json"));
        let bytes = response.bytes().await.map_err(|e| {
            ActionError::new(
                ErrorKind::Network,
                format!(
                    "{call}: reading the answer failed: {}",
                    describe_reqwest_error(&e)
                ),
            )
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let body = if is_json {
            serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone().into_owned()))
        } else {
            Value::String(text.clone().into_owned())
        };
        let fail_on_status = input.fail_on_status.unwrap_or(true);
        if fail_on_status && (status.is_client_error() || status.is_server_error()) {
            let snippet: String = text.chars().take(300).collect();
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
