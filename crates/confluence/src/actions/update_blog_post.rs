//! `confluence.update_blog_post`: replaces a blog post's body (and title), as the next version.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use weft_action::{ActionError, ActionInfo};

use super::versioned::{read_current, send_versioned, Current};
use super::ConfluenceAction;
use crate::body::{write_body, WriteFormat};
use crate::client::{Api, Client, Request};
use crate::input::{content_id, title};

pub struct UpdateBlogPost;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The blog post's id (digits).
    pub blog_post_id: String,
    /// A new title; without it the title stays.
    #[serde(default)]
    pub title: Option<String>,
    /// The new content, in `body_format`; it replaces the whole body.
    pub body: String,
    /// storage (default), atlas_doc_format, wiki, markdown or plain.
    #[serde(default)]
    pub body_format: WriteFormat,
}

/// The blog post's path and the words naming it in messages.
fn blog_post(input: &Input) -> Result<(String, String), ActionError> {
    let id = content_id(&input.blog_post_id, "blog_post_id")?;
    Ok((format!("/blogposts/{id}"), format!("blog post {id}")))
}

#[async_trait]
impl ConfluenceAction for UpdateBlogPost {
    type Input = Input;
    type Lookup = Current;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.update_blog_post",
        description: "Replaces a blog post's body, as its next version (GET v2 /blogposts/{id} for the current version, then PUT v2 /blogposts/{id}).",
        output_description: "Confluence's v2 blog post object after the update, `version.number` one higher.",
        output_example: r#"{"id": "65701", "status": "current", "title": "Shipping week", "spaceId": "65537", "version": {"number": 2}, "_links": {"webui": "/spaces/ENG/blog/2026/11/30/65701/Shipping+week"}}"#,
        writes: true,
        scopes: &["read:page:confluence", "write:page:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"blog_post_id": "65701", "body": "<p>Search and filters shipped.</p>"}"#;

    async fn lookup(&self, input: &Input, client: &Client<'_>) -> Result<Current, ActionError> {
        let (path, subject) = blog_post(input)?;
        Ok(read_current(client, &path, &subject, false).await?)
    }

    fn dry_lookup(_: &Input) -> Current {
        Current::placeholder()
    }

    fn request(input: &Input, current: &Current) -> Result<Request, ActionError> {
        let (path, subject) = blog_post(input)?;
        let title = match &input.title {
            Some(new) => json!(title(new, "title")?),
            None => current.title.clone(),
        };
        Ok(Request::put(Api::V2, path)
            .json(json!({
                "id": input.blog_post_id,
                "status": current.status,
                "title": title,
                "body": write_body(&input.body, input.body_format),
                "version": { "number": current.next_version },
            }))
            .about(subject))
    }

    async fn send(&self, _: &Input, request: Request, client: &Client<'_>) -> Result<Value, ActionError> {
        Ok(send_versioned(client, &request).await?)
    }
}
