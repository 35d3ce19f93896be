//! Chaos: `weft daemon` killed with SIGKILL over and over while cron-driven runs create pages,
//! comments and labels in the sandbox. After the last restart every fire has exactly one run,
//! which succeeded, and the sandbox holds no duplicate page, comment or label.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use weft_engine::store::{RunStatus, RunStore, SledRunStore};

use super::connect::Setup;
use super::signals::{spawn_weft, terminate, wait_for_exit};
use super::{stderr, stdout, write};

const KILLS: usize = 20;

/// Every second: a page titled after the fire, a comment on it, a label on it.
const CHAOS: &str = r#"name: chaos
connection: acme
trigger:
  cron:
    schedule: "* * * * * *"
    overlap: allow
steps:
  - id: page
    uses: confluence.create_page
    with:
      space: CHAOS
      title: "fire ${{ trigger.scheduled_at }}"
      body: "made by the fire of ${{ trigger.scheduled_at }}"
      body_format: plain
  # Widens the window in which a kill lands mid-run.
  - id: breathe
    uses: core.sleep
    with: { duration: 300ms }
  - id: comment
    uses: confluence.add_comment
    with:
      page_id: "${{ steps.page.output.id }}"
      body: "comment of ${{ trigger.scheduled_at }}"
      body_format: plain
  - id: label
    uses: confluence.add_label
    with:
      page_id: "${{ steps.page.output.id }}"
      labels: [chaos]
"#;

/// What the sandbox holds in space CHAOS: per page, its comments and labels.
const CENSUS: &str = r#"name: census
connection: acme
steps:
  - id: pages
    uses: confluence.list_pages
    with: { space: CHAOS, limit: 250, max_results: 10000 }
  - id: each
    for_each: ${{ steps.pages.output.results }}
    concurrency: 4
    steps:
      - id: comments
        uses: confluence.list_comments
        with: { page_id: "${{ item.id }}", limit: 250, max_results: 1000 }
      - id: labels
        uses: confluence.get_page_labels
        with: { page_id: "${{ item.id }}", limit: 250 }
      - id: row
        uses: core.set
        with:
          title: ${{ item.title }}
          comments: ${{ pluck(pluck(pluck(steps.comments.output.results, 'body'), 'storage'), 'value') }}
          labels: ${{ pluck(steps.labels.output.results, 'name') }}
outputs:
  pages: ${{ steps.each.output }}
"#;

/// A small deterministic generator (xorshift), seeded from the clock; the seed is printed.
struct Rng(u64);

impl Rng {
    /// In `low..high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low)
    }
}

/// A daemon whose stderr is read on a thread (so it never blocks on a full pipe).
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Lines already read (waiting for the start).
    said: Vec<String>,
}

impl Running {
    /// Starts `weft daemon`; `started` waits until it says it runs. The restart limit is
    /// lifted: a run resumed at a start is often killed again (a start takes about as long as
    /// a run), and the limit is not what this test is about.
    fn start_in(data: &std::path::Path, flows: &str, started: bool) -> Running {
        let mut child = spawn_weft(
            data,
            &[
                "daemon",
                "--workflows",
                flows,
                "--listen",
                "127.0.0.1:0",
                "--restart-limit",
                "1000",
            ],
        );
        let err = child.stderr.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        let mut running = Running {
            child,
            lines,
            said: Vec::new(),
        };
        if started {
            running.said = running.wait_for("weft daemon:");
        }
        running
    }

