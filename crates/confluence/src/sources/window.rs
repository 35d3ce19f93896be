//! The machinery every CQL-based source shares: one poll is a CQL search over a time window that
//! overlaps the previous one, and events are de-duplicated on (kind, content id, version).
//!
//! Why a window with overlap: CQL dates have minute granularity and are read in the *user's* time
//! zone, and the search index lags (about 20 s). The window of a poll starts [`OVERLAP`] before
//! the newest change seen so far (`since`), rounded down to the minute in the user's time zone.
//! A change not yet indexed when a poll ran happened after `poll time - lag`, which is after
//! `since - OVERLAP` as long as the lag stays under [`OVERLAP`]: a later window still covers it.
//! What a window finds again is dropped by the de-duplication state, which keeps only the keys
//! of changes still inside the next window (older ones cannot be found again, so the state stays
//! as small as the activity of one window).
//!
//! Changes are found by a CQL search ([`Find::Cql`]: pages, blog posts, comments, attachments)
//! or, for spaces, by v2 `/spaces` ([`Find::Spaces`]), whose `createdAt` the window reads the
//! same way.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use futures::stream::BoxStream;
use futures::{stream, StreamExt, TryStreamExt};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use weft_action::{ActionError, EventSink};

use crate::client::{Api, Client, ConfluenceError, Request};
use crate::input::SpaceRef;

/// How far before the newest change seen each window starts: well above the index lag.
pub const OVERLAP: Duration = Duration::minutes(5);

/// The most events one poll delivers; the rest come with the next poll (the cursor then stops
/// at the last delivered change).
pub const MAX_EVENTS_PER_POLL: usize = 10_000;

/// Results per search or listing request (the maximum of v1 search without bodies and of v2).
const PAGE_SIZE: u32 = 250;

/// The most spaces a `/spaces` listing reads in one poll: far above real sites, and a clean
/// error rather than an endless walk.
pub const MAX_SPACES_LISTED: u32 = 50_000;

/// When the user's time zone cannot be read, the window is widened by the largest UTC offset
/// there is, so that whatever zone Confluence reads the date in, nothing is skipped.
const UNKNOWN_ZONE_MARGIN: Duration = Duration::hours(14);

/// What every search request asks to be expanded: the version, the space, the creation date
/// and the labels.
const EXPAND: &str = "content.version,content.space,content.history,content.metadata.labels";

/// Where a CQL-based source got to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowCursor {
    /// The newest change time found so far; the next window starts [`OVERLAP`] before it.
    pub since: DateTime<Utc>,
    /// Changes before this instant are never delivered (the trigger's `start`).
    pub not_before: DateTime<Utc>,
    /// Events already delivered that a later window may find again: key → change time.
    #[serde(default)]
    pub seen: BTreeMap<String, DateTime<Utc>>,
}

/// Which date of the content a source watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// CQL `created`, the creation date (`history.createdDate`).
    Created,
    /// CQL `lastmodified`, the date of the current version (`version.when`).
    Modified,
}

impl Moment {
    fn field(self) -> &'static str {
        match self {
            Moment::Created => "created",
            Moment::Modified => "lastmodified",
        }
    }
}

