//! `confluence.update_page`: replaces a page's body (and title or status), as the next version.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use weft_action::{ActionError, ActionInfo};

use super::versioned::{read_current, send_versioned, Current};
use super::ConfluenceAction;
use crate::body::{write_body, WriteFormat};
use crate::client::{Api, Client, Request};
use crate::input::{content_id, title};

pub struct UpdatePage;

/// The status a page is saved with.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SaveStatus {
    Current,
    Draft,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The page's id (digits).
    pub page_id: String,
    /// A new title; without it the title stays.
    #[serde(default)]
    pub title: Option<String>,
    /// The new content, in `body_format`; it replaces the whole body.
    pub body: String,
    /// storage (default), atlas_doc_format, wiki, markdown or plain.
    #[serde(default)]
    pub body_format: WriteFormat,
    /// The version comment shown in the page history.
    #[serde(default)]
    pub version_message: Option<String>,
    /// current or draft; without it the status stays.
    #[serde(default)]
    pub status: Option<SaveStatus>,
}

#[async_trait]
impl ConfluenceAction for UpdatePage {
    type Input = Input;
    type Lookup = Current;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.update_page",
        description: "Replaces a page's body, as its next version (GET v2 /pages/{id} for the current version, then PUT v2 /pages/{id}).",
        output_description: "Confluence's v2 page object after the update, `version.number` one higher.",
        output_example: r#"{"id": "65601", "status": "current", "title": "Release notes", "spaceId": "65537", "version": {"number": 4, "message": "Weekly update"}, "_links": {"webui": "/spaces/ENG/pages/65601/Release+notes"}}"#,
        writes: true,
        scopes: &["read:page:confluence", "write:page:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"page_id": "65601", "body": "<p>Shipped: search &amp; filters.</p>", "version_message": "Weekly update"}"#;

    async fn lookup(&self, input: &Input, client: &Client<'_>) -> Result<Current, ActionError> {
        let id = content_id(&input.page_id, "page_id")?;
        Ok(read_current(client, &format!("/pages/{id}"), &format!("page {id}"), false).await?)
    }

    fn dry_lookup(_: &Input) -> Current {
        Current::placeholder()
    }

    fn request(input: &Input, current: &Current) -> Result<Request, ActionError> {
        let id = content_id(&input.page_id, "page_id")?;
        let title = match &input.title {
            Some(new) => json!(title(new, "title")?),
            None => current.title.clone(),
        };
        let status = match input.status {
            Some(SaveStatus::Current) => json!("current"),
            Some(SaveStatus::Draft) => json!("draft"),
            None => current.status.clone(),
        };
        let mut version = json!({ "number": current.next_version });
        if let Some(message) = &input.version_message {
            version["message"] = json!(message);
        }
        Ok(Request::put(Api::V2, format!("/pages/{id}"))
            .json(json!({
                "id": id,
                "status": status,
                "title": title,
                "body": write_body(&input.body, input.body_format),
                "version": version,
            }))
            .about(format!("page {id}")))
    }

    async fn send(&self, _: &Input, request: Request, client: &Client<'_>) -> Result<Value, ActionError> {
        Ok(send_versioned(client, &request).await?)
    }
}
