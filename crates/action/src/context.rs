//! What an action sees of the run it is part of. The engine fills it in; nothing here refers
//! to the engine's internals.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::error::{ActionError, ErrorKind};
use crate::http_errors::describe_error_chain;
use crate::token::{AccessToken, ConnectionInfo, TokenError, TokenProvider};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// The run's log. The engine's implementation redacts secrets before anything is written.
pub trait StepLog: Send + Sync {
    fn log(&self, step: &str, level: LogLevel, message: &str);
}

/// Runs another workflow (`workflow.call`): implemented by the engine.
#[async_trait]
pub trait WorkflowCaller: Send + Sync {
    /// Runs the workflow at `path` (relative to the calling workflow) and returns its outputs.
    async fn call_workflow(&self, path: &str, inputs: Value) -> Result<Value, ActionError>;
}

/// How the attempt may wait (see [`ActionContext::wait_until`]); the engine sets it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitPolicy {
    /// Waits longer than this are stored with the run instead of slept (runs of the daemon);
    /// `None`: every wait is slept.
    pub store_longer_than: Option<Duration>,
    /// The wake-up time this step stored before its run was parked: the resumed wait ends
    /// then, not a full duration after the resume.
    pub stored_until: Option<DateTime<Utc>>,
}

/// One attempt of one step, as the action sees it.
pub struct ActionContext<'a> {
    pub run_id: &'a str,
    pub step_id: &'a str,
    /// Loop indices when the step runs inside `for_each` (outermost first).
    pub iteration: &'a [usize],
    /// 1 for the first attempt, then 2, 3… for retries. An attempt that was in flight when
    /// the process stopped keeps its number when its resumed run repeats it.
    pub attempt: u32,
    /// This attempt may already have run, wholly or in part: it is the first one of its step
    /// in a resumed run (its process stopped before the outcome was recorded). Writes should
    /// look for what the earlier try made (by [`ActionContext::idempotency_key`] or by their
    /// own natural key) before making it again.
    pub may_have_run_before: bool,
    pub wait: WaitPolicy,
    /// The connection this step uses: its own, else the workflow's.
    pub connection: Option<&'a str>,
    /// The shared HTTP client (connection pooling across steps).
    pub http: &'a reqwest::Client,
    pub tokens: &'a dyn TokenProvider,
    pub logger: &'a dyn StepLog,
    pub workflows: &'a dyn WorkflowCaller,
    /// Cancelled when the run is; long waits should select on it.
    pub cancel: &'a CancellationToken,
}

