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

    /// The rendered `with:` is the output as it is: no copy through deserializing.
    fn take_input(input: Value) -> Result<Map<String, Value>, Value> {
        match input {
            Value::Object(fields) => Ok(fields),
            other => Err(other),
        }
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

    /// Slept in a task, or stored with the run when the engine stores waits this long (the
    /// daemon): see `ActionContext::wait_until`.
    async fn run(&self, input: SleepInput, ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        let wake = chrono::TimeDelta::from_std(input.duration.0)
            .ok()
            .and_then(|d| chrono::Utc::now().checked_add_signed(d))
            .ok_or_else(|| {
                ActionError::invalid_input(format!("`duration` {} is too long", input.duration))
            })?;
        ctx.wait_until(wake).await?;
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

pub struct WaitUntil;

#[derive(Deserialize, schemars::JsonSchema)]
pub struct WaitUntilInput {
    /// When to go on: an RFC 3339 timestamp with its offset (`2026-12-24T18:00:00Z`,
    /// `2026-12-24T19:00:00+01:00`). A time already past goes on at once.
    at: String,
}

impl WaitUntilInput {
    fn instant(&self) -> Result<chrono::DateTime<chrono::Utc>, ActionError> {
        chrono::DateTime::parse_from_rfc3339(self.at.trim())
            .map(|at| at.to_utc())
            .map_err(|e| {
                ActionError::invalid_input(format!(
                    "`at` is not an RFC 3339 timestamp with an offset, like 2026-12-24T18:00:00Z ({e})"
                ))
            })
    }
}

#[async_trait]
impl TypedAction for WaitUntil {
    type Input = WaitUntilInput;

    const INFO: ActionInfo = ActionInfo {
        name: "core.wait_until",
        description: "Waits until a point in time.",
        output_description: "The instant it waited for, in UTC.",
        output_example: r#"{"until": "2026-12-24T18:00:00+00:00"}"#,
        writes: false,
        scopes: &[],
    };

    /// Slept in a task, or stored with the run when the engine stores waits this long (the
    /// daemon): see `ActionContext::wait_until`.
    async fn run(
        &self,
        input: WaitUntilInput,
        ctx: &ActionContext<'_>,
    ) -> Result<Value, ActionError> {
        let at = input.instant()?;
        ctx.wait_until(at).await?;
        Ok(json!({ "until": at.to_rfc3339() }))
    }

    fn dry_run(&self, input: &WaitUntilInput) -> DryRunEffect {
        let summary = match input.instant() {
            Ok(at) => format!("wait until {}", at.to_rfc3339()),
            Err(e) => format!("invalid inputs: {}", e.message),
        };
        DryRunEffect::Local { summary }
    }

    fn dry_run_output(&self, input: &WaitUntilInput) -> Option<Value> {
        input
            .instant()
            .ok()
            .map(|at| json!({ "until": at.to_rfc3339() }))
    }
}
