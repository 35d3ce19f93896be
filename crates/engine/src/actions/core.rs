//! `core.*`: logging, computing values, failing on purpose, waiting.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{Action, ActionError, ActionSpec, DryRunEffect, FieldType, InputField};
use crate::exec::{ActionContext, LogLevel};

pub struct Log;

static LOG: ActionSpec = ActionSpec {
    name: "core.log",
    description: "Writes a message to the run's log.",
    inputs: &[
        InputField::required(
            "message",
            FieldType::Any,
            "What to log; non-text values are logged as JSON.",
        ),
        InputField::optional(
            "level",
            FieldType::OneOf(&["debug", "info", "warn", "error"]),
            "Log level (default info).",
        ),
    ],
    open_inputs: false,
    output_description: "The logged message.",
    output_example: r#"{"message": "Hello"}"#,
    writes: false,
    scopes: &[],
};

fn message_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[async_trait]
impl Action for Log {
    fn spec(&self) -> &ActionSpec {
        &LOG
    }

    async fn run(&self, input: Value, ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        let message = message_text(&input["message"]);
        let level = match input["level"].as_str() {
            Some("debug") => LogLevel::Debug,
            Some("warn") => LogLevel::Warn,
            Some("error") => LogLevel::Error,
            _ => LogLevel::Info,
        };
        ctx.log(level, &message);
        Ok(json!({ "message": message }))
    }

    fn dry_run(&self, input: &Value) -> DryRunEffect {
        DryRunEffect::Local {
            summary: format!("log: {}", message_text(&input["message"])),
        }
    }

    fn dry_run_output(&self, input: &Value) -> Option<Value> {
        Some(json!({ "message": message_text(&input["message"]) }))
    }
}

pub struct Set;

static SET: ActionSpec = ActionSpec {
    name: "core.set",
    description: "Computes values: its output is its inputs, with every expression evaluated.",
    inputs: &[],
    open_inputs: true,
    output_description: "An object with the same keys as `with`.",
    output_example: r#"{"greeting": "Hello, Ada", "count": 3}"#,
    writes: false,
    scopes: &[],
};

#[async_trait]
impl Action for Set {
    fn spec(&self) -> &ActionSpec {
        &SET
    }

    async fn run(&self, input: Value, _ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        Ok(input)
    }

    fn dry_run(&self, input: &Value) -> DryRunEffect {
        let keys: Vec<&str> = input
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        DryRunEffect::Local {
            summary: format!("set {}", keys.join(", ")),
        }
    }

    fn dry_run_output(&self, input: &Value) -> Option<Value> {
        Some(input.clone())
    }
}

pub struct Fail;

static FAIL: ActionSpec = ActionSpec {
    name: "core.fail",
    description: "Fails the step with a message (retried only when `retry.on` includes `any`).",
    inputs: &[InputField::required(
        "message",
        FieldType::String,
        "Why the workflow stops.",
    )],
    open_inputs: false,
    output_description: "Never returns.",
    output_example: "null",
    writes: false,
    scopes: &[],
};

#[async_trait]
impl Action for Fail {
    fn spec(&self) -> &ActionSpec {
        &FAIL
    }

    async fn run(&self, input: Value, _ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        Err(ActionError::failed(message_text(&input["message"])))
    }

    fn dry_run(&self, input: &Value) -> DryRunEffect {
        DryRunEffect::Local {
            summary: format!("fail: {}", message_text(&input["message"])),
        }
    }
}

pub struct Sleep;

static SLEEP: ActionSpec = ActionSpec {
    name: "core.sleep",
    description: "Waits for a duration.",
    inputs: &[InputField::required(
        "duration",
        FieldType::Duration,
        "How long: `500ms`, `30s`, `5m` or seconds.",
    )],
    open_inputs: false,
    output_description: "How long it slept, in milliseconds.",
    output_example: r#"{"slept_ms": 1000}"#,
    writes: false,
    scopes: &[],
};

pub(crate) fn duration_input(value: &Value) -> Result<std::time::Duration, ActionError> {
    match value {
        Value::String(s) => crate::duration::parse_duration(s).map_err(ActionError::invalid_input),
        Value::Number(n) => n
            .as_f64()
            .and_then(|f| std::time::Duration::try_from_secs_f64(f).ok())
            .ok_or_else(|| {
                ActionError::invalid_input(format!("`{n}` is not a valid number of seconds"))
            }),
        other => Err(ActionError::invalid_input(format!(
            "expected a duration, got {other}"
        ))),
    }
}

#[async_trait]
impl Action for Sleep {
    fn spec(&self) -> &ActionSpec {
        &SLEEP
    }

    async fn run(&self, input: Value, _ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        let duration = duration_input(&input["duration"])?;
        tokio::time::sleep(duration).await;
        Ok(json!({ "slept_ms": duration.as_millis() as u64 }))
    }

    fn dry_run(&self, input: &Value) -> DryRunEffect {
        DryRunEffect::Local {
            summary: format!("sleep {}", message_text(&input["duration"])),
        }
    }

    fn dry_run_output(&self, input: &Value) -> Option<Value> {
        let duration = duration_input(&input["duration"]).ok()?;
        Some(json!({ "slept_ms": duration.as_millis() as u64 }))
    }
}
