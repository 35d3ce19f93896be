//! The search index: documents derived from content, updated through a queue so that writes
//! become searchable only after the configured lag (Confluence's index lags about 20 s). The
//! documents are made by the site data (`SiteData::search_doc`).

use super::model::{ContentKind, Status};

/// What a search document is: CQL's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocType {
    Page,
    BlogPost,
    Comment,
    Attachment,
    Space,
}

impl DocType {
    pub fn of(kind: ContentKind) -> Self {
        match kind {
            ContentKind::Page => DocType::Page,
            ContentKind::BlogPost => DocType::BlogPost,
        }
    }
    /// The CQL / v1 type name.
    pub fn type_name(self) -> &'static str {
        match self {
            DocType::Page => "page",
            DocType::BlogPost => "blogpost",
            DocType::Comment => "comment",
            DocType::Attachment => "attachment",
            DocType::Space => "space",
        }
    }
}
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// What CQL sees of one page, blog post, comment, attachment or space.
#[derive(Debug, Clone)]
pub struct SearchDoc {
    pub id: u64,
    pub kind: DocType,
    pub status: Status,
    pub space_key: String,
    pub title: String,
    pub title_lower: String,
    pub text_lower: String,
    pub labels: Vec<String>,
    pub creator: String,
    pub contributor: String,
    pub created: DateTime<Utc>,
    pub lastmodified: DateTime<Utc>,
    pub parent: Option<u64>,
    pub ancestors: Vec<u64>,
    /// The page or blog post a comment or attachment belongs to.
    pub container: Option<u64>,
}

#[derive(Debug, Default)]
pub struct SearchIndex {
    docs: BTreeMap<u64, Arc<SearchDoc>>,
    /// (visible at, content id, new doc or None for removal), in visibility order.
    pending: VecDeque<(DateTime<Utc>, u64, Option<Arc<SearchDoc>>)>,
}

impl SearchIndex {
    /// Indexes `docs` immediately, replacing everything (startup, snapshot load, bulk seeding).
    pub fn rebuild(&mut self, docs: impl IntoIterator<Item = Arc<SearchDoc>>) {
        self.pending.clear();
        self.docs = docs.into_iter().map(|d| (d.id, d)).collect();
    }

    pub fn insert_now(&mut self, doc: Arc<SearchDoc>) {
        self.docs.insert(doc.id, doc);
    }

    pub fn queue(&mut self, id: u64, doc: Option<Arc<SearchDoc>>, visible_at: DateTime<Utc>) {
        // Keep the queue ordered even if the lag was changed between writes.
        let pos = self
            .pending
            .iter()
            .rposition(|(t, _, _)| *t <= visible_at)
            .map_or(0, |p| p + 1);
        self.pending.insert(pos, (visible_at, id, doc));
    }

    /// Applies queued updates that are due, then returns the searchable documents.
    pub fn visible(&mut self, now: DateTime<Utc>) -> &BTreeMap<u64, Arc<SearchDoc>> {
        while self.pending.front().is_some_and(|(t, _, _)| *t <= now) {
            if let Some((_, id, doc)) = self.pending.pop_front() {
                match doc {
                    Some(d) => {
                        self.docs.insert(id, d);
                    }
                    None => {
                        self.docs.remove(&id);
                    }
                }
            }
        }
        &self.docs
    }
}

/// Plain text of a storage-format body (for `text ~` and excerpts).
pub fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for ch in s.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}
