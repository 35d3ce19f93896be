//! `confluence.delete_comment`: removes a footer or inline comment.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use weft_action::{ActionError, ActionInfo};

use super::list_comments::CommentKind;
use super::ConfluenceAction;
use crate::client::{Api, Client, Request};
use crate::input::content_id;

pub struct DeleteComment;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The comment's id (digits).
    pub comment_id: String,
    /// footer (default) or inline.
    #[serde(default)]
    pub kind: CommentKind,
}

#[async_trait]
impl ConfluenceAction for DeleteComment {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.delete_comment",
        description: "Deletes a footer or inline comment (DELETE v2 /footer-comments/{id}).",
        output_description: "`comment_id` and `deleted` (true).",
        output_example: r#"{"comment_id": "65751", "deleted": true}"#,
        writes: true,
        scopes: &["delete:comment:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"comment_id": "65751", "kind": "footer"}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        let id = content_id(&input.comment_id, "comment_id")?;
        Ok(
            Request::delete(Api::V2, format!("{}/{id}", input.kind.path()))
                .about(input.kind.subject(id)),
        )
    }

    async fn send(
        &self,
        input: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        client.send(&request).await?;
        Ok(json!({ "comment_id": input.comment_id, "deleted": true }))
    }
}
