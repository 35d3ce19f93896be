//! What an action sees of the run it is part of.

use serde_json::Value;

use super::events::{LogLevel, RunEvent};
use super::run::RunState;
use crate::actions::{ActionError, ErrorKind};
use crate::workflow::CompiledStep;

pub struct ActionContext<'a> {
    pub(crate) state: &'a RunState,
    pub(crate) step: &'a CompiledStep,
    pub attempt: u32,
    pub iteration: &'a [usize],
}

impl ActionContext<'_> {
    pub fn run_id(&self) -> &str {
        &self.state.run_id
    }

    pub fn step_id(&self) -> &str {
        &self.step.id
    }

    /// The shared HTTP client (connection pooling across steps).
    pub fn http(&self) -> &reqwest::Client {
        &self.state.engine.http
    }

    /// The connection this step uses: its own, else the workflow's.
    pub fn connection(&self) -> Option<&str> {
        self.step
            .connection
            .as_deref()
            .or(self.state.workflow.connection.as_deref())
    }

    /// Writes to the run's log; secrets are redacted.
    pub fn log(&self, level: LogLevel, message: &str) {
        let message = self.state.redactor.text(message);
        match level {
            LogLevel::Debug => {
                tracing::debug!(target: "weft::log", run = %self.state.run_id, step = %self.step.id, "{message}")
            }
            LogLevel::Info => {
                tracing::info!(target: "weft::log", run = %self.state.run_id, step = %self.step.id, "{message}")
            }
            LogLevel::Warn => {
                tracing::warn!(target: "weft::log", run = %self.state.run_id, step = %self.step.id, "{message}")
            }
            LogLevel::Error => {
                tracing::error!(target: "weft::log", run = %self.state.run_id, step = %self.step.id, "{message}")
            }
        }
        self.state.engine.observer.on_event(&RunEvent::Log {
            step: &self.step.id,
            level,
            message: &message,
        });
    }

    /// Runs another workflow file, relative to this workflow's folder, and returns its outputs.
    pub async fn call_workflow(&self, path: &str, inputs: Value) -> Result<Value, ActionError> {
        let outcome = self.state.call(path, inputs).await?;
        match outcome.status {
            crate::store::RunStatus::Succeeded => Ok(outcome.outputs),
            crate::store::RunStatus::Cancelled => Err(ActionError::new(
                ErrorKind::Cancelled,
                "the called workflow was cancelled",
            )),
            _ => Err(ActionError::failed(format!(
                "workflow `{path}` failed (run {}): {}",
                outcome.run_id,
                outcome.error.unwrap_or_default()
            ))),
        }
    }
}
