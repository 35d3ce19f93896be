//! `confluence.list_tasks`: the tasks of the site, a space or a page, by status and assignee.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use weft_action::{ActionError, ActionInfo};

use super::ConfluenceAction;
use crate::client::spaces::placeholder_space_id;
use crate::client::{Api, Client, Listing, Request};
use crate::input::{content_id, SpaceRef};

pub struct ListTasks;

/// A task's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Complete,
    Incomplete,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Complete => "complete",
            TaskStatus::Incomplete => "incomplete",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// Only tasks of this space: a key (`ENG`, any case) or a numeric id.
    #[serde(default)]
    pub space: Option<String>,
    /// Only tasks of this page (digits).
    #[serde(default)]
    pub page_id: Option<String>,
    /// complete or incomplete; without it, both.
    #[serde(default)]
    pub status: Option<TaskStatus>,
    /// Only tasks assigned to this account id.
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(flatten)]
    pub listing: Listing,
}

fn space(input: &Input) -> Result<Option<SpaceRef>, ActionError> {
    input
        .space
        .as_deref()
        .map(|space| SpaceRef::parse(space, "space"))
        .transpose()
}

/// An account id input: Atlassian account ids are letters, digits, `:` and `-`.
fn account_id(value: &str) -> Result<&str, ActionError> {
    if value.is_empty()
        || value.len() > 128
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'-')
    {
        return Err(ActionError::invalid_input(format!(
            "input `assignee` is {value:?}; give an Atlassian account id such as \"5b10a2844c20165700ede21g\""
        )));
    }
    Ok(value)
}

#[async_trait]
impl ConfluenceAction for ListTasks {
    type Input = Input;
    /// The space's id, when the input names a space.
    type Lookup = Option<String>;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.list_tasks",
        description: "Lists tasks of the site, a space or a page, by status and assignee, with their text (GET v2 /tasks).",
        output_description: "`results` (Confluence's v2 task objects: `id`, `localId`, `spaceId`, `pageId`, `status`, `body`, `createdBy`, `assignedTo`, `dueAt`...), `count`, and `truncated` (more existed beyond `max_results`).",
        output_example: r#"{"count": 1, "truncated": false, "results": [{"id": "65901", "localId": "1", "spaceId": "65537", "pageId": "65601", "status": "incomplete", "body": {"storage": {"representation": "storage", "value": "Write the notes"}}, "createdBy": "5b10a2844c20165700ede21g", "assignedTo": "5b10a2844c20165700ede21g", "createdAt": "2026-11-30T09:00:00.000Z", "updatedAt": "2026-11-30T09:00:00.000Z"}]}"#,
        writes: false,
        scopes: &["read:task:confluence", "read:space:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"space": "ENG", "status": "incomplete"}"#;

    async fn lookup(&self, input: &Input, client: &Client<'_>) -> Result<Option<String>, ActionError> {
        match space(input)? {
            Some(space) => Ok(Some(client.space_id(&space).await?)),
            None => Ok(None),
        }
    }

    fn dry_lookup(input: &Input) -> Option<String> {
        space(input).ok().flatten().map(|space| placeholder_space_id(&space))
    }

    fn request(input: &Input, space_id: &Option<String>) -> Result<Request, ActionError> {
        space(input)?;
        let page_id = input
            .page_id
            .as_deref()
            .map(|id| content_id(id, "page_id"))
            .transpose()?;
        let assignee = input.assignee.as_deref().map(account_id).transpose()?;
        let request = Request::get(Api::V2, "/tasks")
            .query("body-format", "storage")
            .query_opt("space-id", space_id.as_deref())
            .query_opt("page-id", page_id)
            .query_opt("status", input.status.map(TaskStatus::as_str))
            .query_opt("assigned-to", assignee);
        input.listing.first_page(request)
    }

    async fn send(
        &self,
        input: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        Ok(client.collect(request, &input.listing).await?)
    }
}
