//! The Confluence REST client. One [`Client`] is made per step attempt (or per poll) from its
//! context: the connection's API base and token, the step's pooled HTTP client, and the
//! connection's shared [`Pacer`]. Every request goes through [`Client::send`], which paces,
//! authenticates, retries what is safe to retry, refreshes a rejected token once, reads the answer
//! within a cap and turns failures into a typed [`ConfluenceError`].
//!
//! - [`request`]: the [`Request`] type, its URL and its dry-run form;
//! - [`error`]: [`ConfluenceError`] and the messages users read;
//! - [`retry`]: backoff and the waits a server asks for;
//! - [`pacing`]: the per-connection limiter;
//! - [`paging`]: listings as a stream of items, `limit`/`max_results`;
//! - [`read`]: bounded reads of answer bodies;
//! - [`spaces`]: space key → id, cached per connection;
//! - [`transfer`]: uploads streamed from disk, downloads streamed to a file.

pub mod error;
pub mod pacing;
pub mod paging;
pub mod read;
pub mod request;
pub mod retry;
pub mod spaces;
pub mod transfer;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
use reqwest::StatusCode;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use weft_action::http_errors::describe_reqwest_error;
use weft_action::{
    AccessToken, ActionContext, ActionError, ConnectionInfo, ErrorKind, SourceContext,
};

pub use error::ConfluenceError;
pub use pacing::Pacer;
pub use paging::{Listing, MAX_PAGE_SIZE};
pub use request::{Api, Request, PLACEHOLDER_API_BASE};
pub use retry::RetryPolicy;

use error::{error_message, is_scope_mismatch};
use read::{read_capped, read_error_body, MAX_ANSWER_BYTES};

/// Confluence refuses request bodies over 5 MB (413); weft refuses them before sending.
pub const MAX_REQUEST_BODY_BYTES: usize = 5 * 1024 * 1024;

/// How long one attempt of one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What the client needs from a step or a poll: the connection, its tokens, the pooled HTTP
/// client and the cancellation of the run.
#[async_trait]
pub trait Connection: Send + Sync {
    async fn connection_info(&self) -> Result<ConnectionInfo, ActionError>;
    async fn access_token(&self) -> Result<AccessToken, ActionError>;
    async fn refresh_access_token(
        &self,
        rejected: &AccessToken,
    ) -> Result<AccessToken, ActionError>;
    fn http(&self) -> &reqwest::Client;
    fn cancel(&self) -> &CancellationToken;
    /// Whether this is a step attempt that may already have run (its run was resumed after
    /// its process stopped): creates look for what they would make before making it.
    fn may_have_run_before(&self) -> bool {
        false
    }
}

#[async_trait]
impl Connection for ActionContext<'_> {
    async fn connection_info(&self) -> Result<ConnectionInfo, ActionError> {
        ActionContext::connection_info(self).await
    }
    async fn access_token(&self) -> Result<AccessToken, ActionError> {
        ActionContext::access_token(self).await
    }
    async fn refresh_access_token(
        &self,
        rejected: &AccessToken,
    ) -> Result<AccessToken, ActionError> {
        ActionContext::refresh_access_token(self, rejected).await
    }
    fn http(&self) -> &reqwest::Client {
        self.http
    }
    fn cancel(&self) -> &CancellationToken {
        self.cancel
    }
    fn may_have_run_before(&self) -> bool {
        self.may_have_run_before
    }
}

#[async_trait]
impl Connection for SourceContext<'_> {
    async fn connection_info(&self) -> Result<ConnectionInfo, ActionError> {
        SourceContext::connection_info(self).await
    }
    async fn access_token(&self) -> Result<AccessToken, ActionError> {
        SourceContext::access_token(self).await
    }
    async fn refresh_access_token(
        &self,
        rejected: &AccessToken,
    ) -> Result<AccessToken, ActionError> {
        SourceContext::refresh_access_token(self, rejected).await
    }
    fn http(&self) -> &reqwest::Client {
        self.http
    }
    fn cancel(&self) -> &CancellationToken {
        self.cancel
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    /// The JSON body; `null` when the answer has none (204).
    pub body: Value,
}

/// The client of one step attempt or one poll.
pub struct Client<'a> {
    connection: &'a dyn Connection,
    info: ConnectionInfo,
    token: Mutex<AccessToken>,
    /// The scopes of the action (or source) using the client, named when a call lacks one.
    scopes: &'static [&'static str],
    policy: RetryPolicy,
    pacer: Arc<Pacer>,
    may_have_run_before: bool,
}

