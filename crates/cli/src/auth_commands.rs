//! `weft apps`, `weft scopes`, `weft connect` and `weft connections`: the OAuth app and the
//! customer connections (logic in weft-auth; this module parses flags and prints).

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use weft_auth::api::{AccessibleResource, AtlassianApi, ConfluenceUser};
use weft_auth::app_config::{AppConfig, SandboxApp};
use weft_auth::connect::{serve_callback, ConnectFlow, SiteChooser};
use weft_auth::connection::validate_connection_name;
use weft_auth::connection_config::{update_config, ConfigChange};
use weft_auth::scopes::WorkflowScopeReport;
use weft_auth::setup::{exposed_secret_files, http_client, open_store, process_env, token_manager};
use weft_auth::{AuthError, ClientSecret, Connection, ConnectionStatus, SystemClock, TokenManager};
use weft_daemon::api::{AccountDetail, ConnectionDetail, ConnectionState};

use crate::app_settings;
use crate::auth_hints::{exposed_file_warning, hint};
use crate::signals::{Interrupt, Interrupts};

/// Every auth command; `main.rs` wraps each variant in its own top-level command.
#[derive(Debug)]
pub enum AuthCommand {
    Apps(AppsCommand),
    Scopes(ScopesArgs),
    Connect(ConnectArgs),
    Connections(ConnectionsCommand),
}

/// `weft apps ...`
#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Show the app: the callback URL to paste into the Atlassian developer console, the
    /// credential mode and the scopes.
    Show {
        /// Provider (only `confluence`).
        provider: String,
    },
    /// Change the app's credentials, scopes, callback URL or base URLs.
    Set(Box<AppsSetArgs>),
}

#[derive(Debug, Args)]
pub struct AppsSetArgs {
    /// Provider (only `confluence`).
    pub provider: String,
    /// Use your own Atlassian app with this client id (give the secret with
    /// --client-secret-env or --client-secret-file).
    #[arg(long, value_name = "ID", conflicts_with = "sandbox")]
    pub client_id: Option<String>,
    /// Environment variable that holds the client secret (the secret is never stored).
    #[arg(long, value_name = "VAR", conflicts_with = "client_secret_file")]
    pub client_secret_env: Option<String>,
    /// File that holds the client secret (the secret is never stored).
    #[arg(long, value_name = "PATH")]
    pub client_secret_file: Option<PathBuf>,
    /// Use the sandbox's built-in app (try weft without an Atlassian app); points weft at the
    /// sandbox unless --base-url says where it runs.
    #[arg(long)]
    pub sandbox: bool,
    /// One origin for OAuth and API (the sandbox: http://127.0.0.1:8977).
    #[arg(long, value_name = "URL", conflicts_with_all = ["auth_base_url", "api_base_url"])]
    pub base_url: Option<String>,
    /// Override https://auth.atlassian.com.
    #[arg(long, value_name = "URL")]
    pub auth_base_url: Option<String>,
    /// Override https://api.atlassian.com.
    #[arg(long, value_name = "URL")]
    pub api_base_url: Option<String>,
    /// Back to Atlassian's own endpoints.
    #[arg(long, conflicts_with_all = ["base_url", "auth_base_url", "api_base_url", "sandbox"])]
    pub atlassian: bool,
    /// The callback URL registered on the app (default http://127.0.0.1:8976/callback).
    #[arg(long, value_name = "URL")]
    pub callback_url: Option<String>,
    /// Add a catalogue scope (repeatable).
    #[arg(long = "add-scope", value_name = "SCOPE")]
    pub add_scopes: Vec<String>,
    /// Add a scope outside the catalogue on purpose (repeatable).
    #[arg(long = "custom-scope", value_name = "SCOPE")]
    pub custom_scopes: Vec<String>,
    /// Remove a scope (repeatable); `offline_access` cannot be removed.
    #[arg(long = "remove-scope", value_name = "SCOPE")]
    pub remove_scopes: Vec<String>,
}

/// `weft scopes FILES...`
#[derive(Debug, Args)]
pub struct ScopesArgs {
    /// Workflow files, or folders searched for *.yaml and *.yml (as `weft validate` does).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// `weft connect confluence --connection NAME [--site URL]`
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Provider (only `confluence`).
    pub provider: String,
    /// Name of the connection (letters, digits, `-`, `_`, `.`; not `.` or `..` alone); reconnecting
    /// reuses the name.
    #[arg(long, value_name = "NAME")]
    pub connection: String,
    /// The customer's site (https://acme.atlassian.net) when the consent grants several.
    #[arg(long, value_name = "URL")]
    pub site: Option<String>,
    /// How long to wait for the browser, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub timeout: u64,
}

