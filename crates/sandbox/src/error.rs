//! Errors of the sandbox library (starting, persisting, admin input).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {source} (is the port in use? pass another --listen address or port 0)")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read sandbox state from {path}: {source}")]
    LoadState {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("sandbox state file {path} is not valid ({source}); move it away to start fresh")]
    ParseState {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot save sandbox state to {path}: {source}")]
    SaveState {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("unknown time zone `{0}` for the sandbox user: use an IANA name such as `Europe/Berlin` or `UTC`")]
    TimeZone(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the sandbox clock can move at most {max_years} years ahead of real time")]
    ClockRange { max_years: i64 },
    #[error("unknown site `{0}`: see Admin::sites() for the cloud ids of this sandbox")]
    UnknownSite(String),
    #[error("unknown app `{0}`: register it first with Admin::register_app")]
    UnknownApp(String),
}
