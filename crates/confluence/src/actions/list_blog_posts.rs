//! `confluence.list_blog_posts`: blog posts of the site or of one space, filtered, page after
//! page.

use async_trait::async_trait;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::list_pages::Input;
use super::ConfluenceAction;
use crate::client::{Client, Request};

pub struct ListBlogPosts;

#[async_trait]
impl ConfluenceAction for ListBlogPosts {
    type Input = Input;
    /// The space's id, when the input names a space.
    type Lookup = Option<String>;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.list_blog_posts",
        description: "Lists blog posts, of the site or of one space, filtered by title and status (GET v2 /blogposts).",
        output_description: "`results` (Confluence's v2 blog post objects), `count`, and `truncated` (more blog posts existed beyond `max_results`).",
        output_example: r#"{"count": 1, "truncated": false, "results": [{"id": "65701", "status": "current", "title": "Shipping week", "spaceId": "65537", "authorId": "5b10a2844c20165700ede21g", "createdAt": "2026-11-30T09:00:00.000Z", "version": {"number": 1}, "_links": {"webui": "/spaces/ENG/blog/2026/11/30/65701/Shipping+week"}}]}"#,
        writes: false,
        scopes: &["read:page:confluence", "read:space:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"space": "ENG", "sort": "-created-date", "max_results": 10}"#;

    async fn lookup(&self, input: &Input, client: &Client<'_>) -> Result<Option<String>, ActionError> {
        input.space_id(client).await
    }

    fn dry_lookup(input: &Input) -> Option<String> {
        input.placeholder_space_id()
    }

    fn request(input: &Input, space_id: &Option<String>) -> Result<Request, ActionError> {
        input.request("/blogposts", space_id)
    }

    async fn send(&self, input: &Input, request: Request, client: &Client<'_>) -> Result<Value, ActionError> {
        Ok(client.collect(request, &input.listing).await?)
    }
}
