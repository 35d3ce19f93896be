//! The `demo` data set: two sites, several spaces, a page tree with storage bodies, blog posts,
//! footer and inline comments, labels, attachments, content properties, users and tasks.

use crate::confluence::tasks::{sync_tasks, task_list_markup};
use crate::seed::site_info;
use crate::state::model::*;
use crate::state::site::{NewContent, SiteData};
use crate::state::{Inner, SANDBOX_ACCOUNT_ID};
use chrono::{DateTime, Duration, Utc};

const ADA: &str = "557058:demo-ada-lovelace";
const GRACE: &str = "557058:demo-grace-hopper";
const ME: &str = SANDBOX_ACCOUNT_ID;

/// Writes demo objects into one site, dated `days` days before `now`.
struct Seeder<'a> {
    d: &'a mut SiteData,
    now: DateTime<Utc>,
}

impl Seeder<'_> {
    fn ago(&self, days: i64) -> DateTime<Utc> {
        self.now - Duration::days(days)
    }

    fn space(&mut self, key: &str, name: &str, description: &str, author: &str, days: i64) -> u64 {
        let at = self.ago(days);
        self.d
            .create_space(key, name, description, author, at)
            .unwrap_or_default()
    }

    fn content(&mut self, new: NewContent, days: i64) -> u64 {
        let at = self.ago(days);
        self.d.create_content(new, at).unwrap_or_default()
    }

    fn page(
        &mut self,
        space: u64,
        parent: Option<u64>,
        title: &str,
        body: &str,
        author: &str,
        days: i64,
    ) -> u64 {
        let new = NewContent::current(
            ContentKind::Page,
            space,
            parent,
            title.into(),
            body.into(),
            author.into(),
        );
        self.content(new, days)
    }

    fn blog(&mut self, space: u64, title: &str, body: &str, author: &str, days: i64) -> u64 {
        let new = NewContent::current(
            ContentKind::BlogPost,
            space,
            None,
            title.into(),
            body.into(),
            author.into(),
        );
        self.content(new, days)
    }

    fn comment(
        &mut self,
        on: u64,
        parent: Option<u64>,
        text: &str,
        author: &str,
        days: i64,
        inline: Option<&str>,
    ) -> u64 {
        let id = self.d.next_id();
        let at = self.ago(days);
        let comment = Comment {
            id,
            kind: if inline.is_some() {
                CommentKind::Inline
            } else {
                CommentKind::Footer
            },
            container_id: on,
            parent_comment_id: parent,
            status: Status::Current,
            versions: vec![Version::first(
                author.into(),
                at,
                String::new(),
                Body::storage(format!("<p>{text}</p>")),
            )],
            inline: inline.map(|sel| InlineProps {
                text_selection: sel.into(),
                match_count: 1,
                match_index: 0,
                marker_ref: format!("{id:032x}"),
            }),
            resolution_status: inline.map(|_| "open".to_string()),
        };
        self.d.comments.insert(id, comment);
        id
    }

    fn attach(&mut self, on: u64, name: &str, media: &str, bytes: &[u8], days: i64) {
        let id = self.d.next_id();
        let at = self.ago(days);
        self.d.attachments.insert(
            id,
            Attachment {
                id,
                container_id: on,
                title: name.into(),
                media_type: media.into(),
                comment: String::new(),
                file_id: format!("{id:08x}-0000-4000-8000-{id:012x}"),
                status: Status::Current,
                created_at: at,
                version: 1,
                version_at: at,
                author_id: ME.into(),
                minor_edit: false,
                data: bytes.to_vec(),
            },
        );
    }

    fn label(&mut self, on: u64, names: &[&str]) {
        for n in names {
            let _ = self.d.add_label(on, "global", n);
        }
    }

    fn property(&mut self, on: u64, key: &str, value: serde_json::Value, days: i64) {
        let id = self.d.next_id();
        let at = self.ago(days);
        self.d.properties.insert(
            id,
            Property {
                id,
                content_id: on,
                key: key.into(),
                value,
                version: 1,
                version_at: at,
                version_message: String::new(),
                author_id: ME.into(),
            },
        );
    }
}

