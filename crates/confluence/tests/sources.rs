//! Polling sources against the sandbox: its clock and search-index lag make windows overlap and
//! items appear late; every test asserts that each event arrives exactly once.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use weft_action::SourceContext;
use weft_engine::exec::Engine;
use weft_engine::store::{MemoryRunStore, RunStatus, TriggerCursor, TriggerStore};
use weft_engine::trigger::{poll_once, Delivery, PollReport};
use weft_engine::workflow::{self, CompiledWorkflow};
use weft_sandbox::NewPage;

use support::sandbox::Site;

/// One trigger polled again and again, keeping its cursor like the run store would.
struct Poller<'a> {
    site: &'a Site,
    source: &'static str,
    settings: Value,
    cursor: Option<Value>,
    /// `(id, version)` of every event, in delivery order.
    delivered: Vec<(String, u64)>,
}

impl<'a> Poller<'a> {
    fn new(site: &'a Site, source: &'static str, settings: Value) -> Self {
        Poller {
            site,
            source,
            settings,
            cursor: None,
            delivered: Vec::new(),
        }
    }

    async fn poll(&mut self) -> Vec<Value> {
        let http = reqwest::Client::new();
        let cancel = CancellationToken::new();
        let ctx = SourceContext {
            source: self.source,
            connection: Some("acme"),
            http: &http,
            tokens: self.site.connection.tokens.as_ref(),
            cancel: &cancel,
        };
        let source = self
            .site
            .runtime
            .sources()
            .get(self.source)
            .expect("source");
        let polled = source
            .poll(&self.settings, self.cursor.as_ref(), &ctx)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", self.source));
        self.cursor = Some(polled.cursor);
        for event in &polled.events {
            assert_eq!(event["kind"], self.source.trim_start_matches("confluence."));
            self.delivered.push((
                event["id"].as_str().expect("id").to_string(),
                event["version"].as_u64().expect("version"),
            ));
        }
        polled.events
    }

    /// The ids delivered, checking that none came twice.
    fn exactly_once(&self) -> BTreeSet<String> {
        let ids: BTreeSet<String> = self.delivered.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(
            ids.len(),
            self.delivered.len(),
            "{}: duplicates in {:?}",
            self.source,
            self.delivered
        );
        ids
    }
}

async fn create_page(site: &Site, title: &str) -> String {
    let page = site
        .output(
            "confluence.create_page",
            &json!({"space": "ENG", "title": title, "body": "<p>new</p>"}).to_string(),
        )
        .await;
    page["id"].as_str().expect("page id").to_string()
}

#[tokio::test]
async fn pages_created_and_updated_arrive_exactly_once_across_lagging_overlapping_polls() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    admin.set_search_lag(Duration::from_secs(20));
    let mut created = Poller::new(&site, "confluence.page_created", json!({"space": "ENG"}));
    let mut updated = Poller::new(&site, "confluence.page_updated", json!({"space": "ENG"}));
    assert!(
        created.poll().await.is_empty(),
        "start: now delivers no backlog"
    );
    assert!(updated.poll().await.is_empty());

    let mut pages = Vec::new();
    let mut updated_pages = BTreeSet::new();
    let mut seen_late = false;
    for round in 0..14u64 {
        for n in 0..2 {
            pages.push(create_page(&site, &format!("Page {round}.{n}")).await);
        }
        // Each page is edited once, two rounds after it was made: some edits land inside the
        // overlap of windows that already delivered the page's creation.
        if round >= 2 {
            let page = pages[(round as usize - 2) * 2].clone();
            site.output(
                "confluence.update_page",
                &json!({"page_id": page, "body": "<p>edited</p>"}).to_string(),
            )
            .await;
            updated_pages.insert(page);
        }
        let before = created.delivered.len();
        created.poll().await;
        updated.poll().await;
        // The index lags 20 s: what was just created is not searchable yet.
        seen_late |= created.delivered.len() < pages.len() && before < created.delivered.len();
        admin.advance_clock(Duration::from_secs(5 + (round * 13) % 40));
    }
    admin.advance_clock(Duration::from_secs(60));
    created.poll().await;
    updated.poll().await;
    assert!(
        created.poll().await.is_empty(),
        "nothing new: nothing delivered"
    );
    assert!(updated.poll().await.is_empty());

    assert!(
        seen_late,
        "some polls ran while new pages were not indexed yet"
    );
    assert_eq!(created.exactly_once(), pages.iter().cloned().collect());
    assert_eq!(updated.exactly_once(), updated_pages);
    assert!(updated.delivered.iter().all(|(_, version)| *version == 2));
    let cursor = created.cursor.as_ref().expect("cursor");
    let seen = cursor["seen"].as_object().expect("seen").len();
    assert!(
        seen < pages.len(),
        "de-duplication state is pruned ({seen} keys kept)"
    );
}

