//! `weft run FILE`: run a workflow, or with `--dry-run` show exactly what it would do.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use weft_engine::actions::DryRunEffect;
use weft_engine::bounded_file::{read_bounded, FileReadError, MAX_FILE_BYTES};
use weft_engine::diagnostic::render_shown;
use weft_engine::exec::{coerce_input_text, secrets_from_env, Mode, RunOutcome, RunRequest};
use weft_engine::store::{NoStore, RunStatus};
use weft_engine::workflow::{self, Block, CompiledWorkflow, StepKind, TriggerPlan, WebhookPlan};
use weft_engine::yaml::{self, LoadLimits};
use weft_runtime::Runtime;

use super::actions::indent;
use crate::console::{ConsoleObserver, WarningsObserver};
use crate::daemon_client::DaemonClient;
use crate::signals::{self, Interrupts, Stage};

#[derive(clap::Args)]
pub struct Args {
    /// The workflow file.
    file: PathBuf,
    /// An input, `name=value` (typed by the workflow's declaration; JSON for objects and arrays).
    #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
    inputs: Vec<String>,
    /// Inputs from a JSON or YAML file holding a mapping (`--input` wins over it).
    #[arg(long, value_name = "FILE")]
    inputs_file: Option<PathBuf>,
    /// Print the result as JSON on stdout, and no progress.
    #[arg(long)]
    json: bool,
    /// Validate and show the plan, rendered inputs and requests; run nothing, send nothing.
    #[arg(long)]
    dry_run: bool,
    /// In a dry run, send the requests of read-only connector steps through their connection
    /// (so later steps render with real data); writes are still never sent.
    #[arg(long, requires = "dry_run")]
    live_reads: bool,
    /// In a dry run, the output of a step from a JSON or YAML file: `STEP=FILE`.
    #[arg(long = "mock", value_name = "STEP=FILE", requires = "dry_run")]
    mocks: Vec<String>,
    /// The event that starts the run (`trigger` in expressions), from a JSON or YAML file.
    #[arg(long, value_name = "FILE")]
    trigger_event: Option<PathBuf>,
    /// Pretend the current time is this (RFC 3339), for reproducible dry runs.
    #[arg(long, value_name = "TIME")]
    now: Option<DateTime<Utc>>,
}

fn read_data_file(path: &Path) -> Result<Value, String> {
    let bytes = read_bounded(path, MAX_FILE_BYTES).map_err(|e| {
        let reason = match &e {
            FileReadError::Io(io) => io.to_string(),
            FileReadError::NotRegular { .. } => {
                format!("{e} (write the data to a file and give its path)")
            }
            FileReadError::TooLarge { .. } => e.to_string(),
        };
        format!("cannot read {}: {reason}", path.display())
    })?;
    parse_data(path, &bytes)
}

/// How deeply lists and mappings may nest in a data file (serde_json's own limit for JSON).
const DATA_MAX_DEPTH: usize = 128;

/// JSON first (serde_json stops at once past 128 levels), then YAML through the engine's
/// bounded loader: nesting, size and alias expansion are refused in milliseconds, where a
/// general YAML parser took tens of seconds on 40,000 `[`.
fn parse_data(path: &Path, bytes: &[u8]) -> Result<Value, String> {
    let too_deep = |at: String| {
        format!(
            "{} is nested too deeply{at}: lists and mappings may nest at most {DATA_MAX_DEPTH} \
             levels in a data file",
            path.display()
        )
    };
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => return Ok(value),
        Err(e) if e.to_string().starts_with("recursion limit exceeded") => {
            return Err(too_deep(format!(
                " (line {}, column {})",
                e.line(),
                e.column()
            )));
        }
        // Not JSON: read it as YAML (a superset).
        Err(_) => {}
    }
    if std::str::from_utf8(bytes).is_ok_and(|text| text.trim().is_empty()) {
        return Ok(Value::Null);
    }
    let limits = LoadLimits {
        max_bytes: usize::try_from(MAX_FILE_BYTES).unwrap_or(usize::MAX),
        max_depth: DATA_MAX_DEPTH,
        max_nodes: 1_000_000,
    };
    let node = yaml::load(bytes, limits)
        .and_then(yaml::Loaded::whole)
        .map_err(|problems| {
            let first = problems.first();
            let at = first
                .and_then(|p| p.span)
                .map(|s| format!(" (line {}, column {})", s.line, s.col))
                .unwrap_or_default();
            match first {
                Some(p) if p.message.starts_with("nesting is too deep") => too_deep(at),
                Some(p) => format!(
                    "{} is not valid JSON or YAML: {}{at}",
                    path.display(),
                    p.message
                ),
                None => format!("{} is not valid JSON or YAML", path.display()),
            }
        })?;
    Ok(node.to_json())
}

