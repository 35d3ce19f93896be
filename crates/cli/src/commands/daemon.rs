//! `weft daemon --workflows DIR`: runs the workflows of a folder on their triggers (cron and
//! poll) until SIGTERM or Ctrl-C. Invalid files are reported as `weft validate` reports them
//! and skipped; the rest run. SIGHUP, and a change to a file of the folder (looked at every
//! second), reload: a changed file that does not check keeps its previous version running.
//! One daemon per data folder: the run history's lock refuses a second one.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use weft_daemon::address::{self, DaemonAddress};
use weft_daemon::api::hooks::Hooks;
use weft_daemon::api::{self, ApiServer, ApiState};
use weft_daemon::events::{Events, EventsSettings};
use weft_daemon::expiry::{Expiry, Retention};
use weft_daemon::metrics::Metrics;
use weft_daemon::private_file::{read_private, PrivateFileError};
use weft_daemon::reload::{content_of, Checked, Reloader, Stamp};
use weft_daemon::{Daemon, Recovered, Settings, SystemClock};
use weft_engine::exec::{secrets_from_env, DEFAULT_RESTART_LIMIT, DEFAULT_STORED_WAIT_THRESHOLD};
use weft_engine::store::{close_interrupted_runs, StoreError};
use weft_engine::workflow::{self, CompiledWorkflow, TriggerPlan};
use weft_runtime::action::duration::parse_duration;
use weft_runtime::Runtime;

use crate::signals::{Hangups, Interrupts};

/// How often the workflows folder is looked at for changed files.
const FOLDER_CHECK_EVERY: Duration = Duration::from_secs(1);

#[derive(clap::Args)]
pub struct Args {
    /// The folder of workflow files (*.yaml, *.yml, searched recursively).
    #[arg(long, value_name = "DIR")]
    workflows: PathBuf,
    /// How long runs going at SIGTERM or Ctrl-C may take to finish before weft exits.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    shutdown_grace: Duration,
    /// Where the HTTP API listens (port 0: any free port; the address is written to
    /// daemon.json in the data folder).
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// A file (owner-only) holding the bearer token API calls must send; required when
    /// --listen is not a loopback address.
    #[arg(long, value_name = "FILE")]
    api_token_file: Option<PathBuf>,
    /// A run whose daemon stopped (crash, kill -9, end of the grace period) this many times
    /// without the run finishing is failed instead of resumed again.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RESTART_LIMIT)]
    restart_limit: u32,
    /// Where outbound events (run.failed, run.succeeded, connection.needs_reconnect) are
    /// POSTed, signed with the secret of --events-secret-file.
    #[arg(long, value_name = "URL", requires = "events_secret_file")]
    events_url: Option<reqwest::Url>,
    /// The file holding the secret that signs outbound events (X-Weft-Signature).
    #[arg(long, value_name = "FILE", requires = "events_url")]
    events_secret_file: Option<PathBuf>,
    /// How long a webhook request's Idempotency-Key is kept: a repeat within it answers with
    /// the first run, a repeat after it starts a new one.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_retention)]
    idempotency_key_retention: Duration,
    /// How long a delivered outbound event is kept in the outbox (events not delivered are
    /// kept until they are).
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_retention)]
    event_retention: Duration,
}

/// A retention: a duration of at least a minute (a shorter one would make a repeat of a
/// request right after it start a second run).
fn parse_retention(text: &str) -> Result<Duration, String> {
    let retention = parse_duration(text)?;
    if retention < Duration::from_secs(60) {
        return Err(format!("`{text}` is too short: at least 1m"));
    }
    Ok(retention)
}

/// The retentions of the command line, swept every 10 minutes.
fn retention(args: &Args) -> Retention {
    let span = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    Retention {
        request_keys: span(args.idempotency_key_retention),
        delivered_events: span(args.event_retention),
        ..Retention::default()
    }
}

/// A larger events secret file is not a secret file.
const MAX_SECRET_FILE_BYTES: u64 = 4096;

/// The events settings of the command line, if events are configured.
fn events_settings(args: &Args) -> Result<Option<EventsSettings>, String> {
    let (Some(url), Some(file)) = (&args.events_url, &args.events_secret_file) else {
        return Ok(None);
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "--events-url must be an http or https URL, not `{}`",
            url.scheme()
        ));
    }
    let bytes = read_private(file, MAX_SECRET_FILE_BYTES).map_err(|e| match e {
        PrivateFileError::Exposed { mode } => format!(
            "the events secret file {} can be read or changed by other users (mode {mode:o}); run `chmod 600 {}`",
            file.display(),
            file.display()
        ),
        PrivateFileError::Read(e) => format!(
            "cannot read the events secret from {}: {}",
            file.display(),
            weft_runtime::action::http_errors::describe_error_chain(&e)
        ),
    })?;
    let secret = bytes.trim_ascii().to_vec();
    if secret.is_empty() {
        return Err(format!(
            "{} is empty: write the secret that signs outbound events in it",
            file.display()
        ));
    }
    Ok(Some(EventsSettings::new(url.clone(), secret)))
}

