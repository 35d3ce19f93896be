//! `confluence.attachment_created`: each new attachment of a page or blog post, and with
//! `new_versions` each new version of one (CQL `type = attachment`).

use async_trait::async_trait;
use serde::Deserialize;
use weft_action::{ActionError, EventSink, SourceContext, SourceInfo, TypedPollSource};

use super::window::{
    self, container_condition, space_condition, Find, Moment, Watch, WindowCursor,
};
use super::{event_kind, SCOPES};
use crate::client::Client;

pub struct AttachmentCreated;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Settings {
    /// Only attachments in this space: a space key (`ENG`) or a numeric space id.
    #[serde(default)]
    pub space: Option<String>,
    /// Only attachments of this page or blog post (its numeric id).
    #[serde(default)]
    pub content_id: Option<String>,
    /// Also deliver each new version of an attachment (an upload under a name the page already
    /// has); a version replaced before a poll saw it (between two polls, or within the search
    /// index's lag) arrives as the newer one. Without it (the default), one event per new
    /// attachment, at its creation.
    #[serde(default)]
    pub new_versions: bool,
    /// Where the first poll starts: `now` (the default: no backlog) or an RFC 3339 timestamp.
    #[serde(default)]
    pub start: Option<String>,
}

#[async_trait]
impl TypedPollSource for AttachmentCreated {
    type Settings = Settings;
    type Cursor = WindowCursor;

    const INFO: SourceInfo = SourceInfo {
        name: "confluence.attachment_created",
        description: "Each new attachment of a page or blog post (CQL type = attachment, created; one event per attachment); with `new_versions: true` also each new version of one (CQL lastmodified; `version` says which; a version replaced before a poll saw it arrives as the newer one).",
        event_example: r#"{"kind": "attachment_created", "id": "att65801", "version": 1, "title": "report.pdf", "type": "attachment", "space": {"id": 98305, "key": "ENG", "name": "Engineering"}, "container": {"id": "65601"}, "at": "2026-11-30T09:12:00Z", "content": {"id": "att65801", "type": "attachment", "status": "current", "title": "report.pdf", "version": {"number": 1, "when": "2026-11-30T09:12:00.000Z"}, "extensions": {"mediaType": "application/pdf", "fileSize": 48213}, "_links": {"download": "/rest/api/content/65601/child/attachment/att65801/download"}}, "observed_at": "2026-11-30T09:12:31Z"}"#,
        scopes: SCOPES,
    };

    async fn poll(
        &self,
        settings: Settings,
        cursor: Option<WindowCursor>,
        ctx: &SourceContext<'_>,
        events: &EventSink,
    ) -> Result<WindowCursor, ActionError> {
        let container = container_condition(settings.content_id.as_deref())?;
        let client = Client::connect(ctx, SCOPES).await?;
        let space = space_condition(settings.space.as_deref(), &client).await?;
        let watch = Watch {
            kind: event_kind(Self::INFO.name),
            find: Find::Cql(format!("type = attachment{space}{container}")),
            // A new version changes `lastmodified`, not `created`: each version is an event
            // keyed on its number, the first one included.
            moment: if settings.new_versions {
                Moment::Modified
            } else {
                Moment::Created
            },
            min_version: 1,
        };
        window::poll(&client, &watch, settings.start.as_deref(), cursor, events).await
    }
}
