//! `confluence.create_page`: a new page in a space, optionally under a parent page.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use weft_action::{ActionError, ActionInfo};

use super::new_content::{create_once, Kind, NewContent};
use super::ConfluenceAction;
use crate::client::{Client, Request};
use crate::input::content_id;

pub struct CreatePage;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    #[serde(flatten)]
    pub content: NewContent,
    /// The parent page's id; without it the page goes under the space's home page.
    #[serde(default)]
    pub parent_id: Option<String>,
}

#[async_trait]
impl ConfluenceAction for CreatePage {
    type Input = Input;
    /// The space's id.
    type Lookup = String;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.create_page",
        description: "Creates a page in a space, optionally under a parent page (POST v2 /pages).",
        output_description: "Confluence's v2 page object of the new page: `id`, `title`, `spaceId`, `parentId`, `version`, `_links` (`webui`).",
        output_example: r#"{"id": "65602", "status": "current", "title": "Release notes 2026-12", "spaceId": "65537", "parentId": "65601", "version": {"number": 1}, "_links": {"webui": "/spaces/ENG/pages/65602/Release+notes+2026-12"}}"#,
        writes: true,
        scopes: &["write:page:confluence", "read:page:confluence", "read:space:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"space": "ENG", "title": "Release notes 2026-12", "body": "Shipped: search & filters.", "body_format": "plain", "parent_id": "65601"}"#;

    async fn lookup(&self, input: &Input, client: &Client<'_>) -> Result<String, ActionError> {
        input.content.space_id(client).await
    }

    fn dry_lookup(input: &Input) -> String {
        input.content.placeholder_space_id()
    }

    fn request(input: &Input, space_id: &String) -> Result<Request, ActionError> {
        let mut parent = Map::new();
        if let Some(id) = &input.parent_id {
            parent.insert("parentId".into(), json!(content_id(id, "parent_id")?));
        }
        input.content.create_request(Kind::Page, space_id, parent)
    }

    /// A page's title is unique in its space: the page found after a lost answer, or by an
    /// attempt that may have run before, is the create's when it is under the same parent.
    async fn send(
        &self,
        input: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        let same_parent = |page: &Value| match &input.parent_id {
            Some(parent) => page["parentId"].as_str() == Some(parent.as_str()),
            None => true,
        };
        create_once(client, Kind::Page, &request, same_parent, same_parent).await
    }
}
