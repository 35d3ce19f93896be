//! `confluence.create_blog_post`: a new blog post in a space.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use weft_action::{ActionError, ActionInfo};

use super::create_page::NewStatus;
use super::ConfluenceAction;
use crate::body::{write_body, WriteFormat};
use crate::client::spaces::placeholder_space_id;
use crate::client::{Api, Client, Request};
use crate::input::{title, SpaceRef};

pub struct CreateBlogPost;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The space: a key (`ENG`, any case) or a numeric id.
    pub space: String,
    /// The blog post's title.
    pub title: String,
    /// The content, in `body_format`.
    #[serde(default)]
    pub body: Option<String>,
    /// storage (default), atlas_doc_format, wiki, markdown or plain.
    #[serde(default)]
    pub body_format: WriteFormat,
    /// current (published, default) or draft.
    #[serde(default)]
    pub status: NewStatus,
}

#[async_trait]
impl ConfluenceAction for CreateBlogPost {
    type Input = Input;
    /// The space's id.
    type Lookup = String;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.create_blog_post",
        description: "Creates a blog post in a space (POST v2 /blogposts); a create whose answer was lost is not sent again.",
        output_description: "Confluence's v2 blog post object of the new post: `id`, `title`, `spaceId`, `version`, `_links` (`webui`).",
        output_example: r#"{"id": "65702", "status": "current", "title": "Weekly digest", "spaceId": "65537", "authorId": "5b10a2844c20165700ede21g", "createdAt": "2026-12-01T09:00:00.000Z", "version": {"number": 1}, "_links": {"webui": "/spaces/ENG/blog/2026/12/01/65702/Weekly+digest"}}"#,
        writes: true,
        scopes: &["write:page:confluence", "read:space:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"space": "ENG", "title": "Weekly digest", "body": "Shipped: **search** & filters", "body_format": "markdown"}"#;

    async fn lookup(&self, input: &Input, client: &Client<'_>) -> Result<String, ActionError> {
        Ok(client.space_id(&SpaceRef::parse(&input.space, "space")?).await?)
    }

    fn dry_lookup(input: &Input) -> String {
        SpaceRef::parse(&input.space, "space")
            .map(|space| placeholder_space_id(&space))
            .unwrap_or_default()
    }

    fn request(input: &Input, space_id: &String) -> Result<Request, ActionError> {
        SpaceRef::parse(&input.space, "space")?;
        let status = match input.status {
            NewStatus::Current => "current",
            NewStatus::Draft => "draft",
        };
        Ok(Request::post(Api::V2, "/blogposts")
            .json(json!({
                "spaceId": space_id,
                "status": status,
                "title": title(&input.title, "title")?,
                "body": write_body(input.body.as_deref().unwrap_or_default(), input.body_format),
            }))
            .input("title", &input.title)
            .about(format!("blog post \"{}\"", input.title)))
    }

    /// An attempt that may have run before (a resumed run repeats the attempt its stopped
    /// process had in flight) first looks for the blog post by title in the space, and returns
    /// it instead of creating a second.
    async fn send(
        &self,
        input: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        if client.may_have_run_before() {
            let space_id = request
                .body
                .as_ref()
                .and_then(|post| post["spaceId"].as_str())
                .unwrap_or_default();
            let find = Request::get(Api::V2, "/blogposts")
                .query("space-id", space_id)
                .query("title", &input.title)
                .query("limit", 1);
            if let Some(post) = client.json(&find).await?.pointer("/results/0") {
                return Ok(post.clone());
            }
        }
        Ok(client.json(&request).await?)
    }
}
