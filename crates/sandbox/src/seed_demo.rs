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

fn storage(v: &str) -> Body {
    Body {
        representation: "storage".into(),
        value: v.into(),
    }
}

/// Adds a page (or blog post) created `days_ago` days ago; returns its id.
fn add(
    d: &mut SiteData,
    kind: ContentKind,
    space: u64,
    parent: Option<u64>,
    title: &str,
    body: &str,
    author: &str,
    at: DateTime<Utc>,
) -> u64 {
    d.create_content(
        NewContent {
            kind,
            space_id: space,
            parent_id: parent,
            title: title.into(),
            body: storage(body),
            status: Status::Current,
            author_id: author.into(),
        },
        at,
    )
    .unwrap_or_default()
}

fn comment(
    d: &mut SiteData,
    kind: CommentKind,
    on: u64,
    parent: Option<u64>,
    text: &str,
    author: &str,
    at: DateTime<Utc>,
    inline: Option<&str>,
) -> u64 {
    let id = d.next_id();
    d.comments.insert(
        id,
        Comment {
            id,
            kind,
            container_id: on,
            parent_comment_id: parent,
            status: Status::Current,
            versions: vec![Version {
                number: 1,
                message: String::new(),
                minor_edit: false,
                author_id: author.into(),
                created_at: at,
                title: String::new(),
                body: storage(&format!("<p>{text}</p>")),
            }],
            inline: inline.map(|sel| InlineProps {
                text_selection: sel.into(),
                match_count: 1,
                match_index: 0,
                marker_ref: format!("{id:032x}"),
            }),
            resolution_status: inline.map(|_| "open".to_string()),
        },
    );
    id
}

fn attach(d: &mut SiteData, on: u64, name: &str, media: &str, bytes: &[u8], at: DateTime<Utc>) {
    let id = d.next_id();
    d.attachments.insert(
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
            author_id: SANDBOX_ACCOUNT_ID.into(),
            data: bytes.to_vec(),
        },
    );
}

fn label(d: &mut SiteData, on: u64, names: &[&str]) {
    for n in names {
        let _ = d.add_label(on, "global", n);
    }
}