/// Where a source finds its changes.
pub enum Find {
    /// A CQL search for this condition, without dates or ordering (the window adds both).
    Cql(String),
    /// Every space of v2 `/spaces` with these query parameters. The listing can neither filter
    /// nor sort by date, so each poll reads every space (a site has few, capped at
    /// [`MAX_SPACES_LISTED`]) and the window keeps those created inside it. Its dates are
    /// exact instants: no minute rounding, no time zone.
    Spaces(Vec<(&'static str, String)>),
}

impl Find {
    /// The first instant of the window of a cursor at `since`.
    fn window_start(&self, since: DateTime<Utc>, zone: Option<Tz>) -> DateTime<Utc> {
        match self {
            Find::Cql(_) => cql_window_start(since - OVERLAP, zone).0,
            Find::Spaces(_) => since - OVERLAP,
        }
    }
}

/// What one source searches for.
pub struct Watch {
    /// The event kind (`page_created`) and the first part of the de-duplication key.
    pub kind: &'static str,
    pub find: Find,
    pub moment: Moment,
    /// Versions below this are not events (1 for creations and for every new version, 2 for
    /// updates).
    pub min_version: u64,
}

/// The settings content sources share.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct ContentSettings {
    /// Only content of this space: a space key (`ENG`) or a numeric space id.
    #[serde(default)]
    pub space: Option<String>,
    /// Only content that has one of these labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Where the first poll starts: `now` (the default: no backlog) or an RFC 3339 timestamp
    /// such as `2026-11-30T09:00:00Z` (changes since then are delivered).
    #[serde(default)]
    pub start: Option<String>,
}

impl ContentSettings {
    /// The CQL condition for content of `cql_type` with these settings.
    pub async fn filter(&self, cql_type: &str, client: &Client<'_>) -> Result<String, ActionError> {
        let mut filter = format!("type = {cql_type}");
        filter.push_str(&space_condition(self.space.as_deref(), client).await?);
        if !self.labels.is_empty() {
            let labels: Vec<String> = self.labels.iter().map(|l| quote(l)).collect();
            filter.push_str(&format!(" and label in ({})", labels.join(", ")));
        }
        Ok(filter)
    }
}

/// ` and space = "KEY"` for a `space` setting (empty without one); a space id is resolved to
/// its key (CQL's `space` takes keys).
pub async fn space_condition(
    space: Option<&str>,
    client: &Client<'_>,
) -> Result<String, ActionError> {
    let Some(space) = space else {
        return Ok(String::new());
    };
    let key = match SpaceRef::parse(space, "space")? {
        SpaceRef::Key(key) => {
            known_space(client, &key).await?;
            key
        }
        SpaceRef::Id(id) => space_key(client, &id).await?,
    };
    Ok(format!(" and space = {}", quote(&key)))
}

/// (API base, upper-case key) of the spaces found by [`known_space`] in this process.
fn known_spaces() -> &'static Mutex<HashSet<(String, String)>> {
    static KNOWN: OnceLock<Mutex<HashSet<(String, String)>>> = OnceLock::new();
    KNOWN.get_or_init(Default::default)
}

/// Fails unless the connection sees a space with this key: a search of an unknown space finds
/// nothing, so a mistyped key would make a source that never delivers, without a word. Asked
/// by CQL (`type = space`), which needs no scope beyond the search's; once per process.
async fn known_space(client: &Client<'_>, key: &str) -> Result<(), ConfluenceError> {
    let known = (client.info().api_base.clone(), key.to_uppercase());
    if known_spaces().lock().contains(&known) {
        return Ok(());
    }
    let request = Request::get(Api::V1, "/search")
        .query("cql", format!("type = space and space = {}", quote(key)))
        .query("limit", 1)
        .about(format!("space {key}"));
    let found = client.json(&request).await?;
    if found["results"].as_array().is_none_or(Vec::is_empty) {
        return Err(ConfluenceError::UnknownSpace {
            key: key.to_string(),
            site: client.info().site_url.clone(),
        });
    }
    known_spaces().lock().insert(known);
    Ok(())
}

/// ` and container = ID` for a `content_id` setting (a page or blog post; empty without one).
pub fn container_condition(content_id: Option<&str>) -> Result<String, ActionError> {
    match content_id {
        None => Ok(String::new()),
        Some(id) => Ok(format!(
            " and container = {}",
            crate::input::content_id(id, "content_id")?
        )),
    }
}

/// A CQL string literal.
pub fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

async fn space_key(client: &Client<'_>, id: &str) -> Result<String, ActionError> {
    let request = Request::get(Api::V2, format!("/spaces/{id}")).about(format!("space {id}"));
    let space = client.json(&request).await?;
    space
        .get("key")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ActionError::failed(format!("space {id} has no key in Confluence's answer")))
}