impl ActionContext<'_> {
    pub fn run_id(&self) -> &str {
        self.run_id
    }

    pub fn step_id(&self) -> &str {
        self.step_id
    }

    pub fn http(&self) -> &reqwest::Client {
        self.http
    }

    pub fn connection(&self) -> Option<&str> {
        self.connection
    }

    /// The same for the same attempt of the same step (and loop item) of the same run, also
    /// when a resumed run repeats an attempt cut short by a crash, and different for any
    /// other: send it where an API de-duplicates writes.
    pub fn idempotency_key(&self) -> String {
        let mut key = format!("{}/{}", self.run_id, self.step_id);
        for index in self.iteration {
            key.push_str(&format!("[{index}]"));
        }
        key.push_str(&format!("/{}", self.attempt));
        key
    }

    /// Waits until `at` (or the time this step stored before its run was parked). A wait
    /// longer than the policy allows a task for is not slept: it ends the attempt with a
    /// [`ErrorKind::Waiting`] error, which the engine turns into a stored wait.
    pub async fn wait_until(&self, at: DateTime<Utc>) -> Result<(), ActionError> {
        let at = self.wait.stored_until.unwrap_or(at);
        let left = (at - Utc::now()).to_std().unwrap_or_default();
        if left.is_zero() {
            return Ok(());
        }
        if self
            .wait
            .store_longer_than
            .is_some_and(|limit| left > limit)
        {
            return Err(ActionError::new(
                ErrorKind::Waiting { until: at },
                format!("waiting until {}", at.to_rfc3339()),
            ));
        }
        // Not cut short by the run's cancellation: the engine drops a cancelled run's steps,
        // and a `finally` step, which runs after a cancellation, still waits.
        tokio::time::sleep(left).await;
        Ok(())
    }

    /// Writes to the run's log; secrets are redacted.
    pub fn log(&self, level: LogLevel, message: &str) {
        self.logger.log(self.step_id, level, message);
    }

    /// A valid access token for this step's connection.
    pub async fn access_token(&self) -> Result<AccessToken, ActionError> {
        self.tokens_of().access_token().await
    }

    /// Where this step's connection points (API base, cloud id), its scopes and settings.
    pub async fn connection_info(&self) -> Result<ConnectionInfo, ActionError> {
        self.tokens_of().connection_info().await
    }

    /// After the API answered 401 to `rejected`: a refreshed token for this step's connection.
    pub async fn refresh_access_token(
        &self,
        rejected: &AccessToken,
    ) -> Result<AccessToken, ActionError> {
        self.tokens_of().refresh(rejected).await
    }

    fn tokens_of(&self) -> TokensOf<'_> {
        TokensOf {
            tokens: self.tokens,
            connection: self.connection,
            owner: "step",
            name: self.step_id,
        }
    }

    /// Runs another workflow file, relative to this workflow's folder, and returns its outputs.
    pub async fn call_workflow(&self, path: &str, inputs: Value) -> Result<Value, ActionError> {
        self.workflows.call_workflow(path, inputs).await
    }
}

fn required<'a>(
    connection: Option<&'a str>,
    owner: &str,
    name: &str,
) -> Result<&'a str, ActionError> {
    connection.ok_or_else(|| {
        ActionError::invalid_input(format!(
            "{owner} `{name}` has no connection to take a token from"
        ))
    })
}

fn token_failure(error: TokenError) -> ActionError {
    let kind = match &error {
        TokenError::Failed {
            transient: true, ..
        } => ErrorKind::Network,
        _ => ErrorKind::Failed,
    };
    ActionError::new(kind, describe_error_chain(&error))
}

/// What a polling source sees when it polls.
pub struct SourceContext<'a> {
    /// The source's name, for messages.
    pub source: &'a str,
    /// The connection of the trigger: its own, else the workflow's.
    pub connection: Option<&'a str>,
    pub http: &'a reqwest::Client,
    pub tokens: &'a dyn TokenProvider,
    pub cancel: &'a CancellationToken,
}

impl SourceContext<'_> {
    /// A valid access token for the trigger's connection.
    pub async fn access_token(&self) -> Result<AccessToken, ActionError> {
        self.tokens_of().access_token().await
    }

    /// Where the trigger's connection points (API base, cloud id), its scopes and settings.
    pub async fn connection_info(&self) -> Result<ConnectionInfo, ActionError> {
        self.tokens_of().connection_info().await
    }

    /// After the API answered 401 to `rejected`: a refreshed token for the trigger's connection.
    pub async fn refresh_access_token(
        &self,
        rejected: &AccessToken,
    ) -> Result<AccessToken, ActionError> {
        self.tokens_of().refresh(rejected).await
    }

    fn tokens_of(&self) -> TokensOf<'_> {
        TokensOf {
            tokens: self.tokens,
            connection: self.connection,
            owner: "polling source",
            name: self.source,
        }
    }
}

/// The token provider calls of a step or a source, on its connection (an error names the step or
/// source when it has none).
struct TokensOf<'a> {
    tokens: &'a dyn TokenProvider,
    connection: Option<&'a str>,
    owner: &'static str,
    name: &'a str,
}

