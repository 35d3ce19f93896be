//! Polling sources against the sandbox: its clock and search-index lag make windows overlap and
//! items appear late; every test asserts that each event arrives exactly once.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use weft_action::{poll_all, SourceContext};
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
        let polled = poll_all(source.as_ref(), &self.settings, self.cursor.as_ref(), &ctx)
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

    /// The `(id, version)` pairs delivered, checking that none came twice.
    fn exactly_once_versions(&self) -> BTreeSet<(String, u64)> {
        let keys: BTreeSet<(String, u64)> = self.delivered.iter().cloned().collect();
        assert_eq!(
            keys.len(),
            self.delivered.len(),
            "{}: duplicates in {:?}",
            self.source,
            self.delivered
        );
        keys
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
    let settings = json!({"cql": "type = page order by title"});
    let error = poll_all(cql.as_ref(), &settings, None, &ctx)
        .await
        .unwrap_err();
    assert!(error.message.contains("order by"), "{error}");
    let source = site.runtime.sources().get(bad_start.source).unwrap();
    let error = poll_all(source.as_ref(), &bad_start.settings, None, &ctx)
        .await
        .unwrap_err();
    assert!(error.message.contains("setting `start`"), "{error}");
    for (source, settings, expected) in [
        (
            "confluence.comment_created",
            json!({"content_id": "abc"}),
            "`content_id`",
        ),
        (
            "confluence.attachment_created",
            json!({"content_id": "12a"}),
            "`content_id`",
        ),
        (
            "confluence.label_added",
            json!({"labels": ["two words"]}),
            "setting `labels`",
        ),
        (
            "confluence.label_added",
            json!({"start": "soon"}),
            "setting `start`",
        ),
        ("confluence.space_created", json!({"type": "team"}), "team"),
    ] {
        site.connection.sandbox.admin().clear_requests();
        let polled = site.runtime.sources().get(source).unwrap();
        let error = poll_all(polled.as_ref(), &settings, None, &ctx)
            .await
            .unwrap_err();
        assert!(error.message.contains(expected), "{source}: {error}");
        let searched = site
            .confluence_calls()
            .iter()
            .any(|call| call.contains("/search") || call.contains("/spaces"));
        assert!(!searched, "{source}: {:?}", site.confluence_calls());
    }
    bad_start.settings = json!({"space": "E N G"});
    let error = poll_all(source.as_ref(), &bad_start.settings, None, &ctx)
        .await
        .unwrap_err();
    assert!(error.message.contains("`space`"), "{error}");
    // A space key nobody has: a search of it would find nothing, poll after poll, silently.
    for source in [
        "confluence.page_created",
        "confluence.comment_created",
        "confluence.label_added",
    ] {
        let polled = site.runtime.sources().get(source).unwrap();
        let error = poll_all(polled.as_ref(), &json!({"space": "ENGG"}), None, &ctx)
            .await
            .unwrap_err();
        assert!(
            error.message.contains("no space with key ENGG on ")
                && error.message.contains("may not see it"),
            "{source}: {error}"
        );
    }
    let known = poll_all(source.as_ref(), &json!({"space": "eng"}), None, &ctx).await;
    assert!(known.is_ok(), "a key in any case: {:?}", known.err());
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

/// The `id` of the output of a step that must succeed.
async fn made(site: &Site, action: &str, inputs: Value) -> String {
    site.output(action, &inputs.to_string()).await["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{action}: an id"))
        .to_string()
}

/// Uploads a file named `name` (a new attachment, or a new version of the one with that name).
async fn upload(site: &Site, page: &str, name: &str) -> String {
    let file = site.dir.path().join(name);
    std::fs::write(
        &file,
        format!("{name} {:?}\n", std::time::SystemTime::now()),
    )
    .expect("file");
    made(
        site,
        "confluence.upload_attachment",
        json!({"page_id": page, "file": file}),
    )
    .await
}

