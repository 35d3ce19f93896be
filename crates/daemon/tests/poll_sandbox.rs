//! Poll triggers against the sandbox, through a connection made by the real OAuth flow and a
//! durable run history: each new page becomes one run, across polls and across a restart of
//! the daemon; a connection whose grant is revoked pauses its polls.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use tokio::sync::broadcast;
use weft_daemon::{Daemon, ManualClock, PollState, RunEnded, Settings};
use weft_engine::store::{RunStatus, RunStore, SledRunStore};
use weft_engine::workflow::{load_bytes, CompiledWorkflow};
use weft_runtime::testing::{SandboxConnection, CLIENT_ID, CONNECTION};
use weft_runtime::Runtime;
use weft_sandbox::{NewPage, SandboxConfig};

const WORKFLOW: &str = "name: greet-new-pages
trigger:
  poll:
    source: confluence.page_created
    interval: 1m
    connection: [acme]
    with:
      space: ENG
steps:
  - id: note
    uses: core.set
    with:
      page: ${{ trigger.id }}
";

struct Site {
    connection: SandboxConnection,
    runtime: Runtime,
    clock: Arc<ManualClock>,
    dir: tempfile::TempDir,
}

impl Site {
    async fn start() -> Site {
        let runtime = Runtime::new().unwrap();
        let scopes = runtime
            .sources()
            .spec("confluence.page_created")
            .unwrap()
            .scopes;
        let dir = tempfile::tempdir().unwrap();
        let connection =
            SandboxConnection::start(SandboxConfig::default(), scopes, dir.path()).await;
        connection
            .sandbox
            .admin()
            .create_space(None, "ENG", "Engineering")
            .unwrap();
        Site {
            connection,
            runtime,
            clock: Arc::new(ManualClock::new(Utc::now())),
            dir,
        }
    }

    fn workflow(&self) -> Arc<CompiledWorkflow> {
        let engine = self.runtime.checking_engine();
        match load_bytes(
            Path::new("greet.yaml"),
            WORKFLOW.as_bytes(),
            engine.catalog(),
        ) {
            Ok(loaded) => loaded.workflow,
            Err(problems) => panic!("{}", problems.render()),
        }
    }

    /// A daemon on the run history of the data folder (opened here, closed by [`stop`]).
    async fn daemon(&self) -> (Daemon, Arc<SledRunStore>, broadcast::Receiver<RunEnded>) {
        let store = Arc::new(
            SledRunStore::open(&self.dir.path().join("runs"))
                .await
                .unwrap(),
        );
        let engine = self
            .runtime
            .engine(store.clone(), self.connection.tokens.clone());
        let daemon = Daemon::start(
            engine,
            store.clone(),
            self.clock.clone(),
            [self.workflow()],
            Settings::default(),
        )
        .await
        .unwrap();
        let ended = daemon.dispatcher().subscribe();
        (daemon, store, ended)
    }
}

async fn runs_end(ended: &mut broadcast::Receiver<RunEnded>, count: usize) {
    for _ in 0..count {
        let end = ended.recv().await.unwrap();
        assert_eq!(end.status, RunStatus::Succeeded, "{:?}", end.error);
    }
}

/// Runs recorded per page id.
async fn runs_by_page(store: &SledRunStore) -> BTreeMap<String, usize> {
    let mut pages = BTreeMap::new();
    for run in store.list_runs(1000).await.unwrap() {
        let page = run.trigger["id"].as_str().unwrap().to_string();
        *pages.entry(page).or_default() += 1;
    }
    pages
}

#[tokio::test]
async fn new_pages_become_runs_exactly_once_across_polls_and_a_restart() {
    let site = Site::start().await;
    let admin = site.connection.sandbox.admin();
    let (daemon, store, mut ended) = site.daemon().await;
    let status = daemon.poll_status().clone();
    status.rounds_done(1).await;
    assert!(
        runs_by_page(&store).await.is_empty(),
        "`start: now`: no backlog"
    );

    let first: Vec<u64> = admin.seed_pages(None, "ENG", 5, None).unwrap();
    site.clock.advance(Duration::seconds(90));
    status.rounds_done(2).await;
    runs_end(&mut ended, 5).await;
    site.clock.advance(Duration::seconds(90));
    status.rounds_done(3).await;
    assert_eq!(runs_by_page(&store).await.len(), 5);

    // Pages made while the daemon is stopped are run by the next one, once.
    daemon.shutdown(StdDuration::from_secs(5)).await;
    drop(store);
    let second: Vec<u64> = (1..=3)
        .map(|n| {
            let page = NewPage {
                space_key: "ENG".into(),
                title: format!("Made while stopped {n}"),
                body: "<p>.</p>".into(),
                parent_id: None,
                blogpost: false,
            };
            admin.create_page(None, page).unwrap()
        })
        .collect();
    let (daemon, store, mut ended) = site.daemon().await;
    daemon.poll_status().rounds_done(1).await;
    runs_end(&mut ended, 3).await;
    let expected: BTreeMap<String, usize> = first
        .iter()
        .chain(&second)
        .map(|id| (id.to_string(), 1))
        .collect();
    assert_eq!(runs_by_page(&store).await, expected);
    daemon.shutdown(StdDuration::from_secs(5)).await;
}

#[tokio::test]
async fn a_revoked_grant_pauses_the_polls_of_its_connection() {
    let site = Site::start().await;
    let (daemon, _store, _ended) = site.daemon().await;
    let status = daemon.poll_status().clone();
    status.rounds_done(1).await;
    assert_eq!(
        status.get("greet-new-pages", CONNECTION).unwrap().state,
        PollState::Polling
    );

    // The user removed the app's access: the API answers 401 and the refresh is refused.
    assert!(site.connection.sandbox.admin().revoke_grants(CLIENT_ID) > 0);
    site.clock.advance(Duration::seconds(90));
    status.rounds_done(2).await;
    site.clock.advance(Duration::seconds(90));
    status.rounds_done(3).await;
    let state = status.get("greet-new-pages", CONNECTION).unwrap().state;
    assert!(
        matches!(state, PollState::NeedsReconnect { .. }),
        "{state:?}"
    );
    daemon.shutdown(StdDuration::from_secs(5)).await;
}
