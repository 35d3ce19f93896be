//! `confluence.add_comment`: a footer comment on a page or blog post, or a reply to a comment.

use async_trait::async_trait;
use futures::TryStreamExt;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use weft_action::{ActionError, ActionInfo};

use super::ConfluenceAction;
use crate::body::{bare_text, write_body, WriteFormat};
use crate::client::{Api, Client, Request, MAX_PAGE_SIZE};
use crate::input::content_id;

/// How many of a page's (or blog post's) comments a repeated attempt reads to find the one it
/// made before: enough for any discussion, bounded for a page with a flood of comments.
const MAX_COMMENTS_SEARCHED: u32 = 5000;

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

#[async_trait]
impl ConfluenceAction for AddComment {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.add_comment",
        description: "Adds a footer comment to a page or blog post, or a reply to a comment (POST v2 /footer-comments).",
        output_description: "Confluence's v2 footer comment object of the new comment: `id`, `pageId` or `blogPostId`, `parentCommentId` for a reply, `version`, `body`, `_links`.",
        output_example: r#"{"id": "65702", "status": "current", "title": "Re: Release notes", "pageId": "65601", "version": {"number": 1, "authorId": "5b10a2844c20165700ede21g", "createdAt": "2026-11-30T10:00:00.000Z"}, "body": {"storage": {"representation": "storage", "value": "<p>Reviewed &amp; approved.</p>"}}, "_links": {"webui": "/spaces/ENG/pages/65601/Release+notes?focusedCommentId=65702"}}"#,
        writes: true,
        // Reading: a repeated attempt looks for the comment it made before.
        scopes: &["write:comment:confluence", "read:comment:confluence"],
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

    /// An attempt that may have run before (its run was resumed after its process stopped)
    /// first looks among the comments of what it comments on (the page's or blog post's
    /// footer comments, or the replies to the parent comment) for one with the same body, and
    /// returns it instead of adding a second.
    async fn send(
        &self,
        input: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        if client.may_have_run_before() {
            if let Some(comment) = made_before(input, &request, client).await? {
                return Ok(comment);
            }
        }
        Ok(client.json(&request).await?)
    }
}

/// What a comment made before by this attempt looks like, read back in storage format.
enum SameBody<'a> {
    /// Written in storage format: stored as it was sent.
    Storage(&'a Value),
    /// Written in wiki or ADF, which Confluence stores in its own way: compared on its text
    /// (see [`bare_text`]).
    Text(String),
}

impl SameBody<'_> {
    fn of(body: &Value) -> Option<SameBody<'_>> {
        let value = body.get("value")?;
        match body["representation"].as_str()? {
            "storage" => Some(SameBody::Storage(value)),
            representation => Some(SameBody::Text(bare_text(representation, value.as_str()?))),
        }
    }

    fn matches(&self, comment: &Value) -> bool {
        let stored = comment.pointer("/body/storage/value");
        match self {
            SameBody::Storage(value) => stored == Some(*value),
            SameBody::Text(text) => stored
                .and_then(Value::as_str)
                .is_some_and(|stored| bare_text("storage", stored) == *text),
        }
    }
}

/// The comment `request` would add, when one with its body is there.
async fn made_before(
    input: &Input,
    request: &Request,
    client: &Client<'_>,
) -> Result<Option<Value>, ActionError> {
    let (listed, subject) = match (&input.page_id, &input.blog_post_id, &input.parent_comment_id) {
        (Some(id), None, None) => (format!("/pages/{id}/footer-comments"), format!("page {id}")),
        (None, Some(id), None) => (
            format!("/blogposts/{id}/footer-comments"),
            format!("blog post {id}"),
        ),
        (None, None, Some(id)) => (
            format!("/footer-comments/{id}/children"),
            format!("comment {id}"),
        ),
        _ => return Ok(None),
    };
    let Some(same) = request
        .body
        .as_ref()
        .and_then(|c| c.get("body"))
        .and_then(SameBody::of)
    else {
        return Ok(None);
    };
    let listing = Request::get(Api::V2, listed)
        .query("body-format", "storage")
        .query("limit", MAX_PAGE_SIZE)
        .about(format!("the comments of {subject}"));
    let mut same_body = std::pin::pin!(client
        .items(listing, MAX_COMMENTS_SEARCHED)
        .try_filter(|comment| std::future::ready(same.matches(comment))));
    Ok(same_body.try_next().await?)
}
