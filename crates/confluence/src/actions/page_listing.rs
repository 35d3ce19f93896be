//! What the actions listing something of one page share (`/pages/{id}/children`,
//! `/versions`...): the `page_id` + `limit`/`max_results` input, and the request.

use schemars::JsonSchema;
use serde::Deserialize;
use weft_action::ActionError;

use crate::client::{Api, Listing, Request};
use crate::input::content_id;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The page's id (digits).
    pub page_id: String,
    #[serde(flatten)]
    pub listing: Listing,
}

/// GET v2 `/pages/{page_id}/{what}`, its page size set; 404s name the page.
pub fn request(page_id: &str, what: &str, listing: &Listing) -> Result<Request, ActionError> {
    let id = content_id(page_id, "page_id")?;
    listing.first_page(
        Request::get(Api::V2, format!("/pages/{id}/{what}")).about(format!("page {id}")),
    )
}