/// `weft connections ...`
#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// Every connection with its status.
    List,
    /// One connection in detail.
    Show { name: String },
    /// Make a real API call (the current Confluence user) with the connection.
    Test { name: String },
    /// Refresh the access token now (also retries a connection marked needs-reconnect).
    Refresh {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        name: Option<String>,
        /// Every connection.
        #[arg(long)]
        all: bool,
    },
    /// Forget a connection (the customer can also revoke the app in their Atlassian account).
    Delete { name: String },
    /// Change the connection's settings, read by workflows as `connection.config.<key>`.
    Set(ConfigArgs),
}

/// `weft connections set NAME --config KEY=VALUE --unset KEY`
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("change").required(true).multiple(true).args(["config", "unset"]))]
pub struct ConfigArgs {
    pub name: String,
    /// A setting, `key=value` (repeatable); keys are lowercase letters, digits and `_`.
    #[arg(long, value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// Remove a setting (repeatable).
    #[arg(long, value_name = "KEY")]
    pub unset: Vec<String>,
}

impl ConfigArgs {
    /// The connection's name and the change asked for, here or through a daemon.
    fn change(self) -> Result<(String, ConfigChange), CommandError> {
        let change = ConfigChange {
            set: config_pairs(&self.config)?,
            unset: self.unset,
        };
        Ok((self.name, change))
    }
}

/// What `weft scopes` needs from the engine.
pub trait WorkflowScopes {
    /// The action names a workflow file uses.
    fn actions_in(&self, file: &Path) -> Result<Vec<String>, String>;
    /// The scopes an action declares (`Some(&[])` for actions that need none).
    fn scopes_of(&self, action: &str) -> Option<&'static [&'static str]>;
}

/// What the handlers need from `main.rs`.
pub struct AuthContext<'a> {
    pub data_dir: PathBuf,
    pub workflows: &'a dyn WorkflowScopes,
}

/// Runs one auth command; errors are printed on stderr, and so are warnings about secret
/// files other users may read.
pub async fn run(command: AuthCommand, ctx: &AuthContext<'_>) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let outcome = match command {
        AuthCommand::Apps(command) => apps(&ctx.data_dir, command, &mut out).await,
        AuthCommand::Scopes(args) => scopes(&ctx.data_dir, &args.files, ctx.workflows, &mut out),
        AuthCommand::Connect(args) => connect(&ctx.data_dir, &args, &mut out).await,
        AuthCommand::Connections(cmd) => connections(&ctx.data_dir, cmd, &mut out).await,
    };
    for file in exposed_secret_files(&ctx.data_dir, &process_env) {
        eprintln!("warning: {}", exposed_file_warning(&file));
    }
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(CommandError::Auth(AuthError::Store(e))) => {
            eprintln!("error: {}", crate::store_messages::connection_store(&e));
            ExitCode::FAILURE
        }
        Err(e) => {
            report_error(&e);
            ExitCode::FAILURE
        }
    }
}

/// Prints an error on stderr, with what to do about it when the CLI knows.
fn report_error(error: &CommandError) {
    eprintln!("error: {error}");
    if let Some(hint) = match error {
        CommandError::Auth(auth) => hint(auth),
        _ => None,
    } {
        eprintln!("hint: {hint}");
    }
}

type Outcome = Result<(), CommandError>;

/// An auth error, or a failed write to the terminal.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    #[error("{0}")]
    Usage(String),
    #[error("cannot listen for Ctrl-C and SIGTERM: {0}")]
    Signals(#[source] std::io::Error),
    #[error("interrupted ({}) before the connection was made; nothing was stored", .0.name())]
    Interrupted(Interrupt),
    #[error("{failed} of {total} connection(s) could not be refreshed")]
    RefreshFailed { failed: usize, total: usize },
    /// The daemon that owns the data folder did not answer as asked.
    #[error("the daemon at {address}: {message}")]
    Daemon {
        address: std::net::SocketAddr,
        message: String,
    },
}

pub(crate) fn sandbox_app() -> SandboxApp {
    SandboxApp {
        client_id: weft_sandbox::BUILTIN_CLIENT_ID.to_string(),
        client_secret: ClientSecret::new(weft_sandbox::BUILTIN_CLIENT_SECRET),
    }
}

pub fn apps_show(data_dir: &Path, provider: &str, out: &mut dyn Write) -> Outcome {
    let app = AppConfig::load(data_dir, provider)?;
    app_settings::write(&app_settings::detail(&app, &process_env)?, out)
}

pub fn apps_set(data_dir: &Path, args: &AppsSetArgs, out: &mut dyn Write) -> Outcome {
    let (notes, app) =
        app_settings::set_here(data_dir, &app_settings::patch_of(args), &args.provider)?;
    app_settings::write_changed(&notes, &app, out)
}

