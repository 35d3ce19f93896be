//! `weft apps set`, `weft connect` and `weft connections` through the binary, against the
//! sandbox: the customer's consent is the one thing a test plays (a GET of the authorize URL).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use weft_sandbox::{Sandbox, SandboxConfig, Seed};

use super::{stderr, stdout, weft};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_a_customer_site_and_use_the_connection() {
    let sandbox = Sandbox::start(SandboxConfig {
        auto_approve: true,
        seed: Seed::Demo,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let callback = format!("http://127.0.0.1:{}/callback", free_port());
    sandbox.admin().add_builtin_callback(&callback).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let base = sandbox.base_url();

    let setup = {
        let (data, base, callback) = (data.clone(), base.clone(), callback.clone());
        tokio::task::spawn_blocking(move || {
            weft(
                &data,
                &[
                    "apps",
                    "set",
                    "confluence",
                    "--sandbox",
                    "--base-url",
                    &base,
                    "--callback-url",
                    &callback,
                    "--add-scope",
                    "read:confluence-user",
                ],
            )
        })
        .await
        .unwrap()
    };
    assert_eq!(
        setup.status.code(),
        Some(0),
        "{}{}",
        stdout(&setup),
        stderr(&setup)
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .arg("--data-dir")
        .arg(&data)
        .args([
            "connect",
            "confluence",
            "--connection",
            "acme",
            "--site",
            "https://acme.atlassian.net",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read weft's output on a thread and hand over the authorize URL.
    // The prompt goes to stderr (stdout stays for results).
    let out = child.stderr.take().unwrap();
    let (url_tx, url_rx) = tokio::sync::oneshot::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut url_tx = Some(url_tx);
        let mut url = None;
        let mut printed = Vec::new();
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line.trim().starts_with("http") && url.is_none() {
                url = Some(line.trim().to_string());
            }
            if let Some(url) = &url {
                if let Some(tx) = url_tx.take() {
                    let _ = tx.send(url.clone());
                }
            }
            printed.push(line);
        }
        printed.join("\n")
    });
    let url = match tokio::time::timeout(std::time::Duration::from_secs(20), url_rx).await {
        Ok(Ok(url)) => url,
        _ => panic!(
            "weft connect printed no authorize URL:\n{}",
            reader.join().unwrap()
        ),
    };
    assert!(url.starts_with(&format!("{base}/authorize?")), "{url}");
    for part in [
        "audience=api.atlassian.com",
        "prompt=consent",
        "response_type=code",
        "offline_access",
    ] {
        assert!(url.contains(part), "{part} missing from {url}");
    }
    // weft prints the URL, then listens for the callback: wait until it does.
    let callback_addr = callback
        .trim_start_matches("http://")
        .trim_end_matches("/callback")
        .to_string();
    let mut listening = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(&callback_addr).await.is_ok() {
            listening = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(listening, "weft connect never listened on {callback_addr}");
    // The customer approves (auto-approved); the browser follows the redirect to the callback.
    let answer = reqwest::get(&url).await.unwrap();
    assert!(
        answer.status().is_success(),
        "callback answered {}",
        answer.status()
    );
    let status = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let printed = format!("{}\n{}", reader.join().unwrap(), stdout(&status));
    assert_eq!(status.status.code(), Some(0), "{printed}");
    assert!(
        printed.contains("connected `acme` to https://acme.atlassian.net"),
        "{printed}"
    );

    let (list, test) = {
        let data = data.clone();
        tokio::task::spawn_blocking(move || {
            (
                weft(&data, &["connections", "list"]),
                weft(&data, &["connections", "test", "acme"]),
            )
        })
        .await
        .unwrap()
    };
    assert!(
        stdout(&list).contains("acme") && stdout(&list).contains("healthy"),
        "{}",
        stdout(&list)
    );
    assert_eq!(test.status.code(), Some(0), "{}", stderr(&test));
    assert!(
        stdout(&test).contains("reaches Confluence as Sandbox User"),
        "{}",
        stdout(&test)
    );
    // The token exchange was one JSON request with the credentials in the body.
    let tokens: Vec<_> = sandbox
        .admin()
        .requests()
        .into_iter()
        .filter(|r| r.path == "/oauth/token")
        .collect();
    assert_eq!(tokens.len(), 1);
    sandbox.shutdown().await;
}
