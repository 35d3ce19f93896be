//! `confluence.create_page`: a new page in a space, optionally under a parent page.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use weft_action::{ActionError, ActionInfo};

use super::find_page::{find_request, first_page};
use super::ConfluenceAction;
use crate::body::{write_body, WriteFormat};
use crate::client::spaces::placeholder_space_id;
use crate::client::{Api, Client, ConfluenceError, Request};
use crate::input::{content_id, title, SpaceRef};

pub struct CreatePage;

/// The status of a new page: published (`current`) or a draft.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NewStatus {
    #[default]
    Current,
    Draft,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The space: a key (`ENG`, any case) or a numeric id.
    pub space: String,
    /// The page's title (unique in the space).
    pub title: String,
    /// The page's content, in `body_format`.
    #[serde(default)]
    pub body: Option<String>,
    /// storage (default), atlas_doc_format, wiki, markdown or plain.
    #[serde(default)]
    pub body_format: WriteFormat,
    /// The parent page's id; without it the page goes under the space's home page.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// current (published, default) or draft.
    #[serde(default)]
    pub status: NewStatus,
}

#[async_trait]
impl ConfluenceAction for CreatePage {
    type Input = Input;
    /// The space's id.
    type Lookup = String;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.create_page",
        description: "Creates a page in a space, optionally under a parent page (POST v2 /pages).",
        output_description: "Confluence's v2 page object of the new page: `id`, `title`, `spaceId`, `parentId`, `version`, `_links` (`webui`).",
        output_example: r#"{"id": "65602", "status": "current", "title": "Release notes 2026-12", "spaceId": "65537", "parentId": "65601", "version": {"number": 1}, "_links": {"webui": "/spaces/ENG/pages/65602/Release+notes+2026-12"}}"#,
        writes: true,
        scopes: &["write:page:confluence", "read:page:confluence", "read:space:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"space": "ENG", "title": "Release notes 2026-12", "body": "Shipped: search & filters.", "body_format": "plain", "parent_id": "65601"}"#;

    async fn lookup(&self, input: &Input, client: &Client<'_>) -> Result<String, ActionError> {
        Ok(client.space_id(&SpaceRef::parse(&input.space, "space")?).await?)
    }

    fn dry_lookup(input: &Input) -> String {
        SpaceRef::parse(&input.space, "space")
            .map(|space| placeholder_space_id(&space))
            .unwrap_or_default()
    }

    fn request(input: &Input, space_id: &String) -> Result<Request, ActionError> {
        SpaceRef::parse(&input.space, "space")?;
        let mut page = Map::new();
        page.insert("spaceId".into(), json!(space_id));
        page.insert("status".into(), json!(match input.status {
            NewStatus::Current => "current",
            NewStatus::Draft => "draft",
        }));
        page.insert("title".into(), json!(title(&input.title, "title")?));
        if let Some(parent) = &input.parent_id {
            page.insert("parentId".into(), json!(content_id(parent, "parent_id")?));
        }
        page.insert(
            "body".into(),
            write_body(input.body.as_deref().unwrap_or_default(), input.body_format),
        );
        Ok(Request::post(Api::V2, "/pages")
            .json(Value::Object(page))
            .about(format!("page \"{}\"", input.title))
            .input("title", &input.title))
    }

    /// A create is never repeated blindly. When its answer was lost (the connection dropped, a
    /// timeout, a cut-off body), or the attempt may have run before (a resumed run repeats the
    /// attempt its stopped process had in flight), the page may exist: it is looked up by
    /// title in the space (and parent) and, when it is there, it is the output. Only when it is
    /// not is the create sent.
    async fn send(
        &self,
        input: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        if client.may_have_run_before() {
            if let Some(page) = made_before(input, &request, client).await? {
                return Ok(page);
            }
        }
        match client.json(&request).await {
            Err(
                ConfluenceError::Network { .. }
                | ConfluenceError::Timeout { .. }
                | ConfluenceError::InvalidAnswer { .. },
            ) => match made_before(input, &request, client).await? {
                Some(page) => Ok(page),
                None => Ok(client.json(&request).await?),
            },
            answer => Ok(answer?),
        }
    }
}

/// The page `request` would create, when it exists: same title in the space, same parent.
async fn made_before(
    input: &Input,
    request: &Request,
    client: &Client<'_>,
) -> Result<Option<Value>, ActionError> {
    let space_id = request
        .body
        .as_ref()
        .and_then(|page| page["spaceId"].as_str())
        .unwrap_or_default();
    let found = client.json(&find_request(space_id, &input.title)).await?;
    let same_parent = |page: &Value| match &input.parent_id {
        Some(parent) => page["parentId"].as_str() == Some(parent.as_str()),
        None => true,
    };
    Ok(first_page(&found).filter(same_parent))
}
