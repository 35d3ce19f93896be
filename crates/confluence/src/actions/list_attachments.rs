//! `confluence.list_attachments`: the files attached to a page or blog post.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::container::{Container, ContainerInput};
use super::ConfluenceAction;
use crate::client::{Api, Client, Listing, Request};

pub struct ListAttachments;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    #[serde(flatten)]
    pub on: ContainerInput,
    /// Only the attachment with exactly this file name.
    #[serde(default)]
    pub filename: Option<String>,
    /// Only attachments of this media type (`application/pdf`).
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(flatten)]
    pub listing: Listing,
}

/// An attachment id input: `att` and digits as Confluence shows it, or the digits alone;
/// answered in Confluence's `att123` form.
pub fn attachment_id(value: &str, input: &str) -> Result<String, ActionError> {
    let digits = value.strip_prefix("att").unwrap_or(value);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ActionError::invalid_input(format!(
            "input `{input}` is {value:?}; an attachment id is \"att\" and digits, such as \"att65801\""
        )));
    }
    Ok(format!("att{digits}"))
}

/// The request listing a container's attachments with a file name (`upload_attachment` looks
/// for the attachment a file would become a new version of).
pub fn named_request(on: Container<'_>, filename: &str) -> Request {
    Request::get(Api::V2, format!("{}/attachments", on.path()))
        .query("filename", filename)
        .about(on.subject())
}

#[async_trait]
impl ConfluenceAction for ListAttachments {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.list_attachments",
        description: "Lists the files attached to a page or blog post (GET v2 /pages/{id}/attachments).",
        output_description: "`results` (Confluence's v2 attachment objects: `id`, `title`, `mediaType`, `fileSize`, `downloadLink`, `version`...), `count`, and `truncated` (more existed beyond `max_results`).",
        output_example: r#"{"count": 1, "truncated": false, "results": [{"id": "att65801", "status": "current", "title": "release-notes.txt", "pageId": "65601", "mediaType": "text/plain", "fileSize": 42, "comment": "", "fileId": "7d1f2e3a-1b2c-4000-8000-00000000a1b2", "downloadLink": "/download/attachments/65601/release-notes.txt?version=1&api=v2", "version": {"number": 1, "createdAt": "2026-11-30T10:00:00.000Z"}, "_links": {"download": "/download/attachments/65601/release-notes.txt?version=1&api=v2"}}]}"#,
        writes: false,
        scopes: &["read:attachment:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"page_id": "65601", "media_type": "text/plain"}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        let on = input.on.container()?;
        let request = Request::get(Api::V2, format!("{}/attachments", on.path()))
            .query_opt("filename", input.filename.as_deref())
            .query_opt("mediaType", input.media_type.as_deref())
            .about(on.subject());
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

#[cfg(test)]
mod tests {
    use super::attachment_id;

    #[test]
    fn attachment_ids_take_the_att_prefix() {
        assert_eq!(attachment_id("att12", "attachment_id").unwrap(), "att12");
        assert_eq!(attachment_id("12", "attachment_id").unwrap(), "att12");
        for bad in ["", "att", "attx1", "12a", "../1"] {
            let error = attachment_id(bad, "attachment_id").unwrap_err();
            assert!(error.message.contains("`attachment_id`"), "{bad}: {error}");
        }
    }
}
