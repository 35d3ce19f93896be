//! 10,000 workflows each on a one-minute cron, in one daemon with a durable run history, on the
//! wall clock: the process's memory, its CPU while idle between two fires, the fire lag (a
//! fire's scheduled instant to its run's submission to the dispatcher, read from the daemon's
//! own `weft_cron_fire_lag_seconds` histogram, which every fire is observed in) and how late
//! the runs of a fire start (bounded by how fast the runs go: 10,000 runs at once queue for the
//! dispatcher's execution slots). In its own process (`weft-bench crons N`), so that the memory
//! is the daemon's alone; it lasts two to three minutes (two fires, on minute boundaries).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, Utc};
use weft_daemon::{Daemon, Settings, SystemClock};
use weft_engine::store::{RunStore, SledRunStore};
use weft_engine::workflow::{load_bytes, CompiledWorkflow};

use crate::Row;

/// What the child process prints, one number each, in this order.
struct Figures {
    workflows: usize,
    rss_mb: f64,
    peak_rss_mb: f64,
    idle_cpu_percent: f64,
    /// Scheduled instant → the run's submission, over every fire of both minutes.
    fire_lag_p50_ms: f64,
    fire_lag_p99_ms: f64,
    fires: usize,
    /// Scheduled instant → the run's recorded start, over every run of both fires.
    start_p50_ms: f64,
    start_p99_ms: f64,
    start_max_ms: f64,
    runs: usize,
}

pub fn ten_thousand_crons() -> Row {
    let n = 10_000;
    let exe = std::env::current_exe().expect("own path");
    let output = Command::new(&exe)
        .args(["crons", &n.to_string()])
        .output()
        .expect("run weft-bench");
    let text = String::from_utf8_lossy(&output.stdout);
    let numbers: Vec<f64> = text
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let [rss_mb, peak_rss_mb, idle_cpu_percent, fire_lag_p50_ms, fire_lag_p99_ms, fires, start_p50_ms, start_p99_ms, start_max_ms, runs] =
        numbers[..]
    else {
        panic!(
            "weft-bench crons {n} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    row(&Figures {
        workflows: n,
        rss_mb,
        peak_rss_mb,
        idle_cpu_percent,
        fire_lag_p50_ms,
        fire_lag_p99_ms,
        fires: fires as usize,
        start_p50_ms,
        start_p99_ms,
        start_max_ms,
        runs: runs as usize,
    })
}

fn row(f: &Figures) -> Row {
    Row {
        what: "daemon: 10,000 workflows each on a one-minute cron, run history on (two fires)",
        measured: format!(
            "{} workflows: RSS {:.0} MB (peak {:.0} MB), idle CPU between fires {:.2}%, fire lag (to submission) p50 {:.2} ms, p99 {:.2} ms ({} fires); run start after its fire p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} runs)",
            f.workflows, f.rss_mb, f.peak_rss_mb, f.idle_cpu_percent, f.fire_lag_p50_ms, f.fire_lag_p99_ms, f.fires, f.start_p50_ms, f.start_p99_ms, f.start_max_ms, f.runs
        ),
        target: "RSS ≤ 150 MB, idle CPU < 2%, fire lag p99 ≤ 10 ms (issue 10)",
        peer: "-",
    }
}

