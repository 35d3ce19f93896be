//! `weft`: validate, run and inspect workflows; start the sandbox; connect customers.

mod app_settings;
mod auth_commands;
mod auth_hints;
mod commands;
mod console;
mod daemon_client;
mod daemon_connect;
mod data_dir;
mod signals;
mod store_messages;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use weft_runtime::Runtime;

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

/// Each command's options are built only for the command given (`defer`): building every
/// command's cost a one-step `weft run` 60,000 of its 4.07 million instructions and 20 page
/// faults.
#[derive(Subcommand)]
#[command(defer = true)]
enum Command {
    /// Check workflow files (or folders of them) and report every problem.
    Validate(commands::validate::Args),
    /// Run a workflow, or show what it would do with --dry-run.
    Run(commands::run::Args),
    /// Inspect run history.
    #[command(subcommand)]
    Runs(commands::runs::RunsCommand),
    /// Poll a workflow's trigger once (`poll`), or show what a poll would deliver (`test`).
    #[command(subcommand)]
    Triggers(commands::triggers::TriggersCommand),
    /// List and describe the actions steps can use.
    #[command(subcommand)]
    Actions(commands::actions::ActionsCommand),
    /// Print the JSON Schema of the workflow format (for editor autocompletion).
    Schema,
    /// Run the workflows of a folder on their triggers (cron) until SIGTERM or Ctrl-C.
    Daemon(commands::daemon::Args),
    /// Start the local Confluence Cloud + Atlassian OAuth sandbox.
    Sandbox(commands::sandbox::Args),
    /// Try weft: the sandbox, a connection and the example orchestrations, in seconds, offline.
    Demo(commands::demo::Args),
    /// Show or change the OAuth app (callback URL, credentials, scopes).
    #[command(subcommand)]
    Apps(auth_commands::AppsCommand),
    /// The OAuth scopes the given workflows need, and what the app is missing.
    Scopes(auth_commands::ScopesArgs),
    /// Connect a customer's Confluence site (OAuth consent in the browser).
    Connect(auth_commands::ConnectArgs),
    /// List, show, test, refresh or delete connections.
    #[command(subcommand)]
    Connections(auth_commands::ConnectionsCommand),
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
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// The command line, or the process ends with clap's message. The parser's tree of every
/// command and option is left to the process's exit instead of dropped: freeing it was 130,000
/// of the 3.5 million instructions of a whole one-step run.
fn parse_command_line() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let mut command = Cli::command();
    let mut matches = command.get_matches_mut();
    let cli =
        Cli::from_arg_matches_mut(&mut matches).unwrap_or_else(|e| e.format(&mut command).exit());
    std::mem::forget(command);
    cli
}

/// Everything weft writes (run history, keys, tokens) is for its owner only, and output piped
/// into `head` ends the process quietly instead of panicking on a broken pipe.
fn process_setup() {
    #[cfg(unix)]
    #[allow(unsafe_code)]
    // SAFETY: umask and signal only change process-wide settings at start, before any thread.
    unsafe {
        libc::umask(0o077);
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    weft_runtime::limit_malloc_arenas();
    weft_runtime::keep_big_blocks_mapped();
}

async fn auth(
    command: auth_commands::AuthCommand,
    data_dir: std::path::PathBuf,
    runtime: &Runtime,
) -> ExitCode {
    let engine = runtime.checking_engine();
    let scopes = commands::workflow_scopes::EngineScopes { engine: &engine };
    let ctx = auth_commands::AuthContext {
        data_dir,
        workflows: &scopes,
    };
    auth_commands::run(command, &ctx).await
}

/// The commands that serve (the daemon: many runs at once; the sandbox; the demo, which
/// serves the sandbox to its runs; `connect`, which serves the OAuth callback while it may
/// read the terminal) get a worker thread per core, and so does `triggers`, whose poll runs
/// up to 16 runs at once (not measured on one thread). The others do one thing and exit: their
/// tasks share the main thread, and what blocks (opening the history, the sync at a run's end)
/// goes to tokio's blocking pool as elsewhere. Starting a worker per core (a stack, a malloc
/// arena, a scheduler) cost more than such a command gains from them. A run stays
/// interruptible on one thread: the engine lets other tasks in between steps, so the signal
/// task sees Ctrl-C and SIGTERM even while steps never wait.
fn async_runtime(command: &Command) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match command {
        Command::Daemon(_)
        | Command::Sandbox(_)
        | Command::Demo(_)
        | Command::Connect(_)
        | Command::Triggers(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    builder.enable_all().build()
}

fn main() -> ExitCode {
    process_setup();
    let cli = parse_command_line();
    init_tracing(cli.verbose);
    let runtime = match async_runtime(&cli.command) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let data_dir = data_dir::resolve(cli.data_dir);
    let weft = match Runtime::new() {
        Ok(weft) => weft,
        Err(e) => {
            eprintln!("error: this build of weft is inconsistent: {e}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Validate(args) => commands::validate::run(args, &weft),
            Command::Run(args) => commands::run::run(args, &data_dir, &weft).await,
            Command::Runs(cmd) => commands::runs::run(cmd, &data_dir).await,
            Command::Triggers(cmd) => commands::triggers::run(cmd, &data_dir, &weft).await,
            Command::Actions(cmd) => commands::actions::run(cmd, &weft),
            Command::Schema => commands::schema::run(&weft),
            Command::Daemon(args) => commands::daemon::run(args, &data_dir, &weft).await,
            Command::Sandbox(args) => commands::sandbox::run(args).await,
            Command::Demo(args) => commands::demo::run(args, &weft).await,
            Command::Apps(c) => auth(auth_commands::AuthCommand::Apps(c), data_dir, &weft).await,
            Command::Scopes(c) => {
                auth(auth_commands::AuthCommand::Scopes(c), data_dir, &weft).await
            }
            Command::Connect(c) => {
                auth(auth_commands::AuthCommand::Connect(c), data_dir, &weft).await
            }
            Command::Connections(c) => {
                auth(auth_commands::AuthCommand::Connections(c), data_dir, &weft).await
            }
        }
    });
    // A command awaits all its work before it returns (a run's history is closed and noted by
    // then): the blocking pool's threads are idle, and joining them only delayed the exit.
    runtime.shutdown_background();
    code
}
