//! `confluence.create_blog_post`: a new blog post in a space.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};
use weft_action::{ActionError, ActionInfo};

use super::new_content::{create_once, newest, Kind, NewContent};
use super::ConfluenceAction;
use crate::client::{Client, Request};

pub struct CreateBlogPost;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    #[serde(flatten)]
    pub content: NewContent,
}

#[async_trait]
impl ConfluenceAction for CreateBlogPost {
    type Input = Input;
    /// The space's id.
    type Lookup = String;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.create_blog_post",
        description: "Creates a blog post in a space (POST v2 /blogposts); a create whose answer was lost is sent again only when no newer blog post with its title is found.",
        output_description: "Confluence's v2 blog post object of the new post: `id`, `title`, `spaceId`, `version`, `_links` (`webui`).",
        output_example: r#"{"id": "65702", "status": "current", "title": "Weekly digest", "spaceId": "65537", "authorId": "5b10a2844c20165700ede21g", "createdAt": "2026-12-01T09:00:00.000Z", "version": {"number": 1}, "_links": {"webui": "/spaces/ENG/blog/2026/12/01/65702/Weekly+digest"}}"#,
        writes: true,
        scopes: &["write:page:confluence", "read:page:confluence", "read:space:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"space": "ENG", "title": "Weekly digest", "body": "Shipped: **search** & filters", "body_format": "markdown"}"#;

    async fn lookup(&self, input: &Input, client: &Client<'_>) -> Result<String, ActionError> {
        input.content.space_id(client).await
    }

    fn dry_lookup(input: &Input) -> String {
        input.content.placeholder_space_id()
    }

    fn request(input: &Input, space_id: &String) -> Result<Request, ActionError> {
        input
            .content
            .create_request(Kind::BlogPost, space_id, Map::new())
    }

    /// Blog posts may share a title (a weekly digest): the newest one with the title is read
    /// first, and after a lost answer only a newer one is the create's.
    async fn send(
        &self,
        _: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        if client.may_have_run_before() {
            // The earlier try's post is the newest with the title: it is taken, even when it
            // is an older post of the same title (a resumed create makes no duplicate).
            return create_once(client, Kind::BlogPost, &request, |_| true, |_| true).await;
        }
        let before = newest(client, Kind::BlogPost, &request).await?;
        let before_id = before.as_ref().and_then(|post| post["id"].as_str());
        create_once(
            client,
            Kind::BlogPost,
            &request,
            |_| false,
            |post| post["id"].as_str() != before_id,
        )
        .await
    }
}
