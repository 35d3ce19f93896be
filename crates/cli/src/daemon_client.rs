//! Talking to the daemon that owns the data folder. While a daemon runs, the run history and
//! the key store are its own (one process opens them); `weft runs`, `weft run`, `weft
//! connections ...` and `weft connect` then ask its HTTP API, found through `daemon.json` in
//! the data folder. A `daemon.json` whose daemon does not answer `/healthz` (killed with -9) is
//! ignored.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use weft_daemon::address;
use weft_daemon::api::{
    ApiToken, AppChanged, AppDetail, AppPatch, ConfigChanged, ConfigPatch, ConnectProgress,
    ConnectRequest, ConnectStarted, ConnectionDetail, SiteChoice, TestedUser,
};
use weft_engine::store::{AttemptRecord, RunRecord};

/// How long the health check may take: a daemon that is there answers at once.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Limit on one API call (a run waited for is limited by its `wait` instead).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read (the API pages what could be bigger).
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// A daemon that answered.
#[derive(Clone)]
pub struct DaemonClient {
    pub address: SocketAddr,
    base: String,
    http: reqwest::Client,
}

/// A call that did not give what was asked; `message` is for people.
#[derive(Debug)]
pub struct CallError {
    /// The HTTP status, when the daemon answered.
    pub status: Option<StatusCode>,
    pub message: String,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The daemon that owns `data_dir`, if one is running and answers.
pub async fn find(data_dir: &Path) -> Option<DaemonClient> {
    // An unreadable or foreign file is no daemon: the command goes on as without one, and
    // the history's own lock says if something else holds it.
    let written = address::read(data_dir).ok().flatten()?;
    // A daemon that needs its API token: the same user can read the token's file. If it
    // cannot, the call goes without and the daemon's 401 says what is missing.
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = written
        .api_token_file
        .as_deref()
        .and_then(|file| ApiToken::read_file(file).ok())
    {
        headers.insert(reqwest::header::AUTHORIZATION, token.authorization());
    }
    let http = reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .default_headers(headers)
        .no_proxy()
        .build()
        .ok()?;
    let client = DaemonClient {
        address: written.address,
        base: format!("http://{}", written.address),
        http,
    };
    let health = client
        .http
        .get(format!("{}/healthz", client.base))
        .timeout(HEALTH_TIMEOUT)
        .send()
        .await
        .ok()?;
    if !health.status().is_success() {
        return None;
    }
    let body: Value = health.json().await.ok()?;
    (body["status"] == "ok").then_some(client)
}

impl DaemonClient {
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, Value), CallError> {
        let unreachable = |e: reqwest::Error| CallError {
            status: None,
            message: format!(
                "the daemon at {} did not answer: {}",
                self.address,
                weft_runtime::action::http_errors::describe_error_chain(&e)
            ),
        };
        let mut answer = request.send().await.map_err(unreachable)?;
        let status = answer.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = answer.chunk().await.map_err(unreachable)? {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(CallError {
                    status: Some(status),
                    message: format!(
                        "the daemon's answer is larger than {} MiB",
                        MAX_ANSWER_BYTES / (1024 * 1024)
                    ),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| CallError {
            status: Some(status),
            message: format!(
                "the daemon answered HTTP {status} with something other than JSON: {e}"
            ),
        })?;
        if !status.is_success() {
            let error = &body["error"];
            return Err(CallError {
                status: Some(status),
                message: error["message"].as_str().map_or_else(
                    || format!("the daemon answered HTTP {status}"),
                    str::to_string,
                ),
            });
        }
        Ok((status, body))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The newest `limit` runs, as the API summarises them.
    pub async fn list_runs(&self, limit: usize) -> Result<Vec<Value>, CallError> {
        let mut runs = Vec::new();
        let mut cursor: Option<String> = None;
        // The API pages by at most 500.
        while runs.len() < limit {
            let page = (limit - runs.len()).min(500);
            let mut query = vec![("limit", page.to_string())];
            if let Some(cursor) = &cursor {
                query.push(("cursor", cursor.clone()));
            }
            let request = self.http.get(self.url("/api/v1/runs")).query(&query);
            let (_, body) = self.call(request).await?;
            let Some(Value::Array(listed)) = body.get("runs").cloned() else {
                return Err(malformed("runs"));
            };
            runs.extend(listed);
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        Ok(runs)
    }

    /// A run with a page of its attempts and how many it has; `None` when there is no such run.
    pub async fn show_run(
        &self,
        id: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Option<(RunRecord, Vec<AttemptRecord>, usize)>, CallError> {
        let request = self
            .http
            .get(self.url(&format!("/api/v1/runs/{id}")))
            .query(&[("attempt_offset", offset), ("attempt_limit", limit)]);
        let body = match self.call(request).await {
            Ok((_, body)) => body,
            Err(e) if e.status == Some(StatusCode::NOT_FOUND) => return Ok(None),
            Err(e) => return Err(e),
        };
        let run: RunRecord =
            serde_json::from_value(body["run"].clone()).map_err(|_| malformed("run"))?;
        let attempts: Vec<AttemptRecord> =
            serde_json::from_value(body["attempts"].clone()).map_err(|_| malformed("attempts"))?;
        let total = body["attempts_total"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| malformed("attempts_total"))?;
        Ok(Some((run, attempts, total)))
    }

    /// Starts a run of `workflow` and waits up to `wait` for its end: the API's answer (with
    /// the outcome when it ended in time).
    pub async fn start_run(
        &self,
        workflow: &str,
        inputs: Map<String, Value>,
        wait: Duration,
    ) -> Result<Value, CallError> {
        let mut body = Map::new();
        body.insert("inputs".into(), Value::Object(inputs));
        let request = self
            .http
            .post(self.url(&format!("/api/v1/workflows/{workflow}/runs")))
            .query(&[("wait", format!("{}s", wait.as_secs()))])
            .timeout(wait + CALL_TIMEOUT)
            .json(&body);
        self.call(request).await.map(|(_, body)| body)
    }

    /// The connections of the data folder, as the API shows them (never a token).
    pub async fn connections(&self) -> Result<Vec<Value>, CallError> {
        let (_, body) = self
            .call(self.http.get(self.url("/api/v1/connections")))
            .await?;
        match body.get("connections") {
            Some(Value::Array(connections)) => Ok(connections.clone()),
            _ => Err(malformed("connections")),
        }
    }
}

/// Calls about one connection, and connecting one.
impl DaemonClient {
    /// The answer's field `field` (the whole answer for `None`), read as a `T`.
    async fn typed<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        field: Option<&str>,
    ) -> Result<T, CallError> {
        let (_, body) = self.call(request).await?;
        let value = match field {
            Some(field) => body.get(field).cloned().unwrap_or(Value::Null),
            None => body,
        };
        serde_json::from_value(value).map_err(|_| malformed(field.unwrap_or("answer")))
    }

    /// `/api/v1/connections/{name}` and below: the name is one path segment, escaped.
    fn connection_url(&self, name: &str, tail: &str) -> String {
        self.url(&format!("/api/v1/connections/{}{tail}", segment(name)))
    }

    fn attempt_url(&self, attempt: &str, tail: &str) -> String {
        self.url(&format!(
            "/api/v1/connect-attempts/{}{tail}",
            segment(attempt)
        ))
    }

    pub async fn connection(&self, name: &str) -> Result<ConnectionDetail, CallError> {
        let request = self.http.get(self.connection_url(name, ""));
        self.typed(request, Some("connection")).await
    }

    pub async fn delete_connection(&self, name: &str) -> Result<(), CallError> {
        let request = self.http.delete(self.connection_url(name, ""));
        self.call(request).await.map(drop)
    }

    pub async fn set_connection_config(
        &self,
        name: &str,
        patch: &ConfigPatch,
    ) -> Result<ConfigChanged, CallError> {
        let request = self
            .http
            .patch(self.connection_url(name, "/config"))
            .json(patch);
        self.typed(request, None).await
    }

    /// The OAuth app of `provider`, as the daemon reads it (its environment for the secret).
    pub async fn app(&self, provider: &str) -> Result<AppDetail, CallError> {
        let url = self.url(&format!("/api/v1/apps/{}", segment(provider)));
        self.typed(self.http.get(url), None).await
    }

    /// Changes the OAuth app of `provider`; the daemon uses it from its next connect or refresh.
    pub async fn set_app(&self, provider: &str, patch: &AppPatch) -> Result<AppChanged, CallError> {
        let url = self.url(&format!("/api/v1/apps/{}", segment(provider)));
        self.typed(self.http.patch(url).json(patch), None).await
    }

    pub async fn refresh_connection(&self, name: &str) -> Result<(), CallError> {
        let request = self.http.post(self.connection_url(name, "/refresh"));
        self.call(request).await.map(drop)
    }

    pub async fn test_connection(&self, name: &str) -> Result<TestedUser, CallError> {
        let request = self.http.post(self.connection_url(name, "/test"));
        self.typed(request, None).await
    }

    /// Asks the daemon to begin an OAuth attempt for connection `name`.
    pub async fn begin_connect(
        &self,
        name: &str,
        request: &ConnectRequest,
    ) -> Result<ConnectStarted, CallError> {
        let request = self
            .http
            .post(self.connection_url(name, "/connect"))
            .json(request);
        self.typed(request, None).await
    }

    /// Where an attempt stands, once it moved on or `wait` passed.
    pub async fn connect_progress(
        &self,
        attempt: &str,
        wait: Duration,
    ) -> Result<ConnectProgress, CallError> {
        let request = self
            .http
            .get(self.attempt_url(attempt, ""))
            .query(&[("wait", format!("{}s", wait.as_secs()))])
            .timeout(wait + CALL_TIMEOUT);
        self.typed(request, None).await
    }

    pub async fn choose_site(&self, attempt: &str, choice: &SiteChoice) -> Result<(), CallError> {
        let request = self
            .http
            .post(self.attempt_url(attempt, "/site"))
            .json(choice);
        self.call(request).await.map(drop)
    }

    pub async fn abandon_connect(&self, attempt: &str) -> Result<(), CallError> {
        let request = self.http.delete(self.attempt_url(attempt, ""));
        self.call(request).await.map(drop)
    }

    /// Hands the redirect back from Atlassian to the daemon's flow; answers once the
    /// connection is stored (a site may have to be chosen first, hence `wait`): its name.
    pub async fn forward_callback(
        &self,
        params: &weft_auth::connect::CallbackParams,
        wait: Duration,
    ) -> Result<String, CallError> {
        let request = self
            .http
            .post(self.url("/api/v1/oauth/callback"))
            .json(params)
            .timeout(wait + CALL_TIMEOUT);
        self.typed(request, Some("connection")).await
    }
}

/// `text` as one path segment: every byte but letters, digits, `-` and `_` percent-encoded.
fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn malformed(field: &str) -> CallError {
    CallError {
        status: None,
        message: format!(
            "the daemon's answer has no valid `{field}`: is it another version of weft?"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_one_path_segment() {
        assert_eq!(segment("acme-eu_1"), "acme-eu_1");
        assert_eq!(segment("a.b"), "a%2Eb");
        assert_eq!(segment("a/b?c#d e"), "a%2Fb%3Fc%23d%20e");
        assert_eq!(segment("é"), "%C3%A9");
    }
}
