//! One site's Confluence data with the indexes the handlers need, and the mutations shared by
//! request handlers, seeding and the admin API.

use super::model::*;
use super::search_index::{strip_tags, DocType, SearchDoc, SearchIndex};
use crate::api_error::ApiError;
use chrono::{DateTime, Utc};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A site: its identity, data and (lagging) search index.
#[derive(Debug)]
pub struct Site {
    pub info: SiteInfo,
    pub data: RwLock<SiteData>,
    pub index: Mutex<SearchIndex>,
}

impl Site {
    pub fn new(info: SiteInfo, data: SiteData) -> Self {
        let mut index = SearchIndex::default();
        index.rebuild(data.search_docs());
        Site {
            info,
            data: RwLock::new(data),
            index: Mutex::new(index),
        }
    }

    /// Queues a reindex of content `id` that becomes searchable at `visible_at`.
    pub fn reindex(&self, data: &SiteData, id: u64, visible_at: DateTime<Utc>) {
        let doc = data.search_doc(id);
        self.index.lock().queue(id, doc, visible_at);
    }

    /// Indexes content `id` immediately (admin seeding: seeded data is not "just written").
    pub fn index_now(&self, data: &SiteData, id: u64) {
        if let Some(doc) = data.search_doc(id) {
            self.index.lock().insert_now(doc);
        }
    }

    /// `https://x.atlassian.net/wiki`: the `_links.base` of responses.
    pub fn wiki_base(&self) -> String {
        format!("{}/wiki", self.info.url)
    }
}

/// `Current` when an object and its page or blog post both are; otherwise the first that is not.
fn both_current(own: Status, container: Status) -> Status {
    if own == Status::Current {
        container
    } else {
        own
    }
}

/// Allocates content ids (numeric like Confluence's) unique across all sites.
#[derive(Debug, Default)]
pub struct IdGen(AtomicU64);

