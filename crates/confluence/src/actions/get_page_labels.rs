//! `confluence.get_page_labels`: the labels of a page.

use async_trait::async_trait;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::page_listing::{self, Input};
use super::ConfluenceAction;
use crate::client::{Client, Request};

pub struct GetPageLabels;

#[async_trait]
impl ConfluenceAction for GetPageLabels {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.get_page_labels",
        description: "Lists the labels of a page (GET v2 /pages/{id}/labels).",
        output_description: "`results` (Confluence's v2 label objects: `id`, `name`, `prefix`), `count`, `truncated`.",
        output_example: r#"{"count": 1, "truncated": false, "results": [{"id": "1409025", "name": "release", "prefix": "global"}]}"#,
        writes: false,
        scopes: &["read:page:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"page_id": "65601"}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        page_listing::request(&input.page_id, "labels", &input.listing)
    }

    async fn send(&self, input: &Input, request: Request, client: &Client<'_>) -> Result<Value, ActionError> {
        Ok(client.collect(request, &input.listing).await?)
    }
}