#[tokio::test]
async fn comments_and_attachments_arrive_exactly_once_across_lagging_overlapping_polls() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    admin.set_search_lag(Duration::from_secs(20));
    let page = site.page_id.clone();
    let blog = site.blog_post_id.clone();
    let mut comments = Poller::new(&site, "confluence.comment_created", json!({"space": "ENG"}));
    let mut blog_comments = Poller::new(
        &site,
        "confluence.comment_created",
        json!({"content_id": blog}),
    );
    let mut attachments = Poller::new(&site, "confluence.attachment_created", json!({}));
    let mut versions = Poller::new(
        &site,
        "confluence.attachment_created",
        json!({"space": "ENG", "new_versions": true}),
    );
    let mut pollers = [
        &mut comments,
        &mut blog_comments,
        &mut attachments,
        &mut versions,
    ];
    for poller in pollers.iter_mut() {
        assert!(
            poller.poll().await.is_empty(),
            "start: now delivers no backlog"
        );
    }

    let mut made_comments = BTreeSet::new();
    let mut made_blog_comments = BTreeSet::new();
    let mut made_attachments = Vec::new();
    let mut made_versions = BTreeSet::new();
    for round in 0..10u64 {
        let footer = made(
            &site,
            "confluence.add_comment",
            json!({"page_id": page, "body": format!("Round {round}"), "body_format": "plain"}),
        )
        .await;
        let inline = made(
            &site,
            "confluence.add_inline_comment",
            json!({"page_id": page, "body": "Which?", "body_format": "plain", "text_selection": "Shipped"}),
        )
        .await;
        let reply = made(
            &site,
            "confluence.add_comment",
            json!({"parent_comment_id": footer, "body": "Agreed", "body_format": "plain"}),
        )
        .await;
        let on_blog = made(
            &site,
            "confluence.add_comment",
            json!({"blog_post_id": blog, "body": "Nice", "body_format": "plain"}),
        )
        .await;
        made_comments.extend([footer, inline, reply, on_blog.clone()]);
        made_blog_comments.insert(on_blog);
        let attachment = upload(&site, &page, &format!("file-{round}.txt")).await;
        made_versions.insert((attachment.clone(), 1));
        made_attachments.push(attachment);
        // A new version of the attachment of two rounds before: some land inside the overlap
        // of windows that already delivered its creation.
        if round >= 2 {
            let again = upload(&site, &page, &format!("file-{}.txt", round - 2)).await;
            assert_eq!(
                again,
                made_attachments[round as usize - 2],
                "same attachment"
            );
            made_versions.insert((again, 2));
        }
        for poller in pollers.iter_mut() {
            poller.poll().await;
        }
        admin.advance_clock(Duration::from_secs(5 + (round * 13) % 40));
    }
    admin.advance_clock(Duration::from_secs(60));
    for poller in pollers.iter_mut() {
        poller.poll().await;
        assert!(
            poller.poll().await.is_empty(),
            "nothing new: nothing delivered"
        );
    }

    assert_eq!(comments.exactly_once(), made_comments);
    assert_eq!(blog_comments.exactly_once(), made_blog_comments);
    assert_eq!(
        attachments.exactly_once(),
        made_attachments.iter().cloned().collect()
    );
    assert!(
        attachments
            .delivered
            .iter()
            .all(|(_, version)| *version == 1),
        "{:?}",
        attachments.delivered
    );
    // Each version is delivered at most once, and the newest of each attachment always (a
    // version replaced before a poll could see it arrives as the newer one).
    let delivered = versions.exactly_once_versions();
    assert!(delivered.is_subset(&made_versions), "{delivered:?}");
    for attachment in &made_attachments {
        let newest = made_versions
            .range((attachment.clone(), 0)..=(attachment.clone(), u64::MAX))
            .next_back();
        assert!(
            delivered.contains(newest.unwrap()),
            "{attachment}: {delivered:?}"
        );
    }
    assert!(
        delivered.len() > made_attachments.len(),
        "new versions are events"
    );
}

