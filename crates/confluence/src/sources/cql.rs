//! `confluence.cql`: each new version of content that matches any CQL condition.

use async_trait::async_trait;
use serde::Deserialize;
use weft_action::{ActionError, EventSink, SourceContext, SourceInfo, TypedPollSource};

use super::window::{self, Find, Moment, Watch, WindowCursor};
use super::CQL_SCOPES;
use crate::client::Client;

/// The longest CQL condition accepted.
const MAX_CQL_CHARS: usize = 8_000;

pub struct Cql;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Settings {
    /// A CQL condition, without `order by` (the source adds its date window and order), e.g.
    /// `type = page and space = ENG and label = "release"`.
    pub cql: String,
    /// Where the first poll starts: `now` (the default: no backlog) or an RFC 3339 timestamp.
    #[serde(default)]
    pub start: Option<String>,
}

impl Settings {
    fn condition(&self) -> Result<&str, ActionError> {
        let cql = self.cql.trim();
        if cql.is_empty() {
            return Err(ActionError::invalid_input(
                "setting `cql` is empty; give a CQL condition such as `type = page and space = ENG`",
            ));
        }
        if cql.chars().count() > MAX_CQL_CHARS {
            return Err(ActionError::invalid_input(format!(
                "setting `cql` is longer than {MAX_CQL_CHARS} characters"
            )));
        }
        if cql.to_ascii_lowercase().contains("order by") {
            return Err(ActionError::invalid_input(
                "setting `cql` has an `order by`; remove it: the source orders by lastmodified to walk its window",
            ));
        }
        Ok(cql)
    }
}

#[async_trait]
impl TypedPollSource for Cql {
    type Settings = Settings;
    type Cursor = WindowCursor;

    const INFO: SourceInfo = SourceInfo {
        name: "confluence.cql",
        description: "Each new version of content matching a CQL condition (CQL lastmodified; a change that only makes older content match, such as a new label, is not an event).",
        event_example: r#"{"kind": "cql", "id": "65601", "version": 3, "title": "Release notes", "type": "page", "space": {"id": 98305, "key": "ENG", "name": "Engineering"}, "at": "2026-11-30T09:12:00Z", "content": {"id": "65601", "type": "page", "status": "current", "title": "Release notes", "version": {"number": 3, "when": "2026-11-30T09:12:00.000Z"}}, "observed_at": "2026-11-30T09:12:31Z"}"#,
        scopes: CQL_SCOPES,
    };

    async fn poll(
        &self,
        settings: Settings,
        cursor: Option<WindowCursor>,
        ctx: &SourceContext<'_>,
        events: &EventSink,
    ) -> Result<WindowCursor, ActionError> {
        let watch = Watch {
            kind: "cql",
            find: Find::Cql(settings.condition()?.to_string()),
            moment: Moment::Modified,
            min_version: 1,
        };
        let client = Client::connect(ctx, CQL_SCOPES).await?;
        window::poll(&client, &watch, settings.start.as_deref(), cursor, events).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_are_checked() {
        let settings = |cql: &str| Settings {
            cql: cql.to_string(),
            start: None,
        };
        assert!(settings(" ")
            .condition()
            .unwrap_err()
            .message
            .contains("`cql` is empty"));
        assert!(settings("type = page ORDER BY title").condition().is_err());
        assert_eq!(
            settings(" type = page ").condition().unwrap(),
            "type = page"
        );
    }
}
