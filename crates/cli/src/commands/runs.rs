//! `weft runs list|show`: the run history.

use std::path::Path;
use std::process::ExitCode;

use weft_engine::store::{RunRecord, RunStore};

use crate::console::format_elapsed;

#[derive(clap::Subcommand)]
pub enum RunsCommand {
    /// Recent runs, newest first.
    List {
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// One run and each step attempt (a unique prefix of the id is enough).
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

fn duration_of(run: &RunRecord) -> String {
    match run.finished_at {
        Some(end) => format_elapsed((end - run.started_at).to_std().unwrap_or_default()),
        None => "-".into(),
    }
}

pub async fn run(command: RunsCommand, data_dir: &Path) -> ExitCode {
    let store = match super::open_store(data_dir).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command {
        RunsCommand::List { limit, json } => list(store.as_ref(), limit, json).await,
        RunsCommand::Show { id, json } => show(store.as_ref(), &id, json).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn list(store: &dyn RunStore, limit: usize, json: bool) -> Result<ExitCode, String> {
    let runs = store
        .list_runs(limit)
        .await
        .map_err(|e| crate::store_messages::run_history(&e))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&runs).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        println!("no runs yet: start one with `weft run FILE`");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:26}  {:11}  {:20}  {:>9}  WORKFLOW",
        "RUN", "STATUS", "STARTED (UTC)", "TOOK"
    );
    for run in runs {
        println!(
            "{:26}  {:11}  {:20}  {:>9}  {}",
            run.id,
            run.status.as_str(),
            run.started_at.format("%Y-%m-%d %H:%M:%S"),
            duration_of(&run),
            run.workflow
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(store: &dyn RunStore, id: &str, json: bool) -> Result<ExitCode, String> {
    let Some(run) = store
        .get_run(id)
        .await
        .map_err(|e| crate::store_messages::run_history(&e))?
    else {
        eprintln!("error: no run `{id}` (or the prefix matches several): see `weft runs list`");
        return Ok(ExitCode::FAILURE);
    };
    let attempts = store
        .attempts(&run.id)
        .await
        .map_err(|e| crate::store_messages::run_history(&e))?;
    if json {
        let value = serde_json::json!({ "run": run, "attempts": attempts });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("run       {}", run.id);
    println!("workflow  {} ({})", run.workflow, run.path);
    println!("hash      {}", run.hash);
    if let Some(parent) = &run.parent {
        println!("parent    {parent}");
    }
    println!("status    {}", run.status.as_str());
    println!("started   {}", run.started_at.to_rfc3339());
    println!("took      {}", duration_of(&run));
    println!("trigger   {}", run.trigger);
    println!("inputs    {}", run.inputs);
    if let Some(error) = &run.error {
        println!("error     {error}");
    }
    if let Some(outputs) = &run.outputs {
        println!("outputs   {outputs}");
    }
    println!("\nsteps:");
    for a in attempts {
        let iteration = if a.iteration.is_empty() {
            String::new()
        } else {
            format!(
                "[{}]",
                a.iteration
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join("][")
            )
        };
        let took = format_elapsed(std::time::Duration::from_micros(a.duration_us));
        println!(
            "  {}{iteration}  attempt {}  {}  {took}",
            a.step,
            a.attempt,
            a.status.as_str()
        );
        println!("    input   {}", a.input);
        if let Some(output) = &a.output {
            println!("    output  {output}");
        }
        if let Some(error) = &a.error {
            println!("    error   {error}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