/// Reads the `start` setting: `now` (or absent) or an RFC 3339 timestamp.
pub fn start_instant(
    start: Option<&str>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ActionError> {
    match start.map(str::trim) {
        None | Some("now") => Ok(now),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                ActionError::invalid_input(format!(
                    "setting `start` is {text:?} ({e}); give `now` or an RFC 3339 timestamp such as 2026-11-30T09:00:00Z"
                ))
            }),
    }
}

/// The user's time zone (`timeZone` of v1 `/user/current`); `None` when Confluence does not say
/// or names a zone this build does not know.
pub async fn user_time_zone(client: &Client<'_>) -> Result<Option<Tz>, ActionError> {
    let user = client
        .json(&Request::get(Api::V1, "/user/current").about("the current user"))
        .await?;
    Ok(user
        .get("timeZone")
        .and_then(Value::as_str)
        .and_then(|zone| zone.parse().ok()))
}

/// The first instant of the CQL window that starts at `from`, and the date CQL is given for it.
pub fn cql_window_start(from: DateTime<Utc>, zone: Option<Tz>) -> (DateTime<Utc>, String) {
    let floor = |naive: NaiveDateTime| {
        naive
            .with_second(0)
            .and_then(|n| n.with_nanosecond(0))
            .unwrap_or(naive)
    };
    match zone {
        Some(zone) => {
            let local = floor(from.with_timezone(&zone).naive_local());
            // In a DST gap or fold, the earliest reading (or an hour before) keeps the window wide.
            let instant = zone
                .from_local_datetime(&local)
                .earliest()
                .map_or(from - Duration::hours(1), |t| t.with_timezone(&Utc));
            (
                instant.min(from),
                local.format("%Y-%m-%d %H:%M").to_string(),
            )
        }
        None => {
            let instant = floor(from.naive_utc()).and_utc() - UNKNOWN_ZONE_MARGIN;
            (instant, instant.format("%Y-%m-%d %H:%M").to_string())
        }
    }
}

/// One change found by a search or a listing.
struct Change {
    id: String,
    version: u64,
    at: DateTime<Utc>,
    /// The title of content, the name of a space.
    title: Value,
    /// `page`, `blogpost`, `comment`, `attachment`, `space`.
    object_type: Value,
    space: Value,
    /// The page or blog post of a comment or an attachment.
    container: Option<Value>,
    content: Value,
}

impl Change {
    /// A v1 search result with its expanded content.
    fn from_search(result: &mut Value, moment: Moment) -> Option<Change> {
        let content = result.get_mut("content")?;
        let at = match moment {
            Moment::Created => content.pointer("/history/createdDate"),
            Moment::Modified => content.pointer("/version/when"),
        }?;
        Some(Change {
            id: content.get("id")?.as_str()?.to_string(),
            version: content.pointer("/version/number")?.as_u64()?,
            at: instant(at)?,
            title: content.get("title").cloned().unwrap_or(Value::Null),
            object_type: content.get("type").cloned().unwrap_or(Value::Null),
            space: content.get("space").map_or(Value::Null, space_summary),
            container: content.get("container").cloned(),
            content: content.take(),
        })
    }

    /// A v2 space: created once, so always version 1.
    fn from_space(space: &mut Value, _: Moment) -> Option<Change> {
        Some(Change {
            id: space.get("id")?.as_str()?.to_string(),
            version: 1,
            at: instant(space.get("createdAt")?)?,
            title: space.get("name").cloned().unwrap_or(Value::Null),
            object_type: json!("space"),
            space: space_summary(space),
            container: None,
            content: space.take(),
        })
    }

