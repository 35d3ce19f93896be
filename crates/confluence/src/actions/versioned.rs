//! Writes that replace a versioned object (a page, a blog post, a comment): read the current
//! version, send version + 1, and on 409 say which version the object is at now (or, when the
//! object already holds what was sent at that version, take the write as made).

use serde_json::{json, Value};

use crate::body::bare_text;
use crate::client::{Api, Client, ConfluenceError, Request};

/// What a replacing write needs to know of the object first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Current {
    /// The version number to send: the current one + 1 (a placeholder text in a dry run).
    pub next_version: Value,
    pub title: Value,
    pub status: Value,
    /// The storage-format body, when it was read.
    pub body: Value,
}

impl Current {
    /// What a dry run shows in place of the object's current state.
    pub fn placeholder() -> Current {
        Current {
            next_version: json!("<current version + 1>"),
            title: json!("<current title>"),
            status: json!("<current status>"),
            body: json!("<current body>"),
        }
    }
}

/// Reads the object at `path` (`/pages/123`) and what a write of it needs; its storage body
/// too when `with_body`.
pub async fn read_current(
    client: &Client<'_>,
    path: &str,
    subject: &str,
    with_body: bool,
) -> Result<Current, ConfluenceError> {
    let object = read_object(client, path, subject, with_body).await?;
    let version = version_number(&object).ok_or_else(|| ConfluenceError::InvalidAnswer {
        call: format!("GET {}{path}", Api::V2.prefix()),
        detail: "the answer has no `version.number`".to_string(),
    })?;
    Ok(Current {
        next_version: json!(version + 1),
        title: object.get("title").cloned().unwrap_or(Value::Null),
        status: object.get("status").cloned().unwrap_or(json!("current")),
        body: object
            .pointer("/body/storage/value")
            .cloned()
            .unwrap_or(Value::Null),
    })
}

/// The object at `path` as Confluence answers it, with its storage body when `with_body`.
async fn read_object(
    client: &Client<'_>,
    path: &str,
    subject: &str,
    with_body: bool,
) -> Result<Value, ConfluenceError> {
    let mut request = Request::get(Api::V2, path).about(subject);
    if with_body {
        request = request.query("body-format", "storage");
    }
    client.json(&request).await
}

fn version_number(object: &Value) -> Option<u64> {
    object.pointer("/version/number").and_then(Value::as_u64)
}

/// Sends a replacing write; a 409 is completed with the version the object has now.
///
/// A PUT whose answer was lost (the connection dropped after Confluence applied it) is sent
/// again by the client, and that second try meets a 409: the version it sends is taken, by
/// itself. So when the object is now at exactly the version sent and holds the title and body
/// sent, the write is done and the object is the answer: reporting a conflict would say
/// "nothing was overwritten" of a write that was made, and `on_conflict: retry` would apply
/// it twice (an append appended twice).
pub async fn send_versioned(
    client: &Client<'_>,
    request: &Request,
) -> Result<Value, ConfluenceError> {
    match client.json(request).await {
        Err(ConfluenceError::VersionConflict {
            subject,
            sent,
            request_id,
            ..
        }) => {
            let now = read_object(client, &request.path, &subject, true)
                .await
                .ok();
            let current = now.as_ref().and_then(version_number);
            if let Some(object) = now.filter(|object| current == sent && holds(request, object)) {
                return Ok(object);
            }
            Err(ConfluenceError::VersionConflict {
                subject,
                current,
                sent,
                request_id,
            })
        }
        answer => answer,
    }
}

/// Whether `object` (read with its storage body) has the title and the body `request` sent:
/// the same words, whatever the format they were sent in (see [`bare_text`]).
fn holds(request: &Request, object: &Value) -> bool {
    let Some(sent) = &request.body else {
        return false;
    };
    let same_title = sent
        .get("title")
        .is_none_or(|title| object.get("title") == Some(title));
    let sent_text = match (
        sent.pointer("/body/representation").and_then(Value::as_str),
        sent.pointer("/body/value").and_then(Value::as_str),
    ) {
        (Some(representation), Some(value)) => bare_text(representation, value),
        _ => return false,
    };
    let stored = object
        .pointer("/body/storage/value")
        .and_then(Value::as_str);
    same_title && stored.is_some_and(|stored| bare_text("storage", stored) == sent_text)
}
