//! Cursor pagination as Confluence does it: `limit` (default 25, max 250 on v2), opaque cursors
//! naming the last item returned, `_links.next` as a host-relative URL that is absent on the last
//! page, and the same link in a `Link` header.

use crate::api_error::{json_response, ApiError};
use crate::cost::Cost;
use crate::params::Params;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Sort key of a listed item; items are ordered by (key, id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortKey {
    None,
    Int(i64),
    Str(String),
}

/// Position after which the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub key: SortKey,
    pub id: u64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let raw = match &self.key {
            SortKey::None => format!("n:{}", self.id),
            SortKey::Int(i) => format!("i:{}:{i}", self.id),
            SortKey::Str(s) => format!("s:{}:{s}", self.id),
        };
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
        let (tag, rest) = raw.split_once(':')?;
        let (id, val) = rest.split_once(':').unwrap_or((rest, ""));
        let id = id.parse().ok()?;
        let key = match tag {
            "n" => SortKey::None,
            "i" => SortKey::Int(val.parse().ok()?),
            "s" => SortKey::Str(val.to_string()),
            _ => return None,
        };
        Some(Cursor { key, id })
    }
}

/// `limit` and `cursor` of a list request.
#[derive(Debug, Clone)]
pub struct PageReq {
    /// The page size asked for (repeated in `_links.next`).
    pub limit: usize,
    /// How many items this page holds at most: `limit`, or fewer in realistic mode.
    pub take: usize,
    pub cursor: Option<Cursor>,
}

impl PageReq {
    /// Parses `limit` (clamped to `max`, as Confluence does) and `cursor` (400 when not one of ours,
    /// e.g. when a client passes the whole `_links.next` URL).
    pub fn from_params(p: &Params, default: usize, max: usize) -> Result<PageReq, ApiError> {
        let limit = match p.num::<i64>("limit")? {
            None => default,
            Some(n) if n < 1 => {
                return Err(ApiError::invalid_param(format!(
                    "Query parameter `limit` must be between 1 and {max}, got {n}"
                )))
            }
            Some(n) => (n as usize).min(max),
        };
        let cursor = match p.get("cursor") {
            None => None,
            Some(c) => Some(Cursor::decode(c).ok_or_else(ApiError::bad_cursor)?),
        };
        Ok(PageReq {
            limit,
            take: limit,
            cursor,
        })
    }
}

/// How many of the items sorted by (key, id) come before the page that starts after `cursor`.
pub fn offset_of<T>(items: &[(SortKey, u64, T)], desc: bool, cursor: Option<&Cursor>) -> usize {
    match cursor {
        None => 0,
        Some(c) => items.partition_point(|(k, id, _)| {
            let ord = (k, *id).cmp(&(&c.key, c.id));
            if desc {
                ord != std::cmp::Ordering::Less
            } else {
                ord != std::cmp::Ordering::Greater
            }
        }),
    }
}

/// Takes one page from items sorted by (key, id) in the requested direction.
pub fn paginate<T>(
    items: Vec<(SortKey, u64, T)>,
    desc: bool,
    req: &PageReq,
) -> (Vec<T>, Option<Cursor>) {
    let start = offset_of(&items, desc, req.cursor.as_ref());
    let total = items.len();
    let mut page: Vec<(SortKey, u64, T)> = items.into_iter().skip(start).take(req.take).collect();
    let more = start + page.len() < total;
    let next = if more {
        page.last().map(|(k, id, _)| Cursor {
            key: k.clone(),
            id: *id,
        })
    } else {
        None
    };
    (page.drain(..).map(|(_, _, t)| t).collect(), next)
}

/// Sorts items by (key, id) ascending or descending.
pub fn sort_items<T>(items: &mut [(SortKey, u64, T)], desc: bool) {
    items.sort_unstable_by(|a, b| {
        let o = (&a.0, a.1).cmp(&(&b.0, b.1));
        if desc {
            o.reverse()
        } else {
            o
        }
    });
}

/// The next-page URL: the request path and parameters with the cursor replaced.
pub fn next_link(rel_path: &str, params: &Params, limit: usize, cursor: &Cursor) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    let mut has_limit = false;
    for (k, v) in &params.0 {
        if k == "cursor" {
            continue;
        }
        has_limit |= k == "limit";
        ser.append_pair(k, v);
    }
    if !has_limit {
        ser.append_pair("limit", &limit.to_string());
    }
    ser.append_pair("cursor", &cursor.encode());
    format!("{rel_path}?{}", ser.finish())
}

#[derive(serde::Serialize)]
struct ListLinks<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<&'a str>,
    base: &'a str,
}

#[derive(serde::Serialize)]
struct ListOut<'a, T> {
    results: Vec<T>,
    #[serde(rename = "_links")]
    links: ListLinks<'a>,
}

/// A v2 list response: `{"results":[...],"_links":{"next"?,"base"}}` plus the `Link` header.
/// Items serialize straight into the body (no intermediate JSON tree on the hot path).
pub fn list_response<T: serde::Serialize>(
    results: Vec<T>,
    next: Option<String>,
    base: &str,
    cost_per_object: u64,
) -> Response {
    let n = results.len() as u64;
    let body = ListOut {
        results,
        links: ListLinks {
            next: next.as_deref(),
            base,
        },
    };
    let mut resp = json_response(StatusCode::OK, &body);
    if let Some(n) = next {
        if let Ok(v) =
            HeaderValue::from_str(&format!("<{n}>; rel=\"next\", <{base}>; rel=\"base\""))
        {
            resp.headers_mut().insert("link", v);
        }
    }
    resp.extensions_mut().insert(Cost(n * cost_per_object));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_roundtrip_and_rejects_urls() {
        let c = Cursor {
            key: SortKey::Str("a:b".into()),
            id: 7,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("/wiki/api/v2/pages?cursor=abc"), None);
    }

    #[test]
    fn pages_walk_without_gaps_or_duplicates() {
        for desc in [false, true] {
            let mut items: Vec<_> = (0..53u64)
                .map(|i| (SortKey::Int((i % 5) as i64), i, i))
                .collect();
            sort_items(&mut items, desc);
            let mut req = PageReq {
                limit: 10,
                take: 10,
                cursor: None,
            };
            let mut seen = Vec::new();
            loop {
                let (page, next) = paginate(items.clone(), desc, &req);
                seen.extend(page);
                match next {
                    Some(c) => req.cursor = Some(c),
                    None => break,
                }
            }
            seen.sort_unstable();
            assert_eq!(seen, (0..53).collect::<Vec<_>>());
        }
    }
}
