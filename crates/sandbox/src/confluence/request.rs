//! What several handlers read from a request the same way: status filters, the requested
//! version, the content a path names (with Confluence's 404s), and the id and version shapes of
//! request bodies.

use crate::api_error::ApiError;
use crate::params::Params;
use crate::state::model::{Content, ContentKind, Status, Version};
use crate::state::site::SiteData;
use axum::http::StatusCode;
use serde::Deserialize;

/// Statuses a request asks for (`status`, array); `default` when absent.
pub fn statuses(p: &Params, default: &[Status]) -> Result<Vec<Status>, ApiError> {
    let asked = p.all("status");
    if asked.is_empty() {
        return Ok(default.to_vec());
    }
    asked
        .into_iter()
        .map(|s| {
            Status::parse(s).ok_or_else(|| {
                ApiError::invalid_param(format!(
                    "Query parameter `status` has unsupported value `{s}`: expected current, archived, trashed, deleted or draft"
                ))
            })
        })
        .collect()
}

/// Statuses a v2 list asks for: like [`statuses`], but `draft` is refused, as Confluence does
/// (drafts are read one by one with `get-draft`).
pub fn list_statuses(p: &Params, default: &[Status]) -> Result<Vec<Status>, ApiError> {
    let st = statuses(p, default)?;
    if st.contains(&Status::Draft) {
        return Err(ApiError::invalid_param(
            "Provided value for 'status' is not valid: draft is not an allowed status for a list (use current, archived, deleted or trashed)",
        ));
    }
    Ok(st)
}

/// Whether `title` is `wanted` ignoring case, as the `title` filter of v2 lists matches.
pub fn same_title(title: &str, wanted: &str) -> bool {
    title.eq_ignore_ascii_case(wanted)
        || (!(title.is_ascii() && wanted.is_ascii())
            && title.to_lowercase() == wanted.to_lowercase())
}

/// The version the `version` query parameter asks for; the current (last) one when absent.
pub fn requested_version<'a>(versions: &'a [Version], p: &Params) -> Result<&'a Version, ApiError> {
    match p.num::<u32>("version")? {
        None => versions
            .last()
            .ok_or_else(|| ApiError::missing("version", "current")),
        Some(n) => versions
            .iter()
            .find(|v| v.number == n)
            .ok_or_else(|| ApiError::missing("version", n)),
    }
}

/// v1 content of any kind (page or blog post) that is current, or v1's 404.
pub fn v1_content(data: &SiteData, id: u64) -> Result<&Content, ApiError> {
    data.contents
        .get(&id)
        .filter(|c| c.status == Status::Current)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("No content found with id: ContentId{{id={id}}}"),
            )
        })
}

/// Content of `kind` with id `id`, if the request may see it (404 otherwise, as Confluence).
pub fn find<'a>(
    data: &'a SiteData,
    id: u64,
    kind: ContentKind,
    allowed: &[Status],
) -> Result<&'a Content, ApiError> {
    data.contents
        .get(&id)
        .filter(|c| c.kind == kind && allowed.contains(&c.status))
        .ok_or_else(|| ApiError::missing(kind.type_name(), id))
}

/// Ids arrive as strings in Confluence's JSON, but numbers are accepted too.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum IdIn {
    S(String),
    N(u64),
}

impl IdIn {
    pub fn get(&self, field: &str) -> Result<u64, ApiError> {
        match self {
            IdIn::N(n) => Ok(*n),
            IdIn::S(s) => s.parse().map_err(|_| {
                ApiError::bad_request(format!("`{field}` must be a numeric id, got `{s}`"))
            }),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionIn {
    pub number: Option<u32>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub minor_edit: bool,
}

impl VersionIn {
    /// The `version.number` every update must send.
    pub fn required_number(v: Option<&VersionIn>) -> Result<u32, ApiError> {
        v.and_then(|v| v.number).ok_or_else(|| {
            ApiError::bad_request(
                "version.number is required: send the current version number plus one",
            )
        })
    }
}
