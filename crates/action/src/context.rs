//! What an action sees of the run it is part of. The engine fills it in; nothing here refers
//! to the engine's internals.

use async_trait::async_trait;
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

/// One attempt of one step, as the action sees it.
pub struct ActionContext<'a> {
    pub run_id: &'a str,
    pub step_id: &'a str,
    /// Loop indices when the step runs inside `for_each` (outermost first).
    pub iteration: &'a [usize],
    /// 1 for the first attempt, then 2, 3… for retries.
    pub attempt: u32,
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

    /// The same for the same attempt of the same step (and loop item) of the same run, and
    /// different for any other: send it where an API de-duplicates writes.
    pub fn idempotency_key(&self) -> String {
        let mut key = format!("{}/{}", self.run_id, self.step_id);
        for index in self.iteration {
            key.push_str(&format!("[{index}]"));
        }
        key.push_str(&format!("/{}", self.attempt));
        key
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
}
