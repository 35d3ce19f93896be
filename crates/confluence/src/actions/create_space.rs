//! `confluence.create_space`: a new global space.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use weft_action::{ActionError, ActionInfo};

use super::ConfluenceAction;
use crate::client::{Api, Request};
use crate::input::title;

pub struct CreateSpace;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The new space's key: letters and digits, e.g. `OPS`.
    pub key: String,
    /// The space's name.
    pub name: String,
    /// A plain-text description.
    #[serde(default)]
    pub description: Option<String>,
}

/// The longest space key Confluence accepts.
const MAX_KEY_CHARS: usize = 255;

impl ConfluenceAction for CreateSpace {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.create_space",
        description: "Creates a global space (POST v2 /spaces).",
        output_description: "Confluence's v2 space object of the new space: `id`, `key`, `name`, `homepageId`, `_links`.",
        output_example: r#"{"id": "98305", "key": "OPS", "name": "Operations", "type": "global", "status": "current", "homepageId": "98306", "_links": {"webui": "/spaces/OPS"}}"#,
        writes: true,
        scopes: &["write:space:confluence"],
    };
    const EXAMPLE: &'static str =
        r#"{"key": "OPS", "name": "Operations", "description": "Runbooks and on-call notes."}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        let key = input.key.trim();
        if key.is_empty()
            || key.len() > MAX_KEY_CHARS
            || !key.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(ActionError::invalid_input(format!(
                "input `key` is {key:?}; a space key is letters and digits, such as \"OPS\""
            )));
        }
        let mut space = json!({ "key": key, "name": title(&input.name, "name")? });
        if let Some(description) = &input.description {
            space["description"] = json!({ "value": description, "representation": "plain" });
        }
        Ok(Request::post(Api::V2, "/spaces")
            .json(space)
            .about(format!("space {key}")))
    }
}
