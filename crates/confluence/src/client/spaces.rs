//! Space key → space id, through GET v2 `/spaces?keys=`, cached per connection for the life of
//! the process (a space's id never changes; keys ignore case).

use std::collections::HashMap;
use std::sync::OnceLock;

use parking_lot::Mutex;
use serde_json::Value;

use super::{Api, Client, ConfluenceError, Request};
use crate::input::SpaceRef;

/// (API base, upper-case key) → space id.
fn cache() -> &'static Mutex<HashMap<(String, String), String>> {
    static CACHE: OnceLock<Mutex<HashMap<(String, String), String>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// What a dry run shows where a space id will be, since it cannot look the key up.
pub fn placeholder_space_id(space: &SpaceRef) -> String {
    match space {
        SpaceRef::Id(id) => id.clone(),
        SpaceRef::Key(key) => format!("<id of space {key}>"),
    }
}

impl Client<'_> {
    /// The id of a space given by id or key.
    pub async fn space_id(&self, space: &SpaceRef) -> Result<String, ConfluenceError> {
        let key = match space {
            SpaceRef::Id(id) => return Ok(id.clone()),
            SpaceRef::Key(key) => key,
        };
        let cache_key = (self.info().api_base.clone(), key.to_uppercase());
        if let Some(id) = cache().lock().get(&cache_key) {
            return Ok(id.clone());
        }
        // Global space keys are upper case (Confluence ignores case, but do not rely on it);
        // personal ones (`~account`) are sent as given.
        let sent = if key.starts_with('~') {
            key.clone()
        } else {
            key.to_uppercase()
        };
        let request = Request::get(Api::V2, "/spaces")
            .query("keys", &sent)
            .query("limit", 1)
            .about(format!("space {key}"));
        let answer = self.json(&request).await?;
        let id = answer
            .pointer("/results/0/id")
            .and_then(|id| match id {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .ok_or_else(|| ConfluenceError::UnknownSpace {
                key: key.clone(),
                site: self.info().site_url.clone(),
            })?;
        cache().lock().insert(cache_key, id.clone());
        Ok(id)
    }
}
