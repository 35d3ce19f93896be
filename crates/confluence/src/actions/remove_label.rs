//! `confluence.remove_label`: removes a label from a page (v2 cannot write labels; this is v1).

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use weft_action::{ActionError, ActionInfo};

use super::labels::{conflict, has_label, label_name, read_request, CONFLICT_ATTEMPTS};
use super::ConfluenceAction;
use crate::client::{Api, Client, ConfluenceError, Request};
use crate::input::{content_id, OnConflict};

pub struct RemoveLabel;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The page's (or blog post's) id (digits).
    pub page_id: String,
    /// The label name to remove.
    pub label: String,
    /// fail (default) or retry: on a concurrent change (409), re-read the page's labels and
    /// remove the label again if it is still there.
    #[serde(default)]
    pub on_conflict: OnConflict,
}

#[async_trait]
impl ConfluenceAction for RemoveLabel {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.remove_label",
        description: "Removes a label from a page or blog post (DELETE v1 /content/{id}/label/{label}); a label the page does not have is not an error.",
        output_description: "`page_id`, `label`, and `removed`: false when the page did not have the label.",
        output_example: r#"{"page_id": "65601", "label": "draft", "removed": true}"#,
        writes: true,
        scopes: &["write:confluence-content", "read:confluence-content.summary"],
    };
    const EXAMPLE: &'static str = r#"{"page_id": "65601", "label": "reviewed"}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        let id = content_id(&input.page_id, "page_id")?;
        let label = label_name(&input.label, "label")?;
        Ok(Request::delete(Api::V1, format!("/content/{id}/label/{label}"))
            .about(format!("label {label} of page {id}")))
    }

    async fn send(&self, input: &Input, request: Request, client: &Client<'_>) -> Result<Value, ActionError> {
        let removed = |removed: bool| json!({"page_id": input.page_id, "label": input.label, "removed": removed});
        let mut attempt = 1;
        loop {
            match client.send(&request).await {
                Ok(_) => return Ok(removed(true)),
                // Confluence answers 404 for a label the page lacks and for a page it cannot
                // see: the page's labels tell which (a missing page fails this read).
                Err(ConfluenceError::NotFound { .. }) => {
                    let now = client.json(&read_request(&input.page_id)).await?;
                    if !has_label(&now, &input.label) {
                        return Ok(removed(false));
                    }
                    return Err(ActionError::failed(format!(
                        "Confluence answered 404 to removing label {} from page {}, which still has it; check that the connection's account may edit the page",
                        input.label, input.page_id
                    )));
                }
                Err(ConfluenceError::Conflict { .. })
                    if input.on_conflict == OnConflict::Retry && attempt < CONFLICT_ATTEMPTS =>
                {
                    attempt += 1;
                    let now = client.json(&read_request(&input.page_id)).await?;
                    if !has_label(&now, &input.label) {
                        return Ok(removed(false));
                    }
                }
                Err(error @ ConfluenceError::Conflict { .. }) => {
                    return Err(conflict(error, &input.page_id, input.on_conflict))
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
}
