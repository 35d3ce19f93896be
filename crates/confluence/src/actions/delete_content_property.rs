//! `confluence.delete_content_property`: removes a page's content property, by key.

use async_trait::async_trait;
use serde_json::{json, Value};
use weft_action::{ActionError, ActionInfo};

use super::properties::{checked, find, missing, property_id, property_path, Input};
use super::ConfluenceAction;
use crate::client::{Api, Client, Request};

pub struct DeleteContentProperty;

#[async_trait]
impl ConfluenceAction for DeleteContentProperty {
    type Input = Input;
    /// The property's id.
    type Lookup = String;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.delete_content_property",
        description: "Removes a page's content property by key (GET v2 /pages/{page-id}/properties?key= for its id, then DELETE v2 /pages/{page-id}/properties/{property-id}); fails when the page has none with that key.",
        output_description: "`page_id`, `key` and `property_id` of the removed property.",
        output_example: r#"{"page_id": "65601", "key": "release", "property_id": "1671169"}"#,
        writes: true,
        scopes: &["read:page:confluence", "write:page:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"page_id": "65601", "key": "release"}"#;

    async fn lookup(&self, input: &Input, client: &Client<'_>) -> Result<String, ActionError> {
        let property = find(client, &input.page_id, &input.key)
            .await?
            .ok_or_else(|| missing(&input.page_id, &input.key))?;
        property_id(&property)
    }

    fn dry_lookup(input: &Input) -> String {
        format!("<id of property {}>", input.key)
    }

    fn request(input: &Input, property_id: &String) -> Result<Request, ActionError> {
        let (id, key) = checked(&input.page_id, &input.key)?;
        Ok(Request::delete(Api::V2, property_path(id, property_id))
            .about(format!("content property {key:?} of page {id}")))
    }

    async fn send(&self, input: &Input, request: Request, client: &Client<'_>) -> Result<Value, ActionError> {
        client.send(&request).await?;
        let property_id = request.path.rsplit('/').next().unwrap_or_default();
        Ok(json!({"page_id": input.page_id, "key": input.key, "property_id": property_id}))
    }
}
