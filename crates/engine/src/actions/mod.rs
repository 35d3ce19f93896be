//! Actions: what a step does. Each action is one type implementing [`Action`], described by a
//! static [`ActionSpec`], and listed once in [`Registry::builtin`] (connector crates add theirs
//! with [`Registry::register`]).

mod core;
mod http;
mod spec;
mod workflow_call;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

pub use spec::{json_type_name as spec_type_name, ActionSpec, FieldType, InputField};

use crate::exec::ActionContext;

/// What went wrong in an action, classified so retry policies can choose what to retry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ActionError {
    pub kind: ErrorKind,
    pub message: String,
    /// A wait the remote side asked for (HTTP `Retry-After`).
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ErrorKind {
    /// The step's inputs are wrong: retrying cannot help.
    InvalidInput,
    Timeout,
    Network,
    Http {
        status: u16,
    },
    /// The action decided to fail (`core.fail`, a sub-workflow that failed).
    Failed,
    Cancelled,
}

impl ActionError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ActionError {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        ActionError::new(ErrorKind::InvalidInput, message)
    }

    pub fn failed(message: impl Into<String>) -> Self {
        ActionError::new(ErrorKind::Failed, message)
    }
}

/// What an action would do, shown by `weft run --dry-run` instead of doing it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DryRunEffect {
    /// Local computation only.
    Local { summary: String },
    /// An HTTP request, exactly as it would be sent.
    Http {
        method: String,
        url: String,
        headers: BTreeMap<String, String>,
        body: Option<String>,
        writes: bool,
    },
    /// Another workflow would run.
    Workflow { path: String },
}

#[async_trait]
pub trait Action: Send + Sync + 'static {
    fn spec(&self) -> &ActionSpec;

    /// Runs the action on rendered inputs (already checked against the spec).
    async fn run(&self, input: Value, ctx: &ActionContext<'_>) -> Result<Value, ActionError>;

    /// Describes what `run` would do with these inputs, without doing it.
    fn dry_run(&self, input: &Value) -> DryRunEffect {
        let _ = input;
        DryRunEffect::Local {
            summary: self.spec().description.to_string(),
        }
    }

    /// The output a dry run uses when no mock is given. Actions that only compute (no I/O)
    /// return what `run` would; the rest fall back to the declared example.
    fn dry_run_output(&self, input: &Value) -> Option<Value> {
        let _ = input;
        None
    }

    /// Whether a dry run still calls `run`: only for actions that are dry themselves in a dry
    /// run (`workflow.call` dry-runs the called workflow).
    fn runs_in_dry_run(&self) -> bool {
        false
    }

    /// Whether these inputs make the action change something outside weft.
    fn writes(&self, input: &Value) -> bool {
        let _ = input;
        self.spec().writes
    }
}

/// Every action weft knows, by name.
#[derive(Clone, Default)]
pub struct Registry {
    actions: BTreeMap<&'static str, Arc<dyn Action>>,
}

impl Registry {
    /// The built-in actions: `core.*`, `http.request`, `workflow.call`.
    pub fn builtin() -> Self {
        let mut registry = Registry::default();
        registry.register(Arc::new(core::Log));
        registry.register(Arc::new(core::Set));
        registry.register(Arc::new(core::Fail));
        registry.register(Arc::new(core::Sleep));
        registry.register(Arc::new(http::HttpRequest));
        registry.register(Arc::new(workflow_call::WorkflowCall));
        registry
    }

    pub fn register(&mut self, action: Arc<dyn Action>) {
        self.actions.insert(action.spec().name, action);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Action>> {
        self.actions.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + Clone + '_ {
        self.actions.keys().copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Action>> {
        self.actions.values()
    }
}
