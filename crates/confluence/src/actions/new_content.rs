//! What `create_page` and `create_blog_post` share: their common inputs, the space lookup, the
//! create request, and the look that comes before a create whose answer was lost is sent again.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use weft_action::ActionError;

use crate::body::{write_body, WriteFormat};
use crate::client::spaces::placeholder_space_id;
use crate::client::{Api, Client, ConfluenceError, Request};
use crate::input::{title, SpaceRef};

/// What is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Page,
    BlogPost,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Page => "/pages",
            Kind::BlogPost => "/blogposts",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Page => "page",
            Kind::BlogPost => "blog post",
        }
    }
}

/// The status of new content: published (`current`) or a draft.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NewStatus {
    #[default]
    Current,
    Draft,
}

/// The inputs every create of content has.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewContent {
    /// The space: a key (`ENG`, any case) or a numeric id.
    pub space: String,
    /// The title (a page's is unique in its space).
    pub title: String,
    /// The content, in `body_format`.
    #[serde(default)]
    pub body: Option<String>,
    /// storage (default), atlas_doc_format, wiki, markdown or plain.
    #[serde(default)]
    pub body_format: WriteFormat,
    /// current (published, default) or draft.
    #[serde(default)]
    pub status: NewStatus,
}

impl NewContent {
    /// The id of the space (looked up once per run when given by key).
    pub async fn space_id(&self, client: &Client<'_>) -> Result<String, ActionError> {
        Ok(client
            .space_id(&SpaceRef::parse(&self.space, "space")?)
            .await?)
    }

    /// What a dry run shows for the space id: `<id of space ENG>`.
    pub fn placeholder_space_id(&self) -> String {
        SpaceRef::parse(&self.space, "space")
            .map(|space| placeholder_space_id(&space))
            .unwrap_or_default()
    }

    /// The POST creating the content in space `space_id`, with `extra` fields (a page's
    /// `parentId`).
    pub fn create_request(
        &self,
        kind: Kind,
        space_id: &str,
        extra: Map<String, Value>,
    ) -> Result<Request, ActionError> {
        SpaceRef::parse(&self.space, "space")?;
        let mut content = Map::new();
        content.insert("spaceId".into(), json!(space_id));
        content.insert(
            "status".into(),
            json!(match self.status {
                NewStatus::Current => "current",
                NewStatus::Draft => "draft",
            }),
        );
        content.insert("title".into(), json!(title(&self.title, "title")?));
        content.extend(extra);
        content.insert(
            "body".into(),
            write_body(self.body.as_deref().unwrap_or_default(), self.body_format),
        );
        Ok(Request::post(Api::V2, kind.path())
            .json(Value::Object(content))
            .about(format!("{} \"{}\"", kind.noun(), self.title))
            .input("title", &self.title))
    }
}

/// The GET of the newest content of `kind` with the title of `create` in its space.
fn newest_request(kind: Kind, create: &Request) -> Request {
    let field = |name: &str| {
        create
            .body
            .as_ref()
            .and_then(|body| body[name].as_str())
            .unwrap_or_default()
            .to_string()
    };
    Request::get(Api::V2, kind.path())
        .query("space-id", field("spaceId"))
        .query("title", field("title"))
        .query("sort", "-created-date")
        .query("limit", 1)
}

/// The newest content of `kind` with the title of `create` in its space, if any.
pub async fn newest(
    client: &Client<'_>,
    kind: Kind,
    create: &Request,
) -> Result<Option<Value>, ActionError> {
    let found = client.json(&newest_request(kind, create)).await?;
    Ok(found.pointer("/results/0").cloned())
}

/// Sends `create`, never blindly twice: when its answer was lost (the connection dropped, a
/// timeout, a cut-off body), the content may exist. The newest content with its title in the
/// space is looked up; when `made_by_it` says it is the create's, it is the answer; only when
/// none is found is the create sent once more. Drafts cannot be listed (v2 refuses
/// `status=draft`), so a draft's lost create fails instead of being sent again.
///
/// An attempt that may have run before (a resumed run repeats the attempt its stopped process
/// had in flight) looks first, and takes the newest content with the title that
/// `made_before` accepts.
pub async fn create_once(
    client: &Client<'_>,
    kind: Kind,
    create: &Request,
    made_before: impl Fn(&Value) -> bool,
    made_by_it: impl Fn(&Value) -> bool,
) -> Result<Value, ActionError> {
    if client.may_have_run_before() {
        if let Some(made) = newest(client, kind, create).await?.filter(&made_before) {
            return Ok(made);
        }
    }
    match client.json(create).await {
        Err(
            lost @ (ConfluenceError::Network { .. }
            | ConfluenceError::Timeout { .. }
            | ConfluenceError::InvalidAnswer { .. }),
        ) => {
            let draft = create
                .body
                .as_ref()
                .is_some_and(|body| body["status"] == "draft");
            if draft {
                // Not a transient error: a step retry would send the create blindly.
                return Err(ActionError::failed(format!(
                    "{lost}; the {} may have been created as a draft, which cannot be looked up, so it was not sent again: look among your drafts before running the step again",
                    kind.noun()
                )));
            }
            match newest(client, kind, create).await?.filter(made_by_it) {
                Some(made) => Ok(made),
                None => Ok(client.json(create).await?),
            }
        }
        answer => Ok(answer?),
    }
}
