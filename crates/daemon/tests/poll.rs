//! Poll triggers in the daemon, with a manual clock, a source and a token provider held by the
//! test: each event becomes one run, across polls and across a restart; `connection: all`
//! picks up a connection added later; a connection whose token is refused pauses its polls
//! and resumes; failing polls back off.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::broadcast;
use weft_daemon::{Clock, Daemon, ManualClock, PollState, RunEnded, Settings};
use weft_engine::store::{MemoryRunStore, RunStatus, RunStore};
use weft_engine::trigger::poll_owing;
use weft_engine::workflow::{load_bytes, CompiledWorkflow};
use weft_runtime::action::{
    AccessToken, ActionError, ConnectionInfo, EventSink, PollSource, SourceContext, SourceSpec,
    TokenError, TokenProvider,
};
use weft_runtime::Runtime;

/// Events by connection; a poll returns those after its cursor (an index).
#[derive(Default)]
struct Feed {
    events: Mutex<HashMap<String, Vec<Value>>>,
    /// Polls still to fail.
    failures: Mutex<u32>,
}

impl Feed {
    fn push(&self, connection: &str, id: &str) {
        self.events
            .lock()
            .entry(connection.to_string())
            .or_default()
            .push(json!({"kind": "item", "id": id, "version": 1, "connection": connection}));
    }
}

struct FeedSource {
    feed: Arc<Feed>,
    spec: SourceSpec,
}

#[async_trait]
impl PollSource for FeedSource {
    fn spec(&self) -> &SourceSpec {
        &self.spec
    }

    async fn poll(
        &self,
        _settings: &Value,
        cursor: Option<&Value>,
        ctx: &SourceContext<'_>,
        sink: &EventSink,
    ) -> Result<Value, ActionError> {
        {
            let mut failures = self.feed.failures.lock();
            if *failures > 0 {
                *failures -= 1;
                return Err(ActionError::failed("the feed is down"));
            }
        }
        let connection = ctx.connection.unwrap_or_default();
        let events = self
            .feed
            .events
            .lock()
            .get(connection)
            .cloned()
            .unwrap_or_default();
        let from = cursor.and_then(Value::as_u64).unwrap_or(0) as usize;
        for event in events.get(from..).unwrap_or_default() {
            sink.deliver(event.clone()).await?;
        }
        Ok(json!(events.len()))
    }
}

/// Connections by name; refused ones answer as a connection whose refresh was refused.
#[derive(Default)]
struct Tokens {
    connections: Mutex<Vec<String>>,
    refused: Mutex<HashSet<String>>,
}

#[async_trait]
impl TokenProvider for Tokens {
    async fn connection_info(&self, _: &str) -> Result<ConnectionInfo, TokenError> {
        Err(TokenError::Unavailable)
    }

    async fn access_token(&self, connection: &str) -> Result<AccessToken, TokenError> {
        if self.refused.lock().contains(connection) {
            return Err(TokenError::Failed {
                connection: connection.to_string(),
                transient: false,
                source: "the refresh token was refused (invalid_grant)".into(),
            });
        }
        Ok(AccessToken::new("token"))
    }

    async fn refresh_rejected(&self, c: &str, _: &AccessToken) -> Result<AccessToken, TokenError> {
        self.access_token(c).await
    }

    async fn connections(&self, provider: &str) -> Result<Vec<String>, TokenError> {
        assert_eq!(provider, "feed");
        Ok(self.connections.lock().clone())
    }
}

struct World {
    feed: Arc<Feed>,
    tokens: Arc<Tokens>,
    store: Arc<MemoryRunStore>,
    clock: Arc<ManualClock>,
    runtime: Runtime,
}

impl World {
    fn new() -> Self {
        let feed = Arc::new(Feed::default());
        let source_feed = feed.clone();
        let runtime = Runtime::extended(move |_, sources| {
            sources.register(Arc::new(FeedSource {
                feed: source_feed,
                spec: SourceSpec {
                    name: "feed.items",
                    description: "items of the test feed",
                    settings: Vec::new(),
                    event_example: r#"{"kind": "item", "id": "1", "version": 1, "connection": "acme"}"#,
                    scopes: &[],
                },
            }))
        })
        .unwrap();
        World {
            feed,
            tokens: Arc::new(Tokens::default()),
            store: Arc::new(MemoryRunStore::default()),
            clock: Arc::new(ManualClock::new(start())),
            runtime,
        }
    }

