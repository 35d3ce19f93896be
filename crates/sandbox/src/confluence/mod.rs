//! Confluence Cloud REST handlers (v2 and v1), one module per kind of object.

pub mod attachments;
pub mod comments;
pub mod labels;
pub mod pages;
pub mod properties;
pub mod render;
pub mod request;
pub mod restrictions;
pub mod search;
pub mod spaces;
pub mod tasks;
pub mod tree;
pub mod users;

use crate::state::model::{CommentKind, ContentKind};

/// A content kind chosen by the route table at compile time, so one generic handler serves
/// the page route and the blog post route of the same endpoint (`pages::get::<Pages>`).
pub trait OnContent: Send + Sync + 'static {
    const KIND: ContentKind;
}

/// Routes under `/pages`.
pub enum Pages {}
/// Routes under `/blogposts`.
pub enum BlogPosts {}

impl OnContent for Pages {
    const KIND: ContentKind = ContentKind::Page;
}
impl OnContent for BlogPosts {
    const KIND: ContentKind = ContentKind::BlogPost;
}

/// A comment kind chosen by the route table, like [`OnContent`] for footer and inline comments.
pub trait OnComments: Send + Sync + 'static {
    const KIND: CommentKind;
}

/// Routes under `footer-comments`.
pub enum Footer {}
/// Routes under `inline-comments`.
pub enum Inline {}

impl OnComments for Footer {
    const KIND: CommentKind = CommentKind::Footer;
}
impl OnComments for Inline {
    const KIND: CommentKind = CommentKind::Inline;
}
