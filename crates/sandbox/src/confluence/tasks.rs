//! Tasks (v2): derived from `<ac:task>` elements of page and blog post bodies, listed with
//! filters, read, and completed or reopened with PUT (which also rewrites the body's status).

use super::render::{escape_xml, ts};
use crate::api_error::{json_response, ApiError};
use crate::cost::one_object;
use crate::guard::Ctx;
use crate::pagination::{paginate, SortKey};
use crate::params::{Id, JsonBody, Params};
use crate::state::model::{ContentKind, Task};
use crate::state::site::SiteData;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let end = s[start..].find(close)? + start;
    Some(&s[start..end])
}

/// Re-derives the tasks of one piece of content from its current storage body.
pub fn sync_tasks(data: &mut SiteData, content_id: u64, author: &str, now: DateTime<Utc>) {
    let Some(c) = data.contents.get(&content_id) else {
        return;
    };
    let body = c.current().body.value.clone();
    let (space_id, kind) = (c.space_id, c.kind);
    let mut found = Vec::new();
    for block in body.split("<ac:task>").skip(1) {
        let block = block.split("</ac:task>").next().unwrap_or("");
        let local = between(block, "<ac:task-id>", "</ac:task-id>")
            .unwrap_or("")
            .trim()
            .to_string();
        let complete = between(block, "<ac:task-status>", "</ac:task-status>")
            .is_some_and(|s| s.trim() == "complete");
        let text = between(block, "<ac:task-body>", "</ac:task-body>")
            .unwrap_or("")
            .to_string();
        found.push((local, complete, text));
    }
    let existing: Vec<Task> = data
        .tasks
        .values()
        .filter(|t| t.container_id == content_id)
        .cloned()
        .collect();
    data.tasks.retain(|_, t| t.container_id != content_id);
    for (local, complete, text) in found {
        let task = match existing.iter().find(|t| t.local_id == local) {
            Some(old) => {
                let mut t = old.clone();
                if t.complete != complete {
                    t.complete = complete;
                    t.updated_at = now;
                    t.completed_at = complete.then_some(now);
                    t.completed_by = complete.then(|| author.to_string());
                }
                t.body = text;
                t
            }
            None => Task {
                id: data.next_id(),
                local_id: local,
                space_id,
                container_id: content_id,
                container_kind: kind,
                complete,
                body: text,
                created_by: author.to_string(),
                assigned_to: None,
                completed_by: complete.then(|| author.to_string()),
                created_at: now,
                updated_at: now,
                due_at: None,
                completed_at: complete.then_some(now),
            },
        };
        data.tasks.insert(task.id, task);
    }
}

/// Storage markup for a task list (used by the demo seed).
pub fn task_list_markup(tasks: &[(&str, bool, &str)]) -> String {
    let items: String = tasks
        .iter()
        .map(|(id, done, text)| {
            format!(
                "<ac:task><ac:task-id>{id}</ac:task-id><ac:task-status>{}</ac:task-status><ac:task-body>{}</ac:task-body></ac:task>",
                if *done { "complete" } else { "incomplete" },
                escape_xml(text)
            )
        })
        .collect();
    format!("<ac:task-list>{items}</ac:task-list>")
}

fn task_v2(t: &Task, format: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(t.id.to_string()));
    m.insert("localId".into(), json!(t.local_id));
    m.insert("spaceId".into(), json!(t.space_id.to_string()));
    let field = if t.container_kind == ContentKind::Page {
        "pageId"
    } else {
        "blogPostId"
    };
    m.insert(field.into(), json!(t.container_id.to_string()));
    m.insert(
        "status".into(),
        json!(if t.complete { "complete" } else { "incomplete" }),
    );
    if let Some(f) = format {
        m.insert(
            "body".into(),
            json!({ f: {"representation": f, "value": t.body} }),
        );
    }
    m.insert("createdBy".into(), json!(t.created_by));
    if let Some(a) = &t.assigned_to {
        m.insert("assignedTo".into(), json!(a));
    }
    if let Some(c) = &t.completed_by {
        m.insert("completedBy".into(), json!(c));
    }
    m.insert("createdAt".into(), json!(ts(t.created_at)));
    m.insert("updatedAt".into(), json!(ts(t.updated_at)));
    if let Some(d) = t.due_at {
        m.insert("dueAt".into(), json!(ts(d)));
    }
    if let Some(c) = t.completed_at {
        m.insert("completedAt".into(), json!(ts(c)));
    }
    Value::Object(m)
}

fn format_of(p: &Params) -> Result<Option<&str>, ApiError> {
    match p.get("body-format") {
        None => Ok(None),
        Some(f @ ("storage" | "atlas_doc_format")) => Ok(Some(f)),
        Some(f) => Err(ApiError::invalid_param(format!(
            "Query parameter `body-format` must be storage or atlas_doc_format, got `{f}`"
        ))),
    }
}

fn millis(p: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    p.num::<i64>(name)
}

