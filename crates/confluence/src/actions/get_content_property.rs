//! `confluence.get_content_property`: a page's content property, by key.

use async_trait::async_trait;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::properties::{find_request, found, missing, Input};
use super::ConfluenceAction;
use crate::client::{Client, Request};

pub struct GetContentProperty;

#[async_trait]
impl ConfluenceAction for GetContentProperty {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.get_content_property",
        description: "Reads a page's content property by key (GET v2 /pages/{page-id}/properties?key=); fails when the page has none with that key.",
        output_description: "Confluence's v2 content property object: `id`, `key`, `value` (any JSON), `version` {`number`...}.",
        output_example: r#"{"id": "1671169", "key": "release", "value": {"train": "2026.12", "approved": true}, "version": {"number": 1, "message": "", "minorEdit": false, "authorId": "5b10a2844c20165700ede21g", "createdAt": "2026-12-01T09:00:00.000Z"}}"#,
        writes: false,
        scopes: &["read:page:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"page_id": "65601", "key": "release"}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        find_request(&input.page_id, &input.key)
    }

    async fn send(&self, input: &Input, request: Request, client: &Client<'_>) -> Result<Value, ActionError> {
        found(client.json(&request).await?).ok_or_else(|| missing(&input.page_id, &input.key))
    }
}