/// Adds `labels` to content through the connector (indexed after the sandbox's lag).
async fn add_labels(site: &Site, content: &str, labels: &[&str]) {
    site.output(
        "confluence.add_label",
        &json!({"page_id": content, "labels": labels}).to_string(),
    )
    .await;
}

#[tokio::test]
async fn labels_added_arrive_exactly_once_keyed_by_content_and_name() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    admin.set_search_lag(Duration::from_secs(20));
    let page = site.page_id.clone();
    add_labels(&site, &page, &["old"]).await;
    let mut all = Poller::new(&site, "confluence.label_added", json!({"space": "ENG"}));
    let mut watched = Poller::new(
        &site,
        "confluence.label_added",
        json!({"labels": ["release", "Reviewed"], "content_type": "page"}),
    );
    assert!(
        all.poll().await.is_empty(),
        "start: now: labels already there are the baseline"
    );
    assert!(watched.poll().await.is_empty());

    let mut expected_all = BTreeSet::new();
    let mut expected_watched = BTreeSet::new();
    for round in 0..8u64 {
        let new_page = create_page(&site, &format!("Labelled {round}")).await;
        let labels: &[&str] = match round % 3 {
            0 => &["release"],
            1 => &["release", "reviewed", "misc"],
            _ => &["misc"],
        };
        add_labels(&site, &new_page, labels).await;
        // Two labels on the same content in the same poll are two events.
        add_labels(&site, &page, &[&format!("r{round}"), &format!("s{round}")]).await;
        for label in labels {
            expected_all.insert(format!("{new_page}:{label}"));
            if *label != "misc" {
                expected_watched.insert(format!("{new_page}:{label}"));
            }
        }
        expected_all.extend([format!("{page}:r{round}"), format!("{page}:s{round}")]);
        // A label already there added again is no event; one removed then added is a new one,
        // once the poll between saw it removed.
        add_labels(&site, &page, &["old"]).await;
        all.poll().await;
        watched.poll().await;
        admin.advance_clock(Duration::from_secs(5 + (round * 13) % 40));
    }
    site.output(
        "confluence.remove_label",
        &json!({"page_id": page, "label": "r0"}).to_string(),
    )
    .await;
    admin.advance_clock(Duration::from_secs(60));
    all.poll().await;
    add_labels(&site, &page, &["r0"]).await;
    admin.advance_clock(Duration::from_secs(60));
    assert_eq!(all.poll().await.len(), 1, "the label added again");
    watched.poll().await;
    assert!(all.poll().await.is_empty() && watched.poll().await.is_empty());

    let mut twice = all.delivered.clone();
    twice.retain(|(id, _)| *id == format!("{page}:r0"));
    assert_eq!(twice.len(), 2, "removed, then added again: two events");
    all.delivered.retain(|(id, _)| *id != format!("{page}:r0"));
    expected_all.remove(&format!("{page}:r0"));
    assert_eq!(all.exactly_once(), expected_all);
    assert_eq!(watched.exactly_once(), expected_watched);
    assert!(all.delivered.iter().all(|(_, version)| *version == 1));
}

