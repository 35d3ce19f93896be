//! `confluence.delete_attachment`: moves an attachment to the trash, or removes it for good.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use weft_action::{ActionError, ActionInfo};

use super::list_attachments::attachment_id;
use super::ConfluenceAction;
use crate::client::{Api, Client, ConfluenceError, Request};

pub struct DeleteAttachment;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The attachment's id (`att65801`, or its digits).
    pub attachment_id: String,
    /// Remove it for good: it is moved to the trash first when it is not there yet.
    #[serde(default)]
    pub purge: bool,
}

#[async_trait]
impl ConfluenceAction for DeleteAttachment {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.delete_attachment",
        description: "Moves an attachment to the trash, or with `purge` removes it for good (DELETE v2 /attachments/{id}).",
        output_description: "`attachment_id` and `purged` (whether it was removed for good rather than trashed).",
        output_example: r#"{"attachment_id": "att65801", "purged": false}"#,
        writes: true,
        scopes: &["delete:attachment:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"attachment_id": "att65801"}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        let id = attachment_id(&input.attachment_id, "attachment_id")?;
        let request =
            Request::delete(Api::V2, format!("/attachments/{id}")).about(format!("attachment {id}"));
        Ok(if input.purge {
            request.query("purge", true)
        } else {
            request
        })
    }

    async fn send(
        &self,
        input: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        if input.purge {
            // Only a trashed attachment can be purged; one already in the trash answers 404.
            let trash = Request {
                query: Vec::new(),
                ..request.clone()
            };
            match client.send(&trash).await {
                Ok(_) | Err(ConfluenceError::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        client.send(&request).await?;
        Ok(json!({
            "attachment_id": attachment_id(&input.attachment_id, "attachment_id")?,
            "purged": input.purge,
        }))
    }
}