pub async fn run(args: Args, data_dir: &Path, runtime: &Runtime) -> ExitCode {
    let mut interrupts = match Interrupts::listen() {
        Ok(interrupts) => interrupts,
        Err(e) => {
            eprintln!("error: cannot listen for SIGTERM and Ctrl-C: {e}");
            return ExitCode::from(2);
        }
    };
    let api_token = match super::daemon_api::api_token(args.listen, args.api_token_file.as_deref())
    {
        Ok(token) => token,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let events_settings = match events_settings(&args) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let mut hangups = match Hangups::listen() {
        Ok(hangups) => hangups,
        Err(e) => {
            eprintln!("error: cannot listen for SIGHUP: {e}");
            return ExitCode::from(2);
        }
    };
    // The data folder first: a second daemon on it is refused before it prints anything else.
    let store = match super::open_history(data_dir, held_by_another).await {
        Ok(store) => store,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let (workflows, reloader) = match load_folder(&args.workflows, runtime) {
        Ok(loaded) => loaded,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let metrics = Arc::new(Metrics::new());
    // Every refresh is counted, whoever causes it (a step, a poll, the API).
    let tokens = Arc::new(
        super::folder_tokens(data_dir)
            .with_refresh_observer(Arc::new(super::daemon_api::RefreshMetrics(metrics.clone()))),
    );
    let engine = runtime.engine(store.clone(), tokens.clone());
    let secrets = secrets_from_env();
    for workflow in &workflows {
        match &workflow.trigger {
            TriggerPlan::Cron(_) | TriggerPlan::Poll(_) => {}
            TriggerPlan::Manual => eprintln!(
                "note: {} has a manual trigger: the daemon does not start it",
                workflow.name
            ),
            TriggerPlan::Webhook(webhook) => {
                if !secrets.contains_key(webhook.secret()) {
                    eprintln!(
                        "warning: {} has a webhook trigger checked with secret `{}`, and WEFT_SECRET_{} is not set: its requests are refused until it is",
                        workflow.name,
                        webhook.secret(),
                        webhook.secret().to_ascii_uppercase()
                    );
                }
            }
        }
    }
    let settings = Settings {
        secrets: secrets.clone(),
        stored_waits: Some(DEFAULT_STORED_WAIT_THRESHOLD),
        restart_limit: args.restart_limit,
        metrics,
        ..Settings::default()
    };
    let daemon = match Daemon::start(
        engine,
        store.clone(),
        Arc::new(SystemClock),
        workflows,
        settings,
    )
    .await
    {
        Ok(daemon) => daemon,
        Err(e) => {
            eprintln!(
                "error: {}",
                weft_runtime::action::http_errors::describe_error_chain(&e)
            );
            return ExitCode::from(2);
        }
    };
    let events = match events_settings {
        Some(settings) => {
            let clock = Arc::new(SystemClock);
            match Events::start(
                settings,
                store.clone(),
                store.clone(),
                clock,
                daemon.dispatcher(),
            ) {
                Ok(events) => Some(events),
                Err(e) => {
                    eprintln!(
                        "error: {}",
                        weft_runtime::action::http_errors::describe_error_chain(&e)
                    );
                    daemon.shutdown(args.shutdown_grace).await;
                    return ExitCode::from(2);
                }
            }
        }
        None => None,
    };
    let expiry = Expiry::start(
        store.clone(),
        store.clone(),
        Arc::new(SystemClock),
        retention(&args),
    );
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "error: cannot listen on {}: {e}; give another --listen address (port 0 picks a free one)",
                args.listen
            );
            daemon.shutdown(args.shutdown_grace).await;
            return ExitCode::from(2);
        }
    };
    let router = api::router(Arc::new(ApiState {
        dispatcher: daemon.dispatcher().clone(),
        triggers: daemon.triggers().clone(),
        connections: Arc::new(super::daemon_api::FolderConnections::new(tokens)),
        polls: daemon.poll_status().clone(),
        api_token,
        // The workflows are loaded and their triggers started.
        ready: AtomicBool::new(true),
        retries: Default::default(),
        hooks: Hooks {
            secrets: Arc::new(secrets),
        },
    }));
    let server = match ApiServer::start(listener, router) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: cannot serve the API on {}: {e}", args.listen);
            daemon.shutdown(args.shutdown_grace).await;
            return ExitCode::from(2);
        }
    };
    let written = address::write(
        data_dir,
        &DaemonAddress {
            address: server.address(),
            pid: std::process::id(),
            started_at: chrono::Utc::now(),
            api_token_file: args
                .api_token_file
                .as_deref()
                .and_then(|file| std::path::absolute(file).ok()),
        },
    );
    if let Err(e) = written {
        eprintln!(
            "warning: {}: weft commands will not find this daemon",
            weft_runtime::action::http_errors::describe_error_chain(&e)
        );
    }
    let recovered = daemon.recovered();
    if *recovered != Recovered::default() {
        eprintln!(
            "taken up from the last stop: {} run(s) resumed, {} waiting, {} recorded fire(s) started",
            recovered.resumed, recovered.waiting, recovered.unstarted_fires
        );
        if recovered.failed_at_restart_limit > 0 {
            eprintln!(
                "warning: {} run(s) failed instead of resumed: their daemon stopped more than --restart-limit {} time(s) without them finishing (GET /api/v1/runs?status=failed lists them)",
                recovered.failed_at_restart_limit, args.restart_limit
            );
        }
    }
    let workflows = daemon.workflows().all();
    let on = |kind: &str| {
        workflows
            .iter()
            .filter(|entry| entry.workflow.trigger.kind() == kind)
            .count()
    };
    let (polled, on_webhooks) = (on("poll"), on("webhook"));
    let hooks: Vec<String> = workflows
        .iter()
        .filter(|entry| matches!(entry.workflow.trigger, TriggerPlan::Webhook(_)))
        .map(|entry| entry.workflow.name.clone())
        .collect();
    if !hooks.is_empty() {
        eprintln!(
            "webhooks: POST http://{}/hooks/<name> for {}",
            server.address(),
            hooks.join(", ")
        );
    }
    // As every command that reads them says: the daemon is where they are read for hours.
    for file in weft_auth::setup::exposed_secret_files(data_dir, &weft_auth::setup::process_env) {
        eprintln!(
            "warning: {}",
            crate::auth_hints::exposed_file_warning(&file)
        );
    }
    eprintln!(
        "weft daemon: {} workflow(s) on cron, {polled} polled, {on_webhooks} on webhooks from {}; API on http://{}; data folder {} (pid {})",
        daemon.cron_workflows(),
        args.workflows.display(),
        server.address(),
        data_dir.display(),
        std::process::id()
    );

    let mut reloader = reloader;
    let mut folder_check = tokio::time::interval(FOLDER_CHECK_EVERY);
    folder_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let signal = loop {
        tokio::select! {
            signal = interrupts.next() => break signal,
            _ = hangups.next() => {
                if !reload(&args.workflows, runtime, &mut reloader, &daemon) {
                    eprintln!("SIGHUP: no workflow file changed");
                }
            }
            _ = folder_check.tick() => {
                reload(&args.workflows, runtime, &mut reloader, &daemon);
            }
        }
    };
    eprintln!(
        "{}: stopping: no new fires; {} run(s) going get up to {:?} to finish (interrupt again to quit now)",
        signal.name(),
        daemon.runs_going(),
        args.shutdown_grace
    );
    let report = tokio::select! {
        report = daemon.shutdown(args.shutdown_grace) => Some(report),
        again = interrupts.next() => {
            eprintln!("{}: quitting now", again.name());
            None
        }
    };
    if let Some(report) = &report {
        if report.dropped_waiting > 0 {
            eprintln!(
                "{} fire(s) waiting for a run to end were not started: the next start starts them",
                report.dropped_waiting
            );
        }
    }
    server.stop().await;
    if let Some(events) = events {
        // What is not delivered yet stays in the outbox for the next start.
        events.stop().await;
    }
    expiry.stop().await;
    if let Err(e) = address::remove(data_dir) {
        eprintln!(
            "warning: {}",
            weft_runtime::action::http_errors::describe_error_chain(&e)
        );
    }
    // Runs still going are closed as interrupted now; the next start resumes them.
    match close_interrupted_runs(store.as_ref()).await {
        Ok(0) => eprintln!("stopped"),
        Ok(n) => eprintln!(
            "stopped; {n} run(s) did not finish in time: marked interrupted, the next start resumes them"
        ),
        Err(e) => {
            eprintln!("error: {}", crate::store_messages::run_history(&e));
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// The valid workflows of `dir`, and the reloader knowing each file; each file's problems
/// are printed as `weft validate` prints them. Two files with one workflow name: the second is
/// refused (its fires would share the first's records).
fn load_folder(
    dir: &Path,
    runtime: &Runtime,
) -> Result<(Vec<Arc<CompiledWorkflow>>, Reloader), String> {
    let files = super::validate::workflow_files(&[dir.to_path_buf()])?;
    let engine = runtime.checking_engine();
    let mut by_name: HashMap<String, PathBuf> = HashMap::new();
    let mut valid = Vec::new();
    let mut reloader = Reloader::default();
    for file in &files {
        // Stamped before reading: a change while it is read is seen at the next look.
        let stamp = match Stamp::of(file) {
            Ok(stamp) => stamp,
            Err(e) => {
                eprintln!("invalid  {}: {e}; skipped", file.display());
                continue;
            }
        };
        // Known for a file that does not check, so that saving it again unchanged is quiet;
        // taken before it is checked, as its stamp is: a version saved while it is checked
        // (which loading may refuse) is another content, checked at the next look.
        let content = content_of(file);
        let checked = check_file(file, engine.catalog());
        let content = content.filter(|_| matches!(checked, Checked::Invalid));
        let running = match checked {
            Checked::Valid(workflow) => match by_name.get(&workflow.name) {
                Some(first) => {
                    eprintln!(
                        "invalid  {}: workflow `{}` is also defined in {}; skipped",
                        file.display(),
                        workflow.name,
                        first.display()
                    );
                    None
                }
                None => {
                    by_name.insert(workflow.name.clone(), file.clone());
                    valid.push(workflow.clone());
                    Some(workflow)
                }
            },
            Checked::Invalid => {
                eprintln!("         {} is skipped", file.display());
                None
            }
        };
        reloader.track(file.clone(), stamp, running, content);
    }
    Ok((valid, reloader))
}

/// Loads and checks one file, printing what `weft validate` prints for it.
fn check_file(file: &Path, catalog: workflow::Catalog<'_>) -> Checked {
    let result = workflow::load_file(file, catalog);
    eprint!("{}", super::validate::report(file, &result));
    match result {
        Ok(loaded) => Checked::Valid(loaded.workflow),
        Err(_) => Checked::Invalid,
    }
}

/// Reads again the files of `dir` that changed, appeared or went; false when none did.
fn reload(dir: &Path, runtime: &Runtime, reloader: &mut Reloader, daemon: &Daemon) -> bool {
    let files = match super::validate::workflow_files(&[dir.to_path_buf()]) {
        Ok(files) => files,
        // A folder left with no workflow file: every workflow stops.
        Err(_) if dir.is_dir() => Vec::new(),
        // The folder itself is gone or unreadable: nothing is stopped for it.
        Err(_) => return false,
    };
    let listing: BTreeMap<PathBuf, Stamp> = files
        .into_iter()
        .filter_map(|file| Stamp::of(&file).ok().map(|stamp| (file, stamp)))
        .collect();
    let changes = reloader.changes(&listing);
    if changes.is_empty() {
        return false;
    }
    let engine = runtime.checking_engine();
    let mut checked = Vec::new();
    for file in &changes.changed {
        let Some(&stamp) = listing.get(file) else {
            continue;
        };
        // Saved again or touched with the same content: checked (and reported) already.
        if reloader.same_content(file, stamp, content_of(file).as_deref()) {
            continue;
        }
        checked.push((file.clone(), check_file(file, engine.catalog())));
    }
    if checked.is_empty() && changes.deleted.is_empty() {
        return false;
    }
    let report = reloader.apply(daemon, &listing, checked, &changes.deleted);
    for file in &report.kept {
        eprintln!(
            "reload: {} has errors: the version running before (if any) keeps running",
            file.display()
        );
    }
    for (file, other) in &report.duplicate_names {
        eprintln!(
            "reload: {} defines a workflow {} already defines; skipped",
            file.display(),
            other.display()
        );
    }
    let names = |names: &[String]| names.join(", ");
    if !report.started.is_empty() {
        eprintln!("reload: started {}", names(&report.started));
    }
    if !report.replaced.is_empty() {
        eprintln!(
            "reload: now running the new version of {}",
            names(&report.replaced)
        );
    }
    if !report.stopped.is_empty() {
        eprintln!(
            "reload: stopped {} (runs going finish)",
            names(&report.stopped)
        );
    }
    true
}

/// A held lock means another process has the data folder: most often another daemon.
fn held_by_another(error: &StoreError) -> String {
    match error {
        StoreError::Locked { path, holder } => format!(
            "the data folder's run history {} is in use by {}: one weft daemon per data folder; \
             stop it, or give this one another --data-dir",
            path.display(),
            holder.as_deref().unwrap_or("another weft process")
        ),
        other => crate::store_messages::run_history(other),
    }
}
