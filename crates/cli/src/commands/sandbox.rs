use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use weft_sandbox::{SandboxConfig, SandboxError, Seed};

use crate::signals::Interrupts;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8977")]
    listen: SocketAddr,
    /// Load a data set: `demo` (two sites, spaces, pages, comments...) or `empty`.
    #[arg(long, default_value = "empty")]
    seed: String,
    /// Keep the sandbox's state in this folder between starts.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Approve every authorization request without showing the consent page.
    #[arg(long)]
    auto_approve: bool,
    /// Answer as untidily as Confluence Cloud does: estimated search totals, some short pages,
    /// some 429s without Retry-After, some error statuses as strings.
    #[arg(long)]
    realistic: bool,
    /// Seed of --realistic's choices (the same requests get the same answers).
    #[arg(long, value_name = "N", default_value_t = 0, requires = "realistic")]
    realistic_seed: u64,
}

pub async fn run(args: Args) -> ExitCode {
    let seed = match args.seed.as_str() {
        "demo" => Seed::Demo,
        "empty" => Seed::Empty,
        other => {
            eprintln!("error: unknown seed `{other}`: use `demo` or `empty`");
            return ExitCode::from(2);
        }
    };
    let config = SandboxConfig {
        listen: args.listen,
        seed,
        auto_approve: args.auto_approve,
        data_dir: args.state_dir,
        realistic: args.realistic,
        realistic_seed: args.realistic_seed,
        ..SandboxConfig::default()
    };
    let mut interrupts = match Interrupts::listen() {
        Ok(interrupts) => interrupts,
        Err(e) => {
            eprintln!("error: cannot listen for Ctrl-C and SIGTERM: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = async move {
        interrupts.next().await;
    };
    match weft_sandbox::run_cli(config, stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                eprintln!("  caused by: {c}");
                cause = c.source();
            }
            if let Some(hint) = hint(&e) {
                eprintln!("  hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

/// What to do about a sandbox that would not start.
fn hint(e: &SandboxError) -> Option<&'static str> {
    match e {
        SandboxError::Bind { .. } => {
            Some("is the port in use? pass another --listen address, or port 0 for a free one")
        }
        SandboxError::LoadState { .. } | SandboxError::ParseState { .. } => {
            Some("move the --state-dir folder away (or pass another one) to start fresh")
        }
        _ => None,
    }
}