/// `weft apps ...`: asked of the daemon that owns the data folder, which uses a change for its
/// later connects and refreshes at once; else on the app's file.
async fn apps(data_dir: &Path, command: AppsCommand, out: &mut dyn Write) -> Outcome {
    let Some(daemon) = crate::daemon_client::find(data_dir).await else {
        return match command {
            AppsCommand::Show { provider } => apps_show(data_dir, &provider, out),
            AppsCommand::Set(args) => apps_set(data_dir, &args, out),
        };
    };
    let refused = |e: crate::daemon_client::CallError| CommandError::Daemon {
        address: daemon.address,
        message: e.to_string(),
    };
    match command {
        AppsCommand::Show { provider } => {
            app_settings::write(&daemon.app(&provider).await.map_err(refused)?, out)
        }
        AppsCommand::Set(args) => {
            let patch = app_settings::patch_of(&args);
            let changed = daemon
                .set_app(&args.provider, &patch)
                .await
                .map_err(refused)?;
            app_settings::write_changed(&changed.notes, &changed.app, out)
        }
    }
}

pub fn scopes(
    data_dir: &Path,
    files: &[PathBuf],
    workflows: &dyn WorkflowScopes,
    out: &mut dyn Write,
) -> Outcome {
    let app = AppConfig::load(data_dir, weft_auth::provider::CONFLUENCE)?;
    let mut actions = BTreeSet::new();
    let mut failures = Vec::new();
    // Folders are searched as `weft validate` searches them.
    let mut expanded = Vec::new();
    for path in files {
        if path.is_dir() {
            match crate::commands::validate::workflow_files(std::slice::from_ref(path)) {
                Ok(found) => expanded.extend(found),
                Err(e) => failures.push(e),
            }
        } else {
            expanded.push(path.clone());
        }
    }
    for file in &expanded {
        match workflows.actions_in(file) {
            Ok(found) => actions.extend(found),
            Err(e) => failures.push(format!("{}: {e}", file.display())),
        }
    }
    let report = WorkflowScopeReport::build(
        actions.iter().map(String::as_str),
        &|a| workflows.scopes_of(a),
        &app.scopes,
    );
    // Not when a file could not be read: its needs are unknown.
    if report.needed.is_empty() && failures.is_empty() {
        writeln!(out, "these workflows need no Confluence scope")?;
    }
    for (scope, users) in &report.needed {
        let status = if app.scopes.contains(scope) {
            "configured"
        } else {
            "MISSING"
        };
        let users: Vec<&str> = users.iter().map(String::as_str).collect();
        writeln!(out, "{scope}  [{status}]  used by {}", users.join(", "))?;
    }
    for action in &report.unknown_actions {
        writeln!(
            out,
            "warning: unknown action `{action}`: its scopes cannot be checked"
        )?;
    }
    if !report.missing.is_empty() {
        let flags: Vec<String> = report
            .missing
            .iter()
            .map(|s| format!("--add-scope {s}"))
            .collect();
        writeln!(out, "\nmissing from the app: {}", report.missing.join(", "))?;
        writeln!(
            out,
            "add them in the Atlassian developer console (Permissions), then run:"
        )?;
        writeln!(out, "  weft apps set confluence {}", flags.join(" "))?;
        writeln!(
            out,
            "and reconnect each customer (a new consent is needed for new scopes)."
        )?;
    }
    if !failures.is_empty() {
        return Err(CommandError::Usage(failures.join("\n")));
    }
    Ok(())
}

/// Asks on the terminal which site to connect; refuses to guess when there is no terminal.
pub(crate) struct TerminalChooser;

#[async_trait::async_trait]
impl SiteChooser for TerminalChooser {
    async fn choose(&self, sites: &[AccessibleResource]) -> Option<usize> {
        if !std::io::stdin().is_terminal() {
            return None;
        }
        eprintln!("The consent granted several sites:");
        for (i, site) in sites.iter().enumerate() {
            eprintln!("  {}) {} ({})", i + 1, site.url, site.name);
        }
        eprint!("Connect which one? [1-{}] ", sites.len());
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).ok()?;
        let choice: usize = line.trim().parse().ok()?;
        (1..=sites.len()).contains(&choice).then(|| choice - 1)
    }
}

