//! `weft apps show` and `weft apps set` on the app's file: the change asked for applied to an
//! [`AppConfig`], and the app as shown. The same code serves the command without a daemon and
//! the daemon's `/api/v1/apps/...` (through [`weft_daemon::api::AppPatch`] and
//! [`weft_daemon::api::AppDetail`]), so both print the same.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use weft_auth::app_config::{AppConfig, Credentials, SecretSource};
use weft_auth::scopes::{catalogue_kind, OFFLINE_ACCESS};
use weft_auth::AuthError;
use weft_daemon::api::{AppCredentials, AppDetail, AppPatch, AppScope};

use crate::auth_commands::{AppsSetArgs, CommandError};

/// Where `weft sandbox` listens by default (its OAuth endpoints and API share this origin):
/// where `--sandbox` points weft when no base URL is given.
const DEFAULT_SANDBOX_URL: &str = "http://127.0.0.1:8977";

/// The change `weft apps set` asks for; a secret file's path made absolute here, where it was
/// given.
pub(crate) fn patch_of(args: &AppsSetArgs) -> AppPatch {
    AppPatch {
        client_id: args.client_id.clone(),
        client_secret_env: args.client_secret_env.clone(),
        client_secret_file: args
            .client_secret_file
            .as_deref()
            .map(|path| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())),
        sandbox: args.sandbox,
        base_url: args.base_url.clone(),
        auth_base_url: args.auth_base_url.clone(),
        api_base_url: args.api_base_url.clone(),
        atlassian: args.atlassian,
        callback_url: args.callback_url.clone(),
        add_scopes: args.add_scopes.clone(),
        custom_scopes: args.custom_scopes.clone(),
        remove_scopes: args.remove_scopes.clone(),
    }
}

/// Applies `patch` to `app`; the notes to print (a scope to remove that was not there).
pub(crate) fn apply(app: &mut AppConfig, patch: &AppPatch) -> Result<Vec<String>, CommandError> {
    if patch.sandbox {
        if patch.client_id.is_some() || patch.atlassian {
            return Err(CommandError::Usage(
                "--sandbox uses the sandbox's own app: give neither --client-id nor --atlassian"
                    .into(),
            ));
        }
        app.credentials = Credentials::Sandbox;
        if patch.base_url.is_none() && patch.auth_base_url.is_none() && patch.api_base_url.is_none()
        {
            app.set_base_url(DEFAULT_SANDBOX_URL)?;
        }
    }
    let secret_source = match (&patch.client_secret_env, &patch.client_secret_file) {
        (Some(var), _) => Some(SecretSource::Env { var: var.clone() }),
        (None, Some(path)) => Some(SecretSource::File { path: path.clone() }),
        (None, None) => None,
    };
    match (&patch.client_id, secret_source) {
        (Some(client_id), Some(client_secret)) => {
            app.credentials = Credentials::Own {
                client_id: client_id.clone(),
                client_secret,
            };
        }
        (Some(client_id), None) => match &app.credentials {
            Credentials::Own { client_secret, .. } => {
                app.credentials = Credentials::Own {
                    client_id: client_id.clone(),
                    client_secret: client_secret.clone(),
                };
            }
            _ => {
                return Err(CommandError::Usage(
                    "--client-id needs --client-secret-env VAR or --client-secret-file PATH (the secret itself is never stored)".into(),
                ))
            }
        },
        (None, Some(client_secret)) => match &app.credentials {
            Credentials::Own { client_id, .. } => {
                app.credentials = Credentials::Own {
                    client_id: client_id.clone(),
                    client_secret,
                };
            }
            _ => {
                return Err(CommandError::Usage(
                    "give --client-id with the client secret".into(),
                ))
            }
        },
        (None, None) => {}
    }
    if patch.atlassian {
        app.auth_base_url = None;
        app.api_base_url = None;
    }
    if let Some(url) = &patch.base_url {
        app.set_base_url(url)?;
    }
    if let Some(url) = &patch.auth_base_url {
        weft_auth::ProviderEndpoints::with_bases(Some(url), None)?;
        app.auth_base_url = Some(url.clone());
    }
    if let Some(url) = &patch.api_base_url {
        weft_auth::ProviderEndpoints::with_bases(None, Some(url))?;
        app.api_base_url = Some(url.clone());
    }
    if let Some(url) = &patch.callback_url {
        app.set_callback_url(url)?;
    }
    let mut notes = Vec::new();
    for scope in &patch.remove_scopes {
        if !app.scopes.remove(scope)? {
            notes.push(format!("`{scope}` was not configured"));
        }
    }
    for scope in &patch.add_scopes {
        app.scopes.add(scope)?;
    }
    for scope in &patch.custom_scopes {
        app.scopes.add_custom(scope)?;
    }
    Ok(notes)
}

