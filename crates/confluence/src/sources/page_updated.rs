//! `confluence.page_updated`: each new version of a page after its first (CQL lastmodified; versions made between two polls arrive as the newest one).

use weft_action::SourceInfo;

use super::window::Moment;
use super::{ContentEvent, SCOPES};

pub struct PageUpdated;

impl ContentEvent for PageUpdated {
    const INFO: SourceInfo = SourceInfo {
        name: "confluence.page_updated",
        description: "Each new version of a page after its first (CQL lastmodified; versions made between two polls arrive as the newest one).",
        event_example: r#"{"kind": "page_updated", "id": "65601", "version": 4, "title": "Release notes", "type": "page", "space": {"id": 98305, "key": "ENG", "name": "Engineering"}, "at": "2026-11-30T09:12:00Z", "content": {"id": "65601", "type": "page", "status": "current", "title": "Release notes", "version": {"number": 4, "when": "2026-11-30T09:12:00.000Z"}}, "observed_at": "2026-11-30T09:12:31Z"}"#,
        scopes: SCOPES,
    };
    const CQL_TYPE: &'static str = "page";
    const MOMENT: Moment = Moment::Modified;
}
