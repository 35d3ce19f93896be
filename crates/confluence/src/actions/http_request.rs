//! `confluence.http_request`: any Confluence endpoint, through the connection's auth, base URL,
//! retries and pagination.

use async_trait::async_trait;
use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use weft_action::{ActionError, ActionInfo};

use super::ConfluenceAction;
use crate::client::{Api, Client, Listing, Request};

pub struct HttpRequest;

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    fn method(self) -> Method {
        match self {
            HttpMethod::Get => Method::GET,
            HttpMethod::Head => Method::HEAD,
            HttpMethod::Post => Method::POST,
            HttpMethod::Put => Method::PUT,
            HttpMethod::Patch => Method::PATCH,
            HttpMethod::Delete => Method::DELETE,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// GET, HEAD, POST, PUT, PATCH or DELETE.
    pub method: HttpMethod,
    /// The path on the site: `/wiki/api/v2/...` or `/wiki/rest/api/...`, without a query.
    pub path: String,
    /// Query parameters: names to strings, numbers or booleans (a list repeats the parameter).
    #[serde(default)]
    pub query: Map<String, Value>,
    /// A JSON body.
    #[serde(default)]
    pub body: Option<Value>,
    /// Follow `_links.next` and return every item of `results` (GET only).
    #[serde(default)]
    pub paginate: bool,
    #[serde(flatten)]
    pub listing: Listing,
}

/// The longest path accepted.
const MAX_PATH_CHARS: usize = 2048;

/// Whether a path segment is `.` or `..`, also spelled with `%2e`: URL parsers (reqwest's
/// included) read `%2e%2e` as `..`, which would lead the request off the site, to any path of
/// the API host, with the connection's token.
fn is_dot_segment(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase().replace("%2e", ".");
    lower == "." || lower == ".."
}

fn checked_path(path: &str) -> Result<&str, ActionError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/-._~%:@!$&'()*+,;=".contains(c);
    if !path.starts_with("/wiki/")
        || path.len() > MAX_PATH_CHARS
        || path.split('/').any(is_dot_segment)
        || !path.chars().all(allowed)
    {
        return Err(ActionError::invalid_input(format!(
            "input `path` is {path:?}; give a path on the site such as \"/wiki/api/v2/pages\" (query parameters go in `query`)"
        )));
    }
    Ok(path)
}

fn query_pairs(query: &Map<String, Value>) -> Result<Vec<(String, String)>, ActionError> {
    let mut pairs = Vec::new();
    for (name, value) in query {
        let values = match value {
            Value::Array(values) => values.iter().collect(),
            value => vec![value],
        };
        for value in values {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(ActionError::invalid_input(format!(
                        "input `query.{name}` must be a string, number, boolean or a list of them"
                    )))
                }
            };
            pairs.push((name.clone(), text));
        }
    }
    Ok(pairs)
}

#[async_trait]
impl ConfluenceAction for HttpRequest {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.http_request",
        description: "Calls any Confluence endpoint with the connection's token, base URL and retries; GET listings can be paginated. The connection needs the endpoint's own scopes.",
        output_description: "`status` and `body` (the JSON answer, null when empty); with `paginate`, `results`, `count` and `truncated` instead.",
        output_example: r#"{"status": 200, "body": {"results": [{"id": "65537", "key": "ENG", "name": "Engineering"}], "_links": {}}}"#,
        writes: true,
        scopes: &[],
    };
    const EXAMPLE: &'static str = r#"{"method": "GET", "path": "/wiki/api/v2/spaces", "query": {"keys": ["ENG"]}, "paginate": true, "max_results": 10}"#;

    fn writes(input: &Input) -> bool {
        !matches!(input.method, HttpMethod::Get | HttpMethod::Head)
    }

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        let path = checked_path(&input.path)?;
        if input.paginate && !matches!(input.method, HttpMethod::Get) {
            return Err(ActionError::invalid_input(
                "input `paginate` works with GET only",
            ));
        }
        let mut request = Request::new(input.method.method(), Api::Site, path);
        request.query = query_pairs(&input.query)?;
        if let Some(body) = &input.body {
            request = request.json(body.clone());
        }
        Ok(request
            .about(format!("the resource at {path}"))
            .input("path", path))
    }

    async fn send(
        &self,
        input: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        if input.paginate {
            return Ok(client.collect(request, &input.listing).await?);
        }
        let answer = client.send(&request).await?;
        Ok(json!({ "status": answer.status, "body": answer.body }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_on_the_site() {
        assert!(checked_path("/wiki/api/v2/pages/1").is_ok());
        for bad in [
            "/rest/api/x",
            "https://evil.example/wiki/x",
            "/wiki/../admin",
            "/wiki/%2e%2e/%2E%2E/%2e%2e/%2e%2e/me",
            "/wiki/.%2e/x",
            "/wiki/%2e/x",
            "/wiki/api/v2/pages?limit=1",
            "/wiki/a b",
        ] {
            assert!(checked_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn query_values_are_scalars_or_lists() {
        let query: Map<String, Value> =
            serde_json::from_str(r#"{"keys": ["A", "B"], "limit": 5, "x": true}"#).unwrap();
        assert_eq!(
            query_pairs(&query).unwrap(),
            [
                ("keys".to_string(), "A".to_string()),
                ("keys".to_string(), "B".to_string()),
                ("limit".to_string(), "5".to_string()),
                ("x".to_string(), "true".to_string())
            ]
        );
        let nested: Map<String, Value> = serde_json::from_str(r#"{"a": {"b": 1}}"#).unwrap();
        assert!(query_pairs(&nested).is_err());
    }
}
