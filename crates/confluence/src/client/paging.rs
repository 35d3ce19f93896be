//! Listings: Confluence pages its results with `_links.next`; weft follows the `cursor` in that
//! link (never the whole link as a cursor) until the link is absent, and stops at `max_results`.

use futures::stream::{self, Stream, StreamExt, TryStreamExt};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use weft_action::ActionError;

use super::{Client, ConfluenceError, Request};

/// The most items one request may ask for (Confluence's own maximum).
pub const MAX_PAGE_SIZE: u32 = 250;
pub const DEFAULT_PAGE_SIZE: u32 = 25;
pub const DEFAULT_MAX_RESULTS: u32 = 1000;
pub const MAX_MAX_RESULTS: u32 = 100_000;

/// The `limit` and `max_results` inputs every listing action takes (flatten it into the input).
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
pub struct Listing {
    /// Items per request, 1 to 250 (default 25).
    #[serde(default)]
    #[schemars(range(min = 1, max = 250))]
    pub limit: Option<u32>,
    /// The most items returned over all pages, 1 to 100000 (default 1000); `truncated` in the
    /// output says whether more existed.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100_000))]
    pub max_results: Option<u32>,
}

impl Listing {
    /// The page size, checked.
    pub fn page_size(&self) -> Result<u32, ActionError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(ActionError::invalid_input(format!(
                "input `limit` is {limit}; it must be between 1 and {MAX_PAGE_SIZE}"
            )));
        }
        Ok(limit.min(self.max_results()?))
    }

    /// The cap over all pages, checked.
    pub fn max_results(&self) -> Result<u32, ActionError> {
        let max = self.max_results.unwrap_or(DEFAULT_MAX_RESULTS);
        if !(1..=MAX_MAX_RESULTS).contains(&max) {
            return Err(ActionError::invalid_input(format!(
                "input `max_results` is {max}; it must be between 1 and {MAX_MAX_RESULTS}"
            )));
        }
        Ok(max)
    }

    /// `request` with this listing's page size as `limit`.
    pub fn first_page(&self, request: Request) -> Result<Request, ActionError> {
        Ok(request.set_query("limit", self.page_size()?))
    }
}

/// The most empty pages in a row a listing follows. A page with items brings the walk closer to
/// its `max_results`; only empty pages linking on could go on forever, so they are capped. Some
/// are normal (a search drops the rows the account may not see after picking the page), a
/// hundred in a row are not.
pub const MAX_EMPTY_PAGES_IN_A_ROW: u32 = 100;

/// One walk over the pages of a listing: which page comes next, and when to stop following a
/// server that links on without getting anywhere.
#[derive(Default)]
struct Walk {
    empty_in_a_row: u32,
}

impl Walk {
    /// The request after `current`, whose answer `page` held `items` items; `None` at the end.
    fn next(
        &mut self,
        current: &Request,
        page: &Value,
        items: usize,
    ) -> Result<Option<Request>, ConfluenceError> {
        let Some(next) = next_page(current, page) else {
            return Ok(None);
        };
        if next.query == current.query {
            return Err(ConfluenceError::RepeatedPage {
                call: current.describe(),
            });
        }
        self.empty_in_a_row = if items == 0 {
            self.empty_in_a_row + 1
        } else {
            0
        };
        if self.empty_in_a_row >= MAX_EMPTY_PAGES_IN_A_ROW {
            return Err(ConfluenceError::EmptyPages {
                call: current.describe(),
                pages: self.empty_in_a_row,
            });
        }
        Ok(Some(next))
    }
}

/// The request for the page after `page`: `request` with the `cursor` (and, for v1 search,
/// `start`) of the answer's `_links.next`; `None` on the last page.
pub fn next_page(request: &Request, page: &Value) -> Option<Request> {
    let next = page.pointer("/_links/next")?.as_str()?;
    // The link is host-relative (`/wiki/api/v2/pages?cursor=...`): only its query is used.
    let query = next.split_once('?')?.1;
    let mut request = request.clone();
    let mut found = false;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if name == "cursor" || name == "start" {
            found |= name == "cursor";
            request = request.set_query(&name, value);
        }
    }
    found.then_some(request)
}

