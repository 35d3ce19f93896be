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

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// Only pages of this space: a key (`ENG`, any case) or a numeric id.
    #[serde(default)]
    pub space: Option<String>,
    /// Only pages with exactly this title (Confluence ignores case).
    #[serde(default)]
    pub title: Option<String>,
    /// current (Confluence's default), archived or trashed.
    #[serde(default)]
    pub status: Option<ListStatus>,
    /// The order: id, created-date, modified-date or title, each with `-` for descending.
    #[serde(default)]
    pub sort: Option<Sort>,
    /// Include each page's body in this format (storage, atlas_doc_format, view, export_view);
    /// without it pages come without bodies.
    #[serde(default)]
    pub body_format: Option<ReadFormat>,
    #[serde(flatten)]
    pub listing: Listing,
}

fn space(input: &Input) -> Result<Option<SpaceRef>, ActionError> {
    input
        .space
        .as_deref()
        .map(|space| SpaceRef::parse(space, "space"))
        .transpose()
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
        match space(input)? {
            Some(space) => Ok(Some(client.space_id(&space).await?)),
            None => Ok(None),
        }
    }

    fn dry_lookup(input: &Input) -> Option<String> {
        space(input).ok().flatten().map(|space| placeholder_space_id(&space))
    }

    fn request(input: &Input, space_id: &Option<String>) -> Result<Request, ActionError> {
        space(input)?;
        let request = Request::get(Api::V2, "/pages")
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
