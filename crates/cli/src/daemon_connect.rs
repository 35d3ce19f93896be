//! `weft connect` while a daemon owns the key store: the daemon's flow makes the `state` and
//! the authorize URL, exchanges the code and stores the connection; this process prints, asks
//! which site when the consent granted several, and serves the app's registered callback URL
//! when it is on this machine and not the daemon itself, handing the browser's redirect to the
//! daemon (Atlassian sends the browser to that URL only, byte for byte).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use weft_auth::api::AccessibleResource;
use weft_auth::connect::{serve_callback, CallbackHandler, CallbackParams, SiteChooser};
use weft_daemon::api::{
    ConnectProgress, ConnectRequest, ConnectionDetail, SiteChoice, OAUTH_CALLBACK_PATH,
};

use crate::auth_commands::{CommandError, ConnectArgs, TerminalChooser};
use crate::daemon_client::{CallError, DaemonClient};
use crate::signals::Interrupts;

/// How long one question about the attempt waits for it to move on.
const PROGRESS_WAIT: Duration = Duration::from_secs(20);

/// Connects through `daemon`: the connection stored.
pub async fn connect(
    daemon: &DaemonClient,
    args: &ConnectArgs,
) -> Result<ConnectionDetail, CommandError> {
    let mut interrupts = Interrupts::listen().map_err(CommandError::Signals)?;
    let request = ConnectRequest {
        provider: args.provider.clone(),
        site: args.site.clone(),
        timeout_seconds: Some(args.timeout),
    };
    let started = daemon
        .begin_connect(&args.connection, &request)
        .await
        .map_err(|e| refused(daemon, e))?;
    let callback = Url::parse(&started.callback_url).map_err(|e| CommandError::Daemon {
        address: daemon.address,
        message: format!("the callback URL it gave is not a URL: {e}"),
    })?;
    let server = match received_here(&callback, daemon.address) {
        true => {
            let forward = Arc::new(ToDaemon {
                daemon: daemon.clone(),
                wait: Duration::from_secs(args.timeout),
            });
            match serve_callback(&callback, forward).await {
                Ok(server) => Some(server),
                Err(e) => {
                    abandon(daemon, &started.attempt).await;
                    return Err(e.into());
                }
            }
        }
        false => {
            if callback.path() != OAUTH_CALLBACK_PATH {
                eprintln!("warning: the app's callback URL {callback} is not on this machine, and the daemon receives the browser only at {OAUTH_CALLBACK_PATH}: register a URL ending in {OAUTH_CALLBACK_PATH} (weft apps set confluence --callback-url URL) or the browser will not reach weft");
            }
            None
        }
    };
    eprintln!("Open this URL in a browser signed in to the customer's Atlassian account and approve:\n\n  {}\n", started.authorize_url);
    eprintln!("Waiting for the callback on {callback} ...");
    let outcome = tokio::select! {
        outcome = follow(daemon, &started.attempt) => outcome,
        interrupt = interrupts.next() => {
            abandon(daemon, &started.attempt).await;
            Err(CommandError::Interrupted(interrupt))
        }
    };
    // Only now: the browser's request is answered with the outcome before the server stops.
    if let Some(server) = server {
        server.shutdown().await;
    }
    outcome
}

/// Follows the attempt to its end, asking for the site when the daemon needs one.
async fn follow(daemon: &DaemonClient, attempt: &str) -> Result<ConnectionDetail, CommandError> {
    loop {
        let progress = daemon
            .connect_progress(attempt, PROGRESS_WAIT)
            .await
            .map_err(|e| refused(daemon, e))?;
        match progress {
            ConnectProgress::Waiting => {}
            ConnectProgress::ChooseSite { sites } => {
                let offered: Vec<AccessibleResource> = sites
                    .into_iter()
                    .map(|site| AccessibleResource {
                        id: site.id,
                        name: site.name,
                        url: site.url,
                        scopes: Vec::new(),
                    })
                    .collect();
                let index = TerminalChooser.choose(&offered).await;
                daemon
                    .choose_site(attempt, &SiteChoice { index })
                    .await
                    .map_err(|e| refused(daemon, e))?;
            }
            ConnectProgress::Connected { connection } => return Ok(*connection),
            ConnectProgress::Failed { message } => {
                return Err(CommandError::Daemon {
                    address: daemon.address,
                    message,
                })
            }
        }
    }
}

/// Whether the browser comes back to this machine at another address than the daemon's
/// (the default `http://127.0.0.1:8976/callback`); otherwise the daemon's own
/// `/oauth/callback` receives it.
fn received_here(callback: &Url, daemon: SocketAddr) -> bool {
    let loopback = matches!(
        callback.host_str(),
        Some("127.0.0.1" | "localhost" | "[::1]")
    );
    let at_daemon =
        daemon.ip().is_loopback() && callback.port_or_known_default() == Some(daemon.port());
    loopback && !at_daemon
}

async fn abandon(daemon: &DaemonClient, attempt: &str) {
    if let Err(e) = daemon.abandon_connect(attempt).await {
        eprintln!("warning: the daemon at {}: {e}", daemon.address);
    }
}

fn refused(daemon: &DaemonClient, error: CallError) -> CommandError {
    CommandError::Daemon {
        address: daemon.address,
        message: error.to_string(),
    }
}

/// The callback served here, answered by the daemon's flow.
struct ToDaemon {
    daemon: DaemonClient,
    /// The longest the daemon may take (a site may have to be chosen first).
    wait: Duration,
}

#[async_trait::async_trait]
impl CallbackHandler for ToDaemon {
    async fn handle(&self, params: CallbackParams) -> Result<String, String> {
        self.daemon
            .forward_callback(&params, self.wait)
            .await
            .map_err(|e| e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callback_is_served_here_unless_it_is_the_daemon_or_elsewhere() {
        let daemon: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let url = |text: &str| Url::parse(text).unwrap();
        assert!(received_here(
            &url("http://127.0.0.1:8976/callback"),
            daemon
        ));
        assert!(received_here(&url("http://localhost:9000/cb"), daemon));
        assert!(!received_here(
            &url("http://127.0.0.1:8080/oauth/callback"),
            daemon
        ));
        assert!(!received_here(
            &url("https://weft.example.com/oauth/callback"),
            daemon
        ));
    }
}
