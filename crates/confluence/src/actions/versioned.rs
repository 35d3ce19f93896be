//! Writes that replace a versioned object (a page, a blog post): read the current version,
//! send version + 1, and on 409 say which version the object is at now.

use serde_json::{json, Value};

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
    let mut request = Request::get(Api::V2, path).about(subject);
    if with_body {
        request = request.query("body-format", "storage");
    }
    let object = client.json(&request).await?;
    let version = object
        .pointer("/version/number")
        .and_then(Value::as_u64)
        .ok_or_else(|| ConfluenceError::InvalidAnswer {
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

/// Sends a replacing write; a 409 is completed with the version the object has now.
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
            let current = read_current(client, &request.path, &subject, false)
                .await
                .ok()
                .and_then(|current| current.next_version.as_u64())
                .map(|next| next - 1);
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
