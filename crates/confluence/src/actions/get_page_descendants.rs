//! `confluence.get_page_descendants`: the pages under a page, down to a depth.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::{page_listing, ConfluenceAction};
use crate::client::{Client, Listing, Request};

pub struct GetPageDescendants;

/// The deepest level Confluence walks (and its default).
const MAX_DEPTH: u32 = 5;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The page's id (digits).
    pub page_id: String,
    /// How many levels down, 1 (the children) to 5 (the default, Confluence's most).
    #[serde(default)]
    #[schemars(range(min = 1, max = 5))]
    pub depth: Option<u32>,
    #[serde(flatten)]
    pub listing: Listing,
}

#[async_trait]
impl ConfluenceAction for GetPageDescendants {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.get_page_descendants",
        description: "Lists the pages under a page, depth first, down to `depth` levels (GET v2 /pages/{id}/descendants).",
        output_description: "`results` (Confluence's v2 descendant objects: `id`, `status`, `title`, `type`, `parentId`, `depth` (1 for a child), `childPosition`), `count`, `truncated`.",
        output_example: r#"{"count": 2, "truncated": false, "results": [{"id": "65602", "status": "current", "title": "Release notes 2026-12", "type": "page", "parentId": "65601", "depth": 1, "childPosition": 0}, {"id": "65603", "status": "current", "title": "Known issues", "type": "page", "parentId": "65602", "depth": 2, "childPosition": 0}]}"#,
        writes: false,
        scopes: &["read:hierarchical-content:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"page_id": "65601", "depth": 2}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        let depth = input.depth.unwrap_or(MAX_DEPTH);
        if !(1..=MAX_DEPTH).contains(&depth) {
            return Err(ActionError::invalid_input(format!(
                "input `depth` is {depth}; it must be between 1 and {MAX_DEPTH}"
            )));
        }
        Ok(page_listing::request(&input.page_id, "descendants", &input.listing)?
            .query("depth", depth))
    }

    async fn send(&self, input: &Input, request: Request, client: &Client<'_>) -> Result<Value, ActionError> {
        Ok(client.collect(request, &input.listing).await?)
    }
}