#[tokio::test]
async fn spaces_created_arrive_exactly_once_and_start_picks_the_backlog() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    let start = (admin.now() - chrono::Duration::hours(1)).to_rfc3339();
    let mut spaces = Poller::new(&site, "confluence.space_created", json!({}));
    let mut backlog = Poller::new(
        &site,
        "confluence.space_created",
        json!({"start": start, "type": "global"}),
    );
    assert!(
        spaces.poll().await.is_empty(),
        "start: now delivers no backlog"
    );
    let events = backlog.poll().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["space"]["key"], "ENG");
    assert_eq!(events[0]["type"], "space");

    let mut made_spaces = BTreeSet::new();
    for round in 0..6u64 {
        let key = format!("S{round}");
        made_spaces.insert(
            made(
                &site,
                "confluence.create_space",
                json!({"key": key, "name": format!("Space {round}")}),
            )
            .await,
        );
        spaces.poll().await;
        backlog.poll().await;
        admin.advance_clock(Duration::from_secs(5 + (round * 13) % 40));
    }
    // More new spaces at one instant than a page of the listing.
    for n in 0..260 {
        admin
            .create_space(None, &format!("BULK{n}"), &format!("Bulk {n}"))
            .expect("space");
    }
    admin.advance_clock(Duration::from_secs(1));
    assert_eq!(spaces.poll().await.len(), 260);
    admin.advance_clock(Duration::from_secs(60));
    assert!(spaces.poll().await.is_empty());
    let listed = site
        .output("confluence.list_spaces", r#"{"max_results": 1000}"#)
        .await;
    let bulk: BTreeSet<String> = listed["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["key"].as_str().unwrap().starts_with("BULK"))
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    let mut expected = made_spaces.clone();
    expected.extend(bulk);
    assert_eq!(spaces.exactly_once(), expected);
    made_spaces.insert(events[0]["id"].as_str().unwrap().to_string());
    backlog.delivered.retain(|(id, _)| made_spaces.contains(id));
    assert_eq!(backlog.exactly_once(), made_spaces);
}

#[tokio::test]
async fn bursts_larger_than_a_page_of_results_and_start_timestamps_for_comments_attachments_labels()
{
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    let page = site.page_id.clone();
    let mut now_comments = Poller::new(&site, "confluence.comment_created", json!({}));
    let mut now_attachments = Poller::new(&site, "confluence.attachment_created", json!({}));
    let mut now_labels = Poller::new(&site, "confluence.label_added", json!({}));
    assert!(now_comments.poll().await.is_empty());
    assert!(now_attachments.poll().await.is_empty());
    assert!(now_labels.poll().await.is_empty());
    admin.advance_clock(Duration::from_secs(1));
    // After the page was made, before what follows.
    let before = admin.now().to_rfc3339();
    // The backlog a start timestamp delivers: one comment, one attachment, a labelled page.
    let old_comment = made(
        &site,
        "confluence.add_comment",
        json!({"page_id": page, "body": "Earlier", "body_format": "plain"}),
    )
    .await;
    let old_attachment = upload(&site, &page, "earlier.txt").await;
    add_labels(&site, &page, &["earlier"]).await;
    admin.advance_clock(Duration::from_secs(60));

    let start = json!({ "start": before });
    let mut backlog_comments = Poller::new(&site, "confluence.comment_created", start.clone());
    let mut backlog_attachments =
        Poller::new(&site, "confluence.attachment_created", start.clone());
    let mut backlog_labels = Poller::new(&site, "confluence.label_added", start);
    let backlog = backlog_comments.poll().await;
    assert_eq!(backlog.len(), 1);
    assert_eq!(backlog[0]["id"], old_comment.as_str());
    assert_eq!(backlog[0]["container"]["id"], page.as_str());
    assert_eq!(backlog[0]["space"]["key"], "ENG");
    let backlog = backlog_attachments.poll().await;
    assert_eq!(backlog.len(), 1);
    assert_eq!(backlog[0]["id"], old_attachment.as_str());
    // The page was created before `start`: its labels cannot be dated and are the baseline;
    // the labels of content created since `start` are delivered.
    let labelled_since = create_page(&site, "Labelled since").await;
    admin
        .add_label(None, labelled_since.parse().unwrap(), "fresh")
        .expect("label");
    let backlog = backlog_labels.poll().await;
    let ids: Vec<&str> = backlog.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [format!("{labelled_since}:fresh")]);
    assert_eq!(backlog[0]["label"], "fresh");
    assert_eq!(backlog[0]["content_id"], labelled_since.as_str());

    // 260 of each within one minute: more than a page (250) of search results.
    admin.set_search_lag(Duration::from_secs(0));
    let mut made_comments = BTreeSet::from([old_comment]);
    let mut made_attachments = BTreeSet::from([old_attachment]);
    let mut made_labels =
        BTreeSet::from([format!("{page}:earlier"), format!("{labelled_since}:fresh")]);
    let pages = admin.seed_pages(None, "ENG", 260, None).expect("seed");
    for (n, seeded) in pages.iter().enumerate() {
        made_comments.insert(
            made(
                &site,
                "confluence.add_comment",
                json!({"page_id": page, "body": format!("Hi {n}"), "body_format": "plain"}),
            )
            .await,
        );
        made_attachments.insert(upload(&site, &page, &format!("burst-{n}.txt")).await);
        admin.add_label(None, *seeded, "burst").expect("label");
        made_labels.insert(format!("{seeded}:burst"));
    }
    assert_eq!(now_comments.poll().await.len(), 261);
    assert_eq!(now_attachments.poll().await.len(), 261);
    assert_eq!(now_labels.poll().await.len(), 262);
    admin.advance_clock(Duration::from_secs(30));
    for poller in [&mut now_comments, &mut now_attachments, &mut now_labels] {
        assert!(poller.poll().await.is_empty());
    }
    assert_eq!(now_comments.exactly_once(), made_comments);
    assert_eq!(now_attachments.exactly_once(), made_attachments);
    assert_eq!(now_labels.exactly_once(), made_labels);
}

