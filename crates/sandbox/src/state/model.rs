//! The Confluence objects the sandbox stores.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An Atlassian site (one cloud id).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SiteInfo {
    pub cloudid: String,
    /// Site URL, e.g. `https://acme.atlassian.net`.
    pub url: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    pub account_id: String,
    pub display_name: String,
    pub email: String,
    pub time_zone: String,
    /// Whether the account can use the site (check-access-by-email answers those that cannot).
    pub has_access: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Current,
    Draft,
    Archived,
    Trashed,
    Deleted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Current => "current",
            Status::Draft => "draft",
            Status::Archived => "archived",
            Status::Trashed => "trashed",
            Status::Deleted => "deleted",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "current" => Status::Current,
            "draft" => Status::Draft,
            "archived" => Status::Archived,
            "trashed" => Status::Trashed,
            "deleted" => Status::Deleted,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Body {
    pub representation: String,
    pub value: String,
}

impl Body {
    /// A body in Confluence storage format (XHTML), the way the sandbox keeps content.
    pub fn storage(value: impl Into<String>) -> Body {
        Body {
            representation: "storage".into(),
            value: value.into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    pub number: u32,
    pub message: String,
    pub minor_edit: bool,
    pub author_id: String,
    pub created_at: DateTime<Utc>,
    pub title: String,
    pub body: Body,
}

impl Version {
    /// Version 1 of a new page, blog post or comment.
    pub fn first(
        author_id: String,
        created_at: DateTime<Utc>,
        title: String,
        body: Body,
    ) -> Version {
        Version {
            number: 1,
            message: String::new(),
            minor_edit: false,
            author_id,
            created_at,
            title,
            body,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum ContentKind {
    Page,
    BlogPost,
}

impl ContentKind {
    /// The v1 / CQL type name.
    pub fn type_name(self) -> &'static str {
        match self {
            ContentKind::Page => "page",
            ContentKind::BlogPost => "blogpost",
        }
    }
}

/// A page or blog post with its version history (last = current).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Content {
    pub id: u64,
    pub kind: ContentKind,
    pub status: Status,
    pub space_id: u64,
    pub parent_id: Option<u64>,
    pub position: i64,
    pub author_id: String,
    pub owner_id: String,
    pub created_at: DateTime<Utc>,
    pub versions: Vec<Version>,
    pub labels: Vec<u64>,
}

impl Content {
    pub fn current(&self) -> &Version {
        // Invariant: created with one version, versions only appended.
        &self.versions[self.versions.len() - 1]
    }
    pub fn title(&self) -> &str {
        &self.current().title
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Space {
    pub id: u64,
    pub key: String,
    pub name: String,
    pub kind: String,
    pub status: String,
    pub author_id: String,
    pub created_at: DateTime<Utc>,
    pub homepage_id: Option<u64>,
    pub description: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CommentKind {
    Footer,
    Inline,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InlineProps {
    pub text_selection: String,
    pub match_count: u32,
    pub match_index: u32,
    pub marker_ref: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comment {
    pub id: u64,
    pub kind: CommentKind,
    /// Page or blog post the comment belongs to.
    pub container_id: u64,
    pub parent_comment_id: Option<u64>,
    pub status: Status,
    pub versions: Vec<Version>,
    pub inline: Option<InlineProps>,
    pub resolution_status: Option<String>,
}

impl Comment {
    pub fn current(&self) -> &Version {
        &self.versions[self.versions.len() - 1]
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Label {
    pub id: u64,
    pub prefix: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attachment {
    pub id: u64,
    pub container_id: u64,
    pub title: String,
    pub media_type: String,
    pub comment: String,
    pub file_id: String,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    pub version: u32,
    pub version_at: DateTime<Utc>,
    pub author_id: String,
    /// Whether the current version was uploaded as a minor edit.
    #[serde(default)]
    pub minor_edit: bool,
    #[serde(with = "base64_bytes")]
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Property {
    pub id: u64,
    pub content_id: u64,
    pub key: String,
    pub value: serde_json::Value,
    pub version: u32,
    pub version_at: DateTime<Utc>,
    pub version_message: String,
    pub author_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    pub id: u64,
    pub local_id: String,
    pub space_id: u64,
    pub container_id: u64,
    pub container_kind: ContentKind,
    pub complete: bool,
    pub body: String,
    pub created_by: String,
    pub assigned_to: Option<String>,
    pub completed_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)
    }
}
