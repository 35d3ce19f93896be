//! `confluence.get_page_children`: the pages right under a page.

use async_trait::async_trait;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::page_listing::{self, Input};
use super::ConfluenceAction;
use crate::client::{Client, Request};

pub struct GetPageChildren;

#[async_trait]
impl ConfluenceAction for GetPageChildren {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.get_page_children",
        description: "Lists the pages right under a page, in their order in the page tree (GET v2 /pages/{id}/children).",
        output_description: "`results` (Confluence's v2 child page objects: `id`, `status`, `title`, `spaceId`, `childPosition`), `count`, `truncated`.",
        output_example: r#"{"count": 1, "truncated": false, "results": [{"id": "65602", "status": "current", "title": "Release notes 2026-12", "spaceId": "65537", "childPosition": 0}]}"#,
        writes: false,
        scopes: &["read:page:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"page_id": "65601", "max_results": 100}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        page_listing::request(&input.page_id, "children", &input.listing)
    }

    async fn send(&self, input: &Input, request: Request, client: &Client<'_>) -> Result<Value, ActionError> {
        Ok(client.collect(request, &input.listing).await?)
    }
}
