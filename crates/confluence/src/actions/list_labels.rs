//! `confluence.list_labels`: the labels of the site.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::ConfluenceAction;
use crate::client::{Api, Client, Listing, Request};

pub struct ListLabels;

/// A label's prefix: `global` for the labels people add, `my` for personal ones, `team` and
/// `system` for Confluence's own.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LabelPrefix {
    Global,
    My,
    Team,
    System,
}

impl LabelPrefix {
    fn as_str(self) -> &'static str {
        match self {
            LabelPrefix::Global => "global",
            LabelPrefix::My => "my",
            LabelPrefix::Team => "team",
            LabelPrefix::System => "system",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// Only labels with this prefix: global (the labels people add), my, team or system.
    #[serde(default)]
    pub prefix: Option<LabelPrefix>,
    #[serde(flatten)]
    pub listing: Listing,
}

#[async_trait]
impl ConfluenceAction for ListLabels {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.list_labels",
        description: "Lists the labels of the site (GET v2 /labels).",
        output_description: "`results` (Confluence's v2 label objects: `id`, `name`, `prefix`), `count`, `truncated`.",
        output_example: r#"{"count": 2, "truncated": false, "results": [{"id": "1409025", "name": "release", "prefix": "global"}, {"id": "1409026", "name": "reviewed", "prefix": "global"}]}"#,
        writes: false,
        scopes: &["read:label:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"prefix": "global", "max_results": 200}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        input.listing.first_page(
            Request::get(Api::V2, "/labels").query_opt("prefix", input.prefix.map(LabelPrefix::as_str)),
        )
    }

    async fn send(&self, input: &Input, request: Request, client: &Client<'_>) -> Result<Value, ActionError> {
        Ok(client.collect(request, &input.listing).await?)
    }
}
