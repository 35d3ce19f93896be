//! Errors of the sandbox library (starting, persisting, admin input). Messages state what went
//! wrong; what to do about it is worded by the caller (the `weft sandbox` command).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read sandbox state from {path}")]
    LoadState {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("sandbox state file {path} is not valid")]
    ParseState {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot save sandbox state to {path}")]
    SaveState {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("unknown time zone `{0}` for the sandbox user (an IANA name such as `Europe/Berlin` or `UTC` is expected)")]
    TimeZone(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the sandbox clock can move at most {max_years} years ahead of real time")]
    ClockRange { max_years: i64 },
    #[error("unknown site `{0}`: no site of this sandbox has that cloud id")]
    UnknownSite(String),
    #[error("unknown app `{0}`: no app with that client id is registered")]
    UnknownApp(String),
}
