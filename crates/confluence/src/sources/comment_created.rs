//! `confluence.comment_created`: each new comment, footer or inline, on a page or blog post (CQL
//! `type = comment`, created; one event per comment, replies included).

use async_trait::async_trait;
use serde::Deserialize;
use weft_action::{ActionError, EventSink, SourceContext, SourceInfo, TypedPollSource};

use super::window::{
    self, container_condition, space_condition, Find, Moment, Watch, WindowCursor,
};
use super::{event_kind, SCOPES};
use crate::client::Client;

pub struct CommentCreated;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Settings {
    /// Only comments in this space: a space key (`ENG`) or a numeric space id.
    #[serde(default)]
    pub space: Option<String>,
    /// Only comments on this page or blog post (its numeric id).
    #[serde(default)]
    pub content_id: Option<String>,
    /// Where the first poll starts: `now` (the default: no backlog) or an RFC 3339 timestamp.
    #[serde(default)]
    pub start: Option<String>,
}

#[async_trait]
impl TypedPollSource for CommentCreated {
    type Settings = Settings;
    type Cursor = WindowCursor;

    const INFO: SourceInfo = SourceInfo {
        name: "confluence.comment_created",
        description: "Each new comment, footer or inline, on a page or blog post (CQL type = comment, created; one event per comment, replies included; `content.extensions.location` says footer or inline, `container` is the page or blog post).",
        event_example: r#"{"kind": "comment_created", "id": "65751", "version": 1, "title": "Re: Release notes", "type": "comment", "space": {"id": 98305, "key": "ENG", "name": "Engineering"}, "container": {"id": "65601", "type": "page", "status": "current", "title": "Release notes"}, "at": "2026-11-30T09:12:00Z", "content": {"id": "65751", "type": "comment", "status": "current", "title": "Re: Release notes", "extensions": {"location": "footer"}, "version": {"number": 1, "when": "2026-11-30T09:12:00.000Z"}}, "observed_at": "2026-11-30T09:12:31Z"}"#,
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
            find: Find::Cql(format!("type = comment{space}{container}")),
            moment: Moment::Created,
            min_version: 1,
        };
        window::poll(&client, &watch, settings.start.as_deref(), cursor, events).await
    }
}
