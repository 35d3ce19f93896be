//! Progress of runs, for the CLI's output and the daemon's logs.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::store::{RunStatus, StepStatus};

pub use weft_action::LogLevel;

#[derive(Debug)]
pub enum RunEvent<'a> {
    RunStarted {
        run_id: &'a str,
        workflow: &'a str,
        dry_run: bool,
    },
    StepStarted {
        step: &'a str,
        iteration: &'a [usize],
        attempt: u32,
    },
    StepFinished {
        step: &'a str,
        iteration: &'a [usize],
        status: StepStatus,
        attempts: u32,
        duration: Duration,
        error: Option<&'a str>,
    },
    Retrying {
        step: &'a str,
        attempt: u32,
        delay: Duration,
        error: &'a str,
    },
    Log {
        step: &'a str,
        level: LogLevel,
        message: &'a str,
    },
    /// Something the person running the workflow should know (e.g. a secret too short to mask).
    Warning { message: &'a str },
    RunFinished {
        run_id: &'a str,
        status: RunStatus,
        duration: Duration,
        error: Option<&'a str>,
        outputs: &'a Value,
    },
}

pub trait RunObserver: Send + Sync {
    fn on_event(&self, event: &RunEvent<'_>);

    /// Whether this observer wants step progress (`StepStarted`, `StepFinished`, `Retrying`,
    /// `Log`). A step is reported finished only once its record is synced, so a run whose
    /// observer wants none syncs once, when it ends, instead of once per batch of steps.
    fn wants_progress(&self) -> bool {
        true
    }
}

pub struct NoObserver;

impl RunObserver for NoObserver {
    fn on_event(&self, _: &RunEvent<'_>) {}

    fn wants_progress(&self) -> bool {
        false
    }
}

/// A step's progress event, owned: it waits in the run's queue until the records it reports
/// are on disk ([`super::run::RunState::deliver_progress`]).
pub(crate) enum Progress {
    StepStarted {
        step: Arc<str>,
        iteration: Vec<usize>,
        attempt: u32,
    },
    StepFinished {
        step: Arc<str>,
        iteration: Vec<usize>,
        status: StepStatus,
        attempts: u32,
        duration: Duration,
        error: Option<String>,
    },
    Retrying {
        step: Arc<str>,
        attempt: u32,
        delay: Duration,
        error: String,
    },
    Log {
        step: String,
        level: LogLevel,
        message: String,
    },
}

impl Progress {
    pub fn event(&self) -> RunEvent<'_> {
        match self {
            Progress::StepStarted {
                step,
                iteration,
                attempt,
            } => RunEvent::StepStarted {
                step,
                iteration,
                attempt: *attempt,
            },
            Progress::StepFinished {
                step,
                iteration,
                status,
                attempts,
                duration,
                error,
            } => RunEvent::StepFinished {
                step,
                iteration,
                status: *status,
                attempts: *attempts,
                duration: *duration,
                error: error.as_deref(),
            },
            Progress::Retrying {
                step,
                attempt,
                delay,
                error,
            } => RunEvent::Retrying {
                step,
                attempt: *attempt,
                delay: *delay,
                error,
            },
            Progress::Log {
                step,
                level,
                message,
            } => RunEvent::Log {
                step,
                level: *level,
                message,
            },
        }
    }
}