async fn connect(data_dir: &Path, args: &ConnectArgs, out: &mut dyn Write) -> Outcome {
    if let Some(daemon) = crate::daemon_client::find(data_dir).await {
        validate_connection_name(&args.connection)?;
        let connection = crate::daemon_connect::connect(&daemon, args).await?;
        return write_connected(&connection, out);
    }
    let app =
        AppConfig::load(data_dir, &args.provider)?.resolve(&process_env, Some(&sandbox_app()))?;
    let store = open_store(data_dir, &process_env)?;
    let flow = Arc::new(ConnectFlow::new(
        app,
        store,
        Arc::new(SystemClock),
        http_client()?,
    ));
    let mut interrupts = Interrupts::listen().map_err(CommandError::Signals)?;
    let server = serve_callback(&flow.app().callback_url, flow.clone()).await?;
    let pending = flow.begin(&args.connection, args.site.as_deref())?;
    eprintln!("Open this URL in a browser signed in to the customer's Atlassian account and approve:\n\n  {}\n", pending.authorize_url);
    eprintln!(
        "Waiting for the callback on {} ...",
        flow.app().callback_url
    );
    let connected = async {
        let grant = pending
            .wait(Duration::from_secs(args.timeout), &flow.app().callback_url)
            .await?;
        flow.complete(grant, &TerminalChooser).await
    };
    // The connection is stored last, with no await after it: an interrupt leaves nothing behind.
    let completed = tokio::select! {
        connection = connected => connection.map_err(CommandError::from),
        interrupt = interrupts.next() => Err(CommandError::Interrupted(interrupt)),
    };
    // Only now: the browser's request is answered with the outcome before the server stops.
    server.shutdown().await;
    write_connected(&connection_detail(&completed?), out)
}

fn write_connected(connection: &ConnectionDetail, out: &mut dyn Write) -> Outcome {
    writeln!(
        out,
        "connected `{}` to {} ({})",
        connection.name, connection.site_url, connection.site_name
    )?;
    write_connection(connection, out)
}

async fn connections(data_dir: &Path, command: ConnectionsCommand, out: &mut dyn Write) -> Outcome {
    if let Some(daemon) = crate::daemon_client::find(data_dir).await {
        return connections_through_daemon(&daemon, command, out).await;
    }
    let store = open_store(data_dir, &process_env)?;
    match command {
        ConnectionsCommand::List => list(store.list().await?, out),
        ConnectionsCommand::Show { name } => {
            let stored = store
                .get(&name)
                .await?
                .ok_or(AuthError::ConnectionNotFound(name))?;
            write_connection(&connection_detail(&stored.connection), out)
        }
        ConnectionsCommand::Delete { name } => {
            if !store.delete(&name).await? {
                return Err(AuthError::ConnectionNotFound(name).into());
            }
            write_deleted(&name, out)
        }
        ConnectionsCommand::Set(args) => {
            let (name, change) = args.change()?;
            let updated = update_config(store.as_ref(), &name, &change).await?;
            write_config_saved(
                &name,
                &updated.not_set,
                &connection_detail(&updated.connection),
                out,
            )
        }
        ConnectionsCommand::Test { name } => {
            let app = resolved_app(data_dir)?;
            let http = http_client()?;
            let manager = token_manager(store, &app, http.clone());
            let user = reach_confluence(&manager, http, &name).await?;
            write_reached(&name, &user.display_name, &user.account_id, out)
        }
        ConnectionsCommand::Refresh { name, all } => {
            let app = resolved_app(data_dir)?;
            let manager = token_manager(store, &app, http_client()?);
            if !all {
                let name = name
                    .ok_or_else(|| CommandError::Usage("give a connection name or --all".into()))?;
                manager.refresh_now(&name).await?;
                writeln!(out, "refreshed `{name}`")?;
                return Ok(());
            }
            let report = manager.refresh_all().await?;
            for name in &report.refreshed {
                writeln!(out, "refreshed `{name}`")?;
            }
            let (failed, total) = (
                report.failed.len(),
                report.failed.len() + report.refreshed.len(),
            );
            for (_, error) in report.failed {
                report_error(&CommandError::Auth(error));
            }
            if failed == 0 {
                Ok(())
            } else {
                Err(CommandError::RefreshFailed { failed, total })
            }
        }
    }
}

/// `--config key=value` pairs, in order.
fn config_pairs(config: &[String]) -> Result<Vec<(String, String)>, CommandError> {
    config
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| CommandError::Usage(format!("`--config {pair}` must be KEY=VALUE")))
        })
        .collect()
}

fn write_deleted(name: &str, out: &mut dyn Write) -> Outcome {
    writeln!(out, "deleted `{name}`")?;
    Ok(())
}

fn write_config_saved(
    name: &str,
    not_set: &[String],
    connection: &ConnectionDetail,
    out: &mut dyn Write,
) -> Outcome {
    for key in not_set {
        writeln!(out, "note: `{key}` was not set")?;
    }
    writeln!(out, "saved the settings of `{name}`")?;
    write_config(connection, out)
}

fn write_reached(name: &str, display_name: &str, account_id: &str, out: &mut dyn Write) -> Outcome {
    writeln!(
        out,
        "ok: `{name}` reaches Confluence as {display_name} ({account_id})"
    )?;
    Ok(())
}