fn usage(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn gather_inputs(args: &Args, workflow: &CompiledWorkflow) -> Result<Map<String, Value>, String> {
    let mut inputs = match &args.inputs_file {
        Some(path) => match read_data_file(path)? {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            _ => {
                return Err(format!(
                    "{} must hold a mapping of input names to values",
                    path.display()
                ))
            }
        },
        None => Map::new(),
    };
    for pair in &args.inputs {
        let Some((name, text)) = pair.split_once('=') else {
            return Err(format!("`--input {pair}` must be NAME=VALUE"));
        };
        let decl = workflow.inputs.iter().find(|d| d.name == name);
        let value = coerce_input_text(decl, text).map_err(|e| e.to_string())?;
        inputs.insert(name.to_string(), value);
    }
    Ok(inputs)
}

fn gather_mocks(args: &Args) -> Result<HashMap<String, Value>, String> {
    args.mocks
        .iter()
        .map(|pair| {
            let (step, file) = pair
                .split_once('=')
                .ok_or_else(|| format!("`--mock {pair}` must be STEP=FILE"))?;
            Ok((step.to_string(), read_data_file(Path::new(file))?))
        })
        .collect()
}

pub async fn run(args: Args, data_dir: &Path, runtime: &Runtime) -> ExitCode {
    // Reading and checking a big workflow holds the runtime's one thread: a signal before the
    // run listens for it ends the process at once, with a word.
    signals::stop_now_on_interrupt(Stage::BeforeRun);
    if !args.dry_run {
        if let Some(daemon) = crate::daemon_client::find(data_dir).await {
            return run_on_daemon(&args, &daemon, data_dir, runtime).await;
        }
    }
    // A live run opens its history (sled's recovery and threads, on the blocking pool) while
    // this thread reads and compiles the workflow: on 2 cores the two overlap.
    let opening = (!args.dry_run).then(|| {
        let (data_dir, runtime) = (data_dir.to_path_buf(), runtime.clone());
        tokio::spawn(async move { super::open_engine(&data_dir, &runtime).await })
    });
    // On one thread (the runtime of one-shot commands) the task above starts only when this
    // one waits: once, so that the opening is on the blocking pool before the file is read.
    if opening.is_some() {
        tokio::task::yield_now().await;
    }
    tracing::info!(file = %args.file.display(), "reading the workflow");
    let loaded = workflow::load_file(&args.file, runtime.catalog());
    let engine = match opening {
        // Connections (and their settings) but no run history: a dry run records nothing.
        None if args.live_reads => {
            runtime.engine(Arc::new(NoStore), super::connection_tokens(data_dir))
        }
        None => runtime.checking_engine(),
        // The history's error first, as when it was opened before the file was read.
        Some(opening) => match opening.await {
            Ok(Ok(engine)) => engine,
            Ok(Err(e)) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("error: opening the run history stopped: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(problems) => {
            eprint!("{}", problems.render());
            return ExitCode::FAILURE;
        }
    };
    let workflow::LoadedWorkflow {
        workflow,
        source,
        warnings,
    } = loaded;
    for shown in render_shown(&source, &warnings) {
        eprint!("{shown}");
    }
    // The file's text is not needed past its warnings: a 10,000-step file's 0.8 MB goes before
    // the run, whose peak is the process's.
    drop((source, warnings));
    let inputs = match gather_inputs(&args, &workflow) {
        Ok(inputs) => inputs,
        Err(e) => return usage(e),
    };
    let trigger = match &args.trigger_event {
        Some(path) => match read_data_file(path) {
            Ok(event) => Some(event),
            Err(e) => return usage(e),
        },
        None => None,
    };
    let mode = if args.dry_run {
        match gather_mocks(&args) {
            Ok(mocks) => {
                if let Some(unknown) = mocks.keys().find(|id| !has_step(&workflow, id)) {
                    return usage(format!(
                        "--mock names `{unknown}`, which is not a step of this workflow"
                    ));
                }
                Mode::DryRun {
                    mocks,
                    live_reads: args.live_reads,
                }
            }
            Err(e) => return usage(e),
        }
    } else {
        Mode::Live
    };
    let engine = if args.json || args.dry_run {
        engine.with_observer(Arc::new(WarningsObserver))
    } else {
        engine.with_observer(Arc::new(ConsoleObserver))
    };
    let mut interrupts = match Interrupts::listen() {
        Ok(interrupts) => interrupts,
        Err(e) => {
            eprintln!("error: cannot listen for Ctrl-C and SIGTERM: {e}");
            return ExitCode::FAILURE;
        }
    };
    signals::handled_by_the_runtime();
    let cancel = tokio_util::sync::CancellationToken::new();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        let first = interrupts.next().await;
        eprintln!(
            "interrupted ({}): cancelling the run (finally steps still run; interrupt again to quit now)",
            first.name()
        );
        on_interrupt.cancel();
        let second = interrupts.next().await;
        eprintln!("interrupted again: quitting without waiting");
        std::process::exit(second.exit_code().into());
    });
    let request = RunRequest {
        inputs,
        trigger,
        mode,
        secrets: secrets_from_env(),
        cancel,
        now: args.now,
        ..RunRequest::default()
    };
    let outcome = engine.run(workflow.clone(), request).await;
    // The report is written without yielding to the runtime, whose listener would never see a
    // signal meanwhile: the handler that ends the process at once takes over again.
    signals::stop_now_on_interrupt(if args.dry_run {
        Stage::DryRunReport
    } else {
        Stage::RunReport
    });
    if args.dry_run {
        print_dry_run(
            &workflow,
            &outcome,
            args.json,
            args.live_reads,
            args.now.unwrap_or_else(Utc::now),
        );
    } else if args.json {
        let value = serde_json::json!({
            "run_id": outcome.run_id,
            "status": outcome.status.as_str(),
            "outputs": outcome.outputs,
            "error": outcome.error,
            "duration_ms": outcome.duration.as_secs_f64() * 1000.0,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else if let Value::Object(outputs) = &outcome.outputs {
        if !outputs.is_empty() {
            println!(
                "{}",
                serde_json::to_string_pretty(&outcome.outputs).unwrap_or_default()
            );
        }
    }
    if outcome.status == RunStatus::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// How long `weft run` waits for a run the daemon started before saying it is still going.
const DAEMON_RUN_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// A live run while a daemon owns the data folder: the daemon runs its workflow of the same
/// name (the file is validated here, and names it).
async fn run_on_daemon(
    args: &Args,
    daemon: &DaemonClient,
    data_dir: &Path,
    runtime: &Runtime,
) -> ExitCode {
    let engine = runtime.checking_engine();
    let loaded = match workflow::load_file(&args.file, engine.catalog()) {
        Ok(loaded) => loaded,
        Err(problems) => {
            eprint!("{}", problems.render());
            return ExitCode::FAILURE;
        }
    };
    for shown in render_shown(&loaded.source, &loaded.warnings) {
        eprint!("{shown}");
    }
    if args.trigger_event.is_some() {
        return usage(format!(
            "--trigger-event cannot be given to the daemon at {} (which owns {}): its API starts runs with inputs only; use --dry-run, or another --data-dir",
            daemon.address,
            data_dir.display()
        ));
    }
    let inputs = match gather_inputs(args, &loaded.workflow) {
        Ok(inputs) => inputs,
        Err(e) => return usage(e),
    };
    let name = &loaded.workflow.name;
    signals::stop_now_on_interrupt(Stage::WaitingForDaemon);
    let answer = match daemon.start_run(name, inputs, DAEMON_RUN_WAIT).await {
        Ok(answer) => answer,
        Err(e) if e.status == Some(reqwest::StatusCode::NOT_FOUND) => {
            eprintln!(
                "error: the daemon at {} owns the data folder {} and does not run workflow `{name}` (of {}): add the file to the daemon's --workflows folder, or run it with another --data-dir",
                daemon.address,
                data_dir.display(),
                args.file.display()
            );
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!(
                "error: the daemon at {} did not start the run: {e}",
                daemon.address
            );
            return ExitCode::FAILURE;
        }
    };
    let run_id = answer["run_id"].as_str().unwrap_or("?");
    let status = answer["status"].as_str().unwrap_or("running");
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
    } else {
        eprintln!(
            "▶ {name} (run {run_id}) run by the daemon at {} with its own copy of `{name}`",
            daemon.address
        );
        match status {
            "running" | "queued" => eprintln!(
                "still {status} after {}s: follow it with `weft runs show {run_id}`",
                DAEMON_RUN_WAIT.as_secs()
            ),
            "succeeded" => {
                eprintln!("✔ succeeded");
                if answer["outputs"].as_object().is_some_and(|o| !o.is_empty()) {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&answer["outputs"]).unwrap_or_default()
                    );
                }
            }
            other => eprintln!(
                "✘ {other}: {}",
                answer["error"].as_str().unwrap_or("no error recorded")
            ),
        }
    }
    if status == RunStatus::Succeeded.as_str() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn has_step(workflow: &CompiledWorkflow, id: &str) -> bool {
    workflow.all_steps().iter().any(|s| &*s.id == id)
}

/// The execution order: groups of steps that may run together, nested bodies indented.
fn plan(block: &Block, prefix: &str, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth + 1);
    for (n, level) in block.levels().iter().enumerate() {
        let number = format!("{prefix}{}", n + 1);
        let names: Vec<&str> = level.iter().map(|&i| &*block.steps[i].id).collect();
        let together = if names.len() > 1 {
            "   (at the same time)"
        } else {
            ""
        };
        let _ = writeln!(out, "{pad}{number}. {}{together}", names.join(", "));
        for &i in level {
            let step = &block.steps[i];
            match &step.kind {
                StepKind::ForEach(each) => {
                    let _ = writeln!(
                        out,
                        "{pad}   {} for each item, {} at a time:",
                        step.id, each.concurrency
                    );
                    plan(&each.body, &format!("{number}."), depth + 2, out);
                }
                StepKind::Parallel { branches } => {
                    for (name, branch) in branches {
                        let _ = writeln!(out, "{pad}   {} branch `{name}`:", step.id);
                        plan(branch, &format!("{number}.{name}."), depth + 2, out);
                    }
                }
                StepKind::Action { .. } => {}
            }
        }
    }
}

/// How a policy is written in YAML (`queue_one`), for messages.
fn yaml_name(value: impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(name)) => name,
        _ => String::new(),
    }
}

