//! Poll triggers in the daemon, with a manual clock, a source and a token provider held by the
//! test: each event becomes one run, across polls and across a restart; `connection: all`
//! picks up a connection added later; a connection whose token is refused pauses its polls
//! and resumes; failing polls back off; the API and the metrics show all of it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use chrono::{DateTime, Duration, TimeZone, Utc};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::broadcast;
use tower::ServiceExt;
use weft_daemon::api::{self, ApiState, ConnectionState, ConnectionSummary};
use weft_daemon::{Clock, Daemon, ManualClock, PollState, RunEnded, Settings};
use weft_engine::store::{MemoryRunStore, RunStatus, RunStore, TriggerStore};
use weft_engine::trigger::{poll_owing, OWED_AT_ONCE};
use weft_engine::workflow::{load_bytes, CompiledWorkflow};
use weft_runtime::action::{
    AccessToken, ActionError, ConnectionInfo, EventSink, PollSource, SourceContext, SourceSpec,
    TokenError, TokenProvider,
};
use weft_runtime::Runtime;

/// A secret of the runs, which the feed's errors quote.
const FEED_KEY: &str = "s3cret-feed-key";

/// Events by connection; a poll returns those after its cursor (an index).
#[derive(Default)]
struct Feed {
    events: Mutex<HashMap<String, Vec<Value>>>,
    /// Polls still to fail.
    failures: Mutex<u32>,
    /// The next poll fails after delivering this many events.
    fail_after: Mutex<Option<usize>>,
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
                return Err(ActionError::failed(format!(
                    "the feed is down (it answered to {FEED_KEY})"
                )));
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
        let fail_after = self.feed.fail_after.lock().take();
        for (delivered, event) in events.get(from..).unwrap_or_default().iter().enumerate() {
            if fail_after == Some(delivered) {
                return Err(ActionError::failed("the feed broke off midway"));
            }
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
            Settings {
                secrets: [("feed_key".to_string(), FEED_KEY.to_string())].into(),
                ..Settings::default()
            },
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

    /// The daemon's API, with `connections` as the data folder's.
    fn api(&self, daemon: &Daemon, connections: Vec<ConnectionSummary>) -> Router {
        api::router(Arc::new(ApiState {
            dispatcher: daemon.dispatcher().clone(),
            hooks: api::hooks::Hooks {
                secrets: Default::default(),
            },
            triggers: self.store.clone(),
            connections: Arc::new(connections),
            polls: daemon.poll_status().clone(),
            api_token: None,
            ready: AtomicBool::new(true),
            retries: Default::default(),
        }))
    }

    /// Past the interval and its spread: every target polls again.
    fn next_interval(&self) {
        self.clock.advance(Duration::seconds(90));
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

/// The body of a GET answered 200.
async fn get(router: &Router, uri: &str) -> String {
    let request = Request::get(uri).body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = String::from_utf8(bytes.to_vec()).unwrap();
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

async fn get_json(router: &Router, uri: &str) -> Value {
    serde_json::from_str(&get(router, uri).await).unwrap()
}

/// The polled connections of `watch`, from the list and from its own page (the same).
async fn polls_shown(router: &Router) -> Vec<Value> {
    let listed = get_json(router, "/api/v1/workflows").await;
    let shown = get_json(router, "/api/v1/workflows/watch").await;
    assert_eq!(listed["workflows"][0], shown);
    assert_eq!(shown["trigger"]["kind"], "poll");
    shown["polls"].as_array().unwrap().clone()
}

/// A metric's line in `/metrics`, if it has one.
async fn metric(router: &Router, series: &str) -> Option<String> {
    let text = get(router, "/metrics").await;
    text.lines()
        .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
        .map(|line| line[series.len() + 1..].to_string())
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
        &mut |_| {},
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
async fn a_poll_failing_midway_owes_what_it_delivered_and_each_event_runs_once() {
    let world = World::new();
    let ids: Vec<String> = (1..=OWED_AT_ONCE + 50).map(|n| n.to_string()).collect();
    ids.iter().for_each(|id| world.feed.push("acme", id));
    let once = |ids: &[String]| -> BTreeMap<String, usize> {
        ids.iter().map(|id| (format!("acme/{id}"), 1)).collect()
    };

    // A daemon that died while its poll was going: more than a batch of events was delivered
    // (and saved as owed) when the search broke off; nothing was submitted.
    let delivered = OWED_AT_ONCE + 10;
    *world.feed.fail_after.lock() = Some(delivered);
    let engine = world
        .runtime
        .engine(world.store.clone(), world.tokens.clone());
    let mut handed = Vec::new();
    let failed = poll_owing(
        &engine,
        world.store.as_ref(),
        &world.workflow("acme"),
        "acme",
        &HashSet::new(),
        &mut |run| handed.push(run.event["id"].as_str().unwrap().to_string()),
    )
    .await;
    assert!(failed.is_err(), "the source failed");
    assert_eq!(
        handed,
        ids[..delivered],
        "each delivered event owed once, in order"
    );
    let key = weft_engine::store::TriggerKey {
        workflow: "watch.yaml".into(),
        trigger: weft_engine::trigger::POLL_TRIGGER.into(),
        connection: Some("acme".into()),
    };
    let saved = world.store.cursor(&key).await.unwrap().unwrap();
    assert!(saved.cursor.is_null(), "the cursor did not move");
    assert_eq!(saved.owed.len(), delivered);

    // The next daemon runs what was owed, finds the same events again and runs only the
    // new ones.
    let (daemon, mut ended) = world.daemon("acme").await;
    daemon.poll_status().rounds_done(1).await;
    runs_end(&mut ended, ids.len()).await;
    assert_eq!(world.runs_by_event().await, once(&ids));
    daemon.shutdown(std::time::Duration::from_secs(5)).await;

    // A poll of the daemon itself breaks off after more than a batch: the runs of what it
    // delivered go (the first batch's while the search went on), and the poll after it runs
    // the rest, each event once.
    let more: Vec<String> = (1000..1000 + OWED_AT_ONCE + 40)
        .map(|n| n.to_string())
        .collect();
    more.iter().for_each(|id| world.feed.push("acme", id));
    *world.feed.fail_after.lock() = Some(OWED_AT_ONCE + 20);
    let (daemon, mut ended) = world.daemon("acme").await;
    daemon.poll_status().rounds_done(1).await;
    let status = daemon.poll_status().get("watch", "acme").unwrap();
    assert_eq!(status.state, PollState::BackingOff { failures: 1 });
    assert_eq!(status.runs_submitted, OWED_AT_ONCE as u64 + 20);
    runs_end(&mut ended, OWED_AT_ONCE + 20).await;
    world.next_interval();
    daemon.poll_status().rounds_done(2).await;
    runs_end(&mut ended, 20).await;
    world.next_interval();
    daemon.poll_status().rounds_done(3).await;
    let all: Vec<String> = ids.iter().chain(&more).cloned().collect();
    assert_eq!(world.runs_by_event().await, once(&all));
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
        let target = status.get("watch", "acme").unwrap();
        assert_eq!(
            target.state,
            PollState::BackingOff {
                failures: u32::try_from(failures).unwrap()
            }
        );
        let error = target.last_error.unwrap();
        assert!(error.contains("the feed is down"), "{error}");
        // The wait, and the target's fixed spread (under a tenth of the interval).
        let next_poll = target.next_poll.unwrap();
        assert!(
            next_poll >= now + expected_wait
                && next_poll < now + expected_wait + Duration::seconds(6),
            "{next_poll} after {now}"
        );
        // Just before the next poll is due, nothing polls.
        world.clock.set(next_poll - Duration::seconds(1));
        tokio::task::yield_now().await;
        assert_eq!(status.rounds(), failures);
        world.clock.set(next_poll);
        expected_wait = expected_wait * 2;
    }
    status.rounds_done(4).await;
    runs_end(&mut ended, 1).await;
    let recovered = status.get("watch", "acme").unwrap();
    assert_eq!(recovered.state, PollState::Polling);
    assert_eq!(recovered.errors, 3);
    assert!(
        recovered.last_error.is_some(),
        "the last error is kept once polls work again"
    );
    assert_eq!(world.runs_by_event().await, once_each(&["acme/1"]));
    daemon.shutdown(std::time::Duration::from_secs(5)).await;
}

#[tokio::test]
async fn the_api_and_the_metrics_show_a_failing_poll_backing_off_and_recovering() {
    let world = World::new();
    *world.feed.failures.lock() = 2;
    world.feed.push("acme", "1");
    let (daemon, mut ended) = world.daemon("acme").await;
    let router = world.api(&daemon, Vec::new());
    let status = daemon.poll_status().clone();
    status.rounds_done(1).await;
    let polls = polls_shown(&router).await;
    assert_eq!(polls.len(), 1, "{polls:?}");
    let next_poll = status.get("watch", "acme").unwrap().next_poll.unwrap();
    assert_eq!(
        polls[0],
        json!({
            "connection": "acme",
            "state": "backing_off",
            "failures": 1,
            "last_poll": start(),
            "next_poll": next_poll,
            "runs_submitted": 0,
            "errors": 1,
            "last_error": "polling `feed.items` through connection `acme` failed: the feed is down (it answered to ***)",
        })
    );
    assert!(
        !get(&router, "/api/v1/workflows").await.contains(FEED_KEY),
        "a secret quoted by an error is masked"
    );
    assert_eq!(
        metric(&router, r#"weft_poll_errors_total{workflow="watch"}"#).await,
        Some("1".into())
    );
    assert_eq!(
        metric(&router, "weft_poll_lag_seconds_count").await,
        Some("0".into()),
        "the first poll was due at no instant"
    );

    // The next attempt runs 30 s late, and fails again.
    world.clock.set(next_poll + Duration::seconds(30));
    status.rounds_done(2).await;
    assert_eq!(polls_shown(&router).await[0]["failures"], 2);
    assert_eq!(
        metric(&router, r#"weft_poll_errors_total{workflow="watch"}"#).await,
        Some("2".into())
    );
    assert_eq!(
        metric(&router, "weft_poll_lag_seconds_count").await,
        Some("1".into())
    );
    assert_eq!(
        metric(&router, "weft_poll_lag_seconds_sum").await,
        Some("30.0".into())
    );

    world
        .clock
        .set(status.get("watch", "acme").unwrap().next_poll.unwrap());
    status.rounds_done(3).await;
    runs_end(&mut ended, 1).await;
    let polls = polls_shown(&router).await;
    assert_eq!(polls[0]["state"], "polling");
    assert_eq!(polls[0]["runs_submitted"], 1);
    assert_eq!(polls[0]["errors"], 2);
    assert!(polls[0].get("failures").is_none(), "{}", polls[0]);
    daemon.shutdown(std::time::Duration::from_secs(5)).await;
}

fn summary(name: &str, status: ConnectionState) -> ConnectionSummary {
    ConnectionSummary {
        name: name.to_string(),
        provider: "feed".to_string(),
        site_url: format!("https://{name}.example.net"),
        site_name: name.to_string(),
        status,
        problem: None,
        since: None,
        granted_scopes: Vec::new(),
    }
}

#[tokio::test]
async fn the_api_and_the_metrics_show_a_connection_that_paused_its_polls_until_reconnected() {
    let world = World::new();
    world.tokens.refused.lock().insert("acme".into());
    world.feed.push("acme", "1");
    let (daemon, mut ended) = world.daemon("[acme, globex]").await;
    let router = world.api(
        &daemon,
        vec![
            summary("acme", ConnectionState::NeedsReconnect),
            summary("globex", ConnectionState::Healthy),
        ],
    );
    let status = daemon.poll_status().clone();
    status.rounds_done(2).await;
    let polls = polls_shown(&router).await;
    assert_eq!(polls.len(), 2, "{polls:?}");
    let paused = &polls[0];
    assert_eq!(paused["connection"], "acme");
    assert_eq!(paused["state"], "needs_reconnect");
    assert_eq!(paused["since"], json!(start()));
    let reason = paused["reason"].as_str().unwrap();
    assert!(reason.contains("invalid_grant"), "{reason}");
    assert_eq!(paused["last_poll"], Value::Null, "nothing was polled");
    assert_eq!(polls[1]["connection"], "globex");
    assert_eq!(polls[1]["state"], "polling");

    let connections = get_json(&router, "/api/v1/connections").await;
    assert_eq!(connections["connections"][0]["name"], "acme");
    assert_eq!(
        connections["connections"][0]["paused_triggers"],
        json!(["watch"])
    );
    assert_eq!(connections["connections"][1]["paused_triggers"], json!([]));
    assert_eq!(
        metric(&router, r#"weft_poll_targets_paused{connection="acme"}"#).await,
        Some("1".into())
    );
    assert_eq!(
        metric(&router, r#"weft_poll_errors_total{workflow="watch"}"#).await,
        None,
        "a paused connection is no failing poll"
    );

    // Reconnected: the token works again.
    world.tokens.refused.lock().clear();
    world.next_interval();
    status.rounds_done(4).await;
    runs_end(&mut ended, 1).await;
    let polls = polls_shown(&router).await;
    assert_eq!(polls[0]["state"], "polling");
    assert_eq!(polls[0]["runs_submitted"], 1);
    assert!(polls[0].get("reason").is_none(), "{}", polls[0]);
    let connections = get_json(&router, "/api/v1/connections").await;
    assert_eq!(connections["connections"][0]["paused_triggers"], json!([]));
    assert_eq!(
        metric(&router, r#"weft_poll_targets_paused{connection="acme"}"#).await,
        None
    );
    daemon.shutdown(std::time::Duration::from_secs(5)).await;
}

/// Log lines written on one thread (a current-thread test's tasks run there).
#[derive(Clone, Default)]
struct Logged(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logged {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

thread_local! {
    static CAPTURED: std::cell::RefCell<Option<Logged>> = const { std::cell::RefCell::new(None) };
}

/// Writes each line to the buffer of the thread that logs it, if that thread captures.
struct ThisThread;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for ThisThread {
    type Writer = Logged;
    fn make_writer(&'a self) -> Logged {
        CAPTURED.with(|captured| captured.borrow().clone().unwrap_or_default())
    }
}

impl Logged {
    /// Captures this thread's log lines. The subscriber is the process's global one: a
    /// thread-local subscriber misses events when another test registers the same callsite
    /// at the moment it is installed (tracing's interest cache), which made this flaky.
    fn this_thread() -> Logged {
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(ThisThread)
                .with_ansi(false)
                .finish();
            tracing::subscriber::set_global_default(subscriber).unwrap();
        });
        let logged = Logged::default();
        CAPTURED.with(|captured| *captured.borrow_mut() = Some(logged.clone()));
        logged
    }

    fn count(&self, text: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock())
            .matches(text)
            .count()
    }
}

#[tokio::test]
async fn pausing_and_resuming_a_connection_are_logged_once_each() {
    let logged = Logged::this_thread();
    let world = World::new();
    world.tokens.refused.lock().insert("acme".into());
    let (daemon, _ended) = world.daemon("acme").await;
    let status = daemon.poll_status().clone();
    for round in 1..=3 {
        status.rounds_done(round).await;
        world.next_interval();
    }
    world.tokens.refused.lock().clear();
    for round in 4..=6 {
        status.rounds_done(round).await;
        world.next_interval();
    }
    assert_eq!(
        logged.count("polls paused until the connection is reconnected"),
        1
    );
    assert_eq!(logged.count("the connection works again: polls resume"), 1);
    daemon.shutdown(std::time::Duration::from_secs(5)).await;
}
