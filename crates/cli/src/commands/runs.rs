//! `weft runs list|show`: the run history.

use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use serde_json::Value;
use weft_engine::store::{AttemptPage, AttemptRecord, RunRecord, RunStore, Truncation};

use crate::console::format_elapsed;
use crate::daemon_client::DaemonClient;

#[derive(clap::Subcommand)]
pub enum RunsCommand {
    /// Recent runs, newest first.
    List {
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// One run and its step attempts, a page at a time (a unique prefix of the id is enough).
    Show {
        id: String,
        /// Only the attempts of this step (every loop item's included).
        #[arg(long, value_name = "STEP")]
        step: Option<String>,
        /// Show at most this many attempts.
        #[arg(long, default_value_t = 50, value_name = "N",
              value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
        limit: usize,
        /// Skip this many attempts first (they are numbered from 0 in recording order).
        #[arg(long, default_value_t = 0, value_name = "N")]
        offset: usize,
        #[arg(long)]
        json: bool,
    },
}

fn duration_of(run: &RunRecord) -> String {
    took(run.started_at, run.finished_at)
}

fn took(started_at: DateTime<Utc>, finished_at: Option<DateTime<Utc>>) -> String {
    match finished_at {
        Some(end) => format_elapsed((end - started_at).to_std().unwrap_or_default()),
        None => "-".into(),
    }
}

pub async fn run(command: RunsCommand, data_dir: &Path) -> ExitCode {
    if let Some(daemon) = crate::daemon_client::find(data_dir).await {
        return match remote(command, &daemon).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let store = match super::open_store(data_dir).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command {
        RunsCommand::List { limit, json } => list(store.as_ref(), limit, json).await,
        RunsCommand::Show {
            id,
            step,
            limit,
            offset,
            json,
        } => {
            let page = Page {
                step: step.as_deref(),
                limit,
                offset,
            };
            show(store.as_ref(), &id, &page, json).await
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `runs list` and `runs show` through the API of the daemon that owns the history.
async fn remote(command: RunsCommand, daemon: &DaemonClient) -> Result<ExitCode, String> {
    match command {
        RunsCommand::List { limit, json } => {
            let runs = daemon.list_runs(limit).await.map_err(|e| e.to_string())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&runs).map_err(|e| e.to_string())?
                );
                return Ok(ExitCode::SUCCESS);
            }
            let listed: Result<Vec<Listed>, String> = runs.iter().map(Listed::of_summary).collect();
            print_list(&listed?);
            Ok(ExitCode::SUCCESS)
        }
        RunsCommand::Show {
            id,
            step,
            limit,
            offset,
            json,
        } => {
            if step.is_some() {
                return Err(format!(
                    "--step reads the run history itself, which the daemon at {} holds: show the whole run (with --offset and --limit), or stop the daemon",
                    daemon.address
                ));
            }
            let Some((run, attempts, total)) = daemon
                .show_run(&id, offset, limit)
                .await
                .map_err(|e| e.to_string())?
            else {
                eprintln!(
                    "error: no run `{id}` in the history of the daemon at {} (while a daemon runs, give the whole run id): see `weft runs list`",
                    daemon.address
                );
                return Ok(ExitCode::FAILURE);
            };
            let page = Page {
                step: None,
                limit,
                offset,
            };
            print_run(&run, attempts, total, &page, json)
        }
    }
}

/// A line of `runs list`.
struct Listed {
    id: String,
    status: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    workflow: String,
}

impl Listed {
    fn of_record(run: &RunRecord) -> Listed {
        Listed {
            id: run.id.clone(),
            status: run.status.as_str().to_string(),
            started_at: run.started_at,
            finished_at: run.finished_at,
            workflow: run.workflow.clone(),
        }
    }

    /// From the API's run summary.
    fn of_summary(summary: &Value) -> Result<Listed, String> {
        let text = |field: &str| {
            summary[field]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("the daemon listed a run without `{field}`"))
        };
        let instant = |field: &str| -> Result<Option<DateTime<Utc>>, String> {
            serde_json::from_value(summary[field].clone())
                .map_err(|_| format!("the daemon listed a run with a bad `{field}`"))
        };
        Ok(Listed {
            id: text("run_id")?,
            status: text("status")?,
            started_at: instant("started_at")?
                .ok_or_else(|| "the daemon listed a run without `started_at`".to_string())?,
            finished_at: instant("finished_at")?,
            workflow: text("workflow")?,
        })
    }
}

fn print_list(runs: &[Listed]) {
    if runs.is_empty() {
        println!("no runs yet: start one with `weft run FILE`");
        return;
    }
    println!(
        "{:26}  {:11}  {:20}  {:>9}  WORKFLOW",
        "RUN", "STATUS", "STARTED (UTC)", "TOOK"
    );
    for run in runs {
        println!(
            "{:26}  {:11}  {:20}  {:>9}  {}",
            run.id,
            run.status,
            run.started_at.format("%Y-%m-%d %H:%M:%S"),
            took(run.started_at, run.finished_at),
            run.workflow
        );
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
    let listed: Vec<Listed> = runs.iter().map(Listed::of_record).collect();
    print_list(&listed);
    Ok(ExitCode::SUCCESS)
}

/// Which attempts `runs show` prints.
struct Page<'a> {
    step: Option<&'a str>,
    limit: usize,
    offset: usize,
}

async fn show(
    store: &dyn RunStore,
    id: &str,
    page: &Page<'_>,
    json: bool,
) -> Result<ExitCode, String> {
    let Some(run) = store
        .get_run(id)
        .await
        .map_err(|e| crate::store_messages::run_history(&e))?
    else {
        eprintln!("error: no run `{id}` (or the prefix matches several): see `weft runs list`");
        return Ok(ExitCode::FAILURE);
    };
    let AttemptPage { attempts, total } = store
        .attempts_page(&run.id, page.step, page.offset, page.limit)
        .await
        .map_err(|e| crate::store_messages::run_history(&e))?;
    print_run(&run, attempts, total, page, json)
}

/// A run and one page of its attempts.
fn print_run(
    run: &RunRecord,
    attempts: Vec<AttemptRecord>,
    total: usize,
    page: &Page<'_>,
    json: bool,
) -> Result<ExitCode, String> {
    if json {
        let value = serde_json::json!({
            "run": run,
            "attempts": attempts,
            "total_attempts": total,
            "offset": page.offset,
        });
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
    if let Some(wait) = &run.wait {
        println!(
            "waits     until {} (step `{}`): the daemon resumes it then",
            wait.until.to_rfc3339(),
            wait.step
        );
    }
    if run.resumes > 0 {
        println!(
            "resumed   {} time(s) after its process stopped",
            run.resumes
        );
    }
    println!("started   {}", run.started_at.to_rfc3339());
    println!("took      {}", duration_of(run));
    println!("trigger   {}", run.trigger);
    println!("inputs    {}", run.inputs);
    if let Some(error) = &run.error {
        println!("error     {error}");
    }
    if let Some(outputs) = &run.outputs {
        println!("outputs   {outputs}");
    }
    print_truncations("", &run.truncated);
    match page.step {
        Some(step) => println!("\nattempts of step `{step}`:"),
        None => println!("\nsteps:"),
    }
    if attempts.is_empty() && page.offset == 0 {
        match page.step.and_then(|step| body_note(&run.path, step)) {
            Some(note) => println!("  (none: {note})"),
            None => println!("  (none)"),
        }
    }
    let shown = attempts.len();
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
        print_truncations("    ", &a.truncated);
    }
    let after = page.offset + shown;
    if after < total {
        let step = page
            .step
            .map(|s| format!(" --step {s}"))
            .unwrap_or_default();
        println!(
            "\n{} more attempts (showing {} to {} of {total}): `weft runs show {}{step} --offset {after}`; `--limit N` shows more at once",
            total - after,
            page.offset + 1,
            after,
            run.id
        );
    } else if shown == 0 && page.offset > 0 {
        println!("  (no attempts past {total}: use a smaller --offset)");
    }
    Ok(ExitCode::SUCCESS)
}

/// Says which printed fields are only the start of what was recorded.
fn print_truncations(indent: &str, truncated: &[Truncation]) {
    for t in truncated {
        println!(
            "{indent}  ({} is cut: this is the start of {} bytes, sha256 {})",
            t.field, t.size_bytes, t.sha256
        );
    }
}

/// When `step` is a `for_each` or `parallel` step of the workflow file at `path`, says that its
/// attempts are recorded under its body steps, and which. `None` when the file cannot be read
/// or `step` is not such a step.
fn body_note(path: &str, step: &str) -> Option<String> {
    use weft_engine::yaml::{self, LoadLimits, Node, NodeKind};
    let limits = LoadLimits::default();
    let bytes =
        weft_engine::bounded_file::read_bounded(Path::new(path), limits.max_bytes as u64).ok()?;
    let root = yaml::load(&bytes, limits).ok()?.root;

    fn seq(node: Option<&Node>) -> &[Node] {
        match node.map(|n| &n.kind) {
            Some(NodeKind::Seq(items)) => items,
            _ => &[],
        }
    }
    fn ids(steps: &[Node]) -> Vec<String> {
        steps
            .iter()
            .filter_map(|s| s.get("id").and_then(Node::as_str))
            .map(str::to_string)
            .collect()
    }
    fn find<'a>(steps: &'a [Node], id: &str) -> Option<&'a Node> {
        steps.iter().find_map(|s| {
            if s.get("id").and_then(Node::as_str) == Some(id) {
                return Some(s);
            }
            let mut nested: Vec<&[Node]> = vec![seq(s.get("steps")), seq(s.get("finally"))];
            if let Some(NodeKind::Map(branches)) = s.get("parallel").map(|p| &p.kind) {
                nested.extend(branches.iter().map(|(_, b)| seq(Some(b))));
            }
            if let Some(on_error) = s.get("on_error") {
                nested.push(seq(on_error.get("steps")));
            }
            nested.into_iter().find_map(|block| find(block, id))
        })
    }

    let mut top: Vec<&[Node]> = vec![seq(root.get("steps")), seq(root.get("finally"))];
    top.retain(|b| !b.is_empty());
    let found = top.into_iter().find_map(|block| find(block, step))?;
    let (what, body) = if found.get("for_each").is_some() {
        ("a for_each loop", ids(seq(found.get("steps"))))
    } else if let Some(NodeKind::Map(branches)) = found.get("parallel").map(|p| &p.kind) {
        (
            "a parallel step",
            branches
                .iter()
                .flat_map(|(_, b)| ids(seq(Some(b))))
                .collect(),
        )
    } else {
        return None;
    };
    let first = body.first()?;
    let listed = body
        .iter()
        .map(|id| format!("`{id}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Some(format!(
        "`{step}` is {what}: its attempts are recorded under its body steps {listed}; use --step {first}"
    ))
}
