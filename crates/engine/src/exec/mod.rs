//! The executor: runs a compiled workflow on tokio. Steps of a block run as soon as what they
//! need is done (independent steps concurrently), loops run with a concurrency cap, attempts
//! are retried with backoff and limited by timeouts, and every attempt is recorded.

mod context;
mod events;
mod frame;
mod inputs;
mod item_outputs;
mod record_cap;
mod redact;
mod resume;
mod retry;
mod run;
mod step;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use context::ActionContext;
pub use events::{LogLevel, NoObserver, RunEvent, RunObserver};
pub use inputs::{coerce_input_text, resolve_inputs, InputTextError};
pub use record_cap::DEFAULT_RECORD_CAP;
pub use redact::{is_credential_header, Redactor, CREDENTIAL_HEADERS, MIN_SECRET_LEN, REDACTED};
pub use resume::{
    ResumeError, ResumeRequest, DEFAULT_RESTART_LIMIT, DEFAULT_STORED_WAIT_THRESHOLD,
};
pub use run::{new_run_id, DryRunReport, DryRunStep, RunOutcome};

use weft_action::{NoTokens, TokenProvider};

use crate::actions::Registry;
use crate::store::RunStore;
use crate::trigger::SourceCatalog;
use crate::workflow::Catalog;

/// What a run needs from its surroundings; cheap to clone. Programs build it through
/// `weft-runtime`, which chooses the catalogue, the store and the token provider.
#[derive(Clone)]
pub struct Engine {
    pub registry: Arc<Registry>,
    pub sources: Arc<SourceCatalog>,
    pub store: Arc<dyn RunStore>,
    pub http: reqwest::Client,
    pub observer: Arc<dyn RunObserver>,
    /// The most bytes of JSON recorded for one value of a run (inputs, output, error); beyond
    /// it the history keeps the start, the size and a hash.
    pub record_cap: usize,
    /// Access tokens of the connections steps use.
    pub tokens: Arc<dyn TokenProvider>,
    /// Waits (`core.sleep`, `core.wait_until`) of top-level runs longer than this are stored
    /// with the run, which is parked `waiting`, instead of slept; `None` (the default): slept.
    /// The daemon sets it: it resumes parked runs on time.
    pub stored_waits: Option<std::time::Duration>,
    /// Who syncs a run's records to disk; see [`RunSync`].
    pub run_sync: RunSync,
}

/// Who makes a run's records durable before it is reported done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunSync {
    /// The run syncs the store at its end, and its progress as steps finish.
    #[default]
    ByRun,
    /// The caller syncs, and reports the runs only after: a poll of many events syncs once per
    /// save of its progress instead of once per run (`trigger::poll_once`).
    ByCaller,
}

impl Engine {
    /// An engine with these actions and sources, no connections and no observer.
    pub fn new(
        registry: Arc<Registry>,
        sources: Arc<SourceCatalog>,
        store: Arc<dyn RunStore>,
    ) -> Self {
        Engine {
            registry,
            sources,
            store,
            http: reqwest::Client::builder()
                .user_agent(concat!("weft/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default(),
            observer: Arc::new(NoObserver),
            record_cap: DEFAULT_RECORD_CAP,
            tokens: Arc::new(NoTokens),
            stored_waits: None,
            run_sync: RunSync::ByRun,
        }
    }

    pub fn with_tokens(mut self, tokens: Arc<dyn TokenProvider>) -> Self {
        self.tokens = tokens;
        self
    }

    /// Stores waits longer than `threshold` instead of sleeping them (see [`Engine::stored_waits`]).
    pub fn with_stored_waits(mut self, threshold: std::time::Duration) -> Self {
        self.stored_waits = Some(threshold);
        self
    }

    pub fn with_observer(mut self, observer: Arc<dyn RunObserver>) -> Self {
        self.observer = observer;
        self
    }

    pub fn catalog(&self) -> Catalog<'_> {
        Catalog {
            actions: &self.registry,
            sources: &self.sources,
        }
    }
}

/// Live runs act; dry runs only render and describe, taking outputs from mocks or examples.
#[derive(Debug, Clone, Default)]
pub enum Mode {
    #[default]
    Live,
    DryRun {
        mocks: HashMap<String, Value>,
        /// Steps of connector actions (they declare scopes) that do not write with their
        /// inputs run for real, so later steps render with real data. Nothing else is sent.
        live_reads: bool,
    },
}

/// One request to run a workflow.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// Inputs as given (checked and completed with defaults by the engine).
    pub inputs: serde_json::Map<String, Value>,
    /// The event that started the run (`trigger` in expressions).
    pub trigger: Option<Value>,
    pub mode: Mode,
    /// Secret values by name (`secrets.<name>`); never recorded or printed.
    pub secrets: HashMap<String, String>,
    pub parent_run: Option<String>,
    /// The run's id, when the caller chose it before the run (a daemon records it with the
    /// fire that starts the run); else a new one. Made by [`new_run_id`].
    pub run_id: Option<String>,
    /// Values masked in this run's records and logs although no step reads them as
    /// `secrets.*` (the secret that checked a webhook request, which its body may repeat).
    pub masked: Vec<String>,
    pub cancel: CancellationToken,
    /// Fixes `now()` (dry runs and tests).
    pub now: Option<chrono::DateTime<chrono::Utc>>,
}

/// Secrets from the environment: `WEFT_SECRET_API_TOKEN` is `secrets.api_token`.
pub fn secrets_from_env() -> HashMap<String, String> {
    std::env::vars()
        .filter_map(|(k, v)| {
            k.strip_prefix("WEFT_SECRET_")
                .map(|name| (name.to_ascii_lowercase(), v))
        })
        .collect()
}
