//! `confluence.list_pages`: pages of the site or of one space, filtered, page after page.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::ConfluenceAction;
use crate::body::ReadFormat;
use crate::client::spaces::placeholder_space_id;
use crate::client::{Api, Client, Listing, Request};
use crate::input::SpaceRef;

pub struct ListPages;

/// Which pages by status.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListStatus {
    Current,
    Archived,
    Trashed,
}

/// The order of a listing; `-` sorts descending.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
pub enum Sort {
    #[serde(rename = "id")]
    Id,
    #[serde(rename = "-id")]
    IdDescending,
    #[serde(rename = "created-date")]
    Created,
    #[serde(rename = "-created-date")]
    CreatedDescending,
    #[serde(rename = "modified-date")]
    Modified,
    #[serde(rename = "-modified-date")]
    ModifiedDescending,
    #[serde(rename = "title")]
    Title,
    #[serde(rename = "-title")]
    TitleDescending,
}

impl Sort {
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Id => "id",
            Sort::IdDescending => "-id",
            Sort::Created => "created-date",
            Sort::CreatedDescending => "-created-date",
            Sort::Modified => "modified-date",
            Sort::ModifiedDescending => "-modified-date",
            Sort::Title => "title",
            Sort::TitleDescending => "-title",
        }
    }
}

impl ListStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ListStatus::Current => "current",
            ListStatus::Archived => "archived",
            ListStatus::Trashed => "trashed",
        }
    }
}

/// The inputs of a page or blog post listing (`list_pages`, `list_blog_posts`).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// Only those of this space: a key (`ENG`, any case) or a numeric id.
    #[serde(default)]
    pub space: Option<String>,
    /// Only those with exactly this title (Confluence ignores case).
    #[serde(default)]
    pub title: Option<String>,
    /// current (Confluence's default), archived or trashed.
    #[serde(default)]
    pub status: Option<ListStatus>,
    /// The order: id, created-date, modified-date or title, each with `-` for descending.
    #[serde(default)]
    pub sort: Option<Sort>,
    /// Include each one's body in this format (storage, atlas_doc_format, view, export_view);
    /// without it they come without bodies.
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

    /// The id of the space the input names, if it names one.
    pub async fn space_id(&self, client: &Client<'_>) -> Result<Option<String>, ActionError> {
        match self.space()? {
            Some(space) => Ok(Some(client.space_id(&space).await?)),
            None => Ok(None),
        }
    }

    /// What a dry run shows for [`Input::space_id`].
    pub fn placeholder_space_id(&self) -> Option<String> {
        self.space().ok().flatten().map(|space| placeholder_space_id(&space))
    }

    /// GET v2 `path` (`/pages`, `/blogposts`) filtered by these inputs, first page.
    pub fn request(&self, path: &str, space_id: &Option<String>) -> Result<Request, ActionError> {
        self.space()?;
        let request = Request::get(Api::V2, path)
            .query_opt("space-id", space_id.as_deref())
            .query_opt("title", self.title.as_deref())
            .query_opt("status", self.status.map(ListStatus::as_str))
            .query_opt("sort", self.sort.map(Sort::as_str))
            .query_opt("body-format", self.body_format.map(ReadFormat::as_str));
        self.listing.first_page(request)
    }
}

#[async_trait]
impl ConfluenceAction for ListPages {
    type Input = Input;
    /// The space's id, when the input names a space.
    type Lookup = Option<String>;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.list_pages",
        description: "Lists pages, of the site or of one space, filtered by title and status (GET v2 /pages).",
        output_description: "`results` (Confluence's v2 page objects), `count`, and `truncated` (more pages existed beyond `max_results`).",
        output_example: r#"{"count": 1, "truncated": false, "results": [{"id": "65601", "status": "current", "title": "Release notes", "spaceId": "65537", "parentId": "65540", "version": {"number": 3}}]}"#,
        writes: false,
        scopes: &["read:page:confluence", "read:space:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"space": "ENG", "sort": "-modified-date", "limit": 25, "max_results": 100}"#;

    async fn lookup(&self, input: &Input, client: &Client<'_>) -> Result<Option<String>, ActionError> {
        input.space_id(client).await
    }

    fn dry_lookup(input: &Input) -> Option<String> {
        input.placeholder_space_id()
    }

    fn request(input: &Input, space_id: &Option<String>) -> Result<Request, ActionError> {
        input.request("/pages", space_id)
    }

    async fn send(&self, input: &Input, request: Request, client: &Client<'_>) -> Result<Value, ActionError> {
        Ok(client.collect(request, &input.listing).await?)
    }
}
