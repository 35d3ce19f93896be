//! Configuration of a sandbox server. Plain data (no clap) so the CLI maps its flags onto it.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Which data set the sandbox starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Seed {
    /// One site, the sandbox user, no content.
    #[default]
    Empty,
    /// Two sites, several spaces, a page tree, blog posts, comments, labels, attachments, users, tasks.
    Demo,
}

impl std::str::FromStr for Seed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "empty" => Ok(Seed::Empty),
            "demo" => Ok(Seed::Demo),
            other => Err(format!(
                "unknown seed `{other}`: expected `empty` or `demo`"
            )),
        }
    }
}

/// Everything a sandbox needs to start. `Default` gives an ephemeral port on 127.0.0.1,
/// an empty seed and Atlassian's documented lifetimes.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    pub seed: Seed,
    /// `GET /authorize` redirects straight back with a code instead of showing the consent page.
    pub auto_approve: bool,
    /// When set, state is loaded from and saved to `<data_dir>/sandbox-state.json`.
    pub data_dir: Option<PathBuf>,
    /// How long a write takes to become visible to CQL search (Confluence: about 20 s).
    pub search_index_lag: Duration,
    /// Points per app per hour (Atlassian: 65,000); the pool resets at the top of each UTC hour.
    pub quota_points_per_hour: u64,
    /// Requests per app per second before the burst limit answers 429.
    pub burst_per_second: u32,
    /// Access token lifetime (`expires_in`, Atlassian: 3600 s).
    pub access_token_lifetime: Duration,
    /// Authorization code lifetime (codes are also single use).
    pub code_lifetime: Duration,
    /// A refresh token expires after this long without being used (Atlassian: 90 days).
    pub refresh_token_inactivity: Duration,
    /// A rotated-out refresh token still works this long (Atlassian: 10 minutes).
    pub refresh_reuse_window: Duration,
    /// Absolute refresh-token lifetime from consent (announced as 365 days, status unconfirmed;
    /// off by default).
    pub refresh_token_absolute_lifetime: Option<Duration>,
    /// IANA time zone of the sandbox user; CQL dates are read in it, as Confluence does.
    pub user_time_zone: String,
    /// Most requests kept in the request log (oldest dropped first).
    pub request_log_capacity: usize,
    /// Answer as untidily as Confluence Cloud does (see `docs/sandbox.md`, "Realistic mode"):
    /// search `totalSize` is an estimate, result pages are sometimes shorter than `limit` in the
    /// middle of a walk, `Retry-After` is sometimes missing on 429, a v2 error `status` is
    /// sometimes a string. Off by default.
    pub realistic: bool,
    /// Seed of the realistic mode's choices: the same requests in the same order get the same
    /// answers.
    pub realistic_seed: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            seed: Seed::Empty,
            auto_approve: false,
            data_dir: None,
            search_index_lag: Duration::from_secs(20),
            quota_points_per_hour: 65_000,
            burst_per_second: 2_000,
            access_token_lifetime: Duration::from_secs(3600),
            code_lifetime: Duration::from_secs(300),
            refresh_token_inactivity: Duration::from_secs(90 * 24 * 3600),
            refresh_reuse_window: Duration::from_secs(600),
            refresh_token_absolute_lifetime: None,
            user_time_zone: "Europe/Berlin".to_string(),
            request_log_capacity: 20_000,
            realistic: false,
            realistic_seed: 0,
        }
    }
}

impl SandboxConfig {
    /// Turns the points quota and the burst limit off, for benchmarks that must measure weft,
    /// not Atlassian's limits.
    pub fn without_rate_limits(mut self) -> Self {
        self.quota_points_per_hour = u64::MAX;
        self.burst_per_second = u32::MAX;
        self
    }
}
