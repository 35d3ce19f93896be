//! `confluence.list_blog_posts`: blog posts of the site or of one space, filtered, page after
//! page.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::list_pages::{ListStatus, Sort};
use super::ConfluenceAction;
use crate::body::ReadFormat;
use crate::client::spaces::placeholder_space_id;
use crate::client::{Api, Client, Listing, Request};
use crate::input::SpaceRef;

pub struct ListBlogPosts;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// Only blog posts of this space: a key (`ENG`, any case) or a numeric id.
    #[serde(default)]
    pub space: Option<String>,
    /// Only blog posts with exactly this title (Confluence ignores case).
    #[serde(default)]
    pub title: Option<String>,
    /// current (Confluence's default), archived or trashed.
    #[serde(default)]
    pub status: Option<ListStatus>,
    /// The order: id, created-date, modified-date or title, each with `-` for descending.
    #[serde(default)]
    pub sort: Option<Sort>,
    /// Include each blog post's body in this format (storage, atlas_doc_format, view,
    /// export_view); without it blog posts come without bodies.
    #[serde(default)]
    pub body_format: Option<ReadFormat>,
    #[serde(flatten)]
    pub listing: Listing,
}

impl Input {
    fn space(&self) -> Result<Option<SpaceRef>, ActionError> {
        self.space
            .as_deref()
            .map(|space| SpaceRef::parse(space, "space"))
            .transpose()
    }
}

#[async_trait]
impl ConfluenceAction for ListBlogPosts {
    type Input = Input;
    /// The space's id, when the input names a space.
    type Lookup = Option<String>;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.list_blog_posts",
        description: "Lists blog posts, of the site or of one space, filtered by title and status (GET v2 /blogposts).",
        output_description: "`results` (Confluence's v2 blog post objects), `count`, and `truncated` (more blog posts existed beyond `max_results`).",
        output_example: r#"{"count": 1, "truncated": false, "results": [{"id": "65701", "status": "current", "title": "Shipping week", "spaceId": "65537", "authorId": "5b10a2844c20165700ede21g", "createdAt": "2026-11-30T09:00:00.000Z", "version": {"number": 1}, "_links": {"webui": "/spaces/ENG/blog/2026/11/30/65701/Shipping+week"}}]}"#,
        writes: false,
        scopes: &["read:page:confluence", "read:space:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"space": "ENG", "sort": "-created-date", "max_results": 10}"#;

    async fn lookup(&self, input: &Input, client: &Client<'_>) -> Result<Option<String>, ActionError> {
        match input.space()? {
            Some(space) => Ok(Some(client.space_id(&space).await?)),
            None => Ok(None),
        }
    }

    fn dry_lookup(input: &Input) -> Option<String> {
        input.space().ok().flatten().map(|space| placeholder_space_id(&space))
    }

    fn request(input: &Input, space_id: &Option<String>) -> Result<Request, ActionError> {
        input.space()?;
        let request = Request::get(Api::V2, "/blogposts")
            .query_opt("space-id", space_id.as_deref())
            .query_opt("title", input.title.as_deref())
            .query_opt("status", input.status.map(ListStatus::as_str))
            .query_opt("sort", input.sort.map(Sort::as_str))
            .query_opt("body-format", input.body_format.map(ReadFormat::as_str));
        input.listing.first_page(request)
    }

    async fn send(&self, input: &Input, request: Request, client: &Client<'_>) -> Result<Value, ActionError> {
        Ok(client.collect(request, &input.listing).await?)
    }
}
