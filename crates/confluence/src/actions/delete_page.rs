//! `confluence.delete_page`: moves a page to the trash, or removes it for good.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::trash::{delete_request, trash_or_purge};
use super::ConfluenceAction;
use crate::client::{Client, Request};
use crate::input::content_id;

pub struct DeletePage;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The page's id (digits).
    pub page_id: String,
    /// Remove the page for good: it is moved to the trash first when it is not there yet.
    #[serde(default)]
    pub purge: bool,
}

#[async_trait]
impl ConfluenceAction for DeletePage {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.delete_page",
        description: "Moves a page to the trash, or with `purge` removes it for good (DELETE v2 /pages/{id}).",
        output_description: "`page_id` and `purged` (whether the page was removed for good rather than trashed).",
        output_example: r#"{"page_id": "65601", "purged": false}"#,
        writes: true,
        scopes: &["delete:page:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"page_id": "65601"}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        let id = content_id(&input.page_id, "page_id")?;
        Ok(delete_request(format!("/pages/{id}"), format!("page {id}"), input.purge))
    }

    async fn send(
        &self,
        input: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        trash_or_purge(client, &request, input.purge, ("page_id", &input.page_id)).await
    }
}
