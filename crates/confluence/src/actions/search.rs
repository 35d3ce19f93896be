//! `confluence.search`: content found by a CQL query (v1 search: v2 has no CQL).

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::ConfluenceAction;
use crate::client::{Api, Client, Listing, Request};

pub struct Search;

/// The longest CQL query accepted.
const MAX_CQL_CHARS: usize = 8_000;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The CQL query, e.g. `type = page and space = ENG and lastmodified > now("-7d")`.
    pub cql: String,
    /// How excerpts are made: `highlight`, `indexed`, `none`... (Confluence's default when absent).
    #[serde(default)]
    pub excerpt: Option<String>,
    #[serde(flatten)]
    pub listing: Listing,
}

#[async_trait]
impl ConfluenceAction for Search {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.search",
        description: "Searches content with CQL (GET v1 /search).",
        output_description: "`results` (Confluence's v1 search results: `content` {`id`, `type`, `title`...}, `title`, `excerpt`, `url`, `lastModified`), `count`, `truncated`.",
        output_example: r#"{"count": 1, "truncated": false, "results": [{"content": {"id": "65601", "type": "page", "status": "current", "title": "Release notes"}, "title": "Release notes", "excerpt": "Shipped", "url": "/spaces/ENG/pages/65601/Release+notes", "lastModified": "2026-11-30T10:00:00.000Z"}]}"#,
        writes: false,
        scopes: &["search:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"cql": "type = page and space = ENG order by lastmodified desc", "limit": 25, "max_results": 50}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        let cql = input.cql.trim();
        if cql.is_empty() {
            return Err(ActionError::invalid_input("input `cql` is empty; give a CQL query such as `type = page and space = ENG`"));
        }
        if cql.chars().count() > MAX_CQL_CHARS {
            return Err(ActionError::invalid_input(format!(
                "input `cql` is longer than {MAX_CQL_CHARS} characters"
            )));
        }
        let request = Request::get(Api::V1, "/search")
            .query("cql", cql)
            .input("cql", cql)
            .query_opt("excerpt", input.excerpt.as_deref());
        input.listing.first_page(request)
    }

    async fn send(&self, input: &Input, request: Request, client: &Client<'_>) -> Result<Value, ActionError> {
        Ok(client.collect(request, &input.listing).await?)
    }
}