/// `app` as shown, its client secret looked for through `env` (this process's environment,
/// or the daemon's when it answers).
pub(crate) fn detail(
    app: &AppConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AppDetail, AuthError> {
    let credentials = match &app.credentials {
        Credentials::None => AppCredentials::None,
        Credentials::Own {
            client_id,
            client_secret,
        } => AppCredentials::Own {
            client_id: client_id.clone(),
            client_secret_from: client_secret.describe(),
            client_secret_unreadable: client_secret.read(env).err().map(|e| e.to_string()),
        },
        Credentials::Sandbox => AppCredentials::Sandbox {
            client_id: weft_sandbox::BUILTIN_CLIENT_ID.to_string(),
        },
    };
    let endpoints = app.endpoints()?;
    let custom: BTreeSet<&str> = app.scopes.custom().collect();
    let scopes = app
        .scopes
        .requested()
        .into_iter()
        .map(|scope| {
            let kind = if scope == OFFLINE_ACCESS {
                "mandatory; an authorize parameter, not added in the console"
            } else if custom.contains(scope.as_str()) {
                "custom"
            } else {
                catalogue_kind(&scope).map_or("custom", |k| k.label())
            };
            AppScope {
                scope: scope.to_string(),
                kind: kind.to_string(),
            }
        })
        .collect();
    Ok(AppDetail {
        provider: app.provider.clone(),
        callback_url: app.callback_url.to_string(),
        credentials,
        auth_base: endpoints.auth_base().to_string(),
        api_base: endpoints.api_base().to_string(),
        scopes,
    })
}

/// Prints an app as `weft apps show` does.
pub(crate) fn write(app: &AppDetail, out: &mut dyn Write) -> Result<(), CommandError> {
    let provider = &app.provider;
    writeln!(out, "app: {provider}")?;
    writeln!(out, "callback URL: {}", app.callback_url)?;
    writeln!(out, "  (paste it into developer.atlassian.com > your app > Authorization > OAuth 2.0 (3LO) > Callback URL)")?;
    match &app.credentials {
        AppCredentials::None => writeln!(
            out,
            "credentials: none yet (weft apps set {provider} --client-id ID --client-secret-env VAR, or --sandbox)"
        )?,
        AppCredentials::Own {
            client_id,
            client_secret_from,
            client_secret_unreadable,
        } => {
            let readable = match client_secret_unreadable {
                None => "readable".to_string(),
                Some(why) => format!("NOT readable: {why}"),
            };
            writeln!(out, "credentials: own app, client id {client_id}")?;
            writeln!(out, "client secret: from {client_secret_from} ({readable})")?;
        }
        AppCredentials::Sandbox { client_id } => {
            writeln!(out, "credentials: sandbox built-in app ({client_id})")?
        }
    }
    writeln!(out, "auth base: {}", app.auth_base)?;
    writeln!(out, "API base: {}", app.api_base)?;
    writeln!(out, "scopes:")?;
    for scope in &app.scopes {
        writeln!(out, "  {} ({})", scope.scope, scope.kind)?;
    }
    Ok(())
}

/// Prints a change made: its notes, that it was saved, then the app.
pub(crate) fn write_changed(
    notes: &[String],
    app: &AppDetail,
    out: &mut dyn Write,
) -> Result<(), CommandError> {
    for note in notes {
        writeln!(out, "note: {note}")?;
    }
    writeln!(
        out,
        "saved. Scope changes take effect when customers connect again."
    )?;
    write(app, out)
}

/// `weft apps set` without a daemon: the file changed, then shown.
pub(crate) fn set_here(
    data_dir: &Path,
    patch: &AppPatch,
    provider: &str,
) -> Result<(Vec<String>, AppDetail), CommandError> {
    let mut app = AppConfig::load(data_dir, provider)?;
    let notes = apply(&mut app, patch)?;
    app.save(data_dir)?;
    Ok((notes, detail(&app, &weft_auth::setup::process_env)?))
}
