//! `confluence.space_created`: each new space (v2 `/spaces`, by `createdAt`).

use async_trait::async_trait;
use serde::Deserialize;
use weft_action::{ActionError, EventSink, SourceContext, SourceInfo, TypedPollSource};

use super::event_kind;
use super::window::{self, Find, Moment, Watch, WindowCursor};
use crate::client::Client;
use crate::input::SpaceType;

/// v2 `/spaces` needs no search and no time zone: its dates are exact instants.
const SCOPES: &[&str] = &["read:space:confluence"];

pub struct SpaceCreated;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Settings {
    /// Only spaces of this type: `global` or `personal`.
    #[serde(default, rename = "type")]
    pub space_type: Option<SpaceType>,
    /// Where the first poll starts: `now` (the default: no backlog) or an RFC 3339 timestamp.
    #[serde(default)]
    pub start: Option<String>,
}

#[async_trait]
impl TypedPollSource for SpaceCreated {
    type Settings = Settings;
    type Cursor = WindowCursor;

    const INFO: SourceInfo = SourceInfo {
        name: "confluence.space_created",
        description: "Each new space (v2 /spaces by createdAt: the listing sorts only by id, key or name, so each poll reads every space of the type, at most 50,000).",
        event_example: r#"{"kind": "space_created", "id": "98305", "version": 1, "title": "Engineering", "type": "space", "space": {"id": "98305", "key": "ENG", "name": "Engineering"}, "at": "2026-11-30T09:12:00Z", "content": {"id": "98305", "key": "ENG", "name": "Engineering", "type": "global", "status": "current", "authorId": "5b10ac8d82e05b22cc7d4ef5", "createdAt": "2026-11-30T09:12:00.000Z", "homepageId": "98306"}, "observed_at": "2026-11-30T09:12:31Z"}"#,
        scopes: SCOPES,
    };

    async fn poll(
        &self,
        settings: Settings,
        cursor: Option<WindowCursor>,
        ctx: &SourceContext<'_>,
        events: &EventSink,
    ) -> Result<WindowCursor, ActionError> {
        let client = Client::connect(ctx, SCOPES).await?;
        let query = settings
            .space_type
            .map(|t| ("type", t.as_str().to_string()))
            .into_iter()
            .collect();
        let watch = Watch {
            kind: event_kind(Self::INFO.name),
            find: Find::Spaces(query),
            moment: Moment::Created,
            min_version: 1,
        };
        window::poll(&client, &watch, settings.start.as_deref(), cursor, events).await
    }
}
