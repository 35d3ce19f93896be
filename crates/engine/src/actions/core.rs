//! `core.*`: logging, computing values, failing on purpose, waiting.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use weft_action::{ActionContext, DurationSpec, LogLevel};

use super::{ActionError, ActionInfo, DryRunEffect, TypedAction};

pub struct Log;

#[derive(Deserialize, schemars::JsonSchema)]
pub struct LogInput {
    /// What to log; non-text values are logged as JSON.
    message: Value,
    /// Log level (default info).
    level: Option<Level>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

fn message_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[async_trait]
impl TypedAction for Log {
    type Input = LogInput;

    const INFO: ActionInfo = ActionInfo {
        name: "core.log",
        description: "Writes a message to the run's log.",
        output_description: "The logged message.",
        output_example: r#"{"message": "Hello"}"#,
        writes: false,
        scopes: &[],
    };

    async fn run(&self, input: LogInput, ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        let message = message_text(&input.message);
        let level = match input.level {
            Some(Level::Debug) => LogLevel::Debug,
            Some(Level::Warn) => LogLevel::Warn,
            Some(Level::Error) => LogLevel::Error,
            Some(Level::Info) | None => LogLevel::Info,
        };
        ctx.log(level, &message);
        Ok(json!({ "message": message }))
    }

    fn dry_run(&self, input: &LogInput) -> DryRunEffect {
        DryRunEffect::Local {
            summary: format!("log: {}", message_text(&input.message)),
        }
    }

    fn dry_run_output(&self, input: &LogInput) -> Option<Value> {
        Some(json!({ "message": message_text(&input.message) }))
    }
}

pub struct Set;

#[async_trait]
impl TypedAction for Set {
    /// Any keys: each becomes a key of the output.
    type Input = Map<String, Value>;

    const INFO: ActionInfo = ActionInfo {
        name: "core.set",
        description: "Computes values: its output is its inputs, with every expression evaluated.",
        output_description: "An object with the same keys as `with`.",
        output_example: r#"{"greeting": "Hello, Ada", "count": 3}"#,
        writes: false,
        scopes: &[],
    };

    async fn run(
        &self,
        input: Map<String, Value>,
        _ctx: &ActionContext<'_>,
    ) -> Result<Value, ActionError> {
        Ok(Value::Object(input))
    }

    fn dry_run(&self, input: &Map<String, Value>) -> DryRunEffect {
        let keys: Vec<&str> = input.keys().map(String::as_str).collect();
        DryRunEffect::Local {
            summary: format!("set {}", keys.join(", ")),
        }
    }

    fn dry_run_output(&self, input: &Map<String, Value>) -> Option<Value> {
        Some(Value::Object(input.clone()))
    }
}

pub struct Fail;

#[derive(Deserialize, schemars::JsonSchema)]
pub struct FailInput {
    /// Why the workflow stops.
    message: String,
}

#[async_trait]
impl TypedAction for Fail {
    type Input = FailInput;

    const INFO: ActionInfo = ActionInfo {
        name: "core.fail",
        description: "Fails the step with a message (retried only when `retry.on` includes `any`).",
        output_description: "Never returns.",
        output_example: "null",
        writes: false,
        scopes: &[],
    };

    async fn run(&self, input: FailInput, _ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        Err(ActionError::failed(input.message))
    }

    fn dry_run(&self, input: &FailInput) -> DryRunEffect {
        DryRunEffect::Local {
            summary: format!("fail: {}", input.message),
        }
    }
}

pub struct Sleep;

#[derive(Deserialize, schemars::JsonSchema)]
pub struct SleepInput {
    /// How long: `500ms`, `30s`, `5m` or seconds.
    duration: DurationSpec,
}

#[async_trait]
impl TypedAction for Sleep {
    type Input = SleepInput;

    const INFO: ActionInfo = ActionInfo {
        name: "core.sleep",
        description: "Waits for a duration.",
        output_description: "How long it slept, in milliseconds.",
        output_example: r#"{"slept_ms": 1000}"#,
        writes: false,
        scopes: &[],
    };

    async fn run(&self, input: SleepInput, _ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        tokio::time::sleep(input.duration.0).await;
        Ok(json!({ "slept_ms": input.duration.0.as_millis() as u64 }))
    }

    fn dry_run(&self, input: &SleepInput) -> DryRunEffect {
        DryRunEffect::Local {
            summary: format!("sleep {}", input.duration),
        }
    }

    fn dry_run_output(&self, input: &SleepInput) -> Option<Value> {
        Some(json!({ "slept_ms": input.duration.0.as_millis() as u64 }))
    }
}
