//! `confluence.get_page`: one page, with its body in the format asked for.

use schemars::JsonSchema;
use serde::Deserialize;
use weft_action::{ActionError, ActionInfo};

use super::ConfluenceAction;
use crate::body::ReadFormat;
use crate::client::{Api, Request};
use crate::input::content_id;

pub struct GetPage;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The page's id (digits).
    pub page_id: String,
    /// The body format: storage (default), atlas_doc_format, view or export_view.
    #[serde(default)]
    pub body_format: ReadFormat,
    /// An older version number to read instead of the current one.
    #[serde(default)]
    pub version: Option<u64>,
}

impl ConfluenceAction for GetPage {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.get_page",
        description: "Reads a page by id, with its body (GET v2 /pages/{id}).",
        output_description: "Confluence's v2 page object: `id`, `status`, `title`, `spaceId`, `parentId`, `version` {`number`...}, `body` {`<format>`: {`value`}}, `_links`.",
        output_example: r#"{"id": "65601", "status": "current", "title": "Release notes", "spaceId": "65537", "parentId": "65540", "authorId": "5b10a2844c20165700ede21g", "createdAt": "2026-11-30T09:00:00.000Z", "version": {"number": 3, "message": "", "minorEdit": false, "authorId": "5b10a2844c20165700ede21g", "createdAt": "2026-11-30T10:00:00.000Z"}, "body": {"storage": {"representation": "storage", "value": "<p>Shipped.</p>"}}, "_links": {"webui": "/spaces/ENG/pages/65601/Release+notes"}}"#,
        writes: false,
        scopes: &["read:page:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"page_id": "65601", "body_format": "storage"}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        let id = content_id(&input.page_id, "page_id")?;
        Ok(Request::get(Api::V2, format!("/pages/{id}"))
            .query("body-format", input.body_format.as_str())
            .query_opt("version", input.version)
            .about(format!("page {id}"))
            // A 400 about the path is about this input: the message quotes it.
            .input("page_id", id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejected_read_names_the_page_id_it_was_given() {
        let input = Input {
            page_id: "9223372036854775808".into(),
            body_format: ReadFormat::default(),
            version: None,
        };
        let request = GetPage::request(&input, &()).unwrap();
        assert_eq!(
            request.input.as_deref(),
            Some(r#"page_id = "9223372036854775808""#)
        );
    }
}
