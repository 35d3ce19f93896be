//! `weft connect` and `weft connections ...` while a daemon owns the data folder: they ask its
//! API and print what they print without one; a connection made then is polled by the
//! daemon's `all` trigger, one that needs reconnecting pauses it until `weft connect` again; a
//! forged callback stores nothing; no token or secret in any output, log or API answer.

use std::io::BufReader;
use std::path::Path;
use std::process::{Child, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::connect::Setup;
use super::signals::{read_until, spawn_weft, terminate, wait_for_exit};
use super::triggers::page;
use super::{stderr, stdout, write};

/// A poll trigger on every connection, also ones made after the daemon started.
const POLLED: &str = "name: new-pages
trigger:
  poll:
    source: confluence.page_created
    interval: 1s
    connection: all
    with:
      space: TRIG
steps:
  - id: note
    uses: core.set
    with:
      title: ${{ trigger.title }}
";

/// What tokens, codes and the built-in app's secret look like: none may be printed.
fn assert_no_secret(what: &str, text: &str) {
    for secret in ["sbx_", weft_sandbox::BUILTIN_CLIENT_SECRET] {
        assert!(!text.contains(secret), "{what} shows `{secret}`:\n{text}");
    }
}

/// A `weft -v daemon` on a free port; its log is collected as it comes.
struct Daemon {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    reader: std::thread::JoinHandle<()>,
    address: String,
}

impl Daemon {
    fn start(data: &Path, flows: &Path) -> Daemon {
        let flows = flows.to_str().unwrap();
        let mut child = spawn_weft(
            data,
            &[
                "-v",
                "daemon",
                "--workflows",
                flows,
                "--listen",
                "127.0.0.1:0",
            ],
        );
        let mut out = BufReader::new(child.stderr.take().unwrap());
        let head = read_until(&mut out, "weft daemon: ");
        let log = Arc::new(Mutex::new(head));
        let collected = log.clone();
        let reader = std::thread::spawn(move || {
            use std::io::BufRead;
            for line in out.lines().map_while(Result::ok) {
                collected.lock().unwrap().push(line);
            }
        });
        let written: Value =
            serde_json::from_slice(&std::fs::read(data.join("daemon.json")).unwrap()).unwrap();
        Daemon {
            child,
            log,
            reader,
            address: written["address"].as_str().unwrap().to_string(),
        }
    }

    /// Waits (up to a minute) for a log line holding `marker`.
    async fn logged(&self, marker: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.log.lock().unwrap().iter().any(|l| l.contains(marker)) {
            assert!(
                Instant::now() < deadline,
                "the daemon never logged `{marker}`:\n{}",
                self.log.lock().unwrap().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops it (SIGTERM): everything it logged.
    fn stop(mut self) -> String {
        terminate(&self.child);
        let status = wait_for_exit(&mut self.child, Duration::from_secs(20));
        self.reader.join().unwrap();
        let log = self.log.lock().unwrap().join("\n");
        assert!(status.success(), "{status:?}\n{log}");
        log
    }
}

/// Runs `weft` and checks its exit code; what it printed (stdout, then stderr).
async fn weft_ok(setup: &Setup, args: &[&str], printed: &mut String) -> String {
    let out = setup.weft(args).await;
    checked(args, &out, 0, printed)
}

fn checked(args: &[&str], out: &Output, code: i32, printed: &mut String) -> String {
    let (text, err) = (stdout(out), stderr(out));
    assert_eq!(out.status.code(), Some(code), "{args:?}:\n{text}{err}");
    printed.push_str(&text);
    printed.push_str(&err);
    format!("{text}{err}")
}

/// Runs the daemon recorded (asked through its API).
async fn runs(setup: &Setup) -> usize {
    let runs = setup.weft(&["runs", "list", "--json"]).await;
    let runs: Value = serde_json::from_str(&stdout(&runs)).unwrap();
    runs.as_array().unwrap().len()
}

/// Creates a page in TRIG now and then until the daemon has run its trigger once more than
/// `before` (a page made before the first poll of a connection is its baseline, not an event).
async fn a_page_runs(setup: &Setup, cloudid: &str, before: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let admin = setup.sandbox.admin();
    for n in 0.. {
        admin
            .create_page(Some(cloudid), page(&format!("Page {before}.{n}")))
            .unwrap();
        for _ in 0..20 {
            if runs(setup).await > before {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(Instant::now() < deadline, "no run after {before}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_made_and_managed_through_a_running_daemon() {
    let setup = Setup::start().await;
    let mut printed = String::new();
    weft_ok(
        &setup,
        &[
            "apps",
            "set",
            "confluence",
            "--add-scope",
            "search:confluence",
        ],
        &mut printed,
    )
    .await;
    let flows = tempfile::tempdir().unwrap();
    write(flows.path(), "new-pages.yaml", POLLED);
    let daemon = Daemon::start(&setup.data(), flows.path());

    // Connected while the daemon runs: its flow stores the connection, its trigger polls it.
    let cloudid = setup.connect_acme_with_space("TRIG", "Triggers").await;
    daemon.logged("connection stored").await;
    let list = weft_ok(&setup, &["connections", "list"], &mut printed).await;
    assert!(
        list.contains("acme  https://acme.atlassian.net  healthy"),
        "{list}"
    );
    a_page_runs(&setup, &cloudid, 0).await;
    let polled = runs(&setup).await;

    // Every `weft connections` command goes through the daemon's API.
    let tested = weft_ok(&setup, &["connections", "test", "acme"], &mut printed).await;
    assert!(
        tested.contains("ok: `acme` reaches Confluence as Sandbox User"),
        "{tested}"
    );
    let set = weft_ok(
        &setup,
        &[
            "connections",
            "set",
            "acme",
            "--config",
            "space=TRIG",
            "--unset",
            "nope",
        ],
        &mut printed,
    )
    .await;
    for line in [
        "note: `nope` was not set",
        "saved the settings of `acme`",
        "  space = TRIG",
    ] {
        assert!(set.contains(line), "{set}");
    }
    for args in [
        &["connections", "refresh", "acme"][..],
        &["connections", "refresh", "--all"][..],
    ] {
        let refreshed = weft_ok(&setup, args, &mut printed).await;
        assert_eq!(refreshed, "refreshed `acme`\n", "{args:?}");
    }
    let missing = setup.weft(&["connections", "show", "nope"]).await;
    let text = checked(&[], &missing, 1, &mut printed);
    assert!(
        text.contains("no connection named `nope`")
            && text.contains("hint: `weft connections list` shows the connections"),
        "{text}"
    );
    let dots = setup.weft(&["connections", "delete", ".."]).await;
    let text = checked(&[], &dots, 1, &mut printed);
    assert!(text.contains("invalid connection name `..`"), "{text}");
    let bad_key = setup
        .weft(&["connections", "set", "acme", "--config", "Space=x"])
        .await;
    checked(&[], &bad_key, 1, &mut printed);

    // The API shows a connection without any token.
    let http = reqwest::Client::new();
    let shown = http
        .get(format!("http://{}/api/v1/connections/acme", daemon.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_no_secret("GET /api/v1/connections/acme", &shown);
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["connection"]["config"]["space"], "TRIG");

    // A forged or replayed callback is refused and stores nothing.
    let forged = http
        .get(format!(
            "http://{}/oauth/callback?code=forged&state=forged",
            daemon.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 400);
    let page_text = forged.text().await.unwrap();
    assert!(
        page_text.contains("unknown or already used `state`"),
        "{page_text}"
    );
    let forwarded = http
        .post(format!("http://{}/api/v1/oauth/callback", daemon.address))
        .json(&serde_json::json!({"code": "forged", "state": "forged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status().as_u16(), 400);
    let body: Value = forwarded.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_callback", "{body}");

    // Several sites and nobody to ask: nothing stored, and what to do.
    let connecting = setup.start_connect(&["--connection", "beta"]).await;
    connecting.approve().await;
    let (code, text) = connecting.finish().await;
    printed.push_str(&text);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("none was chosen") && text.contains("again with `--site URL`"),
        "{text}"
    );
    // The other site, named: connected, then deleted through the daemon.
    let other = setup
        .sandbox
        .admin()
        .sites()
        .into_iter()
        .find(|s| s.url != "https://acme.atlassian.net")
        .unwrap();
    let connecting = setup
        .start_connect(&["--connection", "beta", "--site", &other.url])
        .await;
    connecting.approve().await;
    let (code, text) = connecting.finish().await;
    printed.push_str(&text);
    assert_eq!(code, Some(0), "{text}");
    for line in [
        format!("connected `beta` to {} ({})", other.url, other.name),
        "name: beta".to_string(),
        "status: healthy".to_string(),
        "access token expires: ".to_string(),
    ] {
        assert!(text.contains(&line), "{line}: {text}");
    }
    let deleted = weft_ok(&setup, &["connections", "delete", "beta"], &mut printed).await;
    assert_eq!(deleted, "deleted `beta`\n");
    let list = weft_ok(&setup, &["connections", "list"], &mut printed).await;
    assert_eq!(list.lines().count(), 1, "{list}");

    // Access removed at Atlassian: the refresh says so, the trigger pauses; connecting again
    // through the daemon resumes it.
    setup
        .sandbox
        .admin()
        .revoke_grants(weft_sandbox::BUILTIN_CLIENT_ID);
    let refused = setup.weft(&["connections", "refresh", "acme"]).await;
    let text = checked(&[], &refused, 1, &mut printed);
    assert!(text.contains("needs to be reconnected"), "{text}");
    daemon
        .logged("polls paused until the connection is reconnected")
        .await;
    let through_daemon = weft_ok(&setup, &["connections", "show", "acme"], &mut printed).await;
    assert!(
        through_daemon.contains("fix: weft connect confluence --connection acme"),
        "{through_daemon}"
    );
    let paused = runs(&setup).await;
    assert!(paused >= polled);
    setup.connect_acme_with_space("TRIG2", "Again").await;
    daemon.logged("polls resume").await;
    a_page_runs(&setup, &cloudid, paused).await;

    let shown_through_daemon =
        weft_ok(&setup, &["connections", "show", "acme"], &mut printed).await;
    let log = daemon.stop();
    assert_no_secret("the daemon's log", &log);
    assert_no_secret("what weft printed", &printed);
    // Without a daemon the same command prints the same.
    let mut local = String::new();
    let shown_here = weft_ok(&setup, &["connections", "show", "acme"], &mut local).await;
    assert_eq!(shown_through_daemon, shown_here);
    setup.sandbox.shutdown().await;
}

/// The browser's approval (auto-approved by the sandbox) without following the redirect:
/// the `code` and `state` Atlassian sends back.
async fn approved(authorize_url: &str) -> (String, String) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(authorize_url).send().await.unwrap();
    let location = answer.headers()["location"].to_str().unwrap().to_string();
    let back = reqwest::Url::parse(&location).unwrap();
    let param = |name: &str| {
        back.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {location}"))
    };
    (param("code"), param("state"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_connects_with_a_site_choice_and_each_state_works_once() {
    let setup = Setup::start().await;
    let flows = tempfile::tempdir().unwrap();
    write(flows.path(), "new-pages.yaml", POLLED);
    let daemon = Daemon::start(&setup.data(), flows.path());
    let api = format!("http://{}/api/v1", daemon.address);
    let http = reqwest::Client::new();
    let answers = Mutex::new(String::new());
    let call = async |request: reqwest::RequestBuilder| -> (u16, Value) {
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16();
        let text = answer.text().await.unwrap();
        answers.lock().unwrap().push_str(&text);
        (status, serde_json::from_str(&text).unwrap())
    };

    // Bad requests: nothing begun.
    for (name, body, code) in [
        (
            "gamma",
            serde_json::json!({"provider": "jira"}),
            "bad_request",
        ),
        (
            "bad%20name",
            serde_json::json!({"provider": "confluence"}),
            "bad_request",
        ),
        (
            "gamma",
            serde_json::json!({"provider": "confluence", "timeout_seconds": 0}),
            "bad_request",
        ),
    ] {
        let (status, body) = call(
            http.post(format!("{api}/connections/{name}/connect"))
                .json(&body),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }
    let (status, _) = call(http.get(format!("{api}/connect-attempts/nothing"))).await;
    assert_eq!(status, 404);

    let (status, started) = call(
        http.post(format!("{api}/connections/gamma/connect"))
            .json(&serde_json::json!({"provider": "confluence"})),
    )
    .await;
    assert_eq!(status, 201, "{started}");
    let attempt = started["attempt"].as_str().unwrap().to_string();
    let (code, state) = approved(started["authorize_url"].as_str().unwrap()).await;
    // The browser's redirect, handed over: it is answered once the connection is stored.
    let forwarded = tokio::spawn({
        let (http, api) = (http.clone(), api.clone());
        let body = serde_json::json!({"code": code, "state": state});
        async move {
            let answer = http
                .post(format!("{api}/oauth/callback"))
                .json(&body)
                .send()
                .await
                .unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        }
    });
    let progress = format!("{api}/connect-attempts/{attempt}");
    let (status, asked) = call(http.get(format!("{progress}?wait=20s"))).await;
    assert_eq!(
        (status, asked["state"].as_str()),
        (200, Some("choose_site")),
        "{asked}"
    );
    let sites = asked["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 2, "{asked}");
    let pick = sites
        .iter()
        .position(|s| s["url"] != "https://acme.atlassian.net")
        .unwrap();
    let (status, body) = call(
        http.post(format!("{progress}/site"))
            .json(&serde_json::json!({"index": 7})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = call(
        http.post(format!("{progress}/site"))
            .json(&serde_json::json!({"index": pick})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        http.post(format!("{progress}/site"))
            .json(&serde_json::json!({"index": pick})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("no_site_asked"))
    );
    let (status, text) = forwarded.await.unwrap();
    assert_eq!(status, 200, "{text}");
    answers.lock().unwrap().push_str(&text);
    let (status, done) = call(http.get(format!("{progress}?wait=20s"))).await;
    assert_eq!(
        (status, done["state"].as_str()),
        (200, Some("connected")),
        "{done}"
    );
    assert_eq!(done["connection"]["site_url"], sites[pick]["url"]);
    // Read once: then forgotten.
    let (status, _) = call(http.get(progress.clone())).await;
    assert_eq!(status, 404);
    // The same redirect again: refused, nothing changed.
    let (status, body) = call(
        http.post(format!("{api}/oauth/callback"))
            .json(&serde_json::json!({"code": code, "state": state})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_callback"))
    );

    // Bad requests about a connection change nothing.
    for (request, status, code) in [
        (
            http.patch(format!("{api}/connections/gamma/config"))
                .json(&serde_json::json!({"set": {"Space": "x"}})),
            400,
            "bad_request",
        ),
        (
            http.patch(format!("{api}/connections/gamma/config"))
                .json(&serde_json::json!({"set": {"space": "a\nb"}})),
            400,
            "bad_request",
        ),
        (
            http.patch(format!("{api}/connections/nope/config"))
                .json(&serde_json::json!({"set": {"space": "x"}})),
            404,
            "not_found",
        ),
        (
            http.delete(format!("{api}/connections/nope")),
            404,
            "not_found",
        ),
        (
            http.post(format!("{api}/connections/bad%20name/refresh")),
            400,
            "bad_request",
        ),
        (
            http.post(format!("{api}/connections/nope/test")),
            404,
            "not_found",
        ),
        (
            http.get(format!("{api}/connections/{}", "x".repeat(65))),
            400,
            "bad_request",
        ),
    ] {
        let (got, body) = call(request).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let (_, shown) = call(http.get(format!("{api}/connections/gamma"))).await;
    assert_eq!(
        shown["connection"]["config"],
        serde_json::json!({}),
        "{shown}"
    );

    // An abandoned attempt: its redirect finds nothing, nothing is stored.
    let (_, started) = call(http.post(format!("{api}/connections/delta/connect")).json(
        &serde_json::json!({"provider": "confluence", "site": "https://acme.atlassian.net"}),
    ))
    .await;
    let attempt = started["attempt"].as_str().unwrap();
    let (code, state) = approved(started["authorize_url"].as_str().unwrap()).await;
    let (status, _) = call(http.delete(format!("{api}/connect-attempts/{attempt}"))).await;
    assert_eq!(status, 200);
    let (status, body) = call(
        http.post(format!("{api}/oauth/callback"))
            .json(&serde_json::json!({"code": code, "state": state})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (_, listed) = call(http.get(format!("{api}/connections"))).await;
    let names: Vec<&str> = listed["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["gamma"]);
    assert_no_secret("the API's answers", &answers.lock().unwrap());
    assert_no_secret("the daemon's log", &daemon.stop());
    setup.sandbox.shutdown().await;
}

/// The `scope` asked for by an authorize URL.
fn asked_scopes(authorize_url: &str) -> String {
    let url = reqwest::Url::parse(authorize_url).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_is_changed_through_a_running_daemon_without_a_restart() {
    let setup = Setup::start().await;
    let flows = tempfile::tempdir().unwrap();
    let quiet =
        "name: quiet\nsteps:\n  - id: say\n    uses: core.log\n    with:\n      message: hi\n";
    write(flows.path(), "quiet.yaml", quiet);
    let daemon = Daemon::start(&setup.data(), flows.path());
    let api = format!("http://{}/api/v1", daemon.address);
    let http = reqwest::Client::new();
    let begin = async |name: &str| -> Value {
        let answer = http
            .post(format!("{api}/connections/{name}/connect"))
            .json(&serde_json::json!({
                "provider": "confluence",
                "site": "https://acme.atlassian.net",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 201);
        answer.json().await.unwrap()
    };
    let mut printed = String::new();

    // An attempt begun on the app as it was: its flow is made then.
    let before = begin("one").await;
    let asked = asked_scopes(before["authorize_url"].as_str().unwrap());
    assert!(!asked.contains("search:confluence"), "{asked}");

    let changed = weft_ok(
        &setup,
        &[
            "apps",
            "set",
            "confluence",
            "--add-scope",
            "search:confluence",
        ],
        &mut printed,
    )
    .await;
    assert!(
        changed.contains("saved.") && changed.contains("  search:confluence ("),
        "{changed}"
    );
    let answer = http.get(format!("{api}/apps/confluence")).send().await;
    let shown_by_api = answer.unwrap().text().await.unwrap();
    assert_no_secret("GET /api/v1/apps/confluence", &shown_by_api);
    assert!(shown_by_api.contains("search:confluence"), "{shown_by_api}");

    // The next connect asks for the new scope, without a restart.
    let after = begin("two").await;
    let asked = asked_scopes(after["authorize_url"].as_str().unwrap());
    assert!(asked.contains("search:confluence"), "{asked}");

    // The attempt begun before the change still finishes.
    let (code, state) = approved(before["authorize_url"].as_str().unwrap()).await;
    let stored = http
        .post(format!("{api}/oauth/callback"))
        .json(&serde_json::json!({"code": code, "state": state}))
        .send()
        .await
        .unwrap();
    let status = stored.status().as_u16();
    assert_eq!(status, 200, "{}", stored.text().await.unwrap());
    let list = weft_ok(&setup, &["connections", "list"], &mut printed).await;
    assert!(list.starts_with("one "), "{list}");

    // A bad change is refused and changes nothing.
    let refused = setup
        .weft(&[
            "apps",
            "set",
            "confluence",
            "--remove-scope",
            "offline_access",
        ])
        .await;
    let text = checked(&[], &refused, 1, &mut printed);
    assert!(text.contains("cannot be removed"), "{text}");

    let shown_through_daemon = weft_ok(&setup, &["apps", "show", "confluence"], &mut printed).await;
    let log = daemon.stop();
    assert_no_secret("the daemon's log", &log);
    assert_no_secret("what weft printed", &printed);
    let mut here = String::new();
    let shown_here = weft_ok(&setup, &["apps", "show", "confluence"], &mut here).await;
    assert_eq!(shown_through_daemon, shown_here);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = setup.data().join("apps").join("confluence.json");
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the app's file stays owner-only: {mode:o}");
    }
    setup.sandbox.shutdown().await;
}
