//! `confluence.list_spaces`: spaces of the site, filtered, page after page.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::ConfluenceAction;
use crate::client::{Api, Client, Listing, Request};
use crate::input::{SpaceRef, SpaceType};

pub struct ListSpaces;

/// Whether a space is in use.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpaceStatus {
    Current,
    Archived,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// Only these space keys.
    #[serde(default)]
    pub keys: Vec<String>,
    /// global or personal.
    #[serde(default, rename = "type")]
    pub space_type: Option<SpaceType>,
    /// current or archived.
    #[serde(default)]
    pub status: Option<SpaceStatus>,
    /// Only spaces with all of these labels.
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(flatten)]
    pub listing: Listing,
}

#[async_trait]
impl ConfluenceAction for ListSpaces {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.list_spaces",
        description: "Lists the spaces of the site, filtered by key, type, status and labels (GET v2 /spaces).",
        output_description: "`results` (Confluence's v2 space objects), `count`, `truncated`.",
        output_example: r#"{"count": 1, "truncated": false, "results": [{"id": "65537", "key": "ENG", "name": "Engineering", "type": "global", "status": "current", "homepageId": "65540"}]}"#,
        writes: false,
        scopes: &["read:space:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"type": "global", "limit": 50}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        let mut request = Request::get(Api::V2, "/spaces");
        for key in &input.keys {
            if !matches!(SpaceRef::parse(key, "keys")?, SpaceRef::Key(_)) {
                return Err(ActionError::invalid_input(format!(
                    "input `keys` holds {key:?}, an id; give space keys such as \"ENG\""
                )));
            }
            request = request.query("keys", key.to_uppercase());
        }
        for label in &input.labels {
            request = request.query("labels", label);
        }
        let request = request
            .query_opt("type", input.space_type.map(SpaceType::as_str))
            .query_opt(
                "status",
                input.status.map(|s| match s {
                    SpaceStatus::Current => "current",
                    SpaceStatus::Archived => "archived",
                }),
            );
        input.listing.first_page(request)
    }

    async fn send(
        &self,
        input: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        Ok(client.collect(request, &input.listing).await?)
    }
}