    fn workflow(&self, connection: &str) -> Arc<CompiledWorkflow> {
        let yaml = format!(
            "name: watch
connection: acme
trigger:
  poll:
    source: feed.items
    interval: 1m
    connection: {connection}
steps:
  - id: echo
    uses: core.set
    with:
      value: ${{{{ trigger.id }}}}
outputs:
  polled_through: ${{{{ connection.name }}}}
"
        );
        let engine = self.runtime.checking_engine();
        match load_bytes(Path::new("watch.yaml"), yaml.as_bytes(), engine.catalog()) {
            Ok(loaded) => loaded.workflow,
            Err(problems) => panic!("{}", problems.render()),
        }
    }

    /// A daemon polling `connection` (as written in the trigger), and its run ends.
    async fn daemon(&self, connection: &str) -> (Daemon, broadcast::Receiver<RunEnded>) {
        let engine = self.runtime.engine(self.store.clone(), self.tokens.clone());
        let daemon = Daemon::start(
            engine,
            self.store.clone(),
            self.clock.clone(),
            [self.workflow(connection)],
            Settings::default(),
        )
        .await
        .unwrap();
        // The poll tasks have not run yet (nothing awaited since they were spawned).
        let ended = daemon.dispatcher().subscribe();
        (daemon, ended)
    }