/// Who connection `name` reaches Confluence as: one real call, and one forced refresh after a
/// 401, as connectors do (`weft connections test`, here or through a daemon).
pub(crate) async fn reach_confluence(
    manager: &TokenManager,
    http: reqwest::Client,
    name: &str,
) -> Result<ConfluenceUser, AuthError> {
    let api = AtlassianApi::new(http, manager.endpoints());
    let cloud_id = manager
        .store()
        .get(name)
        .await?
        .ok_or_else(|| AuthError::ConnectionNotFound(name.to_string()))?
        .connection
        .cloud_id;
    let token = manager.access_token(name).await?;
    match api.current_user(&token, &cloud_id).await {
        Err(AuthError::Api { reason, .. }) if reason.contains("401") => {
            let token = manager.force_refresh(name, &token).await?;
            api.current_user(&token, &cloud_id).await
        }
        other => other,
    }
}

/// `weft connections ...` asked of the daemon that owns the key store; prints what the same
/// command prints without a daemon.
async fn connections_through_daemon(
    daemon: &crate::daemon_client::DaemonClient,
    command: ConnectionsCommand,
    out: &mut dyn Write,
) -> Outcome {
    let refused = |e: crate::daemon_client::CallError| CommandError::Daemon {
        address: daemon.address,
        message: e.to_string(),
    };
    // The name goes into the URL's path: one the API could not address is refused here.
    match &command {
        ConnectionsCommand::Show { name }
        | ConnectionsCommand::Test { name }
        | ConnectionsCommand::Delete { name }
        | ConnectionsCommand::Set(ConfigArgs { name, .. })
        | ConnectionsCommand::Refresh {
            name: Some(name), ..
        } => validate_connection_name(name)?,
        ConnectionsCommand::List | ConnectionsCommand::Refresh { name: None, .. } => {}
    }
    match command {
        ConnectionsCommand::List => {
            list_from_daemon(&daemon.connections().await.map_err(refused)?, out)
        }
        ConnectionsCommand::Show { name } => {
            write_connection(&daemon.connection(&name).await.map_err(refused)?, out)
        }
        ConnectionsCommand::Delete { name } => {
            daemon.delete_connection(&name).await.map_err(refused)?;
            write_deleted(&name, out)
        }
        ConnectionsCommand::Set(args) => {
            let (name, change) = args.change()?;
            let patch = weft_daemon::api::ConfigPatch {
                set: change.set.into_iter().collect(),
                unset: change.unset,
            };
            let changed = daemon
                .set_connection_config(&name, &patch)
                .await
                .map_err(refused)?;
            write_config_saved(&name, &changed.not_set, &changed.connection, out)
        }
        ConnectionsCommand::Test { name } => {
            let user = daemon.test_connection(&name).await.map_err(refused)?;
            write_reached(&name, &user.display_name, &user.account_id, out)
        }
        ConnectionsCommand::Refresh {
            name: Some(name),
            all: false,
        } => {
            daemon.refresh_connection(&name).await.map_err(refused)?;
            writeln!(out, "refreshed `{name}`")?;
            Ok(())
        }
        ConnectionsCommand::Refresh { .. } => {
            let listed = daemon.connections().await.map_err(refused)?;
            let names: Vec<&str> = listed.iter().filter_map(|c| c["name"].as_str()).collect();
            let mut failed = 0;
            for name in &names {
                match daemon.refresh_connection(name).await {
                    Ok(()) => writeln!(out, "refreshed `{name}`")?,
                    Err(e) => {
                        failed += 1;
                        report_error(&refused(e));
                    }
                }
            }
            match failed {
                0 => Ok(()),
                failed => Err(CommandError::RefreshFailed {
                    failed,
                    total: names.len(),
                }),
            }
        }
    }
}

fn resolved_app(data_dir: &Path) -> Result<weft_auth::ResolvedApp, AuthError> {
    AppConfig::load(data_dir, weft_auth::provider::CONFLUENCE)?
        .resolve(&process_env, Some(&sandbox_app()))
}

pub fn list(connections: Vec<Connection>, out: &mut dyn Write) -> Outcome {
    if connections.is_empty() {
        writeln!(
            out,
            "no connections yet: weft connect confluence --connection NAME"
        )?;
        return Ok(());
    }
    for c in connections {
        // A value with a space is quoted, so `a=x y=z` cannot be misread.
        let settings: Vec<String> = c
            .config
            .iter()
            .map(
                |(k, v)| match v.contains(char::is_whitespace) || v.is_empty() {
                    true => format!("{k}={v:?}"),
                    false => format!("{k}={v}"),
                },
            )
            .collect();
        let settings = if settings.is_empty() {
            String::new()
        } else {
            format!("  config: {}", settings.join(" "))
        };
        writeln!(
            out,
            "{}  {}  {}{settings}",
            c.name,
            c.site_url,
            c.status.summary()
        )?;
    }
    Ok(())
}

