//! `confluence.append_to_page`: adds content at the end of a page's body, as its next version.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use weft_action::{ActionError, ActionInfo};

use super::versioned::{read_current, send_versioned, Current};
use super::ConfluenceAction;
use crate::body::{write_body, WriteFormat};
use crate::client::{Api, Client, ConfluenceError, Request};
use crate::input::{content_id, OnConflict};

pub struct AppendToPage;

/// Attempts in all with `on_conflict: retry`.
const CONFLICT_ATTEMPTS: u32 = 3;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The page's id (digits).
    pub page_id: String,
    /// The content to add at the end, in `body_format`.
    pub body: String,
    /// storage (default), markdown or plain (the page's body is storage format, so ADF and
    /// wiki markup cannot be appended to it).
    #[serde(default)]
    pub body_format: WriteFormat,
    /// fail (default) or retry: on a concurrent edit, re-read the page and append again.
    #[serde(default)]
    pub on_conflict: OnConflict,
}

fn page_path(input: &Input) -> Result<String, ActionError> {
    Ok(format!("/pages/{}", content_id(&input.page_id, "page_id")?))
}

#[async_trait]
impl ConfluenceAction for AppendToPage {
    type Input = Input;
    type Lookup = Current;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.append_to_page",
        description: "Adds content at the end of a page, as its next version (GET v2 /pages/{id} with the storage body, then PUT v2 /pages/{id}).",
        output_description: "Confluence's v2 page object after the update, `version.number` one higher.",
        output_example: r#"{"id": "65601", "status": "current", "title": "Release notes", "spaceId": "65537", "version": {"number": 4}, "_links": {"webui": "/spaces/ENG/pages/65601/Release+notes"}}"#,
        writes: true,
        scopes: &["read:page:confluence", "write:page:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"page_id": "65601", "body": "- Fixed: login on Safari", "body_format": "markdown", "on_conflict": "retry"}"#;

    async fn lookup(&self, input: &Input, client: &Client<'_>) -> Result<Current, ActionError> {
        let path = page_path(input)?;
        let subject = format!("page {}", input.page_id);
        Ok(read_current(client, &path, &subject, true).await?)
    }

    fn dry_lookup(_: &Input) -> Current {
        Current::placeholder()
    }

    fn request(input: &Input, current: &Current) -> Result<Request, ActionError> {
        let path = page_path(input)?;
        if matches!(
            input.body_format,
            WriteFormat::AtlasDocFormat | WriteFormat::Wiki
        ) {
            return Err(ActionError::invalid_input(
                "input `body_format` must be storage, markdown or plain to append to a page's storage-format body",
            ));
        }
        let added = write_body(&input.body, input.body_format);
        let body = format!(
            "{}{}",
            current.body.as_str().unwrap_or_default(),
            added["value"].as_str().unwrap_or_default()
        );
        Ok(Request::put(Api::V2, path)
            .json(json!({
                "id": input.page_id,
                "status": current.status,
                "title": current.title,
                "body": { "representation": "storage", "value": body },
                "version": { "number": current.next_version },
            }))
            .about(format!("page {}", input.page_id)))
    }

    async fn send(
        &self,
        input: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        let mut request = request;
        let mut attempt = 1;
        loop {
            match send_versioned(client, &request).await {
                Err(ConfluenceError::VersionConflict { .. })
                    if input.on_conflict == OnConflict::Retry && attempt < CONFLICT_ATTEMPTS =>
                {
                    attempt += 1;
                    let current = self.lookup(input, client).await?;
                    request = Self::request(input, &current)?;
                }
                answer => return Ok(answer?),
            }
        }
    }
}
