//! What can go wrong talking to Confluence, typed, and the sentence a user reads for each.

use std::time::Duration;

use serde_json::Value;
use weft_action::{ActionError, ErrorKind};

/// A failed call. `Display` is the message a step fails with: what happened, to what, and what
/// to do about it; `request_id` is Atlassian's `atl-request-id`, which their support asks for.
#[derive(Debug, thiserror::Error)]
pub enum ConfluenceError {
    #[error("{subject} not found, or the connection's account may not see it (Confluence answers 404 for both){}", rid(.request_id))]
    NotFound {
        subject: String,
        request_id: Option<String>,
    },
    #[error("no space with key {key} on {site}, or the connection's account may not see it")]
    UnknownSpace { key: String, site: String },
    #[error("{subject} was changed by someone else ({}); nothing was overwritten{}", versions(*.current, *.sent), rid(.request_id))]
    VersionConflict {
        subject: String,
        /// The version the page has now, when it could be read.
        current: Option<u64>,
        /// The version number this call sent.
        sent: Option<u64>,
        request_id: Option<String>,
    },
    #[error("{call} was refused with 409 Conflict: {message}{}", rid(.request_id))]
    Conflict {
        call: String,
        message: String,
        request_id: Option<String>,
    },
    #[error("{}", scope_mismatch(.call, .connection, .action_scopes, .granted, .request_id))]
    ScopeMismatch {
        call: String,
        connection: String,
        /// Every scope the action declares; none for `http_request`, whose endpoint is the
        /// user's.
        action_scopes: &'static [&'static str],
        /// Every scope the connection was granted.
        granted: Vec<String>,
        request_id: Option<String>,
    },
    #[error("Confluence refused the connection's token for {call} even after a refresh ({message}); reconnect it: weft connect confluence --connection {connection}{}", rid(.request_id))]
    Unauthorized {
        call: String,
        connection: String,
        message: String,
        request_id: Option<String>,
    },
    #[error("connection {connection} needs to be reconnected: weft connect confluence --connection {connection} ({reason})")]
    Reconnect { connection: String, reason: String },
    #[error("{call} is forbidden for the connection's account: {message}{}", rid(.request_id))]
    Forbidden {
        call: String,
        message: String,
        request_id: Option<String>,
    },
    #[error("Confluence refused {call} ({status}): {message}{}{}", input_of(.input), rid(.request_id))]
    Rejected {
        call: String,
        status: u16,
        message: String,
        /// The step input the request was built from, when it names one.
        input: Option<String>,
        request_id: Option<String>,
    },
    #[error("rate limited by Atlassian on {call}; {}{}", wait_text(*.wait), rid(.request_id))]
    RateLimited {
        call: String,
        wait: Option<Duration>,
        request_id: Option<String>,
    },
    #[error("Confluence failed on {call} ({status}): {message}{}", rid(.request_id))]
    Server {
        call: String,
        status: u16,
        message: String,
        request_id: Option<String>,
    },
    #[error("could not reach Confluence for {call}: {detail}")]
    Network { call: String, detail: String },
    #[error("{call} timed out: {detail}")]
    Timeout { call: String, detail: String },
    #[error("the answer to {call} is larger than {limit} bytes, the most weft reads; ask for less (a smaller `limit`, a filter)")]
    AnswerTooLarge { call: String, limit: usize },
    #[error("the answer to {call} is not the JSON Confluence sends: {detail}")]
    InvalidAnswer { call: String, detail: String },
    #[error("Confluence answered {call} with a link to the same page again (its cursor did not change); weft stopped the listing rather than ask for it forever")]
    RepeatedPage { call: String },
    #[error("Confluence answered {pages} empty pages in a row to {call}, each linking to another; weft stopped the listing rather than follow them forever")]
    EmptyPages { call: String, pages: u32 },
    #[error("the request body for {call} is {size} bytes; Confluence refuses more than {limit} bytes, so nothing was sent")]
    BodyTooLarge {
        call: String,
        size: usize,
        limit: usize,
    },
    #[error("cannot read {path} to upload it: {source}")]
    UploadFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is {size} bytes; weft uploads at most {limit} bytes")]
    UploadTooLarge { path: String, size: u64, limit: u64 },
    #[error("cannot write the download of {call} to {path}: {source}")]
    DownloadFile {
        call: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the download of {call} is larger than {limit} bytes, the most allowed; nothing was kept"
    )]
    DownloadTooLarge { call: String, limit: u64 },
    /// A failure already worded for the step (a token that could not be had, cancellation).
    #[error("{0}")]
    Step(ActionError),
}

