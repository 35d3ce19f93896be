//! Shared by the engine, the auth crate and connectors: how a failed HTTP call is described, and
//! how long a server asked us to wait.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// The longest `Retry-After` honoured (a hostile or broken server could ask for years).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// An error and its causes on one line. reqwest's own text hides the cause ("error sending
/// request"); the chain says what happened (connection refused, timed out, certificate). A
/// cause the text already ends with (an error that quotes its source) is not said twice.
pub fn describe_error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

/// A reqwest error with its causes (see [`describe_error_chain`]).
pub fn describe_reqwest_error(error: &reqwest::Error) -> String {
    describe_error_chain(error)
}

/// The wait a `Retry-After` header asks for, capped at [`MAX_RETRY_AFTER`].
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    parse_retry_after(headers.get(RETRY_AFTER)?.to_str().ok()?, SystemTime::now())
}

/// `Retry-After` as seconds or as an HTTP date (a date in the past is no wait), capped at
/// [`MAX_RETRY_AFTER`]; `None` when it is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            SystemTime::from(date)
                .duration_since(now)
                .unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    /// 2015-10-21 07:28:00 UTC.
    fn at_date() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480)
    }

    #[test]
    fn seconds_are_read_and_capped() {
        assert_eq!(
            parse_retry_after(" 120 ", at_date()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("99999999999", at_date()),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn http_dates_are_read_relative_to_now() {
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", at_date()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", at_date()),
            Some(Duration::ZERO),
            "a date in the past asks for no wait"
        );
        assert_eq!(
            parse_retry_after("Fri, 21 Oct 2033 07:00:00 GMT", at_date()),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn anything_else_is_no_answer() {
        assert_eq!(parse_retry_after("soon", at_date()), None);
        assert_eq!(parse_retry_after("-5", at_date()), None);
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_chain_names_every_cause() {
        let error = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        ));
        assert_eq!(describe_error_chain(&error), "outer: connection refused");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("polling failed: {0}")]
    struct Quoting(#[source] Outer);

    #[test]
    fn a_cause_the_error_quotes_is_said_once() {
        let error = Quoting(Outer(std::io::Error::other("connection refused")));
        assert_eq!(
            describe_error_chain(&error),
            "polling failed: outer: connection refused"
        );
    }
}