/// The items of one page: `results` (v2 and v1 search), moved out of the page rather than
/// copied (a page of 250 search results with expansions is a few hundred KB of values).
fn take_items(page: &mut Value) -> Vec<Value> {
    match page.get_mut("results").map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

impl Client<'_> {
    /// Every item of a listing, page after page, until the last page or `max_results` items.
    /// `request` must already carry its `limit` (see [`Listing::first_page`]).
    pub fn items(
        &self,
        request: Request,
        max_results: u32,
    ) -> impl Stream<Item = Result<Value, ConfluenceError>> + '_ {
        stream::try_unfold(
            (Some(request), Walk::default()),
            move |(next, mut walk)| async move {
                let Some(request) = next else {
                    return Ok(None);
                };
                let mut page = self.json(&request).await?;
                let items = take_items(&mut page);
                let next = walk.next(&request, &page, items.len())?;
                Ok(Some((
                    stream::iter(items.into_iter().map(Ok)),
                    (next, walk),
                )))
            },
        )
        .try_flatten()
        .take(max_results as usize)
    }

    /// A listing as the output of a listing action:
    /// `{"results": [...], "count": N, "truncated": bool}`.
    pub async fn collect(
        &self,
        request: Request,
        listing: &Listing,
    ) -> Result<Value, ConfluenceError> {
        let max = listing.max_results().map_err(ConfluenceError::Step)? as usize;
        let mut request = Some(listing.first_page(request).map_err(ConfluenceError::Step)?);
        let mut results = Vec::new();
        let mut truncated = false;
        let mut walk = Walk::default();
        while let Some(current) = request.take() {
            let mut page = self.json(&current).await?;
            let items = take_items(&mut page);
            let next = walk.next(&current, &page, items.len())?;
            for item in items {
                if results.len() == max {
                    truncated = true;
                    break;
                }
                results.push(item);
            }
            if results.len() == max {
                truncated |= next.is_some();
                break;
            }
            request = next;
        }
        Ok(json!({ "count": results.len(), "truncated": truncated, "results": results }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::Api;
    use super::*;

    #[test]
    fn the_next_page_takes_only_the_cursor_of_the_link() {
        let first = Request::get(Api::V2, "/pages")
            .query("space-id", "7")
            .query("limit", 2);
        let page = json!({"results": [], "_links": {"next": "/wiki/api/v2/pages?space-id=7&cursor=abc%3D%3D&limit=2"}});
        let next = next_page(&first, &page).unwrap();
        assert_eq!(
            next.query,
            [
                ("space-id".to_string(), "7".to_string()),
                ("limit".to_string(), "2".to_string()),
                ("cursor".to_string(), "abc==".to_string())
            ]
        );
        assert!(next_page(&first, &json!({"results": [], "_links": {}})).is_none());
    }

    #[test]
    fn v1_search_links_carry_cursor_and_start() {
        let first = Request::get(Api::V1, "/search").query("cql", "type=page");
        let page = json!({"_links": {"next": "/rest/api/search?cql=type%3Dpage&cursor=xyz&start=25&limit=25"}});
        let next = next_page(&first, &page).unwrap();
        assert_eq!(next.query[0], ("cql".into(), "type=page".into()));
        assert!(next.query.contains(&("cursor".into(), "xyz".into())));
        assert!(next.query.contains(&("start".into(), "25".into())));
    }

    #[test]
    fn the_items_of_a_page_are_its_results() {
        let mut page = json!({"results": [{"id": "1"}, {"id": "2"}], "_links": {}});
        assert_eq!(
            take_items(&mut page),
            [json!({"id": "1"}), json!({"id": "2"})]
        );
        assert!(take_items(&mut json!({"size": 0})).is_empty());
        assert!(take_items(&mut json!({"results": "not a list"})).is_empty());
    }

    #[test]
    fn listing_inputs_are_checked() {
        let listing = Listing {
            limit: Some(0),
            max_results: None,
        };
        assert!(listing.page_size().unwrap_err().message.contains("`limit`"));
        let listing = Listing {
            limit: Some(100),
            max_results: Some(10),
        };
        assert_eq!(
            listing.page_size().unwrap(),
            10,
            "no page larger than the cap"
        );
        let listing = Listing {
            limit: None,
            max_results: Some(200_000),
        };
        assert!(listing.max_results().is_err());
    }
}
