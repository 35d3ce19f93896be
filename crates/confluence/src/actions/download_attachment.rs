//! `confluence.download_attachment`: saves an attachment's file to disk.

use std::path::Path;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use weft_action::{ActionError, ActionInfo};

use super::list_attachments::attachment_id;
use super::ConfluenceAction;
use crate::client::{Api, Client, Request};

pub struct DownloadAttachment;

/// The largest file downloaded.
pub const MAX_DOWNLOAD_BYTES: u64 = 1024 * 1024 * 1024;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The attachment's id (`att65801`, or its digits).
    pub attachment_id: String,
    /// The file to write (its folder must exist; at most 1 GB is downloaded).
    pub to: String,
    /// Replace `to` when it exists (default false: the step fails and nothing is written).
    #[serde(default)]
    pub overwrite: bool,
}

/// The id of the page or blog post the attachment is on.
type ContainerId = String;

fn target(input: &Input) -> Result<&Path, ActionError> {
    let to = Path::new(&input.to);
    if input.to.trim().is_empty() {
        return Err(ActionError::invalid_input(
            "input `to` is empty; give the path of the file to write",
        ));
    }
    if !input.overwrite && to.symlink_metadata().is_ok() {
        return Err(ActionError::invalid_input(format!(
            "input `to` is {:?}, which already exists; set `overwrite: true` to replace it",
            input.to
        )));
    }
    Ok(to)
}

#[async_trait]
impl ConfluenceAction for DownloadAttachment {
    type Input = Input;
    type Lookup = ContainerId;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.download_attachment",
        description: "Saves an attachment's file to disk, streamed, never replacing a file unless asked (GET v2 /attachments/{id}, then v1 GET /content/{pageId}/child/attachment/{id}/download).",
        output_description: "`path` (the file written, absolute), `bytes`, `media_type` and `sha256` (hex) of the file.",
        output_example: r#"{"path": "/srv/archive/release-notes.txt", "bytes": 42, "media_type": "text/plain", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}"#,
        writes: false,
        scopes: &["read:attachment:confluence"],
    };
    const EXAMPLE: &'static str =
        r#"{"attachment_id": "att65801", "to": "/tmp/weft-files/archived-handbook.txt", "overwrite": true}"#;

    async fn lookup(&self, input: &Input, client: &Client<'_>) -> Result<ContainerId, ActionError> {
        let id = attachment_id(&input.attachment_id, "attachment_id")?;
        let attachment = client
            .json(&Request::get(Api::V2, format!("/attachments/{id}")).about(format!("attachment {id}")))
            .await?;
        let container = attachment["pageId"]
            .as_str()
            .or(attachment["blogPostId"].as_str())
            .filter(|container| container.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                ActionError::failed(format!(
                    "attachment {id} is not on a page or blog post (Confluence answered no `pageId` or `blogPostId`); weft downloads only those"
                ))
            })?;
        Ok(container.to_string())
    }

    fn dry_lookup(_: &Input) -> ContainerId {
        "<id of the attachment's page>".to_string()
    }

    fn request(input: &Input, container_id: &ContainerId) -> Result<Request, ActionError> {
        let id = attachment_id(&input.attachment_id, "attachment_id")?;
        target(input)?;
        Ok(Request::get(
            Api::V1,
            format!("/content/{}/child/attachment/{id}/download", container_id),
        )
        .about(format!("attachment {id}")))
    }

    async fn send(
        &self,
        input: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        let to = target(input)?;
        // `to` was checked not to exist (unless `overwrite`) before anything was sent.
        let downloaded = client.download(&request, to, MAX_DOWNLOAD_BYTES).await?;
        let path = std::path::absolute(to).unwrap_or_else(|_| to.to_path_buf());
        Ok(json!({
            "path": path.display().to_string(),
            "bytes": downloaded.bytes,
            "media_type": downloaded.media_type,
            "sha256": downloaded.sha256,
        }))
    }
}