impl IdGen {
    pub fn starting_at(n: u64) -> Self {
        IdGen(AtomicU64::new(n))
    }
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
    pub fn peek(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    pub fn set_at_least(&self, n: u64) {
        self.0.fetch_max(n, Ordering::Relaxed);
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SiteData {
    pub spaces: BTreeMap<u64, Space>,
    pub contents: BTreeMap<u64, Content>,
    pub comments: BTreeMap<u64, Comment>,
    pub labels: BTreeMap<u64, Label>,
    pub attachments: BTreeMap<u64, Attachment>,
    pub properties: BTreeMap<u64, Property>,
    pub tasks: BTreeMap<u64, Task>,
    #[serde(skip)]
    idx: Indexes,
    #[serde(skip)]
    ids: Arc<IdGen>,
}

/// Derived lookups, rebuilt after loading a snapshot.
#[derive(Debug, Default)]
struct Indexes {
    /// Upper-case space key -> space id (keys ignore case, as in Confluence).
    space_keys: HashMap<String, u64>,
    /// Parent id -> child page ids in position order.
    children: HashMap<u64, Vec<u64>>,
    /// (prefix, name) -> label id.
    label_names: HashMap<(String, String), u64>,
    /// (space, lower-case title) -> current page, for Confluence's unique-title rule (which
    /// ignores case).
    titles: HashMap<(u64, String), u64>,
    /// Space -> ids of its pages and blog posts, so space-filtered listings skip other spaces.
    by_space: HashMap<u64, BTreeSet<u64>>,
    /// (created ms, id) and (last modified ms, id) of all content, for date-sorted listings.
    by_created: BTreeSet<(i64, u64)>,
    by_modified: BTreeSet<(i64, u64)>,
}

/// Fields of a new page or blog post.
#[derive(Debug, Clone)]
pub struct NewContent {
    pub kind: ContentKind,
    pub space_id: u64,
    pub parent_id: Option<u64>,
    pub title: String,
    pub body: Body,
    pub status: Status,
    pub author_id: String,
}

impl NewContent {
    /// A current page or blog post with a storage-format body (seeds, demo data, admin API).
    pub fn current(
        kind: ContentKind,
        space_id: u64,
        parent_id: Option<u64>,
        title: String,
        storage: String,
        author_id: String,
    ) -> NewContent {
        NewContent {
            kind,
            space_id,
            parent_id,
            title,
            body: Body::storage(storage),
            status: Status::Current,
            author_id,
        }
    }
}

/// Fields of an update (PUT) of a page or blog post.
#[derive(Debug, Clone)]
pub struct ContentUpdate {
    pub title: String,
    pub body: Option<Body>,
    pub status: Status,
    pub version: u32,
    pub message: String,
    pub minor_edit: bool,
    pub parent_id: Option<u64>,
    pub author_id: String,
}

impl SiteData {
    /// What CQL sees of the page, blog post, comment, attachment or space `id` (None when gone).
    pub fn search_doc(&self, id: u64) -> Option<Arc<SearchDoc>> {
        if let Some(cm) = self.comments.get(&id) {
            return self.comment_doc(cm);
        }
        if let Some(a) = self.attachments.get(&id) {
            return self.attachment_doc(a);
        }
        if let Some(s) = self.spaces.get(&id) {
            return Some(Arc::new(SearchDoc {
                id,
                kind: DocType::Space,
                status: Status::Current,
                space_key: s.key.clone(),
                title: s.name.clone(),
                title_lower: s.name.to_lowercase(),
                text_lower: s.description.to_lowercase(),
                labels: Vec::new(),
                creator: s.author_id.clone(),
                contributor: s.author_id.clone(),
                created: s.created_at,
                lastmodified: s.created_at,
                parent: None,
                ancestors: Vec::new(),
                container: None,
            }));
        }
        let c = self.contents.get(&id)?;
        let space_key = self.spaces.get(&c.space_id)?.key.clone();
        let cur = c.current();
        Some(Arc::new(SearchDoc {
            id,
            kind: DocType::of(c.kind),
            status: c.status,
            space_key,
            title: cur.title.clone(),
            title_lower: cur.title.to_lowercase(),
            text_lower: strip_tags(&cur.body.value).to_lowercase(),
            labels: c
                .labels
                .iter()
                .filter_map(|l| self.labels.get(l).map(|l| l.name.clone()))
                .collect(),
            creator: c.author_id.clone(),
            contributor: cur.author_id.clone(),
            created: c.created_at,
            lastmodified: cur.created_at,
            parent: c.parent_id,
            ancestors: self.ancestors(id),
            container: None,
        }))
    }

    /// A comment is found while it and its page or blog post are current.
    fn comment_doc(&self, cm: &Comment) -> Option<Arc<SearchDoc>> {
        let on = self.contents.get(&cm.container_id)?;
        let first = cm.versions.first()?;
        let cur = cm.current();
        let title = format!("Re: {}", on.title());
        let mut ancestors = self.ancestors(on.id);
        ancestors.push(on.id);
        Some(Arc::new(SearchDoc {
            id: cm.id,
            kind: DocType::Comment,
            status: both_current(cm.status, on.status),
            space_key: self.spaces.get(&on.space_id)?.key.clone(),
            title_lower: title.to_lowercase(),
            title,
            text_lower: strip_tags(&cur.body.value).to_lowercase(),
            labels: Vec::new(),
            creator: first.author_id.clone(),
            contributor: cur.author_id.clone(),
            created: first.created_at,
            lastmodified: cur.created_at,
            parent: None,
            ancestors,
            container: Some(on.id),
        }))
    }

    /// An attachment is found while it and its page or blog post are current.
    fn attachment_doc(&self, a: &Attachment) -> Option<Arc<SearchDoc>> {
        let on = self.contents.get(&a.container_id)?;
        let mut ancestors = self.ancestors(on.id);
        ancestors.push(on.id);
        Some(Arc::new(SearchDoc {
            id: a.id,
            kind: DocType::Attachment,
            status: both_current(a.status, on.status),
            space_key: self.spaces.get(&on.space_id)?.key.clone(),
            title: a.title.clone(),
            title_lower: a.title.to_lowercase(),
            text_lower: a.comment.to_lowercase(),
            labels: Vec::new(),
            creator: a.author_id.clone(),
            contributor: a.author_id.clone(),
            created: a.created_at,
            lastmodified: a.version_at,
            parent: None,
            ancestors,
            container: Some(on.id),
        }))
    }

    /// The search documents of everything searchable: content, comments, attachments, spaces.
    pub fn search_docs(&self) -> impl Iterator<Item = Arc<SearchDoc>> + '_ {
        self.contents
            .keys()
            .chain(self.comments.keys())
            .chain(self.attachments.keys())
            .chain(self.spaces.keys())
            .filter_map(|&id| self.search_doc(id))
    }

    /// Ids of the comments and attachments of content `id` (reindexed when it changes status).
    pub fn dependents(&self, id: u64) -> Vec<u64> {
        self.comments
            .values()
            .filter(|c| c.container_id == id)
            .map(|c| c.id)
            .chain(
                self.attachments
                    .values()
                    .filter(|a| a.container_id == id)
                    .map(|a| a.id),
            )
            .collect()
    }

    pub fn new(ids: Arc<IdGen>) -> Self {
        SiteData {
            ids,
            ..Default::default()
        }
    }

    /// Re-attaches the id generator and rebuilds indexes after deserializing.
    pub fn attach(&mut self, ids: Arc<IdGen>) {
        self.ids = ids;
        // Every object keeps at least one version; a hand-edited snapshot must not break that.
        self.contents.retain(|_, c| !c.versions.is_empty());
        self.comments.retain(|_, c| !c.versions.is_empty());
        let mut idx = Indexes::default();
        for s in self.spaces.values() {
            idx.space_keys.insert(s.key.to_ascii_uppercase(), s.id);
        }
        for c in self.contents.values() {
            idx.by_space.entry(c.space_id).or_default().insert(c.id);
            idx.by_created
                .insert((c.created_at.timestamp_millis(), c.id));
            idx.by_modified
                .insert((c.current().created_at.timestamp_millis(), c.id));
            if let Some(p) = c.parent_id {
                idx.children.entry(p).or_default().push(c.id);
            }
            if c.kind == ContentKind::Page && c.status == Status::Current {
                idx.titles
                    .insert((c.space_id, c.title().to_lowercase()), c.id);
            }
        }
        for list in idx.children.values_mut() {
            let contents = &self.contents;
            list.sort_by_key(|id| contents.get(id).map(|c| (c.position, c.id)));
        }
        for l in self.labels.values() {
            idx.label_names
                .insert((l.prefix.clone(), l.name.clone()), l.id);
        }
        self.idx = idx;
    }

    pub fn next_id(&self) -> u64 {
        self.ids.next()
    }

    pub fn space_by_key(&self, key: &str) -> Option<&Space> {
        self.idx
            .space_keys
            .get(&key.to_ascii_uppercase())
            .and_then(|id| self.spaces.get(id))
    }

    /// Ids of the pages and blog posts of the given spaces (borrowed for one space).
    pub fn content_in_spaces(&self, spaces: &[u64]) -> std::borrow::Cow<'_, BTreeSet<u64>> {
        use std::borrow::Cow;
        match spaces {
            [one] => self
                .idx
                .by_space
                .get(one)
                .map_or_else(|| Cow::Owned(BTreeSet::new()), Cow::Borrowed),
            many => Cow::Owned(
                many.iter()
                    .filter_map(|s| self.idx.by_space.get(s))
                    .flat_map(|set| set.iter().copied())
                    .collect(),
            ),
        }
    }

    /// Content ids in (created or last-modified, id) order, strictly after (or before, when
    /// descending) the position `after`.
    pub fn ids_by_time(
        &self,
        modified: bool,
        desc: bool,
        after: Option<(i64, u64)>,
    ) -> Box<dyn Iterator<Item = u64> + '_> {
        use std::ops::Bound::{Excluded, Unbounded};
        let set = if modified {
            &self.idx.by_modified
        } else {
            &self.idx.by_created
        };
        let ids = |(_, id): &(i64, u64)| *id;
        match (desc, after) {
            (false, None) => Box::new(set.iter().map(ids)),
            (false, Some(a)) => Box::new(set.range((Excluded(a), Unbounded)).map(ids)),
            (true, None) => Box::new(set.iter().rev().map(ids)),
            (true, Some(a)) => Box::new(set.range(..a).rev().map(ids)),
        }
    }

