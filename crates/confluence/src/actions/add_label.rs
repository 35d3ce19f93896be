//! `confluence.add_label`: adds labels to a page (v2 cannot write labels; this is v1).

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use weft_action::{ActionError, ActionInfo};

use super::labels::{conflict, has_label, label_name, read_request, CONFLICT_ATTEMPTS};
use super::ConfluenceAction;
use crate::client::{Api, Client, ConfluenceError, Request};
use crate::input::{content_id, OnConflict};

pub struct AddLabel;

/// The most labels one step adds.
const MAX_LABELS: usize = 100;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The page's (or blog post's) id (digits).
    pub page_id: String,
    /// The label names to add (1 to 100; Confluence stores them in lower case). Labels the page
    /// already has are kept as they are.
    pub labels: Vec<String>,
    /// fail (default) or retry: on a concurrent change (409), re-read the page's labels and add
    /// those still missing.
    #[serde(default)]
    pub on_conflict: OnConflict,
}

/// The POST adding `names` to the page.
fn add_request(page_id: &str, names: &[&str]) -> Request {
    let labels: Vec<Value> = names
        .iter()
        .map(|name| json!({"prefix": "global", "name": name}))
        .collect();
    Request::post(Api::V1, format!("/content/{page_id}/label"))
        .json(Value::Array(labels))
        .about(format!("page {page_id}"))
        // Adding a label the page has is a no-op: sending it twice is safe.
        .idempotent()
}

#[async_trait]
impl ConfluenceAction for AddLabel {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.add_label",
        description: "Adds labels to a page or blog post (POST v1 /content/{id}/label).",
        output_description: "Confluence's v1 label list of the page after the change: `results` (each `prefix`, `name`, `id`, `label`), `size`.",
        output_example: r#"{"results": [{"prefix": "global", "name": "release", "id": "1409025", "label": "release"}, {"prefix": "global", "name": "reviewed", "id": "1409026", "label": "reviewed"}], "start": 0, "limit": 200, "size": 2, "_links": {}}"#,
        writes: true,
        scopes: &["write:confluence-content", "read:confluence-content.summary"],
    };
    const EXAMPLE: &'static str = r#"{"page_id": "65601", "labels": ["release", "reviewed"], "on_conflict": "retry"}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        let id = content_id(&input.page_id, "page_id")?;
        if input.labels.is_empty() || input.labels.len() > MAX_LABELS {
            return Err(ActionError::invalid_input(format!(
                "input `labels` has {} names; give 1 to {MAX_LABELS}",
                input.labels.len()
            )));
        }
        let names = input
            .labels
            .iter()
            .map(|name| label_name(name, "labels"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(add_request(id, &names))
    }

    async fn send(&self, input: &Input, request: Request, client: &Client<'_>) -> Result<Value, ActionError> {
        let mut request = request;
        let mut attempt = 1;
        loop {
            match client.json(&request).await {
                Err(ConfluenceError::Conflict { .. })
                    if input.on_conflict == OnConflict::Retry && attempt < CONFLICT_ATTEMPTS =>
                {
                    attempt += 1;
                    let now = client.json(&read_request(&input.page_id)).await?;
                    let missing: Vec<&str> = input
                        .labels
                        .iter()
                        .map(String::as_str)
                        .filter(|name| !has_label(&now, name))
                        .collect();
                    if missing.is_empty() {
                        return Ok(now);
                    }
                    request = add_request(&input.page_id, &missing);
                }
                Err(error @ ConfluenceError::Conflict { .. }) => {
                    return Err(conflict(error, &input.page_id, input.on_conflict))
                }
                answer => return Ok(answer?),
            }
        }
    }
}
