//! What comments and attachments are on: a page or a blog post, named by exactly one of the
//! inputs `page_id` and `blog_post_id`.

use schemars::JsonSchema;
use serde::Deserialize;
use weft_action::ActionError;

use crate::input::content_id;

/// A page or a blog post, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container<'a> {
    Page(&'a str),
    BlogPost(&'a str),
}

/// The inputs naming a container (flatten it into an action's input).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ContainerInput {
    /// The page's id (digits); give this or `blog_post_id`.
    #[serde(default)]
    pub page_id: Option<String>,
    /// The blog post's id (digits); give this or `page_id`.
    #[serde(default)]
    pub blog_post_id: Option<String>,
}

impl ContainerInput {
    pub fn container(&self) -> Result<Container<'_>, ActionError> {
        Container::from_inputs(self.page_id.as_deref(), self.blog_post_id.as_deref())
    }
}

impl<'a> Container<'a> {
    /// The container named by `page_id` or `blog_post_id` (exactly one, digits only).
    pub fn from_inputs(
        page_id: Option<&'a str>,
        blog_post_id: Option<&'a str>,
    ) -> Result<Container<'a>, ActionError> {
        match (page_id, blog_post_id) {
            (Some(page), None) => Ok(Container::Page(content_id(page, "page_id")?)),
            (None, Some(post)) => Ok(Container::BlogPost(content_id(post, "blog_post_id")?)),
            _ => Err(ActionError::invalid_input(
                "give exactly one of the inputs `page_id` and `blog_post_id`",
            )),
        }
    }

    /// The v2 path of the container: `/pages/123` or `/blogposts/123`.
    pub fn path(self) -> String {
        match self {
            Container::Page(id) => format!("/pages/{id}"),
            Container::BlogPost(id) => format!("/blogposts/{id}"),
        }
    }

    /// `page 123` or `blog post 123`, for messages.
    pub fn subject(self) -> String {
        match self {
            Container::Page(id) => format!("page {id}"),
            Container::BlogPost(id) => format!("blog post {id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_container_with_a_numeric_id() {
        assert_eq!(
            Container::from_inputs(Some("12"), None).unwrap().path(),
            "/pages/12"
        );
        assert_eq!(
            Container::from_inputs(None, Some("7")).unwrap().path(),
            "/blogposts/7"
        );
        assert!(Container::from_inputs(None, None).is_err());
        assert!(Container::from_inputs(Some("1"), Some("2")).is_err());
        let error = Container::from_inputs(Some("x1"), None).unwrap_err();
        assert!(error.message.contains("`page_id`"), "{error}");
    }
}
