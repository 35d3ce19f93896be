//! Runs a sandbox in the foreground, like `weft sandbox`:
//! `cargo run -p weft-sandbox --example sandbox -- [--listen ADDR] [--seed demo] [--data-dir D] [--auto-approve] [--realistic [--realistic-seed N]]`

use weft_sandbox::{run_cli, SandboxConfig};

fn parse(args: &[String]) -> Result<SandboxConfig, String> {
    let mut config = SandboxConfig::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--listen" => {
                config.listen = value("--listen")?
                    .parse()
                    .map_err(|e| format!("--listen: {e}"))?
            }
            "--seed" => config.seed = value("--seed")?.parse()?,
            "--data-dir" => config.data_dir = Some(value("--data-dir")?.into()),
            "--auto-approve" => config.auto_approve = true,
            "--realistic" => config.realistic = true,
            "--realistic-seed" => {
                config.realistic_seed = value("--realistic-seed")?
                    .parse()
                    .map_err(|e| format!("--realistic-seed: {e}"))?
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(config)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}\nusage: sandbox [--listen ADDR] [--seed empty|demo] [--data-dir DIR] [--auto-approve] [--realistic [--realistic-seed N]]");
            std::process::exit(2);
        }
    };
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(e) = run_cli(config, ctrl_c).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
