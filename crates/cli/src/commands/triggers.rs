//! `weft triggers poll FILE` and `weft triggers test FILE`: one poll of a workflow's
//! `trigger: poll`, recording one run per new event, or only showing what it would deliver.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;
use weft_engine::store::RunStatus;
use weft_engine::trigger::{poll_once, Delivery, PollError, PollReport};
use weft_engine::workflow;
use weft_runtime::{ConnectionTokens, Runtime};

use crate::console::WarningsObserver;

#[derive(clap::Subcommand)]
pub enum TriggersCommand {
    /// Poll a workflow's trigger once: one recorded run per new event, then the cursor moves.
    Poll(Args),
    /// Show what a poll would deliver now; runs nothing and moves no cursor.
    Test(Args),
}

#[derive(clap::Args)]
pub struct Args {
    /// The workflow file (its trigger must be `poll`).
    file: PathBuf,
    /// Poll through this connection instead of the trigger's or the workflow's.
    #[arg(long)]
    connection: Option<String>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub async fn run(command: TriggersCommand, data_dir: &Path, runtime: &Runtime) -> ExitCode {
    let (args, delivery) = match command {
        TriggersCommand::Poll(args) => (args, Delivery::Record),
        TriggersCommand::Test(args) => (args, Delivery::Preview),
    };
    let checking = runtime.checking_engine();
    // The trigger's cursor is kept under the file's path: one path per file, however it is named.
    let file = std::fs::canonicalize(&args.file).unwrap_or(args.file);
    let loaded = match workflow::load_file(&file, checking.catalog()) {
        Ok(loaded) => loaded,
        Err(problems) => {
            eprint!("{}", problems.render());
            return ExitCode::FAILURE;
        }
    };
    let store = match super::open_history(data_dir, crate::store_messages::run_history).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tokens = ConnectionTokens::new(
        data_dir.to_path_buf(),
        Some(crate::auth_commands::sandbox_app()),
    );
    let engine = runtime
        .engine(store.clone(), Arc::new(tokens))
        .with_observer(Arc::new(WarningsObserver));
    let report = poll_once(
        &engine,
        store.as_ref(),
        loaded.workflow,
        args.connection.as_deref(),
        delivery,
    )
    .await;
    match report {
        Ok(report) => print_report(&report, delivery, args.json),
        Err(error) => {
            eprintln!("error: {error}");
            if let Some(hint) = hint(&error) {
                eprintln!("hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

/// What to do about a failed poll, when the failure says.
fn hint(error: &PollError) -> Option<String> {
    if let PollError::ManyConnections { .. } = error {
        return Some("give one with `--connection NAME`".to_string());
    }
    let PollError::Source {
        error, connection, ..
    } = error
    else {
        return None;
    };
    let message = error.message.as_str();
    if message.contains("no connection named") {
        Some(format!("list connections with `weft connections list`, or make `{connection}` with `weft connect confluence --connection {connection}`"))
    } else if message.contains("needs to be reconnected")
        // The Confluence connector's own message already gives the command.
        && !message.contains("weft connect confluence")
    {
        Some(format!(
            "reconnect it: `weft connect confluence --connection {connection}`"
        ))
    } else {
        None
    }
}

fn print_report(report: &PollReport, delivery: Delivery, json: bool) -> ExitCode {
    let failed = report
        .runs
        .iter()
        .filter(|r| r.status != RunStatus::Succeeded)
        .count();
    if json {
        let runs: Vec<_> = report
            .runs
            .iter()
            .map(|r| json!({"run_id": r.run_id, "status": r.status.as_str(), "error": r.error}))
            .collect();
        let value = json!({
            "events": report.events,
            "runs": runs,
            "skipped_as_recorded": report.skipped_as_recorded,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        let connection = report.key.connection.as_deref().unwrap_or("-");
        match delivery {
            Delivery::Preview => println!(
                "{} new event(s) through connection `{connection}` (nothing was run or stored)",
                report.events.len()
            ),
            Delivery::Record => println!(
                "{} new event(s) through connection `{connection}`: {} run(s) recorded, {failed} failed",
                report.events.len(),
                report.runs.len()
            ),
        }
        for (n, event) in report.events.iter().enumerate() {
            // Runs line up with events unless a crashed poll had recorded some already.
            let run = (report.skipped_as_recorded == 0)
                .then(|| report.runs.get(n))
                .flatten()
                .map(|r| format!("  run {} {}", r.run_id, r.status.as_str()))
                .unwrap_or_default();
            println!(
                "  {} {} v{} {}{run}",
                event["kind"].as_str().unwrap_or("event"),
                event["id"].as_str().unwrap_or("?"),
                event["version"],
                event["title"].as_str().unwrap_or("")
            );
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use weft_runtime::action::ActionError;

    use super::*;

    fn source_error(message: &str) -> PollError {
        PollError::Source {
            source_name: "confluence.page_created".into(),
            connection: "acme".into(),
            error: ActionError::failed(message),
        }
    }

    #[test]
    fn the_reconnect_command_is_given_once() {
        let bare = source_error("connection `acme` needs to be reconnected: invalid_grant");
        assert_eq!(
            hint(&bare).as_deref(),
            Some("reconnect it: `weft connect confluence --connection acme`")
        );
        let worded = source_error(
            "connection acme needs to be reconnected: weft connect confluence --connection acme (invalid_grant)",
        );
        assert_eq!(hint(&worded), None);
    }
}
