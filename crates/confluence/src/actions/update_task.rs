//! `confluence.update_task`: completes or reopens a task.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use weft_action::{ActionError, ActionInfo};

use super::get_task::task_request;
use super::list_tasks::TaskStatus;
use super::ConfluenceAction;
use crate::client::{Api, Client, Request};
use crate::input::content_id;

pub struct UpdateTask;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The task's id (digits).
    pub task_id: String,
    /// complete or incomplete.
    pub status: TaskStatus,
}

/// The fields of a task that a PUT sends back as they were read.
const KEPT_FIELDS: [&str; 8] = [
    "id",
    "localId",
    "spaceId",
    "pageId",
    "blogPostId",
    "createdBy",
    "assignedTo",
    "dueAt",
];

#[async_trait]
impl ConfluenceAction for UpdateTask {
    type Input = Input;
    /// The task's fields as read, those of [`KEPT_FIELDS`].
    type Lookup = Map<String, Value>;

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.update_task",
        description: "Completes or reopens a task (GET v2 /tasks/{id}, then PUT v2 /tasks/{id}).",
        output_description: "Confluence's v2 task object after the update: `status`, `completedBy` and `completedAt` set for a completed task.",
        output_example: r#"{"id": "65901", "localId": "1", "spaceId": "65537", "pageId": "65601", "status": "complete", "createdBy": "5b10a2844c20165700ede21g", "completedBy": "5b10a2844c20165700ede21g", "createdAt": "2026-11-30T09:00:00.000Z", "updatedAt": "2026-11-30T12:00:00.000Z", "completedAt": "2026-11-30T12:00:00.000Z"}"#,
        writes: true,
        scopes: &["read:task:confluence", "write:task:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"task_id": "65901", "status": "complete"}"#;

    async fn lookup(
        &self,
        input: &Input,
        client: &Client<'_>,
    ) -> Result<Map<String, Value>, ActionError> {
        let task = client.json(&task_request(&input.task_id)?).await?;
        Ok(KEPT_FIELDS
            .iter()
            .filter_map(|field| Some((field.to_string(), task.get(*field)?.clone())))
            .collect())
    }

    fn request(input: &Input, task: &Map<String, Value>) -> Result<Request, ActionError> {
        let id = content_id(&input.task_id, "task_id")?;
        let mut body = task.clone();
        body.insert("id".into(), json!(id));
        body.insert("status".into(), json!(input.status.as_str()));
        Ok(Request::put(Api::V2, format!("/tasks/{id}"))
            .query("body-format", "storage")
            .json(Value::Object(body))
            .about(format!("task {id}")))
    }
}
