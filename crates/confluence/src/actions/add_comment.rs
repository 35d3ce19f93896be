//! `confluence.add_comment`: a footer comment on a page or blog post, or a reply to a comment.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use weft_action::{ActionError, ActionInfo};

use super::ConfluenceAction;
use crate::body::{write_body, WriteFormat};
use crate::client::{Api, Request};
use crate::input::content_id;

pub struct AddComment;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The page to comment on (digits); give exactly one of `page_id`, `blog_post_id` and
    /// `parent_comment_id`.
    #[serde(default)]
    pub page_id: Option<String>,
    /// The blog post to comment on (digits).
    #[serde(default)]
    pub blog_post_id: Option<String>,
    /// The footer comment to reply to (digits).
    #[serde(default)]
    pub parent_comment_id: Option<String>,
    /// The comment's text, in `body_format`.
    pub body: String,
    /// storage (default), atlas_doc_format, wiki, markdown or plain.
    #[serde(default)]
    pub body_format: WriteFormat,
}

/// The body field naming what the comment is on, and that thing for messages.
fn target(input: &Input) -> Result<(&'static str, &str, String), ActionError> {
    match (&input.page_id, &input.blog_post_id, &input.parent_comment_id) {
        (Some(id), None, None) => Ok(("pageId", content_id(id, "page_id")?, format!("page {id}"))),
        (None, Some(id), None) => Ok((
            "blogPostId",
            content_id(id, "blog_post_id")?,
            format!("blog post {id}"),
        )),
        (None, None, Some(id)) => Ok((
            "parentCommentId",
            content_id(id, "parent_comment_id")?,
            format!("comment {id}"),
        )),
        _ => Err(ActionError::invalid_input(
            "give exactly one of the inputs `page_id`, `blog_post_id` and `parent_comment_id`",
        )),
    }
}

/// The body of a comment write, refusing a blank one.
pub fn comment_body(body: &str, format: WriteFormat) -> Result<Value, ActionError> {
    if body.trim().is_empty() {
        return Err(ActionError::invalid_input(
            "input `body` is empty; a comment needs some text",
        ));
    }
    Ok(write_body(body, format))
}

impl ConfluenceAction for AddComment {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.add_comment",
        description: "Adds a footer comment to a page or blog post, or a reply to a comment (POST v2 /footer-comments).",
        output_description: "Confluence's v2 footer comment object of the new comment: `id`, `pageId` or `blogPostId`, `parentCommentId` for a reply, `version`, `body`, `_links`.",
        output_example: r#"{"id": "65702", "status": "current", "title": "Re: Release notes", "pageId": "65601", "version": {"number": 1, "authorId": "5b10a2844c20165700ede21g", "createdAt": "2026-11-30T10:00:00.000Z"}, "body": {"storage": {"representation": "storage", "value": "<p>Reviewed &amp; approved.</p>"}}, "_links": {"webui": "/spaces/ENG/pages/65601/Release+notes?focusedCommentId=65702"}}"#,
        writes: true,
        scopes: &["write:comment:confluence"],
    };
    const EXAMPLE: &'static str =
        r#"{"page_id": "65601", "body": "Reviewed & approved.", "body_format": "plain"}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        let (field, id, subject) = target(input)?;
        let mut comment = Map::new();
        comment.insert(field.into(), json!(id));
        comment.insert("body".into(), comment_body(&input.body, input.body_format)?);
        Ok(Request::post(Api::V2, "/footer-comments")
            .json(Value::Object(comment))
            .about(subject))
    }
}
