//! `confluence.delete_attachment`: moves an attachment to the trash, or removes it for good.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::list_attachments::attachment_id;
use super::trash::{delete_request, trash_or_purge};
use super::ConfluenceAction;
use crate::client::{Client, Request};

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
        Ok(delete_request(format!("/attachments/{id}"), format!("attachment {id}"), input.purge))
    }

    async fn send(
        &self,
        input: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        let id = attachment_id(&input.attachment_id, "attachment_id")?;
        trash_or_purge(client, &request, input.purge, ("attachment_id", id.as_ref())).await
    }
}
