//! `confluence.update_comment`: replaces a comment's body, as its next version.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use weft_action::{ActionError, ActionInfo};

use super::add_comment::comment_body;
use super::list_comments::CommentKind;
use super::versioned::{read_current, send_versioned, Current};
use super::ConfluenceAction;
use crate::body::WriteFormat;
use crate::client::{Api, Client, Request};
use crate::input::content_id;

pub struct UpdateComment;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The comment's id (digits).
    pub comment_id: String,
    /// footer (default) or inline.
    #[serde(default)]
    pub kind: CommentKind,
    /// The new text, in `body_format`; it replaces the whole body.
    pub body: String,
    /// storage (default), atlas_doc_format, wiki, markdown or plain.
    #[serde(default)]
    pub body_format: WriteFormat,
}

fn path(input: &Input) -> Result<String, ActionError> {
    let id = content_id(&input.comment_id, "comment_id")?;
    Ok(format!("{}/{id}", input.kind.path()))
}

#[async_trait]
impl ConfluenceAction for UpdateComment {
    type Input = Input;
    type Lookup = Current;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.update_comment",
        description: "Replaces a footer or inline comment's body, as its next version (GET then PUT v2 /footer-comments/{id}).",
        output_description: "Confluence's v2 comment object after the update, `version.number` one higher.",
        output_example: r#"{"id": "65751", "status": "current", "title": "Re: Release notes", "pageId": "65601", "version": {"number": 2, "authorId": "5b10a2844c20165700ede21g", "createdAt": "2026-11-30T11:00:00.000Z"}, "body": {"storage": {"representation": "storage", "value": "<p>Approved.</p>"}}, "_links": {"webui": "/spaces/ENG/pages/65601/Release+notes?focusedCommentId=65751"}}"#,
        writes: true,
        scopes: &["read:comment:confluence", "write:comment:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"comment_id": "65751", "body": "<p>Approved.</p>"}"#;

    async fn lookup(&self, input: &Input, client: &Client<'_>) -> Result<Current, ActionError> {
        let subject = input.kind.subject(&input.comment_id);
        Ok(read_current(client, &path(input)?, &subject, false).await?)
    }

    fn dry_lookup(_: &Input) -> Current {
        Current::placeholder()
    }

    fn request(input: &Input, current: &Current) -> Result<Request, ActionError> {
        Ok(Request::put(Api::V2, path(input)?)
            .json(json!({
                "version": {"number": current.next_version},
                "body": comment_body(&input.body, input.body_format)?,
            }))
            .about(input.kind.subject(&input.comment_id)))
    }

    async fn send(
        &self,
        _: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        Ok(send_versioned(client, &request).await?)
    }
}
