//! `confluence.upload_attachment`: attaches a file from disk to a page, or uploads it as a new
//! version of the page's attachment with the same file name.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::container::Container;
use super::list_attachments::named_request;
use super::ConfluenceAction;
use crate::client::transfer::{Upload, MAX_UPLOAD_BYTES};
use crate::client::{Api, Client, Request};
use crate::input::content_id;

pub struct UploadAttachment;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The page's id (digits).
    pub page_id: String,
    /// The path of the file on disk (at most 250 MB).
    pub file: String,
    /// The attachment's file name; without it, the file's own name.
    #[serde(default)]
    pub filename: Option<String>,
    /// A comment stored with this version of the attachment.
    #[serde(default)]
    pub comment: Option<String>,
    /// Do not notify watchers of the page (default false).
    #[serde(default)]
    pub minor_edit: bool,
}

/// The file to send and its attachment name, checked: a regular file within the size cap.
fn checked_file(input: &Input) -> Result<(PathBuf, String), ActionError> {
    let path = Path::new(&input.file);
    let metadata = std::fs::metadata(path).map_err(|e| {
        ActionError::invalid_input(format!(
            "input `file` is {:?}, which cannot be read: {e}",
            input.file
        ))
    })?;
    if !metadata.is_file() {
        return Err(ActionError::invalid_input(format!(
            "input `file` is {:?}, which is not a file",
            input.file
        )));
    }
    if metadata.len() > MAX_UPLOAD_BYTES {
        return Err(ActionError::invalid_input(format!(
            "input `file` is {} bytes; weft uploads at most {MAX_UPLOAD_BYTES} bytes, so nothing was sent",
            metadata.len()
        )));
    }
    let name = match &input.filename {
        Some(name) => name.clone(),
        None => path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    if name.trim().is_empty() || name.contains(['/', '\\']) || name.chars().count() > 255 {
        return Err(ActionError::invalid_input(format!(
            "the attachment's file name {name:?} is not usable; give `filename` (1 to 255 characters, no slashes)"
        )));
    }
    Ok((path.to_path_buf(), name))
}

#[async_trait]
impl ConfluenceAction for UploadAttachment {
    type Input = Input;
    /// The id of the page's attachment with the same file name, if there is one.
    type Lookup = Option<String>;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.upload_attachment",
        description: "Attaches a file from disk to a page, or adds it as a new version of the attachment with the same file name (v1 POST /content/{id}/child/attachment, or .../{attachmentId}/data).",
        output_description: "Confluence's v1 attachment object: `id` (`att...`), `title`, `version` {`number`}, `extensions` {`mediaType`, `fileSize`, `comment`}, `_links` {`download`}. The dry run shows the request for a new attachment.",
        output_example: r#"{"id": "att65801", "type": "attachment", "status": "current", "title": "release-notes.txt", "version": {"number": 2, "when": "2026-11-30T11:00:00.000Z", "minorEdit": false}, "container": {"id": "65601"}, "metadata": {"mediaType": "text/plain", "comment": "December"}, "extensions": {"mediaType": "text/plain", "fileSize": 42, "comment": "December"}, "_links": {"download": "/rest/api/content/65601/child/attachment/att65801/download"}}"#,
        writes: true,
        scopes: &[
            "read:attachment:confluence",
            "read:content-details:confluence",
            "write:attachment:confluence",
        ],
    };
    const EXAMPLE: &'static str = r#"{"page_id": "65601", "file": "/tmp/weft-files/release-notes.txt", "comment": "December"}"#;

    async fn lookup(&self, input: &Input, client: &Client<'_>) -> Result<Option<String>, ActionError> {
        let page = Container::Page(content_id(&input.page_id, "page_id")?);
        let (_, name) = checked_file(input)?;
        let found = client.json(&named_request(page, &name)).await?;
        let same_name = found["results"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|attachment| attachment["title"].as_str() == Some(name.as_str()));
        Ok(same_name.and_then(|attachment| attachment["id"].as_str().map(str::to_string)))
    }

    fn request(input: &Input, existing: &Option<String>) -> Result<Request, ActionError> {
        let id = content_id(&input.page_id, "page_id")?;
        let (_, name) = checked_file(input)?;
        let path = match existing {
            Some(attachment) => format!("/content/{id}/child/attachment/{attachment}/data"),
            None => format!("/content/{id}/child/attachment"),
        };
        Ok(Request::post(Api::V1, path).about(format!("page {id} (file {name})")))
    }

    async fn send(
        &self,
        input: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        let (path, file_name) = checked_file(input)?;
        let upload = Upload {
            path,
            file_name,
            media_type: None,
            comment: input.comment.clone(),
            minor_edit: input.minor_edit,
        };
        let answer = client.upload(&request, upload).await?.body;
        // A new attachment is answered as a list of one, a new version as the attachment.
        Ok(answer.pointer("/results/0").cloned().unwrap_or(answer))
    }
}