    /// Runs recorded, by event id (`connection/id`).
    async fn runs_by_event(&self) -> BTreeMap<String, usize> {
        let mut runs = BTreeMap::new();
        for run in self.store.list_runs(1000).await.unwrap() {
            assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.error);
            let connection = run.trigger["connection"].as_str().unwrap();
            assert_eq!(
                run.outputs.as_ref().unwrap()["polled_through"],
                connection,
                "a run's connection is the one its event came from"
            );
            let event = format!("{connection}/{}", run.trigger["id"].as_str().unwrap());
            *runs.entry(event).or_default() += 1;
        }
        runs
    }

    /// Past the interval and its spread: every target polls again.
    fn next_interval(&self) {
        self.clock.advance(Duration::seconds(90));
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

async fn runs_end(ended: &mut broadcast::Receiver<RunEnded>, count: usize) {
    for _ in 0..count {
        let end = ended.recv().await.unwrap();
        assert_eq!(end.status, RunStatus::Succeeded, "{:?}", end.error);
    }
}

fn once_each(events: &[&str]) -> BTreeMap<String, usize> {
    events.iter().map(|e| (e.to_string(), 1)).collect()
}

#[tokio::test]
async fn events_become_runs_exactly_once_across_polls_and_a_restart() {
    let world = World::new();
    world.feed.push("acme", "1");
    world.feed.push("acme", "2");
    world.feed.push("globex", "9");
    let (daemon, mut ended) = world.daemon("[acme, globex]").await;
    daemon.poll_status().rounds_done(2).await;
    runs_end(&mut ended, 3).await;
    world.feed.push("acme", "3");
    world.next_interval();
    daemon.poll_status().rounds_done(4).await;
    runs_end(&mut ended, 1).await;
    assert_eq!(
        world.runs_by_event().await,
        once_each(&["acme/1", "acme/2", "acme/3", "globex/9"])
    );
    let status = daemon.poll_status().get("watch", "acme").unwrap();
    assert_eq!(status.state, PollState::Polling);
    assert_eq!(status.runs_submitted, 3);
    daemon.shutdown(std::time::Duration::from_secs(5)).await;

    // A daemon that died after saving a poll's owed runs and before submitting them: the
    // cursor has passed the events, and the next daemon runs them, once.
    world.feed.push("acme", "4");
    world.feed.push("acme", "5");
    let engine = world
        .runtime
        .engine(world.store.clone(), world.tokens.clone());
    let crashed = poll_owing(
        &engine,
        world.store.as_ref(),
        &world.workflow("[acme, globex]"),
        "acme",
        &HashSet::new(),
    )
    .await
    .unwrap();
    assert_eq!(crashed.new_events, 2);
    let (daemon, mut ended) = world.daemon("[acme, globex]").await;
    daemon.poll_status().rounds_done(2).await;
    runs_end(&mut ended, 2).await;
    world.next_interval();
    daemon.poll_status().rounds_done(4).await;
    assert_eq!(
        world.runs_by_event().await,
        once_each(&["acme/1", "acme/2", "acme/3", "acme/4", "acme/5", "globex/9"])
    );
    assert_eq!(daemon.runs_going(), 0, "nothing more was started");
    daemon.shutdown(std::time::Duration::from_secs(5)).await;
}

#[tokio::test]
async fn all_polls_a_connection_added_later_without_a_restart() {
    let world = World::new();
    world.tokens.connections.lock().push("acme".into());
    world.feed.push("acme", "1");
    world.feed.push("globex", "7");
    let (daemon, mut ended) = world.daemon("all").await;
    daemon.poll_status().rounds_done(1).await;
    runs_end(&mut ended, 1).await;
    assert!(daemon.poll_status().get("watch", "globex").is_none());

    world.tokens.connections.lock().push("globex".into());
    world.next_interval();
    // The list is read again, globex's first poll and acme's second.
    daemon.poll_status().rounds_done(3).await;
    runs_end(&mut ended, 1).await;
    assert_eq!(
        world.runs_by_event().await,
        once_each(&["acme/1", "globex/7"])
    );

    // A connection deleted is no longer polled.
    world.tokens.connections.lock().retain(|c| c != "acme");
    world.next_interval();
    daemon.poll_status().rounds_done(4).await;
    world.next_interval();
    daemon.poll_status().rounds_done(5).await;
    let polled: Vec<_> = daemon
        .poll_status()
        .all()
        .into_iter()
        .map(|s| s.connection)
        .collect();
    assert_eq!(polled, ["globex"]);
    daemon.shutdown(std::time::Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_connection_whose_refresh_is_refused_pauses_its_polls_and_resumes_when_reconnected() {
    let world = World::new();
    world.tokens.refused.lock().insert("acme".into());
    world.feed.push("acme", "1");
    let (daemon, mut ended) = world.daemon("acme").await;
    daemon.poll_status().rounds_done(1).await;
    let status = daemon.poll_status().get("watch", "acme").unwrap();
    let PollState::NeedsReconnect { since, reason } = status.state else {
        panic!("{status:?}");
    };
    assert_eq!(since, start());
    assert!(reason.contains("invalid_grant"), "{reason}");
    assert_eq!(status.last_poll, None, "nothing was polled");

    world.next_interval();
    daemon.poll_status().rounds_done(2).await;
    assert!(world.runs_by_event().await.is_empty());
    let still = daemon.poll_status().get("watch", "acme").unwrap().state;
    assert!(
        matches!(still, PollState::NeedsReconnect { since: s, .. } if s == start()),
        "still paused, since the first refusal: {still:?}"
    );

    // Reconnected: the token works again.
    world.tokens.refused.lock().clear();
    world.next_interval();
    daemon.poll_status().rounds_done(3).await;
    runs_end(&mut ended, 1).await;
    assert_eq!(
        daemon.poll_status().get("watch", "acme").unwrap().state,
        PollState::Polling
    );
    assert_eq!(world.runs_by_event().await, once_each(&["acme/1"]));
    daemon.shutdown(std::time::Duration::from_secs(5)).await;
}

#[tokio::test]
async fn failing_polls_back_off_exponentially_and_recover() {
    let world = World::new();
    *world.feed.failures.lock() = 3;
    world.feed.push("acme", "1");
    let (daemon, mut ended) = world.daemon("acme").await;
    let status = daemon.poll_status().clone();
    let mut expected_wait = Duration::minutes(1);
    for failures in 1..=3 {
        status.rounds_done(failures).await;
        let now = world.clock.now();
        let state = status.get("watch", "acme").unwrap().state;
        let PollState::BackingOff {
            failures: counted,
            error,
            next_poll,
        } = state
        else {
            panic!("{state:?}");
        };
        assert_eq!(u64::from(counted), failures);
        assert!(error.contains("the feed is down"), "{error}");
        assert_eq!(next_poll, now + expected_wait);
        // Just before the next poll is due, nothing polls.
        world.clock.advance(expected_wait - Duration::seconds(1));
        tokio::task::yield_now().await;
        assert_eq!(status.rounds(), failures);
        world.clock.advance(Duration::seconds(7));
        expected_wait = expected_wait * 2;
    }
    status.rounds_done(4).await;
    runs_end(&mut ended, 1).await;
    let recovered = status.get("watch", "acme").unwrap();
    assert_eq!(recovered.state, PollState::Polling);
    assert_eq!(recovered.errors, 3);
    assert_eq!(world.runs_by_event().await, once_each(&["acme/1"]));
    daemon.shutdown(std::time::Duration::from_secs(5)).await;
}
