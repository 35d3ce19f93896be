//! `confluence.invite_user`: invites people to the site by email.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use weft_action::{ActionError, ActionInfo};

use super::check_user_access::checked_emails;
use super::ConfluenceAction;
use crate::client::{Api, Client, Request};

pub struct InviteUser;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The email addresses to invite (1 to 100).
    pub emails: Vec<String>,
}

#[async_trait]
impl ConfluenceAction for InviteUser {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.invite_user",
        description: "Invites people to the site by email (POST v2 /user/access/invite-by-email).",
        output_description: "`invited`: the addresses sent (Confluence answers nothing more).",
        output_example: r#"{"invited": ["new.hire@example.com"]}"#,
        writes: true,
        scopes: &["read:configuration:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"emails": ["new.hire@example.com"]}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        Ok(Request::post(Api::V2, "/user/access/invite-by-email")
            .json(json!({ "emails": checked_emails(&input.emails)? })))
    }

    async fn send(
        &self,
        input: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        client.send(&request).await?;
        Ok(json!({ "invited": input.emails }))
    }
}
