//! `weft demo`: the sandbox with its demo data on a free loopback port, a customer connection made
//! through the real OAuth consent flow (the sandbox approves it), and the example orchestrations of
//! `workflows/` run against it. Nothing is left behind: the sandbox stops and the temporary data
//! folder is removed, also on Ctrl-C (unless `--keep`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;
use weft_auth::app_config::{AppConfig, Credentials};
use weft_auth::connect::{CallbackServer, ConnectFlow};
use weft_auth::connection_config::{update_config, ConfigChange};
use weft_auth::{Connection, ConnectionStore, SystemClock};
use weft_engine::exec::{Engine, RunRequest};
use weft_engine::store::RunStatus;
use weft_engine::workflow::connection_config::connection_scope;
use weft_engine::workflow::{self, CompiledWorkflow, TriggerPlan};
use weft_runtime::action::{poll_all, SourceContext};
use weft_runtime::Runtime;
use weft_sandbox::{Sandbox, SandboxConfig, Seed};

use crate::signals::Interrupts;

#[derive(clap::Args)]
pub struct Args {
    /// Keep the demo's data folder (run history, connection) and print where it is.
    #[arg(long)]
    keep: bool,
}

/// The connection the examples name (`connection: acme`).
const CONNECTION: &str = "acme";
/// The demo site the connection is made to.
const SITE: &str = "acme";
/// The connection's settings, read by the examples as `connection.config.<name>`.
const SETTINGS: &[(&str, &str)] = &[("space", "ENG"), ("days", "25")];

/// One example orchestration of `workflows/`, compiled in so the demo runs from any folder.
struct Example {
    file: &'static str,
    yaml: &'static str,
    /// The run's inputs, given the demo's data folder.
    inputs: fn(&Path) -> Value,
}

macro_rules! example {
    ($file:literal, $inputs:expr) => {
        Example {
            file: $file,
            yaml: include_str!(concat!("../../../../workflows/", $file)),
            inputs: $inputs,
        }
    };
}

fn no_inputs(_: &Path) -> Value {
    Value::Object(Map::new())
}

/// In the order the demo runs them.
const EXAMPLES: &[Example] = &[
    example!("confluence-recent-changes.yaml", no_inputs),
    example!("confluence-task-status.yaml", no_inputs),
    example!("confluence-weekly-digest.yaml", no_inputs),
    example!("confluence-invite-users.yaml", |_| serde_json::json!({
        "emails": ["ada@example.com", "contractor@example.com", "new.hire@example.com"]
    })),
    example!(
        "confluence-archive-attachments.yaml",
        |dir| serde_json::json!({
            "space": "ENG",
            "title": "Deploy",
            "folder": dir.join("archive").display().to_string(),
        })
    ),
];

/// Run once per event of one real poll of its source, after the demo adds a page to the space.
const POLLED: Example = example!("confluence-label-new-pages.yaml", no_inputs);