    fn event(self, kind: &str, observed_at: DateTime<Utc>) -> Value {
        let mut event = json!({
            "kind": kind,
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "type": self.object_type,
            "space": self.space,
            "at": self.at,
            "content": self.content,
            "observed_at": observed_at,
        });
        if let Some(container) = self.container {
            event["container"] = container;
        }
        event
    }
}

fn instant(value: &Value) -> Option<DateTime<Utc>> {
    Some(
        DateTime::parse_from_rfc3339(value.as_str()?)
            .ok()?
            .with_timezone(&Utc),
    )
}

/// `{"id", "key", "name"}` of a v1 or v2 space.
fn space_summary(space: &Value) -> Value {
    json!({"id": space.get("id"), "key": space.get("key"), "name": space.get("name")})
}

/// A v1 search for `cql` with everything a change needs expanded, a full page at a time.
pub fn search_request(cql: String) -> Request {
    Request::get(Api::V1, "/search")
        .query("cql", cql)
        .query("expand", EXPAND)
        .query("limit", PAGE_SIZE)
        .about("the search of the polling source")
}

/// What a search or listing yields, page after page.
type Found<'c> = BoxStream<'c, Result<Value, ConfluenceError>>;
/// Reads one result of a [`Find`] as a change, taking its content out of it (a result is
/// left whole when it is no change).
type ReadChange = fn(&mut Value, Moment) -> Option<Change>;