fn acme(d: &mut SiteData, now: DateTime<Utc>) {
    let ago = |days: i64| now - Duration::days(days);
    let Ok(eng) = d.create_space(
        "ENG",
        "Engineering",
        "How we build and run the product.",
        SANDBOX_ACCOUNT_ID,
        ago(60),
    ) else {
        return;
    };
    let Ok(ops) = d.create_space(
        "OPS",
        "Operations",
        "Incidents, vendors and processes.",
        ADA,
        ago(55),
    ) else {
        return;
    };
    let Ok(hr) = d.create_space("HR", "People", "Handbook and onboarding.", GRACE, ago(50)) else {
        return;
    };

    let arch = add(d, ContentKind::Page, eng, None, "Architecture", "<h1>Architecture</h1><p>The system has three services: api, worker and web. Each service owns its data.</p>", ADA, ago(40));
    add(d, ContentKind::Page, eng, Some(arch), "Service map", "<p>api talks to worker through a queue; web calls api.</p><ul><li>api</li><li>worker</li><li>web</li></ul>", ADA, ago(39));
    add(
        d,
        ContentKind::Page,
        eng,
        Some(arch),
        "Data model",
        "<p>Accounts, projects and events. Events are append-only.</p>",
        GRACE,
        ago(38),
    );
    let runbooks = add(
        d,
        ContentKind::Page,
        eng,
        None,
        "Runbooks",
        "<p>Step-by-step guides for operating the product.</p>",
        SANDBOX_ACCOUNT_ID,
        ago(30),
    );
    let deploy = add(d, ContentKind::Page, eng, Some(runbooks), "Deploy", "<p>Run <code>make deploy</code> from a clean main branch, then watch the dashboards for ten minutes.</p>", SANDBOX_ACCOUNT_ID, ago(29));
    add(
        d,
        ContentKind::Page,
        eng,
        Some(runbooks),
        "Rollback",
        "<p>Redeploy the previous tag. Database migrations are forward-only.</p>",
        SANDBOX_ACCOUNT_ID,
        ago(28),
    );
    add(
        d,
        ContentKind::Page,
        eng,
        Some(runbooks),
        "On-call",
        "<p>The on-call engineer acknowledges pages within 15 minutes.</p>",
        GRACE,
        ago(27),
    );
    let releases = add(
        d,
        ContentKind::Page,
        eng,
        None,
        "Release notes",
        "<p>Every release of the product.</p>",
        ADA,
        ago(20),
    );
    let r10 = add(
        d,
        ContentKind::Page,
        eng,
        Some(releases),
        "Release 1.0",
        "<p>First public release.</p>",
        ADA,
        ago(19),
    );
    let r11 = add(
        d,
        ContentKind::Page,
        eng,
        Some(releases),
        "Release 1.1",
        "<p>Faster sync, fewer retries.</p>",
        ADA,
        ago(5),
    );
    let tasks = task_list_markup(&[
        ("1", false, "Review the deploy runbook"),
        ("2", true, "Rotate the staging credentials"),
        ("3", false, "Write the 1.2 release notes"),
    ]);
    let team = add(
        d,
        ContentKind::Page,
        eng,
        None,
        "Team tasks",
        &format!("<p>What the team is working on.</p>{tasks}"),
        SANDBOX_ACCOUNT_ID,
        ago(3),
    );
    let b1 = add(
        d,
        ContentKind::BlogPost,
        eng,
        None,
        "Q1 engineering update",
        "<p>We shipped 1.0 and 1.1 and cut p95 latency by a third.</p>",
        ADA,
        ago(14),
    );
    let b2 = add(
        d,
        ContentKind::BlogPost,
        eng,
        None,
        "Postmortem: cache outage",
        "<p>A cache node ran out of memory; requests fell back to the database.</p>",
        GRACE,
        ago(7),
    );

    let incidents = add(
        d,
        ContentKind::Page,
        ops,
        None,
        "Incident process",
        "<p>Declare, mitigate, communicate, review.</p>",
        ADA,
        ago(45),
    );
    add(
        d,
        ContentKind::Page,
        ops,
        None,
        "Vendors",
        "<p>Cloud provider, email provider, status page.</p>",
        ADA,
        ago(44),
    );
    add(
        d,
        ContentKind::Page,
        hr,
        None,
        "Onboarding checklist",
        "<p>Laptop, accounts, first week buddy.</p>",
        GRACE,
        ago(43),
    );

    label(d, arch, &["architecture"]);
    label(d, runbooks, &["runbook"]);
    label(d, deploy, &["runbook", "deploy"]);
    label(d, r10, &["release"]);
    label(d, r11, &["release"]);
    label(d, b2, &["postmortem"]);
    label(d, incidents, &["process"]);

    let c = comment(
        d,
        CommentKind::Footer,
        deploy,
        None,
        "Should we add the canary step here?",
        ADA,
        ago(10),
        None,
    );
    comment(
        d,
        CommentKind::Footer,
        deploy,
        Some(c),
        "Yes, after the smoke tests.",
        SANDBOX_ACCOUNT_ID,
        ago(9),
        None,
    );
    comment(
        d,
        CommentKind::Inline,
        arch,
        None,
        "Is the web service still separate?",
        GRACE,
        ago(8),
        Some("three services"),
    );
    comment(
        d,
        CommentKind::Footer,
        b1,
        None,
        "Great quarter!",
        GRACE,
        ago(13),
        None,
    );

    attach(
        d,
        arch,
        "service-map.png",
        "image/png",
        b"\x89PNG\r\n\x1a\nsandbox",
        ago(39),
    );
    attach(
        d,
        deploy,
        "deploy.sh",
        "text/x-sh",
        b"#!/bin/sh\nmake deploy\n",
        ago(29),
    );

    let pid = d.next_id();
    d.properties.insert(
        pid,
        Property {
            id: pid,
            content_id: r10,
            key: "weft.sync".into(),
            value: serde_json::json!({"lastSynced": "2026-01-01T00:00:00Z", "source": "demo"}),
            version: 1,
            version_at: ago(19),
            version_message: String::new(),
            author_id: SANDBOX_ACCOUNT_ID.into(),
        },
    );
    sync_tasks(d, team, SANDBOX_ACCOUNT_ID, ago(3));
}

fn globex(d: &mut SiteData, now: DateTime<Utc>) {
    let ago = |days: i64| now - Duration::days(days);
    let Ok(sales) = d.create_space("SALES", "Sales", "Playbooks and accounts.", GRACE, ago(30))
    else {
        return;
    };
    let pb = add(
        d,
        ContentKind::Page,
        sales,
        None,
        "Sales playbook",
        "<p>Qualify, demo, propose, close.</p>",
        GRACE,
        ago(29),
    );
    add(
        d,
        ContentKind::Page,
        sales,
        Some(pb),
        "Discovery questions",
        "<p>What problem are you solving this quarter?</p>",
        GRACE,
        ago(28),
    );
    add(
        d,
        ContentKind::BlogPost,
        sales,
        None,
        "Welcome to Globex sales",
        "<p>Hello from the sales team.</p>",
        GRACE,
        ago(27),
    );
}

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
    let sites: [(&str, fn(&mut SiteData, DateTime<Utc>)); 2] = [("acme", acme), ("globex", globex)];
    for (n, (name, fill)) in sites.into_iter().enumerate() {
        let site = inner.add_site(site_info(n as u32 + 1, name));
        let mut data = site.data.write();
        fill(&mut data, now);
        site.index.lock().rebuild(&data, &site.info);
    }
}