fn rid(request_id: &Option<String>) -> String {
    request_id
        .as_deref()
        .map(|id| format!(" (Atlassian request id {id})"))
        .unwrap_or_default()
}

fn versions(current: Option<u64>, sent: Option<u64>) -> String {
    match (current, sent) {
        (Some(current), Some(sent)) => format!("now version {current}, you sent {sent}"),
        (None, Some(sent)) => format!("you sent version {sent}, which is no longer next"),
        (Some(current), None) => format!("now version {current}"),
        (None, None) => "its version moved on".to_string(),
    }
}

fn input_of(input: &Option<String>) -> String {
    input
        .as_deref()
        .map(|input| format!(" (input {input})"))
        .unwrap_or_default()
}

/// The end of a rate limit the client's own retries did not outlast (a wait it took is logged,
/// not reported: see `Client::execute`).
fn wait_text(wait: Option<Duration>) -> String {
    match wait {
        Some(wait) => format!(
            "Atlassian asks to wait {} s, longer than weft waits within one step attempt; a step `retry:` policy can wait longer",
            wait.as_secs().max(1)
        ),
        None => "weft's retries did not get through; a step `retry:` policy can wait longer".to_string(),
    }
}

fn scope_mismatch(
    call: &str,
    connection: &str,
    action_scopes: &[&str],
    granted: &[String],
    request_id: &Option<String>,
) -> String {
    let missing: Vec<&str> = action_scopes
        .iter()
        .copied()
        .filter(|scope| !granted.iter().any(|g| g == scope))
        .collect();
    let reconnect = format!("`weft connect confluence --connection {connection}`");
    if action_scopes.is_empty() {
        // An endpoint of the user's choosing (`http_request`): weft does not know its scopes.
        let granted = if granted.is_empty() {
            "no scopes".to_string()
        } else {
            granted.join(", ")
        };
        return format!(
            "Confluence answered \"scope does not match\" to {call}: the endpoint needs scopes connection {connection} lacks (it was granted {granted}). Add the scopes its page of Confluence's REST reference lists to the app in the Atlassian developer console, then run `weft apps set confluence --add-scope SCOPE` and reconnect: {reconnect}{}",
            rid(request_id)
        );
    }
    let needs = action_scopes.join(", ");
    if missing.is_empty() {
        return format!(
            "Confluence answered \"scope does not match\" to {call}: this action needs {needs}, which connection {connection} was granted; the app's scopes may have changed since: reconnect with {reconnect}{}",
            rid(request_id)
        );
    }
    let flags: Vec<String> = missing.iter().map(|s| format!("--add-scope {s}")).collect();
    format!(
        "Confluence answered \"scope does not match\" to {call}: this action needs {needs}; connection {connection} lacks {}. Add the scopes to the app in the Atlassian developer console, then run `weft apps set confluence {}` and reconnect: {reconnect}{}",
        missing.join(", "),
        flags.join(" "),
        rid(request_id)
    )
}

impl ConfluenceError {
    /// What the error is for a retry policy.
    pub fn kind(&self) -> ErrorKind {
        use ConfluenceError::*;
        match self {
            NotFound { .. } => ErrorKind::Http { status: 404 },
            VersionConflict { .. } | Conflict { .. } => ErrorKind::Http { status: 409 },
            ScopeMismatch { .. } | Unauthorized { .. } => ErrorKind::Http { status: 401 },
            Reconnect { .. }
            | InvalidAnswer { .. }
            | AnswerTooLarge { .. }
            | RepeatedPage { .. }
            | EmptyPages { .. } => ErrorKind::Failed,
            Forbidden { .. } => ErrorKind::Http { status: 403 },
            Rejected { status, .. } | Server { status, .. } => ErrorKind::Http { status: *status },
            RateLimited { .. } => ErrorKind::Http { status: 429 },
            Network { .. } => ErrorKind::Network,
            Timeout { .. } => ErrorKind::Timeout,
            BodyTooLarge { .. }
            | UnknownSpace { .. }
            | UploadFile { .. }
            | UploadTooLarge { .. }
            | DownloadTooLarge { .. } => ErrorKind::InvalidInput,
            DownloadFile { .. } => ErrorKind::Failed,
            Step(error) => error.kind,
        }
    }

    /// Whether sending the same request again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ConfluenceError::RateLimited { .. }
                | ConfluenceError::Server { .. }
                | ConfluenceError::Network { .. }
                | ConfluenceError::Timeout { .. }
        )
    }
}

