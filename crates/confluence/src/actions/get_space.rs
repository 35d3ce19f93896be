//! `confluence.get_space`: one space, by key or id.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use weft_action::{ActionError, ActionInfo};

use super::ConfluenceAction;
use crate::client::spaces::placeholder_space_id;
use crate::client::{Api, Client, Request};
use crate::input::SpaceRef;

pub struct GetSpace;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The space: a key (`ENG`, any case) or a numeric id.
    pub space: String,
}

#[async_trait]
impl ConfluenceAction for GetSpace {
    type Input = Input;
    /// The space's id.
    type Lookup = String;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.get_space",
        description: "Reads a space by key or id (GET v2 /spaces/{id}).",
        output_description: "Confluence's v2 space object: `id`, `key`, `name`, `type`, `status`, `homepageId`, `description`, `_links`.",
        output_example: r#"{"id": "65537", "key": "ENG", "name": "Engineering", "type": "global", "status": "current", "homepageId": "65540", "_links": {"webui": "/spaces/ENG"}}"#,
        writes: false,
        scopes: &["read:space:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"space": "ENG"}"#;

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
        let space = SpaceRef::parse(&input.space, "space")?;
        Ok(Request::get(Api::V2, format!("/spaces/{space_id}"))
            .query("description-format", "plain")
            .about(space.to_string()))
    }
}