impl<'a> Client<'a> {
    /// A client for `connection`, used by an action or source that declares `scopes`.
    pub async fn connect(
        connection: &'a dyn Connection,
        scopes: &'static [&'static str],
    ) -> Result<Client<'a>, ActionError> {
        let info = connection.connection_info().await?;
        let token = connection
            .access_token()
            .await
            .map_err(|error| ConfluenceError::token_failure(&info.name, error))?;
        Ok(Client {
            pacer: Pacer::for_connection(&info.api_base),
            connection,
            info,
            token: Mutex::new(token),
            scopes,
            policy: RetryPolicy::default(),
            may_have_run_before: connection.may_have_run_before(),
        })
    }

    /// The step attempt using this client may already have run: see
    /// [`Connection::may_have_run_before`].
    pub fn may_have_run_before(&self) -> bool {
        self.may_have_run_before
    }

    /// The connection: API base, site, granted scopes, settings.
    pub fn info(&self) -> &ConnectionInfo {
        &self.info
    }

    /// The full URL of `request` on this connection.
    pub fn url(&self, request: &Request) -> String {
        request.url(&self.info.api_base)
    }

    /// Sends `request` and returns its JSON body.
    pub async fn json(&self, request: &Request) -> Result<Value, ConfluenceError> {
        Ok(self.send(request).await?.body)
    }

    /// Sends `request`: paced, authenticated, retried when safe (see [`RetryPolicy`]), one
    /// token refresh on 401.
    pub async fn send(&self, request: &Request) -> Result<Answer, ConfluenceError> {
        let payload = match &request.body {
            Some(body) => {
                let bytes = serde_json::to_vec(body).map_err(|e| {
                    ConfluenceError::Step(ActionError::failed(format!(
                        "the body of {} cannot be written: {e}",
                        request.describe()
                    )))
                })?;
                if bytes.len() > MAX_REQUEST_BODY_BYTES {
                    return Err(ConfluenceError::BodyTooLarge {
                        call: request.describe(),
                        size: bytes.len(),
                        limit: MAX_REQUEST_BODY_BYTES,
                    });
                }
                Payload::Json(bytes)
            }
            None => Payload::Empty,
        };
        self.execute(request, &payload, &JsonAnswer).await
    }

    /// The loop behind every request: pace, authenticate, attach the payload (made anew for
    /// each attempt), send, and hand a successful answer to `receiver`; retry what is safe.
    pub(crate) async fn execute<R: Receiver>(
        &self,
        request: &Request,
        payload: &Payload,
        receiver: &R,
    ) -> Result<R::Output, ConfluenceError> {
        let call = request.describe();
        let url = self.url(request);
        let mut failed = 0;
        let mut waited = Duration::ZERO;
        let mut refreshed = false;
        loop {
            self.cancellable(self.pacer.ready()).await?;
            let token = self.token.lock().clone();
            let builder = self
                .connection
                .http()
                .request(request.method.clone(), &url)
                .bearer_auth(token.expose())
                .header(ACCEPT, receiver.accept())
                .timeout(receiver.timeout());
            let builder = payload.attach(builder, &call).await?;
            let error = match self.cancellable(builder.send()).await? {
                Ok(answer) => {
                    self.pacer.observe(answer.headers());
                    let status = answer.status();
                    if status.is_success() {
                        // A body cut off midway is a network error, retried like one.
                        match receiver.receive(answer, &call).await {
                            Ok(output) => return Ok(output),
                            Err(error) => error,
                        }
                    } else {
                        let headers = answer.headers().clone();
                        let body = read_error_body(answer).await;
                        if status == StatusCode::UNAUTHORIZED {
                            if is_scope_mismatch(&body) {
                                return Err(self.scope_mismatch(&call, &headers));
                            }
                            // A 401 means nothing was done: sending again is safe.
                            if !refreshed {
                                refreshed = true;
                                let fresh = self.refresh(&token).await?;
                                *self.token.lock() = fresh;
                                continue;
                            }
                        }
                        status_error(request, &self.info.name, status, &headers, &body)
                    }
                }
                Err(error) => transport_error(&call, &error),
            };
            if !(error.is_transient() && request.replayable) || failed + 1 >= self.policy.attempts {
                return Err(error);
            }
            let asked = match &error {
                ConfluenceError::RateLimited { wait, .. } => *wait,
                _ => None,
            };
            let wait = self.policy.wait(failed + 1, asked);
            if waited + wait > self.policy.max_total_wait {
                return Err(error);
            }
            if asked.is_some() {
                self.pacer.hold(wait);
            }
            if let ConfluenceError::RateLimited { .. } = error {
                // Said here, not in the error: the step only hears of a limit it could not outlast.
                tracing::warn!(
                    call = %call,
                    connection = %self.info.name,
                    "rate limited by Atlassian; retrying after {} s",
                    wait.as_secs().max(1)
                );
            }
            failed += 1;
            waited += wait;
            self.cancellable(tokio::time::sleep(wait)).await?;
        }
    }

    async fn refresh(&self, rejected: &AccessToken) -> Result<AccessToken, ConfluenceError> {
        self.connection
            .refresh_access_token(rejected)
            .await
            .map_err(|error| ConfluenceError::token_failure(&self.info.name, error))
    }

    fn scope_mismatch(&self, call: &str, headers: &HeaderMap) -> ConfluenceError {
        ConfluenceError::ScopeMismatch {
            call: call.to_string(),
            connection: self.info.name.clone(),
            action_scopes: self.scopes,
            granted: self.info.granted_scopes.clone(),
            request_id: request_id(headers),
        }
    }

    /// Runs `work` unless the run is cancelled first.
    async fn cancellable<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T, ConfluenceError> {
        tokio::select! {
            biased;
            _ = self.connection.cancel().cancelled() => Err(ConfluenceError::Step(
                ActionError::new(ErrorKind::Cancelled, "the run was cancelled"),
            )),
            done = work => Ok(done),
        }
    }
}