impl ConfluenceError {
    /// A token for `connection` that could not be had: a transient failure stays the step's to
    /// retry; any other means the connection must be reconnected, said once, with the command
    /// and only the root cause (the token layers each prefix their own "needs to be
    /// reconnected").
    pub fn token_failure(connection: &str, error: ActionError) -> ConfluenceError {
        match error.kind {
            ErrorKind::Network
            | ErrorKind::Timeout
            | ErrorKind::Cancelled
            | ErrorKind::InvalidInput => ConfluenceError::Step(error),
            _ => ConfluenceError::Reconnect {
                connection: connection.to_string(),
                reason: root_cause(connection, &error.message),
            },
        }
    }
}

/// `message` without the prefixes the token layers put before the cause.
fn root_cause(connection: &str, message: &str) -> String {
    let prefixes = [
        format!("connection `{connection}` has no usable access token: "),
        format!("connection `{connection}` needs to be reconnected: "),
    ];
    let mut cause = message;
    while let Some(rest) = prefixes.iter().find_map(|p| cause.strip_prefix(p.as_str())) {
        cause = rest;
    }
    cause.to_string()
}

impl From<ConfluenceError> for ActionError {
    fn from(error: ConfluenceError) -> Self {
        match error {
            ConfluenceError::Step(error) => error,
            ConfluenceError::RateLimited { wait, .. } => ActionError {
                kind: ErrorKind::Http { status: 429 },
                message: error.to_string(),
                retry_after: wait,
            },
            _ => ActionError::new(error.kind(), error.to_string()),
        }
    }
}

/// Confluence's own words from an error body: v2 `errors[].title` (+ `detail`), v1 `message`,
/// gateway `message`; `None` when the body has none.
pub fn error_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    if let Some(errors) = value.get("errors").and_then(Value::as_array) {
        let parts: Vec<String> = errors
            .iter()
            .filter_map(|e| {
                let title = e.get("title").and_then(Value::as_str)?;
                Some(match e.get("detail").and_then(Value::as_str) {
                    Some(detail) if !detail.is_empty() => format!("{title} ({detail})"),
                    _ => title.to_string(),
                })
            })
            .collect();
        if !parts.is_empty() {
            return Some(parts.join("; "));
        }
    }
    value
        .get("message")
        .and_then(Value::as_str)
        .map(|message| without_exception_class(message).to_string())
}

/// A v1 message without the Java exception class it starts with
/// (`com.atlassian.confluence.api.service.exceptions.api.BadRequestException: ...`): a user
/// cannot act on the class name.
fn without_exception_class(message: &str) -> &str {
    match message.split_once(": ") {
        Some((class, rest))
            if class.contains('.')
                && class.ends_with("Exception")
                && !class.contains(char::is_whitespace) =>
        {
            rest
        }
        _ => message,
    }
}

