//! What `delete_page`, `delete_blog_post` and `delete_attachment` share: a DELETE that moves the
//! item to the trash, or with `purge` removes it for good.

use serde_json::{json, Value};
use weft_action::ActionError;

use crate::client::{Api, Client, ConfluenceError, Request};

/// The DELETE of v2 `path` (`/pages/123`), about `subject` (`page 123`), with `purge=true` when
/// the item is to be removed for good.
pub fn delete_request(path: String, subject: String, purge: bool) -> Request {
    let request = Request::delete(Api::V2, path).about(subject);
    if purge {
        request.query("purge", true)
    } else {
        request
    }
}

/// Sends a [`delete_request`]; the output is `{id_input: id, "purged": purge}`. Confluence
/// purges only what is in the trash, so a purge first moves the item there (one already in the
/// trash answers 404 to that move).
pub async fn trash_or_purge(
    client: &Client<'_>,
    request: &Request,
    purge: bool,
    (id_input, id): (&str, &str),
) -> Result<Value, ActionError> {
    if purge {
        let trash = Request {
            query: Vec::new(),
            ..request.clone()
        };
        match client.send(&trash).await {
            Ok(_) | Err(ConfluenceError::NotFound { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    client.send(request).await?;
    Ok(json!({ id_input: id, "purged": purge }))
}
