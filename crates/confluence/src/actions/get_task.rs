//! `confluence.get_task`: one task, with its text.

use schemars::JsonSchema;
use serde::Deserialize;
use weft_action::{ActionError, ActionInfo};

use super::ConfluenceAction;
use crate::client::{Api, Request};
use crate::input::content_id;

pub struct GetTask;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The task's id (digits).
    pub task_id: String,
}

/// The request reading a task (`update_task` reads it first too).
pub fn task_request(task_id: &str) -> Result<Request, ActionError> {
    let id = content_id(task_id, "task_id")?;
    Ok(Request::get(Api::V2, format!("/tasks/{id}"))
        .query("body-format", "storage")
        .about(format!("task {id}")))
}

impl ConfluenceAction for GetTask {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.get_task",
        description: "Reads a task by id, with its text (GET v2 /tasks/{id}).",
        output_description: "Confluence's v2 task object: `id`, `localId`, `spaceId`, `pageId` or `blogPostId`, `status`, `body`, `createdBy`, `assignedTo`, `completedBy`, `dueAt`, `completedAt`.",
        output_example: r#"{"id": "65901", "localId": "1", "spaceId": "65537", "pageId": "65601", "status": "incomplete", "body": {"storage": {"representation": "storage", "value": "Write the notes"}}, "createdBy": "5b10a2844c20165700ede21g", "assignedTo": "5b10a2844c20165700ede21g", "createdAt": "2026-11-30T09:00:00.000Z", "updatedAt": "2026-11-30T09:00:00.000Z", "dueAt": "2026-12-04T17:00:00.000Z"}"#,
        writes: false,
        scopes: &["read:task:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"task_id": "65901"}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        task_request(&input.task_id)
    }
}
