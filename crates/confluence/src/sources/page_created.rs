//! `confluence.page_created`: each new page (CQL created, one event per page).

use weft_action::SourceInfo;

use super::window::Moment;
use super::{ContentEvent, SCOPES};

pub struct PageCreated;

impl ContentEvent for PageCreated {
    const INFO: SourceInfo = SourceInfo {
        name: "confluence.page_created",
        description: "Each new page (CQL created, one event per page).",
        event_example: r#"{"kind": "page_created", "id": "65601", "version": 1, "title": "Release notes", "type": "page", "space": {"id": 98305, "key": "ENG", "name": "Engineering"}, "at": "2026-11-30T09:12:00Z", "content": {"id": "65601", "type": "page", "status": "current", "title": "Release notes", "version": {"number": 1, "when": "2026-11-30T09:12:00.000Z"}}, "observed_at": "2026-11-30T09:12:31Z"}"#,
        scopes: SCOPES,
    };
    const CQL_TYPE: &'static str = "page";
    const MOMENT: Moment = Moment::Created;
}
