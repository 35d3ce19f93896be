//! `confluence.get_page_ancestors`: the pages above a page, from the top of the tree down.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::{page_listing, ConfluenceAction};
use crate::client::paging::MAX_PAGE_SIZE;
use crate::client::{Client, Listing, Request};

pub struct GetPageAncestors;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The page's id (digits).
    pub page_id: String,
}

/// The whole chain in one request: Confluence answers ancestors without a next link, and no
/// page tree is deeper than a page of results.
const ALL: Listing = Listing {
    limit: Some(MAX_PAGE_SIZE),
    max_results: Some(MAX_PAGE_SIZE),
};

#[async_trait]
impl ConfluenceAction for GetPageAncestors {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.get_page_ancestors",
        description: "Lists the pages above a page, from the top of the page tree down to its parent (GET v2 /pages/{id}/ancestors).",
        output_description: "`results` (Confluence's v2 ancestor objects: `id`, `type`; the first is the top of the tree, the last the parent), `count`, `truncated`.",
        output_example: r#"{"count": 2, "truncated": false, "results": [{"id": "65540", "type": "page"}, {"id": "65601", "type": "page"}]}"#,
        writes: false,
        scopes: &["read:content.metadata:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"page_id": "65601"}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        page_listing::request(&input.page_id, "ancestors", &ALL)
    }

    async fn send(&self, _: &Input, request: Request, client: &Client<'_>) -> Result<Value, ActionError> {
        Ok(client.collect(request, &ALL).await?)
    }
}