    pub fn children_of(&self, id: u64) -> &[u64] {
        self.idx.children.get(&id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Creates a space and its home page.
    pub fn create_space(
        &mut self,
        key: &str,
        name: &str,
        description: &str,
        author_id: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, ApiError> {
        if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ApiError::bad_request(format!(
                "Space key `{key}` is invalid: use letters and digits only"
            )));
        }
        if name.trim().is_empty() {
            return Err(ApiError::bad_request("Space name must not be empty"));
        }
        if self.idx.space_keys.contains_key(&key.to_ascii_uppercase()) {
            return Err(ApiError::bad_request(format!(
                "A space with key {key} already exists"
            )));
        }
        let id = self.next_id();
        self.spaces.insert(
            id,
            Space {
                id,
                key: key.to_string(),
                name: name.to_string(),
                kind: "global".to_string(),
                status: "current".to_string(),
                author_id: author_id.to_string(),
                created_at: now,
                homepage_id: None,
                description: description.to_string(),
            },
        );
        self.idx.space_keys.insert(key.to_ascii_uppercase(), id);
        let home = self.create_content(
            NewContent::current(
                ContentKind::Page,
                id,
                None,
                format!("{name} Home"),
                format!("<p>Welcome to {name}.</p>"),
                author_id.to_string(),
            ),
            now,
        )?;
        if let Some(s) = self.spaces.get_mut(&id) {
            s.homepage_id = Some(home);
        }
        Ok(id)
    }

    /// Creates a page or blog post. Pages without a parent go under the space home page.
    pub fn create_content(&mut self, new: NewContent, now: DateTime<Utc>) -> Result<u64, ApiError> {
        let space = self.spaces.get(&new.space_id).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Space {} does not exist or you cannot see it",
                new.space_id
            ))
        })?;
        if new.title.trim().is_empty() && new.status == Status::Current {
            return Err(ApiError::bad_request("Title must not be empty"));
        }
        let parent_id = match (new.kind, new.parent_id) {
            (ContentKind::BlogPost, _) => None,
            (ContentKind::Page, Some(p)) => match self.contents.get(&p) {
                Some(pc)
                    if pc.kind == ContentKind::Page
                        && pc.space_id == new.space_id
                        && pc.status != Status::Deleted =>
                {
                    Some(p)
                }
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "Parent page {p} does not exist in space {} or you cannot see it",
                        space.key
                    )))
                }
            },
            (ContentKind::Page, None) => space.homepage_id,
        };
        if new.kind == ContentKind::Page && new.status == Status::Current {
            self.check_title_free(new.space_id, &new.title, None)?;
        }
        let id = self.next_id();
        let position = parent_id
            .and_then(|p| self.idx.children.get(&p))
            .and_then(|l| l.last())
            .and_then(|last| self.contents.get(last))
            .map_or(0, |c| c.position + 1);
        let content = Content {
            id,
            kind: new.kind,
            status: new.status,
            space_id: new.space_id,
            parent_id,
            position,
            author_id: new.author_id.clone(),
            owner_id: new.author_id.clone(),
            created_at: now,
            versions: vec![Version::first(new.author_id, now, new.title, new.body)],
            labels: Vec::new(),
        };
        if content.kind == ContentKind::Page && content.status == Status::Current {
            self.idx
                .titles
                .insert((content.space_id, content.title().to_lowercase()), id);
        }
        if let Some(p) = parent_id {
            self.idx.children.entry(p).or_default().push(id);
        }
        self.idx
            .by_space
            .entry(content.space_id)
            .or_default()
            .insert(id);
        self.idx.by_created.insert((now.timestamp_millis(), id));
        self.idx.by_modified.insert((now.timestamp_millis(), id));
        self.contents.insert(id, content);
        Ok(id)
    }

    fn check_title_free(
        &self,
        space_id: u64,
        title: &str,
        except: Option<u64>,
    ) -> Result<(), ApiError> {
        match self.idx.titles.get(&(space_id, title.to_lowercase())) {
            // Clients compare this exact text to recognise a duplicate title.
            Some(&other) if Some(other) != except => Err(ApiError::bad_request(
                "A page with this title already exists: A page already exists with the same TITLE in this space",
            )),
            _ => Ok(()),
        }
    }

    /// Applies a PUT: the version number must be the current one plus one (409 otherwise).
    pub fn update_content(
        &mut self,
        id: u64,
        up: ContentUpdate,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let c = self
            .contents
            .get(&id)
            .ok_or_else(|| ApiError::missing("content", id))?;
        if c.status == Status::Deleted {
            return Err(ApiError::missing("content", id));
        }
        let current = c.current().number;
        if up.version != current + 1 {
            let what = c.kind.type_name();
            return Err(ApiError::conflict(format!(
                "Version must be incremented when updating a {what}. Current Version: [{current}]. Provided version: [{}]",
                up.version
            )));
        }
        if up.title.trim().is_empty() {
            return Err(ApiError::bad_request("Title must not be empty"));
        }
        let (kind, space_id, old_title, old_status, old_parent) = (
            c.kind,
            c.space_id,
            c.title().to_string(),
            c.status,
            c.parent_id,
        );
        if kind == ContentKind::Page && up.status == Status::Current {
            self.check_title_free(space_id, &up.title, Some(id))?;
        }
        let new_parent = match up.parent_id {
            Some(p) if Some(p) != old_parent && kind == ContentKind::Page => {
                if p == id || self.ancestors(p).contains(&id) {
                    return Err(ApiError::bad_request(
                        "A page cannot be moved under itself or its descendants",
                    ));
                }
                match self.contents.get(&p) {
                    Some(pc) if pc.kind == ContentKind::Page && pc.space_id == space_id => Some(p),
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "Parent page {p} does not exist or you cannot see it"
                        )))
                    }
                }
            }
            _ => old_parent,
        };
        if kind == ContentKind::Page && old_status == Status::Current {
            self.idx
                .titles
                .remove(&(space_id, old_title.to_lowercase()));
        }
        if kind == ContentKind::Page && up.status == Status::Current {
            self.idx
                .titles
                .insert((space_id, up.title.to_lowercase()), id);
        }
        if new_parent != old_parent {
            if let Some(op) = old_parent {
                if let Some(l) = self.idx.children.get_mut(&op) {
                    l.retain(|&x| x != id);
                }
            }
            if let Some(np) = new_parent {
                self.idx.children.entry(np).or_default().push(id);
            }
        }
        let c = self
            .contents
            .get_mut(&id)
            .ok_or_else(|| ApiError::missing("content", id))?;
        let body = up.body.unwrap_or_else(|| c.current().body.clone());
        self.idx
            .by_modified
            .remove(&(c.current().created_at.timestamp_millis(), id));
        self.idx.by_modified.insert((now.timestamp_millis(), id));
        c.parent_id = new_parent;
        c.status = up.status;
        c.versions.push(Version {
            number: up.version,
            message: up.message,
            minor_edit: up.minor_edit,
            author_id: up.author_id,
            created_at: now,
            title: up.title,
            body,
        });
        Ok(())
    }

    /// DELETE: current content moves to the trash; with `purge`, trashed content is removed.
    pub fn delete_content(&mut self, id: u64, purge: bool) -> Result<(), ApiError> {
        let c = self
            .contents
            .get(&id)
            .ok_or_else(|| ApiError::missing("content", id))?;
        match (c.status, purge) {
            (Status::Trashed, true) => {
                let (parent, space) = (c.parent_id, c.space_id);
                self.idx
                    .by_created
                    .remove(&(c.created_at.timestamp_millis(), id));
                self.idx
                    .by_modified
                    .remove(&(c.current().created_at.timestamp_millis(), id));
                self.contents.remove(&id);
                if let Some(set) = self.idx.by_space.get_mut(&space) {
                    set.remove(&id);
                }
                if let Some(p) = parent {
                    if let Some(l) = self.idx.children.get_mut(&p) {
                        l.retain(|&x| x != id);
                    }
                }
                self.comments.retain(|_, cm| cm.container_id != id);
                self.attachments.retain(|_, a| a.container_id != id);
                self.properties.retain(|_, p| p.content_id != id);
                self.tasks.retain(|_, t| t.container_id != id);
                Ok(())
            }
            (Status::Trashed, false) | (Status::Deleted, _) => {
                Err(ApiError::missing("content", id))
            }
            (_, true) => Err(ApiError::bad_request(
                "Only content in the trash can be purged: delete it without purge first",
            )),
            (_, false) => {
                let (space_id, title, kind) = (c.space_id, c.title().to_string(), c.kind);
                if kind == ContentKind::Page {
                    self.idx.titles.remove(&(space_id, title.to_lowercase()));
                }
                if let Some(c) = self.contents.get_mut(&id) {
                    c.status = Status::Trashed;
                }
                Ok(())
            }
        }
    }

    /// Ancestors of a page, root first.
    pub fn ancestors(&self, id: u64) -> Vec<u64> {
        let mut out = Vec::new();
        let mut cur = self.contents.get(&id).and_then(|c| c.parent_id);
        while let Some(p) = cur {
            if out.contains(&p) {
                break;
            }
            out.push(p);
            cur = self.contents.get(&p).and_then(|c| c.parent_id);
        }
        out.reverse();
        out
    }

    /// Descendants in depth-first order with their depth (1 = child), up to `max_depth`.
    pub fn descendants(&self, id: u64, max_depth: u32) -> Vec<(u64, u32)> {
        let mut out = Vec::new();
        let mut stack: Vec<(u64, u32)> =
            self.children_of(id).iter().rev().map(|&c| (c, 1)).collect();
        while let Some((c, d)) = stack.pop() {
            out.push((c, d));
            if d < max_depth {
                stack.extend(self.children_of(c).iter().rev().map(|&k| (k, d + 1)));
            }
        }
        out
    }

    /// Adds a label to content, creating the label on first use. Returns the label id.
    pub fn add_label(
        &mut self,
        content_id: u64,
        prefix: &str,
        name: &str,
    ) -> Result<u64, ApiError> {
        let name = name.trim().to_lowercase();
        if name.is_empty()
            || name
                .chars()
                .any(|c| c.is_whitespace() || ":;,.?&[]()#^*@!<>".contains(c))
        {
            return Err(ApiError::bad_request(format!(
                "Label name `{name}` is not valid: labels cannot be empty or contain spaces or any of :;,.?&[]()#^*@!<>"
            )));
        }
        if !["global", "my", "team"].contains(&prefix) {
            return Err(ApiError::bad_request(format!(
                "Label prefix `{prefix}` is not valid: use global, my or team"
            )));
        }
        if !self.contents.contains_key(&content_id) {
            return Err(ApiError::missing("content", content_id));
        }
        let key = (prefix.to_string(), name.clone());
        let id = match self.idx.label_names.get(&key) {
            Some(&id) => id,
            None => {
                let id = self.next_id();
                self.labels.insert(
                    id,
                    Label {
                        id,
                        prefix: prefix.to_string(),
                        name,
                    },
                );
                self.idx.label_names.insert(key, id);
                id
            }
        };
        if let Some(c) = self.contents.get_mut(&content_id) {
            if !c.labels.contains(&id) {
                c.labels.push(id);
            }
        }
        Ok(id)
    }

    /// Removes a label (by name, any prefix) from content; 404 when it is not there.
    pub fn remove_label(&mut self, content_id: u64, name: &str) -> Result<(), ApiError> {
        let labels = &self.labels;
        let c = self
            .contents
            .get_mut(&content_id)
            .ok_or_else(|| ApiError::missing("content", content_id))?;
        let before = c.labels.len();
        c.labels
            .retain(|l| labels.get(l).is_none_or(|l| l.name != name));
        if c.labels.len() == before {
            return Err(ApiError::missing("label", name));
        }
        Ok(())
    }

    /// Ids of current content carrying a label.
    pub fn content_with_label(&self, label_id: u64, kind: ContentKind) -> Vec<u64> {
        self.contents
            .values()
            .filter(|c| {
                c.kind == kind && c.status == Status::Current && c.labels.contains(&label_id)
            })
            .map(|c| c.id)
            .collect()
    }
}