pub async fn run(args: Args, runtime: &Runtime) -> ExitCode {
    let mut interrupts = match Interrupts::listen() {
        Ok(interrupts) => interrupts,
        Err(e) => {
            eprintln!("error: cannot listen for Ctrl-C and SIGTERM: {e}");
            return ExitCode::FAILURE;
        }
    };
    let folder = match tempfile::Builder::new().prefix("weft-demo-").tempdir() {
        Ok(folder) => folder,
        Err(e) => {
            eprintln!("error: cannot create a temporary data folder: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    // The session owns the sandbox and every store: when it ends (or is dropped on Ctrl-C) they
    // are closed before the folder is removed.
    let outcome = tokio::select! {
        outcome = session(folder.path(), runtime) => Ok(outcome),
        interrupt = interrupts.next() => Err(interrupt),
    };
    let place = if args.keep {
        let kept = folder.keep();
        format!(
            "data folder kept: {} (try `weft --data-dir {} runs list`)",
            kept.display(),
            kept.display()
        )
    } else {
        drop(folder);
        "data folder removed".to_string()
    };
    match outcome {
        Ok(Ok(summary)) => {
            println!(
                "\ndone in {:.1} s: {summary}; sandbox stopped, {place}.",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("error: the demo failed: {e}\n(sandbox stopped, {place})");
            ExitCode::FAILURE
        }
        Err(interrupt) => {
            eprintln!(
                "\n{} received: demo stopped (sandbox stopped, {place})",
                interrupt.name()
            );
            ExitCode::from(interrupt.exit_code())
        }
    }
}

/// Starts the sandbox, connects, runs the examples and stops the sandbox; returns a one-line
/// summary.
async fn session(data_dir: &Path, runtime: &Runtime) -> Result<String, String> {
    let sandbox = Sandbox::start(SandboxConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        seed: Seed::Demo,
        auto_approve: true,
        ..SandboxConfig::default()
    })
    .await
    .map_err(|e| format!("the sandbox did not start: {e}"))?;
    println!("weft demo: a local Confluence Cloud, one customer connection, the example orchestrations\n");
    println!(
        "sandbox      {} (demo data: sites acme and globex; no network used)",
        sandbox.base_url()
    );
    println!("data folder  {}", data_dir.display());
    let result = connect_and_run(&sandbox, data_dir, runtime).await;
    sandbox.shutdown().await;
    result
}

async fn connect_and_run(
    sandbox: &Sandbox,
    data_dir: &Path,
    runtime: &Runtime,
) -> Result<String, String> {
    let store = weft_auth::setup::open_store(data_dir, &weft_auth::setup::process_env)
        .map_err(|e| format!("cannot open the connection store: {e}"))?;
    let app = configure_app(sandbox, data_dir, runtime).await?;
    let connection = connect(sandbox, &app, store.clone()).await?;
    let site_url = connection.site_url.clone();
    println!(
        "connected    `{}` to {} through the OAuth consent flow (approved by the sandbox)",
        connection.name, site_url
    );
    let change = ConfigChange {
        set: SETTINGS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        unset: Vec::new(),
    };
    update_config(store.as_ref(), CONNECTION, &change)
        .await
        .map_err(|e| format!("cannot save the connection's settings: {e}"))?;
    let settings: Vec<String> = SETTINGS.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("settings     {} of `{CONNECTION}`", settings.join(" "));
    let http = weft_auth::setup::http_client().map_err(|e| e.to_string())?;
    let tokens = Arc::new(weft_auth::setup::token_manager(store, &app, http));
    let runs = super::open_store(data_dir).await?;
    let engine = runtime.engine(runs, tokens);
    std::fs::create_dir_all(data_dir.join("archive"))
        .map_err(|e| format!("cannot create the archive folder: {e}"))?;
    let mut ran = 0;
    let mut skipped = 0;
    for (n, example) in EXAMPLES.iter().enumerate() {
        println!();
        let Some(loaded) = load(n + 1, example, &engine)? else {
            skipped += 1;
            continue;
        };
        let inputs = match (example.inputs)(data_dir) {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        run_example(example, loaded, inputs, None, &engine, &site_url).await?;
        ran += 1;
    }
    println!();
    match load(EXAMPLES.len() + 1, &POLLED, &engine)? {
        Some(loaded) => {
            poll_and_run(loaded, sandbox, runtime, &engine, &site_url).await?;
            ran += 1;
        }
        None => skipped += 1,
    }
    Ok(format!(
        "{ran} example(s) ran, {skipped} waiting for actions this build lacks"
    ))
}

/// Sandbox credentials in the data folder (as `weft apps set confluence --sandbox` writes them),
/// asking for every scope the Confluence actions declare, with the callback on a free port.
async fn configure_app(
    sandbox: &Sandbox,
    data_dir: &Path,
    runtime: &Runtime,
) -> Result<weft_auth::ResolvedApp, String> {
    let mut config = AppConfig::new(weft_auth::provider::CONFLUENCE).map_err(|e| e.to_string())?;
    config.credentials = Credentials::Sandbox;
    config
        .set_base_url(&sandbox.base_url())
        .map_err(|e| e.to_string())?;
    for scope in runtime.action_scopes() {
        config.scopes.add(scope).map_err(|e| e.to_string())?;
    }
    config.save(data_dir).map_err(|e| e.to_string())?;
    config
        .resolve(
            &weft_auth::setup::process_env,
            Some(&crate::auth_commands::sandbox_app()),
        )
        .map_err(|e| e.to_string())
}

/// The consent flow of `weft connect`, with the browser played by an HTTP client: open the
/// authorize URL (the sandbox approves and redirects), then follow the redirect to the callback.
async fn connect(
    sandbox: &Sandbox,
    app: &weft_auth::ResolvedApp,
    store: Arc<dyn ConnectionStore>,
) -> Result<Connection, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen for the OAuth callback: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let callback_url = format!("http://127.0.0.1:{port}/callback");
    sandbox
        .admin()
        .add_builtin_callback(&callback_url)
        .map_err(|e| e.to_string())?;
    let mut app = app.clone();
    app.callback_url = callback_url.parse().map_err(|e| format!("{e}"))?;
    let http = weft_auth::setup::http_client().map_err(|e| e.to_string())?;
    let flow = Arc::new(ConnectFlow::new(
        app.clone(),
        store,
        Arc::new(SystemClock),
        http,
    ));
    let callback = CallbackServer::start(listener, flow.clone()).map_err(|e| e.to_string())?;
    let connected = consent(&flow, &app).await;
    callback.shutdown().await;
    connected
}

async fn consent(flow: &ConnectFlow, app: &weft_auth::ResolvedApp) -> Result<Connection, String> {
    let pending = flow
        .begin(CONNECTION, Some(SITE))
        .map_err(|e| e.to_string())?;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let approval = browser
        .get(pending.authorize_url.clone())
        .send()
        .await
        .map_err(|e| format!("the consent page did not answer: {e}"))?;
    let location = approval
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| {
            format!(
                "the sandbox did not approve the consent ({})",
                approval.status()
            )
        })?;
    // The callback answers only once the grant is completed: both run together.
    let completed = async {
        let grant = pending
            .wait(Duration::from_secs(10), &app.callback_url)
            .await
            .map_err(|e| e.to_string())?;
        flow.complete(grant, &weft_auth::connect::NoChoice)
            .await
            .map_err(|e| e.to_string())
    };
    let (page, connection) = tokio::join!(browser.get(&location).send(), completed);
    page.map_err(|e| format!("the OAuth callback did not answer: {e}"))?;
    connection
}

/// Loads an example and prints its title line; `None` (said so) when this build lacks an action
/// or source it uses.
fn load(
    n: usize,
    example: &Example,
    engine: &Engine,
) -> Result<Option<Arc<CompiledWorkflow>>, String> {
    let path = PathBuf::from("workflows").join(example.file);
    match workflow::load_bytes(&path, example.yaml.as_bytes(), engine.catalog()) {
        Ok(loaded) => {
            let description = loaded.workflow.description.clone().unwrap_or_default();
            println!("{n}. {}: {description}", example.file);
            Ok(Some(loaded.workflow))
        }
        Err(problems) => {
            let missing = missing_names(&problems);
            if missing.is_empty() {
                return Err(format!(
                    "{} does not load:\n{}",
                    example.file,
                    problems.render()
                ));
            }
            println!("{n}. {}", example.file);
            println!(
                "   waiting for {}: not in this build yet",
                missing.join(", ")
            );
            Ok(None)
        }
    }
}

/// One poll of the example's source (the first one: nothing is new), a page added to the space
/// a minute later, a second poll a minute after that, and one run per event it delivers.
async fn poll_and_run(
    workflow: Arc<CompiledWorkflow>,
    sandbox: &Sandbox,
    runtime: &Runtime,
    engine: &Engine,
    site_url: &str,
) -> Result<(), String> {
    let TriggerPlan::Poll(plan) = &workflow.trigger else {
        return Err(format!("{} has no poll trigger", POLLED.file));
    };
    let source = runtime
        .sources()
        .get(&plan.source)
        .ok_or_else(|| format!("no polling source {}", plan.source))?;
    let (connection, _) = connection_scope(&workflow, engine.tokens.as_ref(), false).await?;
    let scope =
        weft_engine::expr::MapScope::new(chrono::Utc::now()).with_root("connection", connection);
    let settings = plan.with.render(&scope).map_err(|e| e.to_string())?;
    let cancel = CancellationToken::new();
    let ctx = SourceContext {
        source: &plan.source,
        connection: plan.connections.only().or(workflow.connection.as_deref()),
        http: &engine.http,
        tokens: engine.tokens.as_ref(),
        cancel: &cancel,
    };
    let first = poll_all(source.as_ref(), &settings, None, &ctx)
        .await
        .map_err(|e| e.to_string())?;
    let admin = sandbox.admin();
    admin.advance_clock(Duration::from_secs(60));
    let page = weft_sandbox::NewPage {
        space_key: "ENG".into(),
        title: "Welcome, new hire".into(),
        body: "<p>Start with the Runbooks.</p>".into(),
        parent_id: None,
        blogpost: false,
    };
    let id = admin.create_page(None, page).map_err(|e| e.to_string())?;
    println!("   a person adds page {id} \"Welcome, new hire\" to ENG; the next poll finds it:");
    admin.advance_clock(Duration::from_secs(60));
    let second = poll_all(source.as_ref(), &settings, Some(&first.cursor), &ctx)
        .await
        .map_err(|e| e.to_string())?;
    if second.events.is_empty() {
        return Err(format!("the poll of {} found no new page", plan.source));
    }
    for event in second.events {
        run_example(
            &POLLED,
            workflow.clone(),
            Map::new(),
            Some(event),
            engine,
            site_url,
        )
        .await?;
    }
    Ok(())
}

/// Runs one example and prints what it did.
async fn run_example(
    example: &Example,
    workflow: Arc<CompiledWorkflow>,
    inputs: Map<String, Value>,
    trigger: Option<Value>,
    engine: &Engine,
    site_url: &str,
) -> Result<(), String> {
    let outcome = engine
        .run(
            workflow,
            RunRequest {
                inputs,
                trigger,
                ..RunRequest::default()
            },
        )
        .await;
    if outcome.status != RunStatus::Succeeded {
        return Err(format!(
            "{} ended {:?}: {}",
            example.file,
            outcome.status,
            outcome.error.unwrap_or_default()
        ));
    }
    println!(
        "   succeeded in {} ms (run {})",
        outcome.duration.as_millis(),
        // Whole: the first characters of a run id are its time, the same for every example.
        outcome.run_id
    );
    print_outputs(&outcome.outputs, site_url);
    Ok(())
}

/// The actions and polling sources a workflow names that this build lacks.
fn missing_names(problems: &workflow::FileProblems) -> Vec<String> {
    let mut names: Vec<String> = problems
        .diagnostics
        .iter()
        .filter(|d| {
            d.message.starts_with("unknown action")
                || d.message.starts_with("unknown polling source")
        })
        .filter_map(|d| d.message.split('`').nth(1).map(str::to_string))
        .collect();
    names.dedup();
    names
}

/// Plain lines: each output, and each page (or blog post) touched with its title, id and
/// address.
fn print_outputs(outputs: &Value, site_url: &str) {
    let Some(outputs) = outputs.as_object() else {
        return;
    };
    for (name, value) in outputs.iter().filter(|(name, _)| *name != "pages") {
        println!("   {name}: {}", compact(value));
    }
    for page in outputs
        .get("pages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        println!("   {}", touched(page, site_url));
    }
}

/// One entry of a workflow's `pages` output: what it did to which page, or to the content its
/// `type` names (`blog post`).
fn touched(page: &Value, site_url: &str) -> String {
    let text = |field: &str| page[field].as_str().unwrap_or_default();
    format!(
        "{} {} {} \"{}\"  {}/wiki{}",
        text("did"),
        page["type"].as_str().unwrap_or("page"),
        text("id"),
        text("title"),
        site_url.trim_end_matches('/'),
        text("link")
    )
}

fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_blog_post_is_not_called_a_page() {
        let site = "https://acme.atlassian.net/";
        let post = json!({"did": "posted", "type": "blog post", "id": "65582", "title": "Weekly digest", "link": "/spaces/ENG/blog/65582"});
        assert_eq!(
            touched(&post, site),
            "posted blog post 65582 \"Weekly digest\"  https://acme.atlassian.net/wiki/spaces/ENG/blog/65582"
        );
        let page = json!({"did": "created", "id": "65580", "title": "Recently updated", "link": "/spaces/ENG/pages/65580"});
        assert!(touched(&page, site).starts_with("created page 65580"));
    }

    #[test]
    fn the_weekly_digest_says_it_posted_a_blog_post() {
        let workflow = include_str!("../../../../workflows/confluence-weekly-digest.yaml");
        assert!(workflow.contains("type: blog post"), "{workflow}");
    }
}