/// One poll of `watch`: hands the events since `cursor` (the first poll starts at `start`) to
/// `events`, oldest first, as the search finds them; the next cursor.
pub async fn poll(
    client: &Client<'_>,
    watch: &Watch,
    start: Option<&str>,
    cursor: Option<WindowCursor>,
    events: &EventSink,
) -> Result<WindowCursor, ActionError> {
    let now = Utc::now();
    let mut cursor = match cursor {
        Some(cursor) => cursor,
        None => {
            let start = start_instant(start, now)?;
            WindowCursor {
                since: start,
                not_before: start,
                seen: BTreeMap::new(),
            }
        }
    };
    let (zone, found, read): (_, Found<'_>, ReadChange) = match &watch.find {
        Find::Cql(filter) => {
            let zone = user_time_zone(client).await?;
            let (_, from_text) = cql_window_start(cursor.since - OVERLAP, zone);
            let field = watch.moment.field();
            let cql = format!(
                "({filter}) and {field} >= {} order by {field} asc",
                quote(&from_text)
            );
            let found = client.items(search_request(cql), u32::MAX).boxed();
            (zone, found, Change::from_search)
        }
        Find::Spaces(query) => {
            let mut request = Request::get(Api::V2, "/spaces")
                .query("limit", PAGE_SIZE)
                .about("the spaces of the polling source");
            for (name, value) in query {
                request = request.query(name, value);
            }
            // One more than the cap, to tell a site at the cap from one above it.
            let mut spaces: Vec<Value> = client
                .items(request, MAX_SPACES_LISTED + 1)
                .try_collect()
                .await?;
            if spaces.len() > MAX_SPACES_LISTED as usize {
                return Err(ActionError::failed(format!(
                    "the site has more than {MAX_SPACES_LISTED} spaces matching the source's settings; narrow them with `type`"
                )));
            }
            // The listing is in id order; the window walks creation dates, oldest first, so
            // that a poll stopped at MAX_EVENTS_PER_POLL leaves no older space behind.
            spaces.sort_by_cached_key(|space| space.get("createdAt").and_then(instant));
            let found = stream::iter(spaces.into_iter().map(Ok)).boxed();
            (None, found, Change::from_space)
        }
    };
    let from = watch.find.window_start(cursor.since, zone);
    let mut found = found;
    let mut delivered = 0;
    while let Some(result) = found.next().await {
        let mut result = result?;
        // A result without an id, a version or the watched date cannot be windowed: say so
        // rather than drop it silently.
        let mut change = read(&mut result, watch.moment).ok_or_else(|| {
            ActionError::failed(format!(
                "a result of the source's search has no id, version or {} date ({} {:?}); the source's CQL must match pages, blog posts, comments or attachments",
                watch.moment.field(),
                result.get("entityType").and_then(Value::as_str).unwrap_or("result"),
                result.get("title").and_then(Value::as_str).unwrap_or(""),
            ))
        })?;
        if change.at < from || change.at < cursor.not_before || change.version < watch.min_version {
            continue;
        }
        // Creations are one event per content whatever its version now: the event's version is
        // 1 (the current one is in `content.version`), so that its key, which the run store also
        // uses to skip events a crashed poll already recorded, does not change with later edits.
        if watch.moment == Moment::Created {
            change.version = 1;
        }
        let key = format!("{}:{}:{}", watch.kind, change.id, change.version);
        cursor.since = cursor.since.max(change.at);
        if cursor.seen.contains_key(&key) {
            continue;
        }
        cursor.seen.insert(key, change.at);
        events.deliver(change.event(watch.kind, now)).await?;
        delivered += 1;
        if delivered == MAX_EVENTS_PER_POLL {
            break;
        }
    }
    let next_from = watch.find.window_start(cursor.since, zone);
    cursor.seen.retain(|_, at| *at >= next_from);
    Ok(cursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_start_on_a_minute_of_the_user_zone() {
        let from = DateTime::parse_from_rfc3339("2026-03-01T09:30:45Z")
            .unwrap()
            .with_timezone(&Utc);
        let (instant, text) = cql_window_start(from, Some(chrono_tz::Europe::Berlin));
        assert_eq!(text, "2026-03-01 10:30");
        assert_eq!(instant.to_rfc3339(), "2026-03-01T09:30:00+00:00");
        let (instant, text) = cql_window_start(from, None);
        assert_eq!(text, "2026-02-28 19:30", "unknown zone: 14 hours wider");
        assert_eq!(instant.to_rfc3339(), "2026-02-28T19:30:00+00:00");
    }

    #[test]
    fn start_is_now_or_a_timestamp() {
        let now = Utc::now();
        assert_eq!(start_instant(None, now).unwrap(), now);
        assert_eq!(start_instant(Some("now"), now).unwrap(), now);
        assert_eq!(
            start_instant(Some("2026-11-30T09:00:00+01:00"), now)
                .unwrap()
                .to_rfc3339(),
            "2026-11-30T08:00:00+00:00"
        );
        let error = start_instant(Some("yesterday"), now).unwrap_err();
        assert!(error.message.contains("setting `start`"), "{error}");
    }

    #[test]
    fn a_change_needs_content_with_its_version_and_date() {
        let mut page = json!({"content": {"id": "7", "title": "T", "version": {"number": 3, "when": "2026-03-01T09:30:45.000Z"}, "history": {"createdDate": "2026-02-01T08:00:00.000Z"}}});
        let modified = Change::from_search(&mut page.clone(), Moment::Modified).unwrap();
        assert_eq!((modified.id.as_str(), modified.version), ("7", 3));
        assert_eq!(modified.at.to_rfc3339(), "2026-03-01T09:30:45+00:00");
        let created = Change::from_search(&mut page, Moment::Created).unwrap();
        assert_eq!(created.at.to_rfc3339(), "2026-02-01T08:00:00+00:00");
        let mut space =
            json!({"space": {"key": "ENG"}, "entityType": "space", "title": "Engineering"});
        assert!(Change::from_search(&mut space, Moment::Modified).is_none());
        let mut unexpanded = json!({"content": {"id": "7", "_expandable": {"version": ""}}});
        assert!(Change::from_search(&mut unexpanded, Moment::Modified).is_none());
        assert_eq!(
            unexpanded["content"]["id"], "7",
            "left whole for the error message"
        );
    }

    #[test]
    fn cql_strings_are_escaped() {
        assert_eq!(quote(r#"a "b" \c"#), r#""a \"b\" \\c""#);
    }
}