#[tokio::test]
async fn a_label_removed_and_added_again_within_the_index_lag_is_not_delivered_twice() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    admin.set_search_lag(Duration::from_secs(20));
    let page = site.page_id.clone();
    let mut watched = Poller::new(
        &site,
        "confluence.label_added",
        json!({"labels": ["release"]}),
    );
    watched.poll().await;
    add_labels(&site, &page, &["release"]).await;
    admin.advance_clock(Duration::from_secs(30));
    assert_eq!(watched.poll().await.len(), 1);

    // Removed, then added again 5 s later: while the index shows the page without the label,
    // the search does not return it at all, although it has the label again.
    site.output(
        "confluence.remove_label",
        &json!({"page_id": page, "label": "release"}).to_string(),
    )
    .await;
    admin.advance_clock(Duration::from_secs(5));
    add_labels(&site, &page, &["release"]).await;
    admin.advance_clock(Duration::from_secs(17));
    let found = site
        .output("confluence.search", r#"{"cql": "label = \"release\""}"#)
        .await;
    assert_eq!(
        found["count"], 0,
        "the index lags: the page is not found now"
    );
    assert!(watched.poll().await.is_empty());
    admin.advance_clock(Duration::from_secs(30));
    assert!(
        watched.poll().await.is_empty(),
        "found again: no second event"
    );
    assert_eq!(
        watched.exactly_once(),
        BTreeSet::from([format!("{page}:release")])
    );
}

/// `weft scopes` and `connect` ask for what a source declares: that must be enough to poll with
/// a `space` setting given by id (resolved with v2 GET `/spaces/{id}`), not only by key.
#[tokio::test]
async fn the_declared_scopes_suffice_for_a_space_given_by_id() {
    const WITH_SPACE: [&str; 5] = [
        "confluence.page_created",
        "confluence.blog_post_updated",
        "confluence.comment_created",
        "confluence.attachment_created",
        "confluence.label_added",
    ];
    let runtime = weft_runtime::Runtime::new().expect("catalogue");
    let mut scopes: Vec<&'static str> = WITH_SPACE
        .iter()
        .flat_map(|name| {
            let source = runtime.sources().get(name).expect("source");
            source.spec().scopes.iter().copied()
        })
        .collect();
    scopes.sort_unstable();
    scopes.dedup();
    let site = Site::start(Some(&scopes)).await;
    let ops = site
        .connection
        .sandbox
        .admin()
        .create_space(None, "OPS", "Operations")
        .expect("space OPS");
    for name in WITH_SPACE {
        let mut poller = Poller::new(&site, name, json!({"space": ops.to_string()}));
        poller.poll().await;
    }
    site.connection.sandbox.shutdown().await;
}
