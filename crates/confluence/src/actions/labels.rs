//! What the label-writing actions share: label names checked before any request, and the v1
//! read of a page's labels that `on_conflict: retry` and a missing label re-read.

use serde_json::Value;
use weft_action::ActionError;

use crate::client::{Api, ConfluenceError, Request};
use crate::input::OnConflict;

/// The longest label name Confluence accepts.
const MAX_LABEL_CHARS: usize = 255;
/// Characters Confluence refuses in a label name.
const FORBIDDEN: &[char] = &[
    '!', '#', '&', '(', ')', '*', ',', '.', ':', ';', '<', '>', '?', '@', '[', ']', '^', '/', '\\',
    '%',
];
/// Attempts in all with `on_conflict: retry`.
pub const CONFLICT_ATTEMPTS: u32 = 3;

/// A label name input: not empty, no spaces or characters Confluence refuses.
pub fn label_name<'a>(value: &'a str, input: &str) -> Result<&'a str, ActionError> {
    let chars = value.chars().count();
    let bad = value
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || FORBIDDEN.contains(c));
    if value.is_empty() || chars > MAX_LABEL_CHARS || bad.is_some() {
        return Err(ActionError::invalid_input(format!(
            "input `{input}` is {value:?}; a label is 1 to {MAX_LABEL_CHARS} characters without spaces or any of {}",
            FORBIDDEN.iter().collect::<String>()
        )));
    }
    Ok(value)
}

/// GET v1 `/content/{id}/label`: the page's labels, in the shape the add answers with.
pub fn read_request(page_id: &str) -> Request {
    Request::get(Api::V1, format!("/content/{page_id}/label"))
        .query("limit", 200)
        .about(format!("page {page_id}"))
}

/// Whether a v1 label answer holds `name` (Confluence stores names in lower case).
pub fn has_label(answer: &Value, name: &str) -> bool {
    answer["results"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|label| {
            label["name"]
                .as_str()
                .is_some_and(|have| have.to_lowercase() == name.to_lowercase())
        })
}

/// The step's error for a 409 it does not retry.
pub fn conflict(error: ConfluenceError, page_id: &str, on_conflict: OnConflict) -> ActionError {
    let advice = match on_conflict {
        OnConflict::Fail => {
            "; with `on_conflict: retry` the step re-reads the labels and applies the change again"
        }
        OnConflict::Retry => ", on every attempt",
    };
    ActionError::failed(format!(
        "the labels of page {page_id} were being changed by someone else at the same time, so nothing was changed ({error}){advice}"
    ))
}
