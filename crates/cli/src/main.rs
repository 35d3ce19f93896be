//! `weft`: validate, run and inspect workflows; start the sandbox; connect customers.

mod commands;
mod console;
mod data_dir;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "weft", version, about = "Workflow orchestration for Confluence Cloud integrations", long_about = None)]
struct Cli {
    /// Where weft keeps run history and connections [env: WEFT_DATA_DIR] [default: ~/.local/share/weft]
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// More logging (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check workflow files (or folders of them) and report every problem.
    Validate(commands::validate::Args),
    /// Run a workflow, or show what it would do with --dry-run.
    Run(commands::run::Args),
    /// Inspect run history.
    #[command(subcommand)]
    Runs(commands::runs::RunsCommand),
    /// List and describe the actions steps can use.
    #[command(subcommand)]
    Actions(commands::actions::ActionsCommand),
    /// Print the JSON Schema of the workflow format (for editor autocompletion).
    Schema,
    /// Start the local Confluence Cloud + Atlassian OAuth sandbox.
    Sandbox(commands::sandbox::Args),
}

fn init_tracing(verbose: u8) {
    // Workflow log lines (`weft::log`) are already shown as progress; -v adds them to the log.
    let default = match verbose {
        0 => "warn,weft::log=off",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Everything weft writes (run history, keys, tokens) is for its owner only.
fn private_files() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

fn main() -> ExitCode {
    private_files();
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let data_dir = data_dir::resolve(cli.data_dir);
    runtime.block_on(async move {
        match cli.command {
            Command::Validate(args) => commands::validate::run(args),
            Command::Run(args) => commands::run::run(args, &data_dir).await,
            Command::Runs(cmd) => commands::runs::run(cmd, &data_dir),
            Command::Actions(cmd) => commands::actions::run(cmd),
            Command::Schema => commands::schema::run(),
            Command::Sandbox(args) => commands::sandbox::run(args).await,
        }
    })
}