/// What is sent with a request; made anew for each attempt.
pub(crate) enum Payload {
    Empty,
    Json(Vec<u8>),
    /// A file, streamed from disk as multipart (see [`transfer`]).
    File(transfer::Upload),
}

impl Payload {
    async fn attach(
        &self,
        builder: reqwest::RequestBuilder,
        call: &str,
    ) -> Result<reqwest::RequestBuilder, ConfluenceError> {
        Ok(match self {
            Payload::Empty => builder,
            Payload::Json(bytes) => builder
                .header(CONTENT_TYPE, "application/json")
                .body(bytes.clone()),
            Payload::File(upload) => upload.attach(builder, call).await?,
        })
    }
}

/// What becomes of a successful answer.
pub(crate) trait Receiver {
    type Output;

    /// How long one attempt may take.
    fn timeout(&self) -> Duration {
        REQUEST_TIMEOUT
    }

    /// The `Accept` header.
    fn accept(&self) -> &'static str {
        "application/json"
    }

    fn receive(
        &self,
        answer: reqwest::Response,
        call: &str,
    ) -> impl std::future::Future<Output = Result<Self::Output, ConfluenceError>> + Send;
}

/// The answer as JSON, read within [`MAX_ANSWER_BYTES`].
struct JsonAnswer;

impl Receiver for JsonAnswer {
    type Output = Answer;

    async fn receive(
        &self,
        mut answer: reqwest::Response,
        call: &str,
    ) -> Result<Answer, ConfluenceError> {
        let status = answer.status().as_u16();
        // Moved out rather than copied: the body is read without them.
        let headers = std::mem::take(answer.headers_mut());
        let bytes = read_capped(answer, MAX_ANSWER_BYTES, call).await?;
        let body = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| ConfluenceError::InvalidAnswer {
                call: call.to_string(),
                detail: e.to_string(),
            })?
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// Atlassian's id of the request, which their support asks for.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("atl-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The typed error for an unsuccessful status.
fn status_error(
    request: &Request,
    connection: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> ConfluenceError {
    let call = request.describe();
    let request_id = request_id(headers);
    let message = error_message(body).unwrap_or_else(|| {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string()
    });
    match status.as_u16() {
        404 => ConfluenceError::NotFound {
            subject: request
                .subject
                .clone()
                .unwrap_or_else(|| format!("the resource of {call}")),
            request_id,
        },
        409 => match sent_version(request) {
            Some(sent) => ConfluenceError::VersionConflict {
                subject: request.subject.clone().unwrap_or(call),
                current: None,
                sent: Some(sent),
                request_id,
            },
            None => ConfluenceError::Conflict {
                call,
                message,
                request_id,
            },
        },
        401 => ConfluenceError::Unauthorized {
            call,
            connection: connection.to_string(),
            message,
            request_id,
        },
        403 => ConfluenceError::Forbidden {
            call,
            message,
            request_id,
        },
        429 => ConfluenceError::RateLimited {
            call,
            wait: retry::requested_wait(headers, chrono::Utc::now()),
            request_id,
        },
        500..=599 => ConfluenceError::Server {
            call,
            status: status.as_u16(),
            message,
            request_id,
        },
        other => ConfluenceError::Rejected {
            call,
            status: other,
            message,
            input: request.input.clone(),
            request_id,
        },
    }
}

/// The version number a write sent (`version.number` of its body).
fn sent_version(request: &Request) -> Option<u64> {
    request.body.as_ref()?.pointer("/version/number")?.as_u64()
}

/// A request that got no answer.
pub(crate) fn transport_error(call: &str, error: &reqwest::Error) -> ConfluenceError {
    let detail = describe_reqwest_error(error);
    if error.is_timeout() {
        ConfluenceError::Timeout {
            call: call.to_string(),
            detail,
        }
    } else {
        ConfluenceError::Network {
            call: call.to_string(),
            detail,
        }
    }
}
