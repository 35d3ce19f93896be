//! `confluence.find_page`: the page with a title in a space, if there is one.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use weft_action::{ActionError, ActionInfo};

use super::ConfluenceAction;
use crate::client::spaces::placeholder_space_id;
use crate::client::{Api, Client, Request};
use crate::input::{title, SpaceRef};

pub struct FindPage;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The space: a key (`ENG`, any case) or a numeric id.
    pub space: String,
    /// The exact title (Confluence ignores case).
    pub title: String,
}

/// The request that finds a page by title in a space (also used by `create_page` to learn
/// whether a create whose answer was lost happened).
pub fn find_request(space_id: &str, page_title: &str) -> Request {
    Request::get(Api::V2, "/pages")
        .query("space-id", space_id)
        .query("title", page_title)
        .query("limit", 1)
}

/// The first page of a `find_request` answer.
pub fn first_page(answer: &Value) -> Option<Value> {
    answer.pointer("/results/0").cloned()
}

#[async_trait]
impl ConfluenceAction for FindPage {
    type Input = Input;
    /// The space's id.
    type Lookup = String;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.find_page",
        description: "Finds the page with a title in a space (GET v2 /pages?space-id&title).",
        output_description: "`found` (bool) and `page`: Confluence's v2 page object, or null.",
        output_example: r#"{"found": true, "page": {"id": "65601", "status": "current", "title": "Release notes", "spaceId": "65537", "version": {"number": 3}}}"#,
        writes: false,
        scopes: &["read:page:confluence", "read:space:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"space": "ENG", "title": "Release notes"}"#;

    async fn lookup(&self, input: &Input, client: &Client<'_>) -> Result<String, ActionError> {
        Ok(client
            .space_id(&SpaceRef::parse(&input.space, "space")?)
            .await?)
    }

    fn dry_lookup(input: &Input) -> String {
        SpaceRef::parse(&input.space, "space")
            .map(|space| placeholder_space_id(&space))
            .unwrap_or_default()
    }

    fn request(input: &Input, space_id: &String) -> Result<Request, ActionError> {
        SpaceRef::parse(&input.space, "space")?;
        Ok(find_request(space_id, title(&input.title, "title")?))
    }

    async fn send(
        &self,
        _: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        let page = first_page(&client.json(&request).await?);
        Ok(json!({ "found": page.is_some(), "page": page }))
    }
}
