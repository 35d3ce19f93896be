//! `confluence.add_inline_comment`: a comment on a text selection of a page.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use weft_action::{ActionError, ActionInfo};

use super::add_comment::comment_body;
use super::ConfluenceAction;
use crate::body::WriteFormat;
use crate::client::{Api, Client, Request};
use crate::input::content_id;

pub struct AddInlineComment;

/// The longest text selection accepted.
const MAX_SELECTION_CHARS: usize = 1000;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The page's id (digits).
    pub page_id: String,
    /// The comment's text, in `body_format`.
    pub body: String,
    /// storage (default), atlas_doc_format, wiki, markdown or plain.
    #[serde(default)]
    pub body_format: WriteFormat,
    /// The text of the page to highlight, exactly as it appears in the page.
    pub text_selection: String,
    /// Which occurrence of `text_selection` to highlight, counting from 0 (default 0).
    #[serde(default)]
    pub match_index: u32,
}

fn selection(input: &Input) -> Result<&str, ActionError> {
    let text = input.text_selection.as_str();
    let chars = text.chars().count();
    if text.trim().is_empty() || chars > MAX_SELECTION_CHARS {
        return Err(ActionError::invalid_input(format!(
            "input `text_selection` has {chars} characters; give 1 to {MAX_SELECTION_CHARS} characters of the page's text"
        )));
    }
    Ok(text)
}

/// How often the selection occurs in a storage-format body, where the text is XML-escaped.
fn occurrences(storage: &str, selection: &str) -> usize {
    let escaped = selection
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    storage.matches(escaped.as_str()).count()
}

#[async_trait]
impl ConfluenceAction for AddInlineComment {
    type Input = Input;
    /// How often the selection occurs in the page (Confluence wants the count with the index).
    type Lookup = Value;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.add_inline_comment",
        description: "Adds an inline comment on a text selection of a page (GET v2 /pages/{id} to count the selection's matches, then POST v2 /inline-comments).",
        output_description: "Confluence's v2 inline comment object: `id`, `pageId`, `resolutionStatus`, `properties` (`inlineOriginalSelection`, `inlineMarkerRef`), `version`, `body`, `_links`.",
        output_example: r#"{"id": "65703", "status": "current", "title": "Re: Release notes", "pageId": "65601", "resolutionStatus": "open", "properties": {"inlineMarkerRef": "8b2b8b7e0c4f4a2d9a3e1f5c6d7e8f90", "inlineOriginalSelection": "Shipped"}, "version": {"number": 1}, "body": {"storage": {"representation": "storage", "value": "<p>Which release?</p>"}}, "_links": {"webui": "/spaces/ENG/pages/65601/Release+notes?focusedCommentId=65703"}}"#,
        writes: true,
        scopes: &["read:page:confluence", "write:comment:confluence"],
    };
    const EXAMPLE: &'static str =
        r#"{"page_id": "65601", "body": "Which release?", "body_format": "plain", "text_selection": "Shipped"}"#;

    async fn lookup(&self, input: &Input, client: &Client<'_>) -> Result<Value, ActionError> {
        let id = content_id(&input.page_id, "page_id")?;
        let page = client
            .json(
                &Request::get(Api::V2, format!("/pages/{id}"))
                    .query("body-format", "storage")
                    .about(format!("page {id}")),
            )
            .await?;
        let storage = page
            .pointer("/body/storage/value")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let found = occurrences(storage, selection(input)?);
        if input.match_index as usize >= found {
            return Err(ActionError::invalid_input(format!(
                "input `text_selection` {:?} occurs {found} time(s) in page {id}, so there is no match number {} (`match_index` counts from 0); nothing was commented",
                input.text_selection, input.match_index
            )));
        }
        Ok(json!(found))
    }

    fn dry_lookup(_: &Input) -> Value {
        json!("<matches of text_selection in the page>")
    }

    fn request(input: &Input, matches: &Value) -> Result<Request, ActionError> {
        let id = content_id(&input.page_id, "page_id")?;
        Ok(Request::post(Api::V2, "/inline-comments")
            .json(json!({
                "pageId": id,
                "body": comment_body(&input.body, input.body_format)?,
                "inlineCommentProperties": {
                    "textSelection": selection(input)?,
                    "textSelectionMatchCount": matches,
                    "textSelectionMatchIndex": input.match_index,
                },
            }))
            .about(format!("page {id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::occurrences;

    #[test]
    fn selections_are_counted_in_the_escaped_body() {
        assert_eq!(occurrences("<p>a &amp; b, a &amp; b</p>", "a & b"), 2);
        assert_eq!(occurrences("<p>Shipped.</p>", "Shipped"), 1);
        assert_eq!(occurrences("<p>Shipped.</p>", "p>"), 0);
    }
}
