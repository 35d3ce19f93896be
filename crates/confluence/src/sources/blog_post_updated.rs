//! `confluence.blog_post_updated`: each new version of a blog post after its first (CQL lastmodified).

use weft_action::SourceInfo;

use super::window::Moment;
use super::{ContentEvent, SCOPES};

pub struct BlogPostUpdated;

impl ContentEvent for BlogPostUpdated {
    const INFO: SourceInfo = SourceInfo {
        name: "confluence.blog_post_updated",
        description: "Each new version of a blog post after its first (CQL lastmodified).",
        event_example: r#"{"kind": "blog_post_updated", "id": "65601", "version": 2, "title": "Weekly digest", "type": "blogpost", "space": {"id": 98305, "key": "ENG", "name": "Engineering"}, "at": "2026-11-30T09:12:00Z", "content": {"id": "65601", "type": "blogpost", "status": "current", "title": "Weekly digest", "version": {"number": 2, "when": "2026-11-30T09:12:00.000Z"}}, "observed_at": "2026-11-30T09:12:31Z"}"#,
        scopes: SCOPES,
    };
    const CQL_TYPE: &'static str = "blogpost";
    const MOMENT: Moment = Moment::Modified;
}