/// `connections list` from the API of the daemon that owns the data folder: name, site and
/// status (settings are not in the API's list), and the poll triggers a connection paused.
fn list_from_daemon(connections: &[serde_json::Value], out: &mut dyn Write) -> Outcome {
    if connections.is_empty() {
        writeln!(
            out,
            "no connections yet: weft connect confluence --connection NAME"
        )?;
        return Ok(());
    }
    for c in connections {
        let text = |field: &str| c[field].as_str().unwrap_or("?").to_string();
        let status = text("status").replace('_', " ");
        let problem = c["problem"]
            .as_str()
            .map(|p| format!(": {p}"))
            .unwrap_or_default();
        writeln!(
            out,
            "{}  {}  {status}{problem}",
            text("name"),
            text("site_url")
        )?;
        let paused: Vec<&str> = c["paused_triggers"]
            .as_array()
            .map(|names| names.iter().filter_map(|n| n.as_str()).collect())
            .unwrap_or_default();
        if !paused.is_empty() {
            writeln!(
                out,
                "  polls paused until reconnected: {} (fix: weft connect {} --connection {})",
                paused.join(", "),
                text("provider"),
                text("name")
            )?;
        }
    }
    Ok(())
}

/// A connection as the API shows it (never a token), also for one read from the key store here.
pub(crate) fn connection_detail(c: &Connection) -> ConnectionDetail {
    ConnectionDetail {
        name: c.name.clone(),
        provider: c.provider.clone(),
        cloud_id: c.cloud_id.clone(),
        site_url: c.site_url.clone(),
        site_name: c.site_name.clone(),
        account: AccountDetail {
            account_id: c.account.account_id.clone(),
            name: c.account.name.clone(),
            email: c.account.email.clone(),
        },
        granted_scopes: c.granted_scopes.clone(),
        config: c.config.clone(),
        status: connection_state(&c.status).0,
        status_text: c.status.summary(),
        access_expires_at: c.tokens.access_expires_at,
        last_rotation_at: c.last_rotation_at,
        created_at: c.created_at,
    }
}

/// A connection's health as the API names it, what went wrong, and since when.
pub(crate) fn connection_state(
    status: &ConnectionStatus,
) -> (
    ConnectionState,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
) {
    match status {
        ConnectionStatus::Healthy => (ConnectionState::Healthy, None, None),
        ConnectionStatus::RefreshFailing {
            since, last_error, ..
        } => (
            ConnectionState::RefreshFailing,
            Some(last_error.clone()),
            Some(*since),
        ),
        ConnectionStatus::NeedsReconnect { since, reason } => (
            ConnectionState::NeedsReconnect,
            Some(reason.clone()),
            Some(*since),
        ),
    }
}

pub fn write_connection(c: &ConnectionDetail, out: &mut dyn Write) -> Outcome {
    writeln!(out, "name: {}", c.name)?;
    writeln!(out, "provider: {}", c.provider)?;
    writeln!(
        out,
        "site: {} ({}), cloud id {}",
        c.site_url, c.site_name, c.cloud_id
    )?;
    let email = c
        .account
        .email
        .as_deref()
        .map(|e| format!(" <{e}>"))
        .unwrap_or_default();
    writeln!(
        out,
        "account: {}{email} ({})",
        c.account.name, c.account.account_id
    )?;
    writeln!(out, "scopes: {}", c.granted_scopes.join(" "))?;
    write_config(c, out)?;
    writeln!(out, "status: {}", c.status_text)?;
    if c.status == ConnectionState::NeedsReconnect {
        writeln!(
            out,
            "fix: weft connect {} --connection {}",
            c.provider, c.name
        )?;
    }
    writeln!(
        out,
        "access token expires: {}",
        c.access_expires_at.format("%Y-%m-%d %H:%M:%S UTC")
    )?;
    writeln!(
        out,
        "refresh token last rotated: {}",
        c.last_rotation_at.format("%Y-%m-%d %H:%M:%S UTC")
    )?;
    writeln!(
        out,
        "created: {}",
        c.created_at.format("%Y-%m-%d %H:%M:%S UTC")
    )?;
    Ok(())
}