/// The status an error body states: v2 `errors[0].status` (a number, or sometimes the string
/// `"409"`), v1 `statusCode`, gateway `code`.
pub fn error_status(body: &[u8]) -> Option<u16> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let status = value
        .pointer("/errors/0/status")
        .or_else(|| value.get("statusCode"))
        .or_else(|| value.get("code"))?;
    match status {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The gateway's answer to a token without the scopes an operation checks.
pub fn is_scope_mismatch(body: &[u8]) -> bool {
    error_message(body).is_some_and(|m| m.to_ascii_lowercase().contains("scope does not match"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_come_from_v2_v1_and_gateway_bodies() {
        let v2 = br#"{"errors":[{"status":404,"code":"NOT_FOUND","title":"Cannot find a page with id [7]","detail":null}]}"#;
        assert_eq!(
            error_message(v2).as_deref(),
            Some("Cannot find a page with id [7]")
        );
        assert_eq!(error_status(v2), Some(404));
        let v2_string = br#"{"errors":[{"status":"409","code":"CONFLICT","title":"Version must be incremented","detail":"x"}]}"#;
        assert_eq!(error_status(v2_string), Some(409));
        assert_eq!(
            error_message(v2_string).as_deref(),
            Some("Version must be incremented (x)")
        );
        let v1 = br#"{"statusCode":400,"message":"com.atlassian.confluence.api.service.exceptions.api.BadRequestException: Could not parse Labels","reason":"Bad Request"}"#;
        assert_eq!(error_status(v1), Some(400));
        assert_eq!(error_message(v1).as_deref(), Some("Could not parse Labels"));
        let not_permitted = br#"{"statusCode":403,"message":"com.atlassian.confluence.api.service.exceptions.PermissionException: Could not create content with type page"}"#;
        assert_eq!(
            error_message(not_permitted).as_deref(),
            Some("Could not create content with type page")
        );
        let plain = br#"{"statusCode":400,"message":"Invalid input: cql. Expected: type"}"#;
        assert_eq!(
            error_message(plain).as_deref(),
            Some("Invalid input: cql. Expected: type"),
            "only a class name is taken off"
        );
        let gateway = br#"{"code":401,"message":"Unauthorized; scope does not match"}"#;
        assert_eq!(error_status(gateway), Some(401));
        assert!(is_scope_mismatch(gateway));
        assert_eq!(error_message(b"<html>bad gateway</html>"), None);
    }

    #[test]
    fn the_wording_is_the_one_users_read() {
        let not_found = ConfluenceError::NotFound {
            subject: "page 123".into(),
            request_id: Some("abc".into()),
        };
        assert_eq!(
            not_found.to_string(),
            "page 123 not found, or the connection's account may not see it (Confluence answers 404 for both) (Atlassian request id abc)"
        );
        let conflict = ConfluenceError::VersionConflict {
            subject: "page 123".into(),
            current: Some(8),
            sent: Some(7),
            request_id: None,
        };
        assert_eq!(
            conflict.to_string(),
            "page 123 was changed by someone else (now version 8, you sent 7); nothing was overwritten"
        );
        let scopes = ConfluenceError::ScopeMismatch {
            call: "PUT /wiki/api/v2/pages/1".into(),
            connection: "acme".into(),
            action_scopes: &["read:page:confluence", "write:page:confluence"],
            granted: vec!["read:page:confluence".into()],
            request_id: None,
        };
        let text = scopes.to_string();
        assert!(text.contains("lacks write:page:confluence"), "{text}");
        assert!(
            text.contains("weft apps set confluence --add-scope write:page:confluence"),
            "{text}"
        );
        assert!(
            text.contains("weft connect confluence --connection acme"),
            "{text}"
        );
        let any_endpoint = ConfluenceError::ScopeMismatch {
            call: "GET /wiki/api/v2/tasks".into(),
            connection: "acme".into(),
            action_scopes: &[],
            granted: vec!["read:page:confluence".into(), "search:confluence".into()],
            request_id: None,
        };
        assert_eq!(
            any_endpoint.to_string(),
            "Confluence answered \"scope does not match\" to GET /wiki/api/v2/tasks: the endpoint needs scopes connection acme lacks (it was granted read:page:confluence, search:confluence). Add the scopes its page of Confluence's REST reference lists to the app in the Atlassian developer console, then run `weft apps set confluence --add-scope SCOPE` and reconnect: `weft connect confluence --connection acme`"
        );
        let limited: ActionError = ConfluenceError::RateLimited {
            call: "GET /wiki/api/v2/pages".into(),
            wait: Some(Duration::from_secs(7)),
            request_id: None,
        }
        .into();
        assert_eq!(limited.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(limited.kind, ErrorKind::Http { status: 429 });
        assert!(
            limited.message.contains("Atlassian asks to wait 7 s")
                && limited
                    .message
                    .contains("a step `retry:` policy can wait longer")
                && !limited.message.contains("retrying"),
            "{limited}"
        );
        let reconnect = ConfluenceError::Reconnect {
            connection: "acme".into(),
            reason: "refresh refused".into(),
        };
        assert!(reconnect.to_string().starts_with(
            "connection acme needs to be reconnected: weft connect confluence --connection acme"
        ));
    }

    #[test]
    fn a_token_failure_keeps_only_its_root_cause() {
        let revoked = ActionError::failed(
            "connection `acme` has no usable access token: connection `acme` needs to be reconnected: the refresh token is expired [token endpoint answered 400: invalid_grant]",
        );
        assert_eq!(
            ConfluenceError::token_failure("acme", revoked).to_string(),
            "connection acme needs to be reconnected: weft connect confluence --connection acme (the refresh token is expired [token endpoint answered 400: invalid_grant])"
        );
        let offline = ActionError::new(ErrorKind::Network, "token endpoint unreachable");
        assert!(matches!(
            ConfluenceError::token_failure("acme", offline),
            ConfluenceError::Step(ActionError {
                kind: ErrorKind::Network,
                ..
            })
        ));
    }
}