/// The child: runs the daemon through two fires and prints the figures.
pub async fn crons_child(n: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(
        SledRunStore::open(&dir.path().join("runs"))
            .await
            .expect("open store"),
    );
    let runtime = crate::weft();
    let engine = runtime.engine(store.clone(), Arc::new(weft_runtime::action::NoTokens));
    let workflows: Vec<Arc<CompiledWorkflow>> =
        (0..n).map(|i| compile(&engine, dir.path(), i)).collect();
    let daemon = Daemon::start(
        engine,
        store.clone(),
        Arc::new(SystemClock),
        workflows,
        Settings::default(),
    )
    .await
    .expect("the daemon starts");
    let minute = chrono::Duration::minutes(1);
    let first = Utc::now().duration_trunc(minute).expect("a minute") + minute;
    // Both fires handled and their runs ended well before the window and the end.
    sleep_until(first + chrono::Duration::seconds(25)).await;
    let (cpu_before, wall_before) = (cpu_time(), Instant::now());
    sleep_until(first + chrono::Duration::seconds(55)).await;
    let idle_cpu_percent =
        (cpu_time() - cpu_before).as_secs_f64() / wall_before.elapsed().as_secs_f64() * 100.0;
    sleep_until(first + minute + chrono::Duration::seconds(25)).await;
    let rss_mb = vm_rss_kib().unwrap_or(0) as f64 / 1024.0;
    let peak_rss_mb = crate::vm_hwm_kib().unwrap_or(0) as f64 / 1024.0;
    let fire_lags = FireLags::of(&daemon.dispatcher().metrics().encode([], []));
    daemon.shutdown(Duration::from_secs(10)).await;
    let mut lags: Vec<f64> = store
        .list_runs(3 * n)
        .await
        .expect("list runs")
        .iter()
        .filter_map(|run| {
            let scheduled = run.trigger["scheduled_at"].as_str()?;
            let scheduled = DateTime::parse_from_rfc3339(scheduled).ok()?;
            Some((run.started_at - scheduled.with_timezone(&Utc)).num_microseconds()? as f64 / 1e3)
        })
        .collect();
    lags.sort_by(f64::total_cmp);
    let at = |q: f64| lags[((lags.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{rss_mb:.1} {peak_rss_mb:.1} {idle_cpu_percent:.3} {:.3} {:.3} {} {:.2} {:.2} {:.2} {}",
        fire_lags.quantile(0.5) * 1e3,
        fire_lags.quantile(0.99) * 1e3,
        fire_lags.count,
        at(0.5),
        at(0.99),
        at(1.0),
        lags.len()
    );
}

fn compile(engine: &weft_engine::exec::Engine, dir: &Path, i: usize) -> Arc<CompiledWorkflow> {
    let yaml = format!(
        "name: cron-{i}\ntrigger:\n  cron:\n    schedule: \"* * * * *\"\nsteps:\n  - id: tick\n    uses: core.set\n    with:\n      n: {i}\n"
    );
    let path = dir.join(format!("cron-{i}.yaml"));
    match load_bytes(&path, yaml.as_bytes(), engine.catalog()) {
        Ok(loaded) => loaded.workflow,
        Err(problems) => panic!("{}", problems.render()),
    }
}

/// The cron fire lag histogram of the daemon's metrics text.
struct FireLags {
    /// Upper bound in seconds and the count of observations at or below it, ascending.
    buckets: Vec<(f64, u64)>,
    count: u64,
}

impl FireLags {
    fn of(metrics: &str) -> FireLags {
        let prefix = "weft_cron_fire_lag_seconds_bucket{le=\"";
        let buckets: Vec<(f64, u64)> = metrics
            .lines()
            .filter_map(|line| {
                let (bound, count) = line.strip_prefix(prefix)?.split_once("\"} ")?;
                let bound = if bound == "+Inf" {
                    f64::INFINITY
                } else {
                    bound.parse().ok()?
                };
                Some((bound, count.trim().parse().ok()?))
            })
            .collect();
        let count = buckets.last().map_or(0, |&(_, count)| count);
        FireLags { buckets, count }
    }

    /// The `q` quantile in seconds, interpolated linearly within its bucket as Prometheus's
    /// `histogram_quantile` does (the buckets double from 0.5 ms).
    fn quantile(&self, q: f64) -> f64 {
        let rank = q * self.count as f64;
        let (mut lower, mut below) = (0.0, 0u64);
        for &(upper, count) in &self.buckets {
            if count as f64 >= rank && count > below {
                if upper.is_infinite() {
                    return lower;
                }
                let share = (rank - below as f64) / (count - below) as f64;
                return lower + (upper - lower) * share;
            }
            (lower, below) = (upper, count);
        }
        lower
    }
}

async fn sleep_until(at: DateTime<Utc>) {
    if let Ok(wait) = (at - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
}

/// The process's CPU time, user and system (Linux; clock ticks of 1/100 s).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (in parentheses, which may hold spaces): utime is the
    // 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

fn vm_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