impl TokensOf<'_> {
    fn connection(&self) -> Result<&str, ActionError> {
        required(self.connection, self.owner, self.name)
    }

    async fn access_token(&self) -> Result<AccessToken, ActionError> {
        let connection = self.connection()?;
        self.tokens
            .access_token(connection)
            .await
            .map_err(token_failure)
    }

    async fn connection_info(&self) -> Result<ConnectionInfo, ActionError> {
        let connection = self.connection()?;
        self.tokens
            .connection_info(connection)
            .await
            .map_err(token_failure)
    }

    async fn refresh(&self, rejected: &AccessToken) -> Result<AccessToken, ActionError> {
        let connection = self.connection()?;
        self.tokens
            .refresh_rejected(connection, rejected)
            .await
            .map_err(token_failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::NoTokens;

    #[tokio::test]
    async fn a_source_without_a_connection_gets_no_token() {
        let http = reqwest::Client::new();
        let cancel = CancellationToken::new();
        let mut ctx = SourceContext {
            source: "test.ticks",
            connection: None,
            http: &http,
            tokens: &NoTokens,
            cancel: &cancel,
        };
        let missing = ctx.access_token().await.unwrap_err();
        assert_eq!(missing.kind, ErrorKind::InvalidInput);
        assert!(missing.message.contains("`test.ticks` has no connection"));
        ctx.connection = Some("acme");
        let unavailable = ctx.access_token().await.unwrap_err();
        assert_eq!(unavailable.kind, ErrorKind::Failed);
        assert_eq!(unavailable.message, "connections are not available here");
    }

    struct Quiet;

    impl StepLog for Quiet {
        fn log(&self, _: &str, _: LogLevel, _: &str) {}
    }

    #[async_trait]
    impl WorkflowCaller for Quiet {
        async fn call_workflow(&self, _: &str, _: Value) -> Result<Value, ActionError> {
            Err(ActionError::failed("no workflows here"))
        }
    }

    #[test]
    fn the_idempotency_key_names_run_step_loop_item_and_attempt() {
        let http = reqwest::Client::new();
        let cancel = CancellationToken::new();
        let ctx = |iteration: &'static [usize], attempt| {
            ActionContext {
                run_id: "01RUN",
                step_id: "create",
                iteration,
                attempt,
                may_have_run_before: false,
                wait: WaitPolicy::default(),
                connection: None,
                http: &http,
                tokens: &NoTokens,
                logger: &Quiet,
                workflows: &Quiet,
                cancel: &cancel,
            }
            .idempotency_key()
        };
        assert_eq!(ctx(&[], 1), "01RUN/create/1");
        assert_eq!(ctx(&[2, 0], 3), "01RUN/create[2][0]/3");
        assert_ne!(ctx(&[1], 1), ctx(&[2], 1));
        assert_eq!(ctx(&[1], 1), ctx(&[1], 1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_longer_than_the_policy_allows_is_stored_and_a_stored_one_ends_on_time() {
        let http = reqwest::Client::new();
        let cancel = CancellationToken::new();
        let ctx = |wait| ActionContext {
            run_id: "01RUN",
            step_id: "pause",
            iteration: &[],
            attempt: 1,
            may_have_run_before: false,
            wait,
            connection: None,
            http: &http,
            tokens: &NoTokens,
            logger: &Quiet,
            workflows: &Quiet,
            cancel: &cancel,
        };
        let in_an_hour = Utc::now() + chrono::Duration::hours(1);
        let stores = WaitPolicy {
            store_longer_than: Some(Duration::from_secs(5)),
            stored_until: None,
        };
        let parked = ctx(stores).wait_until(in_an_hour).await.unwrap_err();
        assert_eq!(parked.kind, ErrorKind::Waiting { until: in_an_hour });

        // Resumed after its time: the stored instant wins over a new one, so it ends at once.
        let resumed = WaitPolicy {
            stored_until: Some(Utc::now() - chrono::Duration::seconds(1)),
            ..stores
        };
        ctx(resumed).wait_until(in_an_hour).await.unwrap();

        // Within the limit it is slept (on tokio's paused clock: at once).
        let soon = Utc::now() + chrono::Duration::seconds(3);
        ctx(stores).wait_until(soon).await.unwrap();
    }
}
