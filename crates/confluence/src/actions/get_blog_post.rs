//! `confluence.get_blog_post`: one blog post, with its body in the format asked for.

use schemars::JsonSchema;
use serde::Deserialize;
use weft_action::{ActionError, ActionInfo};

use super::ConfluenceAction;
use crate::body::ReadFormat;
use crate::client::{Api, Request};
use crate::input::content_id;

pub struct GetBlogPost;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The blog post's id (digits).
    pub blog_post_id: String,
    /// The body format: storage (default), atlas_doc_format, view or export_view.
    #[serde(default)]
    pub body_format: ReadFormat,
}

impl ConfluenceAction for GetBlogPost {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.get_blog_post",
        description: "Reads a blog post by id, with its body (GET v2 /blogposts/{id}).",
        output_description: "Confluence's v2 blog post object: `id`, `status`, `title`, `spaceId`, `authorId`, `createdAt`, `version` {`number`...}, `body` {`<format>`: {`value`}}, `_links`.",
        output_example: r#"{"id": "65701", "status": "current", "title": "Shipping week", "spaceId": "65537", "authorId": "5b10a2844c20165700ede21g", "createdAt": "2026-11-30T09:00:00.000Z", "version": {"number": 1, "message": "", "minorEdit": false, "authorId": "5b10a2844c20165700ede21g", "createdAt": "2026-11-30T09:00:00.000Z"}, "body": {"storage": {"representation": "storage", "value": "<p>Search shipped.</p>"}}, "_links": {"webui": "/spaces/ENG/blog/2026/11/30/65701/Shipping+week"}}"#,
        writes: false,
        scopes: &["read:page:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"blog_post_id": "65701", "body_format": "storage"}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        let id = content_id(&input.blog_post_id, "blog_post_id")?;
        Ok(Request::get(Api::V2, format!("/blogposts/{id}"))
            .query("body-format", input.body_format.as_str())
            .about(format!("blog post {id}")))
    }
}
