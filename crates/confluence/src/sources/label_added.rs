//! `confluence.label_added`: each label added to a page or blog post (Cobalt's "label created").
//!
//! Why not a window: nothing in Confluence dates a label. CQL has no "labelled since" (adding a
//! label makes no new version, so `lastmodified` does not move), v2 labels have no dates, and
//! `/labels?sort=created-date` orders label *names* by their first use on the site, not their
//! uses on content. So each poll reads the labels of every page and blog post in scope (one CQL
//! search, labels expanded) and delivers the (content, label) pairs the previous poll did not
//! have; the cursor is that set. This is exact because the labels are read from the current
//! content, not from the lagging index: a pair is either on the content now or not.
//!
//! The index only decides which content a search returns. Content that a poll does not return
//! although it was returned before (it lost and regained a label of the `labels` setting within
//! the index lag, or was trashed) keeps its labels in the cursor for [`FORGET_AFTER`], so that
//! a flicker of the index delivers nothing twice; content gone longer is forgotten, and its
//! labels are delivered again if it comes back (a page restored from the trash).

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use futures::{pin_mut, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use weft_action::{ActionError, EventSink, SourceContext, SourceInfo, TypedPollSource};

use super::window::{quote, search_request, space_condition, start_instant, OVERLAP};
use super::{event_kind, SCOPES};
use crate::client::Client;

/// How long content a search stopped returning keeps its labels in the cursor: the window
/// sources' overlap, well above the index lag.
pub const FORGET_AFTER: Duration = OVERLAP;

/// The most pages and blog posts one poll reads: a clean error beyond it (each poll reads them
/// all, so narrow the scope with `space` or `labels`).
pub const MAX_CONTENT_READ: u32 = 20_000;

pub struct LabelAdded;

/// Which content a label is watched on.
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContentType {
    Page,
    Blogpost,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Settings {
    /// Only content in this space: a space key (`ENG`) or a numeric space id.
    #[serde(default)]
    pub space: Option<String>,
    /// Only these labels (each poll then reads only content carrying one of them: cheaper).
    #[serde(default)]
    pub labels: Vec<String>,
    /// Only labels on `page` or on `blogpost` (default: both).
    #[serde(default)]
    pub content_type: Option<ContentType>,
    /// Where the first poll starts: `now` (the default: the labels already there are the
    /// baseline) or an RFC 3339 timestamp: then the first poll also delivers the labels of
    /// content created since that instant (labels of older content cannot be dated, so they
    /// are the baseline).
    #[serde(default)]
    pub start: Option<String>,
}

/// What the previous polls found: content id → its labels and when a search last returned it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelCursor {
    pub content: BTreeMap<String, Labelled>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Labelled {
    pub labels: BTreeSet<String>,
    pub found_at: DateTime<Utc>,
}

#[async_trait]
impl TypedPollSource for LabelAdded {
    type Settings = Settings;
    type Cursor = LabelCursor;

    const INFO: SourceInfo = SourceInfo {
        name: "confluence.label_added",
        description: "Each label added to a page or blog post (one event per content and label name; `id` is `<content id>:<label>`, `version` is always 1: Confluence does not date labels, so each poll compares the labels of the content in scope with the previous poll's).",
        event_example: r#"{"kind": "label_added", "id": "65601:release", "version": 1, "label": "release", "prefix": "global", "content_id": "65601", "title": "Release notes", "type": "page", "space": {"id": 98305, "key": "ENG", "name": "Engineering"}, "content": {"id": "65601", "type": "page", "status": "current", "title": "Release notes", "version": {"number": 4, "when": "2026-11-30T09:12:00.000Z"}}, "observed_at": "2026-11-30T09:12:31Z"}"#,
        scopes: SCOPES,
    };

    async fn poll(
        &self,
        settings: Settings,
        cursor: Option<LabelCursor>,
        ctx: &SourceContext<'_>,
        events: &EventSink,
    ) -> Result<LabelCursor, ActionError> {
        let now = Utc::now();
        let first_poll = cursor.is_none();
        // The first poll delivers the labels of content created since `start` (none for `now`).
        let backlog_since = match settings.start.as_deref().map(str::trim) {
            None | Some("now") => None,
            start => Some(start_instant(start, now)?),
        };
        let watched = settings.watched_labels()?;
        let client = Client::connect(ctx, SCOPES).await?;
        let cql = settings.condition(&watched, &client).await?;
        // One more than the cap, to tell a scope at the cap from one above it.
        let found = client.items(search_request(cql), MAX_CONTENT_READ + 1);
        pin_mut!(found);
        let mut previous = cursor.unwrap_or_default().content;
        let mut next = LabelCursor::default();
        let mut read: u32 = 0;
        while let Some(result) = found.try_next().await? {
            read += 1;
            if read > MAX_CONTENT_READ {
                return Err(ActionError::failed(format!(
                    "more than {MAX_CONTENT_READ} pages and blog posts are in the scope of the source; narrow it with `space` or `labels`"
                )));
            }
            let content = Found::read(&result, &watched)?;
            // A walk that shifted under concurrent changes may return content twice.
            if next.content.contains_key(&content.id) {
                continue;
            }
            let before = previous.remove(&content.id);
            let added: Vec<(&String, &Value)> = content
                .labels
                .iter()
                .filter(|(name, _)| match &before {
                    Some(before) => !before.labels.contains(*name),
                    // Content not found before is new, or newly in scope: its labels are
                    // added, except on the first poll, whose labels are the baseline.
                    None if !first_poll => true,
                    None => backlog_since
                        .zip(content.created)
                        .is_some_and(|(since, created)| created >= since),
                })
                .collect();
            for (name, prefix) in added {
                events.deliver(content.event(name, prefix, now)).await?;
            }
            if !content.labels.is_empty() {
                next.content.insert(
                    content.id.clone(),
                    Labelled {
                        labels: content.labels.keys().cloned().collect(),
                        found_at: now,
                    },
                );
            }
        }
        // Content this search did not return: kept a while, in case the index flickered.
        previous.retain(|_, labelled| labelled.found_at >= now - FORGET_AFTER);
        next.content.extend(previous);
        Ok(next)
    }
}

/// The most label names the `labels` setting takes.
const MAX_WATCHED_LABELS: usize = 100;

impl Settings {
    /// The `labels` setting, lowercased as Confluence stores label names.
    fn watched_labels(&self) -> Result<BTreeSet<String>, ActionError> {
        if self.labels.len() > MAX_WATCHED_LABELS {
            return Err(ActionError::invalid_input(format!(
                "setting `labels` has {} names; at most {MAX_WATCHED_LABELS} are accepted",
                self.labels.len()
            )));
        }
        let mut watched = BTreeSet::new();
        for label in &self.labels {
            let name = label.trim().to_lowercase();
            if name.is_empty() || name.len() > 255 || name.contains(char::is_whitespace) {
                return Err(ActionError::invalid_input(format!(
                    "setting `labels` holds {label:?}; a label name is one word of at most 255 characters"
                )));
            }
            watched.insert(name);
        }
        Ok(watched)
    }

    /// The CQL of the content in scope, oldest first (so that content created during the walk
    /// comes last rather than shifting the pages already read).
    async fn condition(
        &self,
        watched: &BTreeSet<String>,
        client: &Client<'_>,
    ) -> Result<String, ActionError> {
        let mut cql = match self.content_type {
            None => "type in (page, blogpost)".to_string(),
            Some(ContentType::Page) => "type = page".to_string(),
            Some(ContentType::Blogpost) => "type = blogpost".to_string(),
        };
        cql.push_str(&space_condition(self.space.as_deref(), client).await?);
        if !watched.is_empty() {
            let labels: Vec<String> = watched.iter().map(|l| quote(l)).collect();
            cql.push_str(&format!(" and label in ({})", labels.join(", ")));
        }
        cql.push_str(" order by created asc");
        Ok(cql)
    }
}

/// A page or blog post of a search result, with its labels (name → prefix).
struct Found {
    id: String,
    created: Option<DateTime<Utc>>,
    labels: BTreeMap<String, Value>,
    content: Value,
}

impl Found {
    fn read(result: &Value, watched: &BTreeSet<String>) -> Result<Found, ActionError> {
        let content = result.get("content");
        let id = content
            .and_then(|c| c.get("id"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ActionError::failed(format!(
                    "a search result has no content id ({:?})",
                    result.get("title").and_then(Value::as_str).unwrap_or("")
                ))
            })?;
        let content = content.cloned().unwrap_or(Value::Null);
        let labels = content
            .pointer("/metadata/labels/results")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                ActionError::failed(format!(
                    "the search result of content {id} has no expanded labels (metadata.labels)"
                ))
            })?
            .iter()
            .filter_map(|label| {
                let name = label.get("name")?.as_str()?.to_lowercase();
                let prefix = label.get("prefix").cloned().unwrap_or(Value::Null);
                Some((name, prefix))
            })
            .filter(|(name, _)| watched.is_empty() || watched.contains(name))
            .collect();
        let created = content
            .pointer("/history/createdDate")
            .and_then(Value::as_str)
            .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
            .map(|at| at.with_timezone(&Utc));
        Ok(Found {
            id: id.to_string(),
            created,
            labels,
            content,
        })
    }

    fn event(&self, name: &str, prefix: &Value, observed_at: DateTime<Utc>) -> Value {
        let space = self
            .content
            .get("space")
            .map(|s| json!({"id": s.get("id"), "key": s.get("key"), "name": s.get("name")}));
        json!({
            "kind": event_kind(LabelAdded::INFO.name),
            // Label names hold no `:`, so this names one label on one content.
            "id": format!("{}:{name}", self.id),
            "version": 1,
            "label": name,
            "prefix": prefix,
            "content_id": self.id,
            "title": self.content.get("title"),
            "type": self.content.get("type"),
            "space": space,
            "content": self.content,
            "observed_at": observed_at,
        })
    }
}