pub async fn list(Extension(ctx): Extension<Ctx>, p: Params) -> Result<Response, ApiError> {
    let req = ctx.page_req(&p, 25, 250)?;
    let format = format_of(&p)?;
    let status = match p.get("status") {
        None => None,
        Some("complete") => Some(true),
        Some("incomplete") => Some(false),
        Some(s) => {
            return Err(ApiError::invalid_param(format!(
                "Query parameter `status` must be complete or incomplete, got `{s}`"
            )))
        }
    };
    let (task_ids, spaces, pages, blogs) = (
        p.ids("task-id")?,
        p.ids("space-id")?,
        p.ids("page-id")?,
        p.ids("blogpost-id")?,
    );
    let (created_by, assigned, completed_by) = (
        p.all("created-by"),
        p.all("assigned-to"),
        p.all("completed-by"),
    );
    let include_blank = p.flag("include-blank-tasks");
    let ranges = [
        (
            "created-at",
            millis(&p, "created-at-from")?,
            millis(&p, "created-at-to")?,
        ),
        (
            "due-at",
            millis(&p, "due-at-from")?,
            millis(&p, "due-at-to")?,
        ),
        (
            "completed-at",
            millis(&p, "completed-at-from")?,
            millis(&p, "completed-at-to")?,
        ),
    ];
    let in_ranges = |t: &Task| {
        ranges.iter().all(|(which, from, to)| {
            let v = match *which {
                "created-at" => Some(t.created_at),
                "due-at" => t.due_at,
                _ => t.completed_at,
            }
            .map(|d| d.timestamp_millis());
            match (from, to, v) {
                (None, None, _) => true,
                (_, _, None) => false,
                (f, to, Some(v)) => f.is_none_or(|f| v >= f) && to.is_none_or(|to| v <= to),
            }
        })
    };
    let data = ctx.site.data.read();
    let items: Vec<_> = data
        .tasks
        .values()
        .filter(|t| include_blank || !t.body.trim().is_empty())
        .filter(|t| status.is_none_or(|s| t.complete == s))
        .filter(|t| task_ids.is_empty() || task_ids.contains(&t.id))
        .filter(|t| spaces.is_empty() || spaces.contains(&t.space_id))
        .filter(|t| {
            pages.is_empty()
                || (t.container_kind == ContentKind::Page && pages.contains(&t.container_id))
        })
        .filter(|t| {
            blogs.is_empty()
                || (t.container_kind == ContentKind::BlogPost && blogs.contains(&t.container_id))
        })
        .filter(|t| created_by.is_empty() || created_by.contains(&t.created_by.as_str()))
        .filter(|t| {
            assigned.is_empty()
                || t.assigned_to
                    .as_deref()
                    .is_some_and(|a| assigned.contains(&a))
        })
        .filter(|t| {
            completed_by.is_empty()
                || t.completed_by
                    .as_deref()
                    .is_some_and(|a| completed_by.contains(&a))
        })
        .filter(|t| in_ranges(t))
        .map(|t| (SortKey::None, t.id, t))
        .collect();
    let (page, next) = paginate(items, false, &req);
    let results = page.into_iter().map(|t| task_v2(t, format)).collect();
    Ok(ctx.list_page(&p, req.limit, results, next))
}

pub async fn get(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
) -> Result<Response, ApiError> {
    let format = format_of(&p)?;
    let data = ctx.site.data.read();
    let t = data
        .tasks
        .get(&id)
        .ok_or_else(|| ApiError::missing("task", id))?;
    Ok(one_object(&task_v2(t, format)))
}

#[derive(Deserialize)]
pub struct UpdateIn {
    status: Option<String>,
}

pub async fn update(
    Extension(ctx): Extension<Ctx>,
    Id(id): Id,
    p: Params,
    JsonBody(input): JsonBody<UpdateIn>,
) -> Result<Response, ApiError> {
    let format = format_of(&p)?;
    let complete = match input.status.as_deref() {
        Some("complete") => true,
        Some("incomplete") => false,
        other => {
            return Err(ApiError::bad_request(format!(
                "status must be complete or incomplete, got {}",
                other.map_or("nothing".to_string(), |s| format!("`{s}`"))
            )))
        }
    };
    let mut data = ctx.site.data.write();
    let t = data
        .tasks
        .get_mut(&id)
        .ok_or_else(|| ApiError::missing("task", id))?;
    if t.complete != complete {
        t.complete = complete;
        t.updated_at = ctx.now;
        t.completed_at = complete.then_some(ctx.now);
        t.completed_by = complete.then(|| ctx.grant.account_id.clone());
    }
    let t = t.clone();
    // Keep the page body in step, so a later page update does not revert the task.
    if let Some(c) = data.contents.get_mut(&t.container_id) {
        if let Some(v) = c.versions.last_mut() {
            let marker = format!("<ac:task-id>{}</ac:task-id><ac:task-status>", t.local_id);
            if let Some(pos) = v.body.value.find(&marker) {
                let start = pos + marker.len();
                if let Some(len) = v.body.value[start..].find("</ac:task-status>") {
                    let new = if complete { "complete" } else { "incomplete" };
                    v.body.value.replace_range(start..start + len, new);
                }
            }
        }
    }
    Ok(json_response(StatusCode::OK, &task_v2(&t, format)))
}