fn trigger_text(workflow: &CompiledWorkflow, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    match &workflow.trigger {
        TriggerPlan::Manual => out.push_str("trigger: manual\n"),
        TriggerPlan::Cron(cron) => {
            let _ = writeln!(
                out,
                "trigger: cron `{}` in {} (missed: {}, overlap: {})",
                cron.expression,
                cron.timezone,
                yaml_name(cron.missed),
                yaml_name(cron.overlap)
            );
            let _ = writeln!(
                out,
                "  next fires after {}:",
                now.format("%Y-%m-%d %H:%M UTC")
            );
            for fire in cron.schedule.next_fires(cron.timezone, now, 5) {
                let note = match fire.note {
                    Some(weft_engine::trigger::DstNote::ShiftedOutOfGap) => {
                        "   DST gap: moved to the end of the gap"
                    }
                    Some(weft_engine::trigger::DstNote::FirstOfRepeatedTime) => {
                        "   DST fold: runs once, at the first occurrence"
                    }
                    None => "",
                };
                let _ = writeln!(
                    out,
                    "    {}   {}{note}",
                    fire.local.format("%Y-%m-%d %H:%M %Z"),
                    fire.at.format("%Y-%m-%d %H:%M UTC")
                );
            }
        }
        TriggerPlan::Poll(poll) => {
            let _ = writeln!(
                out,
                "trigger: poll `{}` every {}",
                poll.source,
                weft_engine::duration::format_duration(poll.interval)
            );
            let _ = writeln!(out, "  example event: {}", poll.event_example);
        }
        TriggerPlan::Webhook(webhook) => {
            let check = match webhook {
                WebhookPlan::Signature { secret } => {
                    format!("X-Weft-Signature signed with secret `{secret}`")
                }
                WebhookPlan::Bearer { secret } => format!("bearer token `{secret}`"),
            };
            let _ = writeln!(
                out,
                "trigger: webhook POST /hooks/{} ({check})",
                workflow.name
            );
        }
    }
    out
}

