//! What the content property actions share: the `page_id` + `key` input, and finding a
//! property by key (v2 addresses properties by id; GET `/pages/{id}/properties?key=` finds it).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use weft_action::ActionError;

use crate::client::{Api, Client, ConfluenceError, Request};
use crate::input::content_id;

/// The longest property key Confluence accepts.
const MAX_KEY_CHARS: usize = 255;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The page's id (digits).
    pub page_id: String,
    /// The property's key (1 to 255 characters).
    pub key: String,
}

/// The page id and key of an input, checked.
pub fn checked<'a>(page_id: &'a str, key: &'a str) -> Result<(&'a str, &'a str), ActionError> {
    let id = content_id(page_id, "page_id")?;
    let chars = key.chars().count();
    if key.trim().is_empty() || chars > MAX_KEY_CHARS {
        return Err(ActionError::invalid_input(format!(
            "input `key` is {key:?}; a content property key is 1 to {MAX_KEY_CHARS} characters"
        )));
    }
    Ok((id, key))
}

/// GET v2 `/pages/{id}/properties?key=`: the property with `key`, in a list of at most one.
pub fn find_request(page_id: &str, key: &str) -> Result<Request, ActionError> {
    let (id, key) = checked(page_id, key)?;
    Ok(Request::get(Api::V2, format!("/pages/{id}/properties"))
        .query("key", key)
        .about(format!("page {id}")))
}

/// The property object of a [`find_request`] answer.
pub fn found(answer: Value) -> Option<Value> {
    answer.pointer("/results/0").cloned()
}

/// Reads the property with `key`, if the page has one.
pub async fn find(
    client: &Client<'_>,
    page_id: &str,
    key: &str,
) -> Result<Option<Value>, ActionError> {
    let answer: Result<Value, ConfluenceError> = client.json(&find_request(page_id, key)?).await;
    Ok(found(answer?))
}

/// The step's error when the page has no property with `key`.
pub fn missing(page_id: &str, key: &str) -> ActionError {
    ActionError::failed(format!(
        "page {page_id} has no content property with key {key:?}; confluence.set_content_property creates it"
    ))
}

/// The `id` of a property object.
pub fn property_id(property: &Value) -> Result<String, ActionError> {
    match property["id"].as_str() {
        Some(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => Ok(id.to_string()),
        _ => Err(ActionError::failed(format!(
            "Confluence answered a content property without a usable `id`: {property}"
        ))),
    }
}

/// The path of one property.
pub fn property_path(page_id: &str, property_id: &str) -> String {
    format!("/pages/{page_id}/properties/{property_id}")
}