/// The connection's settings, one a line (`weft connections set` changes them).
fn write_config(c: &ConnectionDetail, out: &mut dyn Write) -> Outcome {
    if c.config.is_empty() {
        writeln!(
            out,
            "config: none (weft connections set {} --config key=value)",
            c.name
        )?;
        return Ok(());
    }
    writeln!(out, "config:")?;
    for (key, value) in &c.config {
        writeln!(out, "  {key} = {value}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_auth::app_config::Credentials;

    struct Fixed;
    impl WorkflowScopes for Fixed {
        fn actions_in(&self, file: &Path) -> Result<Vec<String>, String> {
            match file.to_str() {
                Some("a.yaml") => Ok(vec!["confluence.get_page".into(), "core.log".into()]),
                Some("b.yaml") => Ok(vec!["confluence.create_page".into()]),
                _ => Err("no such file".into()),
            }
        }
        fn scopes_of(&self, action: &str) -> Option<&'static [&'static str]> {
            match action {
                "confluence.get_page" => Some(&["read:page:confluence"]),
                "confluence.create_page" => Some(&["write:page:confluence"]),
                "core.log" => Some(&[]),
                _ => None,
            }
        }
    }

    fn set_args(provider: &str) -> AppsSetArgs {
        AppsSetArgs {
            provider: provider.into(),
            client_id: None,
            client_secret_env: None,
            client_secret_file: None,
            sandbox: false,
            base_url: None,
            auth_base_url: None,
            api_base_url: None,
            atlassian: false,
            callback_url: None,
            add_scopes: vec![],
            custom_scopes: vec![],
            remove_scopes: vec![],
        }
    }

    /// The same shape `main.rs` gives these commands.
    #[derive(Debug, clap::Parser)]
    struct TestCli {
        #[command(subcommand)]
        command: TestCommand,
    }

    #[derive(Debug, clap::Subcommand)]
    enum TestCommand {
        #[command(subcommand)]
        Apps(AppsCommand),
        Scopes(ScopesArgs),
        Connect(ConnectArgs),
        #[command(subcommand)]
        Connections(ConnectionsCommand),
    }

    fn parse(args: &[&str]) -> Result<TestCommand, clap::Error> {
        use clap::Parser;
        TestCli::try_parse_from(std::iter::once("weft").chain(args.iter().copied()))
            .map(|c| c.command)
    }

    #[test]
    fn command_lines_parse_and_conflicts_are_refused() {
        use clap::CommandFactory;
        TestCli::command().debug_assert();
        let set = parse(&[
            "apps",
            "set",
            "confluence",
            "--sandbox",
            "--add-scope",
            "read:page:confluence",
        ])
        .unwrap();
        assert!(
            matches!(set, TestCommand::Apps(AppsCommand::Set(ref a)) if a.sandbox && a.add_scopes.len() == 1)
        );
        assert!(parse(&["apps", "set", "confluence", "--sandbox", "--client-id", "x"]).is_err());
        let connect = parse(&[
            "connect",
            "confluence",
            "--connection",
            "acme",
            "--site",
            "https://acme.atlassian.net",
        ])
        .unwrap();
        assert!(
            matches!(connect, TestCommand::Connect(ref a) if a.connection == "acme" && a.timeout == 600)
        );
        assert!(
            parse(&["connect", "confluence"]).is_err(),
            "--connection is required"
        );
        assert!(matches!(
            parse(&["connections", "refresh", "--all"]).unwrap(),
            TestCommand::Connections(ConnectionsCommand::Refresh {
                all: true,
                name: None
            })
        ));
        assert!(
            parse(&["connections", "refresh"]).is_err(),
            "a name or --all"
        );
        assert!(parse(&["scopes"]).is_err(), "at least one file");
        assert!(matches!(
            parse(&["connections", "set", "acme", "--config", "space=ENG", "--unset", "old"]).unwrap(),
            TestCommand::Connections(ConnectionsCommand::Set(ref args))
                if args.config == ["space=ENG"] && args.unset == ["old"]
        ));
        assert!(
            parse(&["connections", "set", "acme"]).is_err(),
            "a change is required"
        );
    }

    fn text(out: Vec<u8>) -> String {
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn apps_show_prints_callback_mode_and_scopes() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        apps_show(dir.path(), "confluence", &mut out).unwrap();
        let shown = text(out);
        assert!(
            shown.contains("callback URL: http://127.0.0.1:8976/callback"),
            "{shown}"
        );
        assert!(shown.contains("credentials: none yet"), "{shown}");
        assert!(shown.contains("offline_access (mandatory"), "{shown}");
        assert!(apps_show(dir.path(), "jira", &mut Vec::new()).is_err());
    }

    #[test]
    fn apps_set_changes_credentials_and_scopes_and_refuses_offline_access_removal() {
        let dir = tempfile::tempdir().unwrap();
        let mut args = set_args("confluence");
        args.client_id = Some("my-client".into());
        args.client_secret_env = Some("MY_APP_SECRET".into());
        args.add_scopes = vec!["read:page:confluence".into()];
        args.custom_scopes = vec!["read:beta-thing:confluence".into()];
        let mut out = Vec::new();
        apps_set(dir.path(), &args, &mut out).unwrap();
        let shown = text(out);
        assert!(shown.contains("own app, client id my-client"), "{shown}");
        assert!(
            shown.contains("environment variable MY_APP_SECRET"),
            "{shown}"
        );
        assert!(shown.contains("read:page:confluence (granular)"), "{shown}");
        assert!(
            shown.contains("read:beta-thing:confluence (custom)"),
            "{shown}"
        );

        let mut remove = set_args("confluence");
        remove.remove_scopes = vec!["offline_access".into()];
        let err = apps_set(dir.path(), &remove, &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot be removed"), "{err}");

        let mut unknown = set_args("confluence");
        unknown.add_scopes = vec!["read:pagez:confluence".into()];
        let err = apps_set(dir.path(), &unknown, &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `read:page:confluence`"), "{err}");

        let mut half = set_args("confluence");
        half.client_id = Some("other".into());
        apps_set(dir.path(), &half, &mut Vec::new()).unwrap();
        let config = AppConfig::load(dir.path(), "confluence").unwrap();
        assert!(
            matches!(config.credentials, Credentials::Own { ref client_id, .. } if client_id == "other")
        );
    }

    #[test]
    fn sandbox_mode_points_at_the_sandbox() {
        let dir = tempfile::tempdir().unwrap();
        let mut args = set_args("confluence");
        args.sandbox = true;
        apps_set(dir.path(), &args, &mut Vec::new()).unwrap();
        let app = resolved_app(dir.path()).unwrap();
        assert_eq!(app.client_id, weft_sandbox::BUILTIN_CLIENT_ID);
        assert_eq!(
            app.endpoints.token_url().as_str(),
            "http://127.0.0.1:8977/oauth/token"
        );
    }

    #[test]
    fn scopes_reports_missing_ones_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let mut args = set_args("confluence");
        args.add_scopes = vec!["read:page:confluence".into()];
        args.sandbox = true;
        apps_set(dir.path(), &args, &mut Vec::new()).unwrap();
        let mut out = Vec::new();
        scopes(
            dir.path(),
            &["a.yaml".into(), "b.yaml".into()],
            &Fixed,
            &mut out,
        )
        .unwrap();
        let shown = text(out);
        assert!(
            shown.contains("read:page:confluence  [configured]  used by confluence.get_page"),
            "{shown}"
        );
        assert!(
            shown.contains("write:page:confluence  [MISSING]"),
            "{shown}"
        );
        assert!(
            shown.contains("weft apps set confluence --add-scope write:page:confluence"),
            "{shown}"
        );
        let err = scopes(
            dir.path(),
            &["missing.yaml".into()],
            &Fixed,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("missing.yaml: no such file"),
            "{err}"
        );
    }

    #[test]
    fn scopes_searches_folders_and_claims_nothing_of_a_file_it_could_not_read() {
        struct ByName;
        impl WorkflowScopes for ByName {
            fn actions_in(&self, file: &Path) -> Result<Vec<String>, String> {
                let name = file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                Fixed.actions_in(Path::new(name))
            }
            fn scopes_of(&self, action: &str) -> Option<&'static [&'static str]> {
                Fixed.scopes_of(action)
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let flows = dir.path().join("flows");
        std::fs::create_dir(&flows).unwrap();
        std::fs::write(flows.join("b.yaml"), "").unwrap();
        let mut out = Vec::new();
        scopes(dir.path(), &[flows], &ByName, &mut out).unwrap();
        let shown = text(out);
        assert!(
            shown.contains("write:page:confluence  [MISSING]  used by confluence.create_page"),
            "{shown}"
        );
        let mut out = Vec::new();
        scopes(dir.path(), &["missing.yaml".into()], &Fixed, &mut out).unwrap_err();
        let shown = text(out);
        assert!(!shown.contains("need no Confluence scope"), "{shown}");
    }

    #[test]
    fn a_daemon_s_connection_says_which_polls_it_paused_and_how_to_fix_it() {
        let listed = [
            serde_json::json!({
                "name": "acme", "provider": "confluence", "site_url": "https://acme.atlassian.net",
                "status": "needs_reconnect", "problem": "the refresh token was refused",
                "paused_triggers": ["inbox", "watch"],
            }),
            serde_json::json!({
                "name": "globex", "provider": "confluence", "site_url": "https://globex.atlassian.net",
                "status": "healthy", "paused_triggers": [],
            }),
        ];
        let mut out = Vec::new();
        list_from_daemon(&listed, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "acme  https://acme.atlassian.net  needs reconnect: the refresh token was refused\n  \
             polls paused until reconnected: inbox, watch (fix: weft connect confluence --connection acme)\n\
             globex  https://globex.atlassian.net  healthy\n"
        );
    }
}
