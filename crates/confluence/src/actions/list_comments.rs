//! `confluence.list_comments`: the footer or inline comments of a page or blog post.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::container::ContainerInput;
use super::ConfluenceAction;
use crate::body::ReadFormat;
use crate::client::{Api, Client, Listing, Request};

pub struct ListComments;

/// Which kind of comment: footer comments sit under the page, inline comments on a text
/// selection in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommentKind {
    #[default]
    Footer,
    Inline,
}

impl CommentKind {
    /// The v2 path segment: `/footer-comments` or `/inline-comments`.
    pub fn path(self) -> &'static str {
        match self {
            CommentKind::Footer => "/footer-comments",
            CommentKind::Inline => "/inline-comments",
        }
    }

    /// `footer comment 123`, for messages.
    pub fn subject(self, id: &str) -> String {
        match self {
            CommentKind::Footer => format!("footer comment {id}"),
            CommentKind::Inline => format!("inline comment {id}"),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    #[serde(flatten)]
    pub on: ContainerInput,
    /// footer (default) or inline.
    #[serde(default)]
    pub kind: CommentKind,
    /// The format of each comment's body: storage (default), atlas_doc_format, view or
    /// export_view.
    #[serde(default)]
    pub body_format: ReadFormat,
    #[serde(flatten)]
    pub listing: Listing,
}

#[async_trait]
impl ConfluenceAction for ListComments {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.list_comments",
        description: "Lists the footer or inline comments of a page or blog post (GET v2 /pages/{id}/footer-comments).",
        output_description: "`results` (Confluence's v2 comment objects, with `body`), `count`, and `truncated` (more comments existed beyond `max_results`).",
        output_example: r#"{"count": 1, "truncated": false, "results": [{"id": "65751", "status": "current", "title": "Re: Release notes", "pageId": "65601", "version": {"number": 1, "authorId": "5b10a2844c20165700ede21g", "createdAt": "2026-11-30T10:00:00.000Z"}, "body": {"storage": {"representation": "storage", "value": "<p>Looks good.</p>"}}, "_links": {"webui": "/spaces/ENG/pages/65601/Release+notes?focusedCommentId=65751"}}]}"#,
        writes: false,
        scopes: &["read:comment:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"page_id": "65601", "kind": "footer", "limit": 25}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        let on = input.on.container()?;
        let request = Request::get(Api::V2, format!("{}{}", on.path(), input.kind.path()))
            .query("body-format", input.body_format.as_str())
            .about(on.subject());
        input.listing.first_page(request)
    }

    async fn send(
        &self,
        input: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        Ok(client.collect(request, &input.listing).await?)
    }
}