#[tokio::test]
async fn more_changes_in_one_minute_than_a_page_of_results_all_arrive_once() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    let mut created = Poller::new(&site, "confluence.page_created", json!({}));
    let mut matched = Poller::new(
        &site,
        "confluence.cql",
        json!({"cql": "type = page and space = ENG"}),
    );
    created.poll().await;
    matched.poll().await;
    // 600 pages made at the same instant: more than two pages of 250 results.
    let ids: BTreeSet<String> = admin
        .seed_pages(None, "ENG", 600, None)
        .expect("seed")
        .into_iter()
        .map(|id| id.to_string())
        .collect();
    assert_eq!(created.poll().await.len(), 600);
    assert_eq!(matched.poll().await.len(), 600);
    admin.advance_clock(Duration::from_secs(30));
    assert!(created.poll().await.is_empty());
    assert!(matched.poll().await.is_empty());
    assert_eq!(created.exactly_once(), ids);
    assert_eq!(matched.exactly_once(), ids);
}

#[tokio::test]
async fn a_start_timestamp_delivers_the_backlog_and_filters_apply() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    let blog = admin
        .create_page(
            None,
            NewPage {
                space_key: "ENG".into(),
                title: "Weekly digest".into(),
                body: "<p>news</p>".into(),
                parent_id: None,
                blogpost: true,
            },
        )
        .expect("blog post")
        .to_string();
    admin
        .add_label(None, blog.parse().unwrap(), "digest")
        .expect("label");
    let start = (admin.now() - chrono::Duration::hours(1)).to_rfc3339();
    let mut pages = Poller::new(&site, "confluence.page_created", json!({"start": start}));
    let events = pages.poll().await;
    let titles: Vec<&str> = events
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["Engineering Home", "Release notes"],
        "oldest first"
    );
    assert_eq!(events[1]["id"], site.page_id.as_str());
    assert_eq!(events[1]["space"]["key"], "ENG");

    let space_id = site
        .output("confluence.get_space", r#"{"space": "ENG"}"#)
        .await["id"]
        .clone();
    let mut labelled = Poller::new(
        &site,
        "confluence.blog_post_created",
        json!({"start": start, "space": space_id, "labels": ["digest"]}),
    );
    let events = labelled.poll().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["id"], blog.as_str());
    let mut other_label = Poller::new(
        &site,
        "confluence.blog_post_created",
        json!({"start": start, "labels": ["other"]}),
    );
    assert!(other_label.poll().await.is_empty());
}