/// The workflow's connection and the settings its steps read (`<not set>` for a missing one).
fn connection_text(connection: &Value) -> String {
    let Some(name) = connection["name"].as_str() else {
        return String::new();
    };
    let mut out = format!("connection: {name}\n");
    if let Some(config) = connection["config"].as_object() {
        for (key, value) in config {
            let shown = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            let _ = writeln!(out, "  {key} = {shown}");
        }
    }
    out
}

fn print_dry_run(
    workflow: &CompiledWorkflow,
    outcome: &RunOutcome,
    json: bool,
    live_reads: bool,
    now: DateTime<Utc>,
) {
    let report = outcome.dry_run.clone().unwrap_or_default();
    if json {
        let fires: Vec<Value> = match &workflow.trigger {
            TriggerPlan::Cron(cron) => cron
                .schedule
                .next_fires(cron.timezone, now, 5)
                .into_iter()
                .map(|f| serde_json::json!({ "at": f.at, "local": f.local.to_rfc3339(), "note": f.note }))
                .collect(),
            _ => Vec::new(),
        };
        let value = serde_json::json!({
            "workflow": workflow.name,
            "status": outcome.status.as_str(),
            "error": outcome.error,
            "connection": report.connection,
            "steps": report.steps,
            "outputs": outcome.outputs,
            "next_fires": fires,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return;
    }
    let mut out = String::new();
    let sent = if live_reads {
        "read-only connector steps are sent through their connection (--live-reads); no write is sent"
    } else {
        "nothing is run and no request is sent"
    };
    let _ = writeln!(
        out,
        "Dry run of `{}` ({}): {sent}.\n",
        workflow.name,
        workflow.path.display()
    );
    out.push_str(&trigger_text(workflow, now));
    out.push_str(&connection_text(&report.connection));
    if let Some(limit) = &workflow.concurrency {
        let _ = writeln!(
            out,
            "concurrency: at most {} run(s) at once, then {} (applied by the daemon)",
            limit.limit,
            yaml_name(limit.policy)
        );
    }
    let _ = writeln!(out, "\nplan:");
    plan(&workflow.steps, "", 0, &mut out);
    if !workflow.on_failure.is_empty() {
        let _ = writeln!(out, "  on failure:");
        plan(&workflow.on_failure, "", 1, &mut out);
    }
    if !workflow.finally.is_empty() {
        let _ = writeln!(out, "  finally:");
        plan(&workflow.finally, "", 1, &mut out);
    }
    let _ = writeln!(out, "\nsteps:");
    for step in &report.steps {
        let iteration = if step.iteration.is_empty() {
            String::new()
        } else {
            format!(
                " (item {})",
                step.iteration
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(".")
            )
        };
        let _ = writeln!(out, "  {}{iteration}: {}", step.step, step.action);
        let input = serde_json::to_string_pretty(&step.input).unwrap_or_default();
        let _ = writeln!(out, "    with:\n{}", indent(&input, "      "));
        match &step.effect {
            DryRunEffect::Http {
                method,
                url,
                headers,
                body,
                writes,
            } => {
                let verb = if *writes {
                    "would send (a write, not sent)"
                } else if step.output_from == "live" {
                    "sent (live read)"
                } else {
                    "would send"
                };
                let _ = writeln!(out, "    {verb}: {method} {url}");
                for (name, value) in headers {
                    let _ = writeln!(out, "      {name}: {value}");
                }
                if let Some(body) = body {
                    let _ = writeln!(out, "      body: {body}");
                }
            }
            DryRunEffect::Local { summary } => {
                let _ = writeln!(out, "    would: {summary}");
            }
            DryRunEffect::Workflow { path } => {
                let _ = writeln!(out, "    would run workflow: {path}");
            }
        }
        let output = serde_json::to_string(&step.output).unwrap_or_default();
        let _ = writeln!(out, "    output ({}): {output}", step.output_from);
    }
    if let Some(error) = &outcome.error {
        let _ = writeln!(out, "\nthe dry run stopped: {error}");
    } else if !outcome.outputs.as_object().is_some_and(|o| o.is_empty())
        && !outcome.outputs.is_null()
    {
        let _ = writeln!(out, "\noutputs: {}", outcome.outputs);
    }
    print!("{out}");
}