fn acme(s: &mut Seeder) {
    let eng = s.space(
        "ENG",
        "Engineering",
        "How we build and run the product.",
        ME,
        60,
    );
    let ops = s.space(
        "OPS",
        "Operations",
        "Incidents, vendors and processes.",
        ADA,
        55,
    );
    let hr = s.space("HR", "People", "Handbook and onboarding.", GRACE, 50);

    let arch = s.page(eng, None, "Architecture", "<h1>Architecture</h1><p>The system has three services: api, worker and web. Each service owns its data.</p>", ADA, 40);
    s.page(eng, Some(arch), "Service map", "<p>api talks to worker through a queue; web calls api.</p><ul><li>api</li><li>worker</li><li>web</li></ul>", ADA, 39);
    s.page(
        eng,
        Some(arch),
        "Data model",
        "<p>Accounts, projects and events. Events are append-only.</p>",
        GRACE,
        38,
    );
    let runbooks = s.page(
        eng,
        None,
        "Runbooks",
        "<p>Step-by-step guides for operating the product.</p>",
        ME,
        30,
    );
    let deploy = s.page(eng, Some(runbooks), "Deploy", "<p>Run <code>make deploy</code> from a clean main branch, then watch the dashboards for ten minutes.</p>", ME, 29);
    s.page(
        eng,
        Some(runbooks),
        "Rollback",
        "<p>Redeploy the previous tag. Database migrations are forward-only.</p>",
        ME,
        28,
    );
    s.page(
        eng,
        Some(runbooks),
        "On-call",
        "<p>The on-call engineer acknowledges pages within 15 minutes.</p>",
        GRACE,
        27,
    );
    let releases = s.page(
        eng,
        None,
        "Release notes",
        "<p>Every release of the product.</p>",
        ADA,
        20,
    );
    let r10 = s.page(
        eng,
        Some(releases),
        "Release 1.0",
        "<p>First public release.</p>",
        ADA,
        19,
    );
    let r11 = s.page(
        eng,
        Some(releases),
        "Release 1.1",
        "<p>Faster sync, fewer retries.</p>",
        ADA,
        5,
    );
    let tasks = task_list_markup(&[
        ("1", false, "Review the deploy runbook"),
        ("2", true, "Rotate the staging credentials"),
        ("3", false, "Write the 1.2 release notes"),
    ]);
    let team = s.page(
        eng,
        None,
        "Team tasks",
        &format!("<p>What the team is working on.</p>{tasks}"),
        ME,
        3,
    );
    let b1 = s.blog(
        eng,
        "Q1 engineering update",
        "<p>We shipped 1.0 and 1.1 and cut p95 latency by a third.</p>",
        ADA,
        14,
    );
    let b2 = s.blog(
        eng,
        "Postmortem: cache outage",
        "<p>A cache node ran out of memory; requests fell back to the database.</p>",
        GRACE,
        // Inside the weekly digest's `now("-7d")` window with a day to spare: at exactly
        // 7 days, a run in the minute after seeding missed it.
        6,
    );

    let incidents = s.page(
        ops,
        None,
        "Incident process",
        "<p>Declare, mitigate, communicate, review.</p>",
        ADA,
        45,
    );
    s.page(
        ops,
        None,
        "Vendors",
        "<p>Cloud provider, email provider, status page.</p>",
        ADA,
        44,
    );
    s.page(
        hr,
        None,
        "Onboarding checklist",
        "<p>Laptop, accounts, first week buddy.</p>",
        GRACE,
        43,
    );

    s.label(arch, &["architecture"]);
    s.label(runbooks, &["runbook"]);
    s.label(deploy, &["runbook", "deploy"]);
    s.label(r10, &["release"]);
    s.label(r11, &["release"]);
    s.label(b2, &["postmortem"]);
    s.label(incidents, &["process"]);

    let c = s.comment(
        deploy,
        None,
        "Should we add the canary step here?",
        ADA,
        10,
        None,
    );
    s.comment(deploy, Some(c), "Yes, after the smoke tests.", ME, 9, None);
    s.comment(
        arch,
        None,
        "Is the web service still separate?",
        GRACE,
        8,
        Some("three services"),
    );
    s.comment(b1, None, "Great quarter!", GRACE, 13, None);

    s.attach(
        arch,
        "service-map.png",
        "image/png",
        b"\x89PNG\r\n\x1a\nsandbox",
        39,
    );
    s.attach(
        deploy,
        "deploy.sh",
        "text/x-sh",
        b"#!/bin/sh\nmake deploy\n",
        29,
    );
    s.property(
        r10,
        "weft.sync",
        serde_json::json!({"lastSynced": "2026-01-01T00:00:00Z", "source": "demo"}),
        19,
    );
    let at = s.ago(3);
    sync_tasks(s.d, team, ME, at);
}

fn globex(s: &mut Seeder) {
    let sales = s.space("SALES", "Sales", "Playbooks and accounts.", GRACE, 30);
    let pb = s.page(
        sales,
        None,
        "Sales playbook",
        "<p>Qualify, demo, propose, close.</p>",
        GRACE,
        29,
    );
    s.page(
        sales,
        Some(pb),
        "Discovery questions",
        "<p>What problem are you solving this quarter?</p>",
        GRACE,
        28,
    );
    s.blog(
        sales,
        "Welcome to Globex sales",
        "<p>Hello from the sales team.</p>",
        GRACE,
        27,
    );
}

/// Fills one demo site.
type Filler = fn(&mut Seeder);

pub fn demo(inner: &Inner) {
    let now = inner.clock.now();
    for (u, name, email, access) in [
        (ADA, "Ada Lovelace", "ada@example.com", true),
        (GRACE, "Grace Hopper", "grace@example.com", true),
        (
            "557058:demo-no-access",
            "Former Contractor",
            "contractor@example.com",
            false,
        ),
    ] {
        inner.upsert_user(User {
            account_id: u.into(),
            display_name: name.into(),
            email: email.into(),
            time_zone: inner.config.user_time_zone.clone(),
            has_access: access,
        });
    }
    let sites: [(&str, Filler); 2] = [("acme", acme), ("globex", globex)];
    for (n, (name, fill)) in sites.into_iter().enumerate() {
        let site = inner.add_site(site_info(n as u32 + 1, name));
        let mut data = site.data.write();
        fill(&mut Seeder { d: &mut data, now });
        site.index.lock().rebuild(data.search_docs());
    }
}
