//! `http.request`: one HTTP call. Dry runs show the exact request from the same builder.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::core::duration_input;
use super::{Action, ActionError, ActionSpec, DryRunEffect, ErrorKind, FieldType, InputField};
use crate::exec::ActionContext;

pub struct HttpRequest;

const METHODS: &[&str] = &["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"];

static SPEC: ActionSpec = ActionSpec {
    name: "http.request",
    description: "Sends an HTTP request and returns the status, headers and body.",
    inputs: &[
        InputField::required("url", FieldType::String, "Absolute http(s) URL."),
        InputField::optional("method", FieldType::OneOf(METHODS), "HTTP method (default GET)."),
        InputField::optional("query", FieldType::Object, "Query parameters, appended to the URL."),
        InputField::optional("headers", FieldType::Object, "Request headers."),
        InputField::optional("json", FieldType::Any, "A JSON body (sets content-type: application/json)."),
        InputField::optional("body", FieldType::String, "A text body (use `json` for JSON)."),
        InputField::optional("timeout", FieldType::Duration, "Limit for the whole request (default 30s)."),
        InputField::optional(
            "fail_on_status",
            FieldType::Boolean,
            "Fail the step on a 4xx/5xx answer (default true); false returns it as output.",
        ),
    ],
    open_inputs: false,
    output_description: "`status` (number), `headers` (lower-case names), `body` (parsed JSON when the answer is JSON, else text).",
    output_example: r#"{"status": 200, "headers": {"content-type": "application/json"}, "body": {"ok": true}}"#,
    writes: true,
    scopes: &[],
};

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

fn prepare(input: &Value) -> Result<PreparedRequest, ActionError> {
    let method_name = input["method"].as_str().unwrap_or("GET");
    let method = reqwest::Method::from_bytes(method_name.as_bytes()).map_err(|_| {
        ActionError::invalid_input(format!("`{method_name}` is not an HTTP method"))
    })?;
    let raw_url = input["url"].as_str().unwrap_or_default();
    // URL parsers read `\` as `/` in http(s) URLs (WHATWG): send it as written, encoded.
    let mut url = reqwest::Url::parse(&raw_url.replace('\\', "%5C"))
        .map_err(|e| ActionError::invalid_input(format!("`{raw_url}` is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ActionError::invalid_input(format!(
            "`{raw_url}` is not an http(s) URL"
        )));
    }
    if let Some(query) = input["query"].as_object() {
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
    let mut headers: BTreeMap<String, String> = input["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), text_of(v)))
                .collect()
        })
        .unwrap_or_default();
    let body = match (&input["json"], &input["body"]) {
        (Value::Null, Value::Null) => None,
        (json, Value::Null) => {
            headers
                .entry("content-type".into())
                .or_insert_with(|| "application/json".into());
            Some(json.to_string())
        }
        (Value::Null, body) => Some(text_of(body)),
        _ => {
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

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<std::time::Duration> {
    let secs: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(std::time::Duration::from_secs(secs))
}

#[async_trait]
impl Action for HttpRequest {
    fn spec(&self) -> &ActionSpec {
        &SPEC
    }

    async fn run(&self, input: Value, ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        let request = prepare(&input)?;
        let timeout = match &input["timeout"] {
            Value::Null => std::time::Duration::from_secs(30),
            other => duration_input(other)?,
        };
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
        let fail_on_status = input["fail_on_status"].as_bool().unwrap_or(true);
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

    fn dry_run(&self, input: &Value) -> DryRunEffect {
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

    fn writes(&self, input: &Value) -> bool {
        prepare(input).map(|r| is_write(&r.method)).unwrap_or(true)
    }
}

/// reqwest's Display hides the cause ("error sending request"); the chain says what happened.
fn describe_reqwest_error(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

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
