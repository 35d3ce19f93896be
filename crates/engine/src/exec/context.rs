//! What an action sees of the run it is part of: the engine's side of `weft_action`'s
//! context (the run's redacting log, sub-workflow calls), so actions never see `RunState`.

use async_trait::async_trait;
use serde_json::Value;
use weft_action::{StepLog, WaitPolicy, WorkflowCaller};

use super::events::{LogLevel, Progress};
use super::run::RunState;
use super::Mode;
use crate::actions::{ActionError, ErrorKind};
use crate::workflow::CompiledStep;

pub use weft_action::ActionContext;

impl RunState {
    /// The context of one attempt of `step`.
    pub(crate) fn action_context<'a>(
        &'a self,
        step: &'a CompiledStep,
        attempt: u32,
        may_have_run_before: bool,
        iteration: &'a [usize],
    ) -> ActionContext<'a> {
        // Only a top-level run is parked: a called workflow's caller holds a task anyway.
        let top_level = self.call_stack.len() == 1 && !matches!(self.mode, Mode::DryRun { .. });
        ActionContext {
            run_id: &self.run_id,
            step_id: &step.id,
            iteration,
            attempt,
            may_have_run_before,
            wait: WaitPolicy {
                store_longer_than: self.engine.stored_waits.filter(|_| top_level),
                stored_until: self.stored_wait(&step.id, iteration),
            },
            connection: step.connection().or(self.workflow.connection.as_deref()),
            http: &self.engine.http,
            tokens: self.engine.tokens.as_ref(),
            logger: self,
            workflows: self,
            cancel: &self.cancel,
        }
    }
}

impl StepLog for RunState {
    fn log(&self, step: &str, level: LogLevel, message: &str) {
        let message = self.redactor.text(message);
        match level {
            LogLevel::Debug => {
                tracing::debug!(target: "weft::log", run = %self.run_id, step = %step, "{message}")
            }
            LogLevel::Info => {
                tracing::info!(target: "weft::log", run = %self.run_id, step = %step, "{message}")
            }
            LogLevel::Warn => {
                tracing::warn!(target: "weft::log", run = %self.run_id, step = %step, "{message}")
            }
            LogLevel::Error => {
                tracing::error!(target: "weft::log", run = %self.run_id, step = %step, "{message}")
            }
        }
        self.report(|| Progress::Log {
            step: step.to_string(),
            level,
            message,
        });
    }
}

#[async_trait]
impl WorkflowCaller for RunState {
    async fn call_workflow(&self, path: &str, inputs: Value) -> Result<Value, ActionError> {
        let super::run::Finished { outcome, outputs } = self.call(path, inputs).await?;
        match outcome.status {
            crate::store::RunStatus::Succeeded => Ok(outputs),
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
