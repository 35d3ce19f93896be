//! `confluence.set_content_property`: creates or replaces a page's content property.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use weft_action::{ActionError, ActionInfo};

use super::properties::{checked, find, property_id, property_path};
use super::ConfluenceAction;
use crate::client::{Api, Client, ConfluenceError, Request};

pub struct SetContentProperty;

/// Attempts in all when someone else creates or changes the property at the same time.
const ATTEMPTS: u32 = 3;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The page's id (digits).
    pub page_id: String,
    /// The property's key (1 to 255 characters).
    pub key: String,
    /// The value: any JSON (object, list, string, number, boolean or null).
    pub value: Value,
}

/// The property as it is now, when the page has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Existing {
    id: String,
    version: u64,
}

#[async_trait]
impl ConfluenceAction for SetContentProperty {
    type Input = Input;
    type Lookup = Option<Existing>;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.set_content_property",
        description: "Sets a page's content property: creates it (POST v2 /pages/{page-id}/properties) or replaces its value as the next version (PUT v2 /pages/{page-id}/properties/{property-id}); after a concurrent change it reads the property again and writes once more, so the value given wins; a dry run shows the create.",
        output_description: "Confluence's v2 content property object after the write: `id`, `key`, `value`, `version` {`number`...}.",
        output_example: r#"{"id": "1671169", "key": "release", "value": {"train": "2026.12", "approved": true}, "version": {"number": 1, "message": "", "minorEdit": false, "authorId": "5b10a2844c20165700ede21g", "createdAt": "2026-12-01T09:00:00.000Z"}}"#,
        writes: true,
        scopes: &["read:page:confluence", "write:page:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"page_id": "65601", "key": "release", "value": {"train": "2026.12", "approved": true}}"#;

    async fn lookup(&self, input: &Input, client: &Client<'_>) -> Result<Option<Existing>, ActionError> {
        let Some(property) = find(client, &input.page_id, &input.key).await? else {
            return Ok(None);
        };
        let version = property.pointer("/version/number").and_then(Value::as_u64).ok_or_else(|| {
            ActionError::failed(format!("Confluence answered a content property without `version.number`: {property}"))
        })?;
        Ok(Some(Existing { id: property_id(&property)?, version }))
    }

    fn request(input: &Input, existing: &Option<Existing>) -> Result<Request, ActionError> {
        let (id, key) = checked(&input.page_id, &input.key)?;
        let request = match existing {
            None => Request::post(Api::V2, format!("/pages/{id}/properties"))
                .json(json!({"key": key, "value": input.value})),
            Some(existing) => Request::put(Api::V2, property_path(id, &existing.id)).json(json!({
                "key": key,
                "value": input.value,
                "version": {"number": existing.version + 1},
            })),
        };
        Ok(request.about(format!("content property {key:?} of page {id}")))
    }

    async fn send(&self, input: &Input, request: Request, client: &Client<'_>) -> Result<Value, ActionError> {
        let mut request = request;
        let mut attempt = 1;
        loop {
            match client.json(&request).await {
                // Created or changed by someone else since it was read: setting means the value
                // given wins, so read the property again and write the next version.
                Err(ConfluenceError::Conflict { .. } | ConfluenceError::VersionConflict { .. })
                    if attempt < ATTEMPTS =>
                {
                    attempt += 1;
                    let existing = self.lookup(input, client).await?;
                    request = Self::request(input, &existing)?;
                }
                answer => return Ok(answer?),
            }
        }
    }
}
