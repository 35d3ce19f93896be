//! `weft apps set`, `weft connect` and `weft connections` through the binary, against the
//! sandbox: the customer's consent is the one thing a test plays (a GET of the authorize URL).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use weft_sandbox::{Fault, FaultRule, Sandbox, SandboxConfig, Seed};

use super::signals::terminate;
use super::{stderr, stdout, weft};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A sandbox with two sites whose built-in app accepts a callback on a free port, and a data
/// folder with the app configured for it (`weft apps set`).
pub(crate) struct Setup {
    pub(crate) sandbox: Sandbox,
    callback: String,
    dir: tempfile::TempDir,
}

impl Setup {
    pub(crate) async fn start() -> Setup {
        let sandbox = Sandbox::start(SandboxConfig {
            auto_approve: true,
            seed: Seed::Demo,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let callback = format!("http://127.0.0.1:{}/callback", free_port());
        sandbox.admin().add_builtin_callback(&callback).unwrap();
        let setup = Setup {
            sandbox,
            callback,
            dir: tempfile::tempdir().unwrap(),
        };
        let base = setup.sandbox.base_url();
        let done = setup
            .weft(&[
                "apps",
                "set",
                "confluence",
                "--sandbox",
                "--base-url",
                &base,
                "--callback-url",
                &setup.callback,
                "--add-scope",
                "read:confluence-user",
            ])
            .await;
        assert_eq!(
            done.status.code(),
            Some(0),
            "{}{}",
            stdout(&done),
            stderr(&done)
        );
        setup
    }

    pub(crate) fn data(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Runs `weft` off the async threads (the sandbox serves on them).
    pub(crate) async fn weft(&self, args: &[&str]) -> Output {
        let data = self.data();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            weft(&data, &args)
        })
        .await
        .unwrap()
    }

    /// Adds `scopes` to the app's (before connecting, so the consent grants them).
    pub(crate) async fn add_scopes(&self, scopes: &[&str]) {
        let mut args = vec!["apps", "set", "confluence"];
        for scope in scopes {
            args.extend(["--add-scope", scope]);
        }
        let set = self.weft(&args).await;
        assert_eq!(set.status.code(), Some(0), "{}", stderr(&set));
    }

    /// Connects `acme` (its site https://acme.atlassian.net) through the real OAuth flow and
    /// gives the site a space `key` named `name`, for tests that run workflows on it; the
    /// site's cloud id.
    pub(crate) async fn connect_acme_with_space(&self, key: &str, name: &str) -> String {
        let connecting = self
            .start_connect(&[
                "--connection",
                "acme",
                "--site",
                "https://acme.atlassian.net",
            ])
            .await;
        connecting.approve().await;
        let (code, printed) = connecting.finish().await;
        assert_eq!(code, Some(0), "{printed}");
        let admin = self.sandbox.admin();
        let site = admin
            .sites()
            .into_iter()
            .find(|s| s.url == "https://acme.atlassian.net")
            .expect("acme site");
        admin.create_space(Some(&site.cloudid), key, name).unwrap();
        site.cloudid
    }

    /// Starts `weft connect` with `args` and waits until it printed the authorize URL and
    /// listens for the callback.
    pub(crate) async fn start_connect(&self, args: &[&str]) -> Connecting {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
            .arg("--data-dir")
            .arg(self.data())
            .args(["connect", "confluence"])
            .args(args)
            .stdin(Stdio::null())
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
            let mut printed = Vec::new();
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line.trim().starts_with("http") {
                    if let Some(tx) = url_tx.take() {
                        let _ = tx.send(line.trim().to_string());
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
        // weft prints the URL, then listens for the callback: wait until it does.
        let callback_addr = self
            .callback
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
        Connecting { child, url, reader }
    }
}

/// A `weft connect` waiting for the browser.
pub(crate) struct Connecting {
    child: Child,
    url: String,
    reader: std::thread::JoinHandle<String>,
}

impl Connecting {
    /// Plays the customer's browser (the consent is auto-approved): the callback page.
    pub(crate) async fn approve(&self) -> (u16, String) {
        let answer = reqwest::get(&self.url).await.unwrap();
        (answer.status().as_u16(), answer.text().await.unwrap())
    }

    /// Waits for weft to exit: the exit code and everything it printed.
    pub(crate) async fn finish(self) -> (Option<i32>, String) {
        let child = self.child;
        let status = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap();
        let printed = format!("{}\n{}", self.reader.join().unwrap(), stdout(&status));
        (status.status.code(), printed)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_a_customer_site_and_use_the_connection() {
    let setup = Setup::start().await;
    let base = setup.sandbox.base_url();
    let connecting = setup
        .start_connect(&[
            "--connection",
            "acme",
            "--site",
            "https://acme.atlassian.net",
        ])
        .await;
    let url = connecting.url.clone();
    assert!(url.starts_with(&format!("{base}/authorize?")), "{url}");
    for part in [
        "audience=api.atlassian.com",
        "prompt=consent",
        "response_type=code",
        "offline_access",
    ] {
        assert!(url.contains(part), "{part} missing from {url}");
    }
    // The customer approves (auto-approved); the browser follows the redirect to the callback.
    let (page_status, page) = connecting.approve().await;
    assert_eq!(page_status, 200, "{page}");
    assert!(page.contains("Connected"), "{page}");
    let (code, printed) = connecting.finish().await;
    assert_eq!(code, Some(0), "{printed}");
    assert!(
        printed.contains("connected `acme` to https://acme.atlassian.net"),
        "{printed}"
    );

    let list = setup.weft(&["connections", "list"]).await;
    let test = setup.weft(&["connections", "test", "acme"]).await;
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
    assert_eq!(token_requests(&setup.sandbox), 1);

    // The token endpoint fails: the refresh says so, for which connection and what to do.
    setup
        .sandbox
        .admin()
        .set_fault(FaultRule::always(
            "/oauth/token",
            Fault::Status { status: 503 },
        ))
        .unwrap();
    for args in [
        &["connections", "refresh", "acme"][..],
        &["connections", "refresh", "--all"][..],
    ] {
        let refresh = setup.weft(args).await;
        let (out, err) = (stdout(&refresh), stderr(&refresh));
        assert_eq!(refresh.status.code(), Some(1), "{args:?}: {out}{err}");
        assert!(!out.contains("refreshed"), "{args:?}: {out}");
        assert!(
            err.contains(
                "error: connection `acme`: token endpoint answered 503 Service Unavailable"
            ) && !err.contains("unexpected answer body"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("hint: ") && err.contains("weft connections refresh acme"),
            "{args:?}: {err}"
        );
    }
    let all = setup.weft(&["connections", "refresh", "--all"]).await;
    assert!(
        stderr(&all).contains("1 of 1 connection(s) could not be refreshed"),
        "{}",
        stderr(&all)
    );
    assert_eq!(token_requests(&setup.sandbox), 4, "each refresh was tried");
    setup.sandbox.admin().clear_faults();
    let refresh = setup.weft(&["connections", "refresh", "--all"]).await;
    assert_eq!(refresh.status.code(), Some(0), "{}", stderr(&refresh));
    assert_eq!(stdout(&refresh), "refreshed `acme`\n");
    setup.sandbox.shutdown().await;
}

fn token_requests(sandbox: &Sandbox) -> usize {
    sandbox
        .admin()
        .requests()
        .iter()
        .filter(|r| r.path == "/oauth/token")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_connect_shows_the_failure_in_the_browser_too() {
    let setup = Setup::start().await;
    assert!(setup.sandbox.admin().sites().len() > 1);
    // Several sites granted, no --site and no terminal to ask on: nothing can be stored.
    let connecting = setup.start_connect(&["--connection", "acme"]).await;
    let (page_status, page) = connecting.approve().await;
    assert_eq!(page_status, 400, "{page}");
    assert!(
        page.contains("Not connected") && page.contains("several sites"),
        "{page}"
    );
    assert!(!page.contains("Connected<"), "{page}");
    let (code, printed) = connecting.finish().await;
    assert_eq!(code, Some(1), "{printed}");
    assert!(
        printed.contains("error: the user granted several sites"),
        "{printed}"
    );
    assert!(
        printed.contains("hint: run `weft connect` again with `--site URL`"),
        "{printed}"
    );
    let list = setup.weft(&["connections", "list"]).await;
    assert!(
        stdout(&list).contains("no connections yet"),
        "{}",
        stdout(&list)
    );
    setup.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_connect_waiting_for_the_browser() {
    let setup = Setup::start().await;
    let connecting = setup.start_connect(&["--connection", "acme"]).await;
    terminate(&connecting.child);
    let (code, printed) = connecting.finish().await;
    assert_eq!(code, Some(1), "{printed}");
    assert!(
        printed
            .contains("interrupted (SIGTERM) before the connection was made; nothing was stored"),
        "{printed}"
    );
    setup.sandbox.shutdown().await;
}

#[test]
fn a_lost_master_key_is_refused_without_making_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let list = weft(dir.path(), &["connections", "list"]);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    let key_file = dir.path().join("master.key");
    std::fs::remove_file(&key_file).unwrap();
    let list = weft(dir.path(), &["connections", "list"]);
    let err = stderr(&list);
    assert_eq!(list.status.code(), Some(1), "{err}");
    assert!(
        err.contains("exists but its master key") && err.contains(&key_file.display().to_string()),
        "{err}"
    );
    assert!(
        err.contains("hint: restore the key file") && err.contains("WEFT_MASTER_KEY"),
        "{err}"
    );
    assert!(!key_file.exists(), "no new key was written");
}

#[test]
fn secret_files_other_users_can_read_are_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("client-secret");
    std::fs::write(&secret, "s3cret").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let set = weft(
        dir.path(),
        &[
            "apps",
            "set",
            "confluence",
            "--client-id",
            "cid",
            "--client-secret-file",
            secret.to_str().unwrap(),
        ],
    );
    assert_eq!(set.status.code(), Some(0), "{}", stderr(&set));
    let warning = format!("chmod 600 {}", secret.display());
    assert!(stderr(&set).contains(&warning), "{}", stderr(&set));
    let key_file = dir.path().join("master.key");
    weft(dir.path(), &["connections", "list"]);
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let list = weft(dir.path(), &["connections", "list"]);
    let err = stderr(&list);
    assert!(
        err.contains("holds the master key")
            && err.contains(&format!("chmod 600 {}", key_file.display())),
        "{err}"
    );
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let quiet = weft(dir.path(), &["connections", "list"]);
    assert!(!stderr(&quiet).contains("warning"), "{}", stderr(&quiet));
}