#[tokio::test]
async fn bad_settings_are_refused_before_any_search() {
    let site = Site::start(None).await;
    let mut bad_start = Poller::new(
        &site,
        "confluence.page_created",
        json!({"start": "yesterday"}),
    );
    let http = reqwest::Client::new();
    let cancel = CancellationToken::new();
    let ctx = SourceContext {
        source: "confluence.cql",
        connection: Some("acme"),
        http: &http,
        tokens: site.connection.tokens.as_ref(),
        cancel: &cancel,
    };
    let cql = site.runtime.sources().get("confluence.cql").unwrap();
    let error = cql
        .poll(&json!({"cql": "type = page order by title"}), None, &ctx)
        .await
        .unwrap_err();
    assert!(error.message.contains("order by"), "{error}");
    let source = site.runtime.sources().get(bad_start.source).unwrap();
    let error = source
        .poll(&bad_start.settings, None, &ctx)
        .await
        .unwrap_err();
    assert!(error.message.contains("setting `start`"), "{error}");
    bad_start.settings = json!({"space": "E N G"});
    let error = source
        .poll(&bad_start.settings, None, &ctx)
        .await
        .unwrap_err();
    assert!(error.message.contains("`space`"), "{error}");
}

/// One poll of `flow` through its own connection.
async fn poll(
    engine: &Engine,
    store: &MemoryRunStore,
    flow: Arc<CompiledWorkflow>,
    delivery: Delivery,
) -> PollReport {
    poll_once(engine, store, flow, None, delivery)
        .await
        .unwrap()
}

const WORKFLOW: &str = "name: greet-new-pages
connection: acme
trigger:
  poll:
    source: confluence.page_created
    interval: 1m
    with:
      space: ENG
steps:
  - id: note
    uses: core.set
    with:
      page: ${{ trigger.id }}
outputs:
  page: ${{ steps.note.output.page }}
";

#[tokio::test]
async fn a_recorded_poll_starts_one_run_per_event_and_a_crash_before_the_cursor_moved_repeats_none()
{
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    let store = Arc::new(MemoryRunStore::new());
    let engine = site
        .runtime
        .engine(store.clone(), site.connection.tokens.clone());
    let loaded = workflow::load_bytes(
        Path::new("greet.yaml"),
        WORKFLOW.as_bytes(),
        engine.catalog(),
    )
    .unwrap_or_else(|p| panic!("{}", p.render()));
    let flow = loaded.workflow;
    let first = poll(&engine, &store, flow.clone(), Delivery::Record).await;
    assert!(first.events.is_empty());
    let start = store
        .cursor(&first.key)
        .await
        .unwrap()
        .expect("cursor stored");

    admin.seed_pages(None, "ENG", 5, None).expect("seed");
    let preview = poll(&engine, &store, flow.clone(), Delivery::Preview).await;
    assert_eq!(preview.events.len(), 5);
    assert!(preview.runs.is_empty());
    assert_eq!(
        store.cursor(&first.key).await.unwrap().as_ref(),
        Some(&start),
        "a preview stores nothing"
    );

    // A crash after two runs were recorded: the old cursor, with the keys of those two events.
    let recorded: Vec<String> = preview.events[..2]
        .iter()
        .map(|e| {
            format!(
                "page_created:{}:{}",
                e["id"].as_str().unwrap(),
                e["version"]
            )
        })
        .collect();
    let crashed = TriggerCursor {
        seen: recorded,
        ..start.clone()
    };
    store.put_cursor(&first.key, &crashed).await.unwrap();
    let report = poll(&engine, &store, flow.clone(), Delivery::Record).await;
    assert_eq!(report.events.len(), 5);
    assert_eq!(report.skipped_as_recorded, 2);
    assert_eq!(report.runs.len(), 3);
    let mut pages: HashMap<String, usize> = HashMap::new();
    for run in &report.runs {
        assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.error);
        *pages
            .entry(run.outputs["page"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert!(pages.values().all(|n| *n == 1));
    let after = store.cursor(&first.key).await.unwrap().expect("cursor");
    assert!(
        after.seen.is_empty(),
        "the cursor moved: progress keys are dropped"
    );
    let again = poll(&engine, &store, flow, Delivery::Record).await;
    assert!(again.events.is_empty() && again.runs.is_empty());
}
