//! `confluence.get_current_user`: the user the connection acts as.

use schemars::JsonSchema;
use serde::Deserialize;
use weft_action::{ActionError, ActionInfo};

use super::ConfluenceAction;
use crate::client::{Api, Request};

pub struct GetCurrentUser;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {}

impl ConfluenceAction for GetCurrentUser {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.get_current_user",
        description: "The Confluence user the connection acts as (GET v1 /user/current).",
        output_description: "Confluence's v1 user object: `accountId`, `displayName`, `email` (when visible), `timeZone`...",
        output_example: r#"{"type": "known", "accountId": "5b10a2844c20165700ede21g", "accountType": "atlassian", "displayName": "Mia Krystof", "publicName": "Mia Krystof"}"#,
        writes: false,
        scopes: &["read:confluence-user"],
    };
    const EXAMPLE: &'static str = "{}";

    fn request(_: &Input, _: &()) -> Result<Request, ActionError> {
        Ok(Request::get(Api::V1, "/user/current").about("the connection's user"))
    }
}