    fn wait_for(&self, marker: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    let found = line.contains(marker);
                    seen.push(line);
                    if found {
                        return seen;
                    }
                }
                Err(_) => panic!("`{marker}` never printed:\n{}", seen.join("\n")),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_daemon_during_cron_runs_leaves_one_run_per_fire_and_no_duplicate() {
    let setup = Setup::start().await;
    setup
        .add_scopes(&[
            "write:page:confluence",
            "read:page:confluence",
            "read:space:confluence",
            "write:comment:confluence",
            "read:comment:confluence",
            "write:confluence-content",
            "read:confluence-content.summary",
        ])
        .await;
    setup.connect_acme_with_space("CHAOS", "Chaos").await;
    let flows = setup.data().join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    write(&flows, "chaos.yaml", CHAOS);
    let flows = flows.to_str().unwrap().to_string();

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("chaos seed {seed}");
    let mut rng = Rng(seed);
    let data = setup.data();
    let cycles = tokio::task::spawn_blocking(move || {
        let setup_data = data;
        let mut resumed = 0;
        for _ in 0..KILLS {
            // Killed anywhere: mostly while it runs (runs in flight, between fires), one time
            // in four while it starts and takes up what the previous one left. Waiting for it
            // to say it runs keeps the number of fires independent of how slow a start is.
            let starting = rng.between(0, 4) == 0;
            let daemon = Running::start_in(&setup_data, &flows, !starting);
            let life = if starting {
                rng.between(0, 600)
            } else {
                // Into a run: fires are on whole seconds, and a run takes a few hundred ms.
                let into_second = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_millis() as u64;
                1000 * rng.between(0, 2) + (1000 - into_second) + rng.between(20, 350)
            };
            std::thread::sleep(Duration::from_millis(life));
            let mut child = daemon.child;
            child.kill().unwrap();
            child.wait().unwrap();
            // The reader ends with the pipe: every line it printed is there.
            resumed += daemon
                .said
                .into_iter()
                .chain(daemon.lines.iter())
                .filter(|l| l.contains("taken up from the last stop"))
                .count();
        }
        // The last life: runs for a while, then stops cleanly, letting its runs finish.
        let last = Running::start_in(&setup_data, &flows, true);
        std::thread::sleep(Duration::from_millis(1500));
        let mut child = last.child;
        terminate(&child);
        let status = wait_for_exit(&mut child, Duration::from_secs(60));
        let said: Vec<String> = last.lines.iter().collect();
        assert!(status.success(), "{status:?}\n{}", said.join("\n"));
        resumed
    })
    .await
    .unwrap();
    eprintln!("{cycles} start(s) took up runs or fires left by a killed daemon");
    assert!(cycles > 0, "no kill landed in a run (seed {seed})");

    // Every recorded fire has one run, and it succeeded; there is no other run.
    let (fires, runs) = {
        let store = SledRunStore::open(&setup.data().join("runs"))
            .await
            .unwrap();
        // Fires recorded ahead of an instant a killed daemon never reached are owed nothing.
        let fires =
            weft_daemon::owed_fires(&store, "chaos", chrono::DateTime::<chrono::Utc>::MIN_UTC)
                .await
                .unwrap();
        let runs = store.list_runs(100_000).await.unwrap();
        (fires, runs)
    };
    assert!(
        fires.len() >= KILLS / 2,
        "only {} fires in the whole test",
        fires.len()
    );
    let by_id: BTreeMap<&str, _> = runs.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut expected_titles = BTreeSet::new();
    for fire in &fires {
        let id = fire.run_id.as_deref().expect("a fire names its run");
        let run = by_id.get(id).unwrap_or_else(|| {
            panic!("the fire of {} has no run (seed {seed})", fire.scheduled_at)
        });
        assert_eq!(
            run.status,
            RunStatus::Succeeded,
            "the run of the fire of {} (seed {seed}): {:?}",
            fire.scheduled_at,
            run.error
        );
        expected_titles.insert(format!("fire {}", fire.scheduled_at.to_rfc3339()));
    }
    assert_eq!(
        runs.len(),
        fires.len(),
        "one run per fire, no other (seed {seed})"
    );

    // The sandbox: one page per fire, each with one comment and one label.
    let census = write(&setup.data(), "census.yaml", CENSUS);
    let out = setup
        .weft(&["run", census.to_str().unwrap(), "--json"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    // The space's home page aside.
    let pages: Vec<&Value> = report["outputs"]["pages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["title"].as_str().is_some_and(|t| t.starts_with("fire ")))
        .collect();
    let titles: Vec<&str> = pages.iter().map(|p| p["title"].as_str().unwrap()).collect();
    let unique: BTreeSet<String> = titles.iter().map(|t| t.to_string()).collect();
    assert_eq!(unique.len(), titles.len(), "a duplicate page (seed {seed})");
    assert_eq!(unique, expected_titles, "one page per fire (seed {seed})");
    for page in pages {
        let comments = page["comments"].as_array().unwrap();
        assert_eq!(comments.len(), 1, "{page} (seed {seed})");
        assert_eq!(
            page["labels"],
            serde_json::json!(["chaos"]),
            "{page} (seed {seed})"
        );
    }
}
