//! `weft sandbox`: start, print the sandbox credentials, serve until told to stop.

use std::future::Future;

use crate::{Sandbox, SandboxConfig, SandboxError};

/// Runs a sandbox in the foreground until `stop` completes (the caller's Ctrl-C and SIGTERM
/// handling), printing where it listens, the built-in app's client id and secret, its callback
/// URL and the sites; then stops it cleanly.
pub async fn run_cli(
    config: SandboxConfig,
    stop: impl Future<Output = ()>,
) -> Result<(), SandboxError> {
    let sandbox = Sandbox::start(config.clone()).await?;
    let app = sandbox.app();
    let base = sandbox.base_url();
    println!("weft sandbox listening on {base}");
    if config.realistic {
        println!(
            "realistic mode (seed {}): estimated search totals, some short pages, some 429s without Retry-After, some error statuses as strings",
            config.realistic_seed
        );
    }
    println!();
    println!("Sandbox credentials (built-in OAuth app):");
    println!("  client id:     {}", app.client_id);
    println!("  client secret: {}", app.client_secret);
    println!("  callback URLs: {}", app.callback_urls.join(", "));
    println!();
    println!("Endpoints:");
    println!("  authorize:     {base}/authorize");
    println!("  token:         {base}/oauth/token");
    println!("  API:           {base}/ex/confluence/{{cloudid}}/wiki/api/v2/...");
    println!("  admin:         {base}/__sandbox/...");
    println!();
    println!("Sites:");
    for s in sandbox.admin().sites() {
        println!("  {}  {}  ({})", s.cloudid, s.url, s.name);
    }
    println!();
    println!("Press Ctrl-C to stop.");
    stop.await;
    println!("stopping the sandbox...");
    sandbox.shutdown().await;
    Ok(())
}
