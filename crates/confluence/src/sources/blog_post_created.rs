//! `confluence.blog_post_created`: each new blog post (CQL created, one event per blog post).

use weft_action::SourceInfo;

use super::window::Moment;
use super::{ContentEvent, SCOPES};

pub struct BlogPostCreated;

impl ContentEvent for BlogPostCreated {
    const INFO: SourceInfo = SourceInfo {
        name: "confluence.blog_post_created",
        description: "Each new blog post (CQL created, one event per blog post).",
        event_example: r#"{"kind": "blog_post_created", "id": "65601", "version": 1, "title": "Weekly digest", "type": "blogpost", "space": {"id": 98305, "key": "ENG", "name": "Engineering"}, "at": "2026-11-30T09:12:00Z", "content": {"id": "65601", "type": "blogpost", "status": "current", "title": "Weekly digest", "version": {"number": 1, "when": "2026-11-30T09:12:00.000Z"}}, "observed_at": "2026-11-30T09:12:31Z"}"#,
        scopes: SCOPES,
    };
    const CQL_TYPE: &'static str = "blogpost";
    const MOMENT: Moment = Moment::Created;
}
