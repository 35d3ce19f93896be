//! `confluence.delete_blog_post`: moves a blog post to the trash, or removes it for good.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::trash::{delete_request, trash_or_purge};
use super::ConfluenceAction;
use crate::client::{Client, Request};
use crate::input::content_id;

pub struct DeleteBlogPost;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The blog post's id (digits).
    pub blog_post_id: String,
    /// Remove the blog post for good: it is moved to the trash first when it is not there yet.
    #[serde(default)]
    pub purge: bool,
}

#[async_trait]
impl ConfluenceAction for DeleteBlogPost {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.delete_blog_post",
        description: "Moves a blog post to the trash, or with `purge` removes it for good (DELETE v2 /blogposts/{id}).",
        output_description: "`blog_post_id` and `purged` (whether the blog post was removed for good rather than trashed).",
        output_example: r#"{"blog_post_id": "65701", "purged": false}"#,
        writes: true,
        scopes: &["delete:page:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"blog_post_id": "65701"}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        let id = content_id(&input.blog_post_id, "blog_post_id")?;
        Ok(delete_request(format!("/blogposts/{id}"), format!("blog post {id}"), input.purge))
    }

    async fn send(
        &self,
        input: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        let id = ("blog_post_id", input.blog_post_id.as_str());
        trash_or_purge(client, &request, input.purge, id).await
    }
}
