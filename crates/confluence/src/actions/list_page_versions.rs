//! `confluence.list_page_versions`: a page's version history.

use async_trait::async_trait;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::page_listing::{self, Input};
use super::ConfluenceAction;
use crate::client::{Client, Request};

pub struct ListPageVersions;

#[async_trait]
impl ConfluenceAction for ListPageVersions {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.list_page_versions",
        description: "Lists a page's versions, newest first (GET v2 /pages/{id}/versions).",
        output_description: "`results` (Confluence's v2 version objects: `number`, `message`, `minorEdit`, `authorId`, `createdAt`, `page`), `count`, `truncated`.",
        output_example: r#"{"count": 2, "truncated": false, "results": [{"number": 2, "message": "Weekly update", "minorEdit": false, "authorId": "5b10a2844c20165700ede21g", "createdAt": "2026-11-30T10:00:00.000Z", "page": {"id": "65601", "title": "Release notes"}}, {"number": 1, "message": "", "minorEdit": false, "authorId": "5b10a2844c20165700ede21g", "createdAt": "2026-11-30T09:00:00.000Z", "page": {"id": "65601", "title": "Release notes"}}]}"#,
        writes: false,
        scopes: &["read:page:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"page_id": "65601", "limit": 50}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        page_listing::request(&input.page_id, "versions", &input.listing)
    }

    async fn send(&self, input: &Input, request: Request, client: &Client<'_>) -> Result<Value, ActionError> {
        Ok(client.collect(request, &input.listing).await?)
    }
}
