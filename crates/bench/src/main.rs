//! `weft-bench`: measures the engine (and the sandbox's seeding) on this machine and prints per-operation figures next to
//! the best published peer figures and the targets.
//!
//! Build everything in release first (the validation and start-up figures time the real
//! `weft` binary next to this one):
//!
//! ```text
//! cargo build --release --workspace --bins && ./target/release/weft-bench
//! ```

mod confluence_calls;
mod crons;
mod dispatch;
mod poll;
mod webhooks;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft_engine::exec::{Engine, RunRequest};
use weft_engine::store::{RunStatus, RunStore, SledRunStore};
use weft_engine::workflow::{self, CompiledWorkflow};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// The catalogue every benchmark's engine is built from, as the CLI builds it.
fn weft() -> weft_runtime::Runtime {
    weft_runtime::Runtime::new().expect("the built-in catalogue is consistent")
}

fn load(engine: &Engine, dir: &Path, name: &str, text: &str) -> Arc<CompiledWorkflow> {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write workflow");
    load_path(engine, &path)
}

/// The workflow of file `path`, read as `weft run` reads it.
fn load_path(engine: &Engine, path: &Path) -> Arc<CompiledWorkflow> {
    match workflow::load_file(path, engine.catalog()) {
        Ok(loaded) => loaded.workflow,
        Err(problems) => panic!("benchmark workflow is invalid:\n{}", problems.render()),
    }
}

/// `steps` `core.set` steps, each reading the previous one's output, in YAML's flow style.
fn sequential_workflow(steps: usize) -> String {
    let mut text = String::from("name: sequential\nsteps:\n");
    for i in 0..steps {
        let value = if i == 0 {
            "0".to_string()
        } else {
            format!("\"${{{{ steps.s{}.output.n + 1 }}}}\"", i - 1)
        };
        text.push_str(&format!(
            "  - {{id: s{i}, uses: core.set, with: {{n: {value}}}}}\n"
        ));
    }
    text
}

/// A `for_each` over `items` numbers, 16 at a time, each item one `core.set` step.
fn loop_workflow(items: usize) -> String {
    format!(
        "name: loop\nsteps:\n  - id: each\n    for_each: ${{{{ range({items}) }}}}\n    concurrency: 16\n    steps:\n      - id: body\n        uses: core.set\n        with:\n          v: ${{{{ item }}}}\n"
    )
}

async fn run(engine: &Engine, workflow: &Arc<CompiledWorkflow>) -> Duration {
    let started = Instant::now();
    let outcome = engine.run(workflow.clone(), RunRequest::default()).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    started.elapsed()
}

struct Row {
    what: &'static str,
    measured: String,
    target: &'static str,
    peer: &'static str,
}

async fn sequential_steps(dir: &Path) -> Row {
    let store: Arc<dyn RunStore> = Arc::new(
        SledRunStore::open(&dir.join("runs"))
            .await
            .expect("open store"),
    );
    let engine = weft().engine(store, Arc::new(weft_runtime::action::NoTokens));
    let workflow = load(&engine, dir, "sequential.yaml", &sequential_workflow(1000));
    run(&engine, &workflow).await; // warm-up
    let samples: Vec<Duration> = {
        let mut v = Vec::new();
        for _ in 0..15 {
            v.push(run(&engine, &workflow).await / 1000);
        }
        v
    };
    Row {
        what: "sequential core.set step, run history on (median of 15 runs of 1,000 steps)",
        measured: format!("{:.1} µs/step", median(samples).as_secs_f64() * 1e6),
        target: "≤ 5 µs (issue 11)",
        peer: "n8n 1.26 ms; Windmill bench 30-150 ms",
    }
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// In a fresh process, so that its peak RSS is the loop's alone.
fn for_each_items() -> Row {
    let scaled = scale_in_child("loop", 10_000, 5);
    Row {
        what: "for_each over 10,000 items, concurrency 16, run history on (median of 5 processes)",
        measured: format!(
            "{:.0} ms total, {:.1} µs/item, peak RSS {:.0} MB",
            scaled.duration_micros / 1e3,
            scaled.micros_per_item,
            scaled.peak_mb
        ),
        target: "≤ 3.6 µs/item and ≤ 15 MB (issue 11)",
        peer: "n8n 0.36 ms/item",
    }
}

async fn http_calls() -> Row {
    let app =
        axum::Router::new().fallback(|| async { axum::Json(serde_json::json!({ "ok": true })) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let engine = weft().checking_engine();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = String::from("name: http\nsteps:\n");
    for i in 0..200 {
        text.push_str(&format!(
            "  - id: c{i}\n    uses: http.request\n    with:\n      url: http://{addr}/item/{i}\n"
        ));
    }
    let workflow = load(&engine, dir.path(), "http.yaml", &text);
    run(&engine, &workflow).await;
    let mut samples = Vec::new();
    for _ in 0..10 {
        samples.push(run(&engine, &workflow).await / 200);
    }
    // The same 200 GETs with the same client and no engine: what the HTTP stack alone costs.
    let mut raw = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        for i in 0..200 {
            let answer = engine
                .http
                .get(format!("http://{addr}/item/{i}"))
                .send()
                .await
                .expect("get");
            answer.bytes().await.expect("body");
        }
        raw.push(started.elapsed() / 200);
    }
    server.abort();
    let (weft, raw) = (
        median(samples).as_secs_f64() * 1e6,
        median(raw).as_secs_f64() * 1e6,
    );
    Row {
        what: "http.request GET to a local server, keep-alive (median of 10 runs of 200)",
        measured: format!(
            "{weft:.0} µs/call, of which {:.0} µs engine (the bare client: {raw:.0} µs)",
            (weft - raw).max(0.0)
        ),
        target: "≤ 12.5 µs engine share (1/100 of Luigi)",
        peer: "Luigi 1.25 ms/call",
    }
}

fn weft_binary() -> Option<PathBuf> {
    let path = std::env::current_exe().ok()?.with_file_name("weft");
    path.exists().then_some(path)
}

fn time_process(binary: &Path, args: &[&str], times: usize) -> Duration {
    let samples = (0..times)
        .map(|_| {
            let started = Instant::now();
            let status = Command::new(binary).args(args).output().expect("run weft");
            assert!(
                status.status.success(),
                "{}",
                String::from_utf8_lossy(&status.stdout)
            );
            started.elapsed()
        })
        .collect();
    median(samples)
}

fn validate_and_start(dir: &Path) -> Vec<Row> {
    let Some(binary) = weft_binary() else {
        eprintln!(
            "(skipping validate and start-up: build the weft binary in the same profile first)"
        );
        return Vec::new();
    };
    let file = dir.join("validate-500.yaml");
    std::fs::write(&file, sequential_workflow(500)).expect("write");
    let file = file.to_string_lossy().into_owned();
    let validate = time_process(&binary, &["validate", &file], 21);
    let start = time_process(&binary, &["--version"], 21);
    let empty = dir.join("empty.yaml");
    std::fs::write(&empty, sequential_workflow(1)).expect("write");
    let data = dir.join("empty-runs").to_string_lossy().into_owned();
    let empty = empty.to_string_lossy().into_owned();
    let empty_args = ["--data-dir", &data, "run", &empty];
    // Timed on a history of 300 runs, as a history in use is: opening reads and checks it.
    time_process(&binary, &empty_args, 300);
    let empty_run = time_process(&binary, &empty_args, 30);
    vec![
        Row {
            what: "whole run of a one-step workflow on a 300-run history: start, open the history, run, sync, exit (median of 30)",
            measured: format!("{:.1} ms", empty_run.as_secs_f64() * 1e3),
            target: "≤ 5 ms (issue 11)",
            peer: "-",
        },
        Row {
            what: "`weft validate` of a 500-step workflow, whole process (median of 21)",
            measured: format!("{:.1} ms", validate.as_secs_f64() * 1e3),
            target: "≤ 100 ms (issue)",
            peer: "-",
        },
        Row {
            what: "start-up: `weft --version`, whole process (median of 21)",
            measured: format!("{:.1} ms", start.as_secs_f64() * 1e3),
            target: "≤ 1.6 ms (1/100 of Luigi)",
            peer: "Luigi 0.16 s",
        },
    ]
}

async fn sandbox_seeding() -> Row {
    let config = weft_sandbox::SandboxConfig::default().without_rate_limits();
    let sandbox = weft_sandbox::Sandbox::start(config)
        .await
        .expect("start the sandbox");
    let admin = sandbox.admin();
    admin
        .create_space(None, "LOAD", "Load")
        .expect("create a space");
    let started = Instant::now();
    let ids = admin
        .seed_pages(None, "LOAD", 100_000, None)
        .expect("seed pages");
    let took = started.elapsed();
    assert_eq!(ids.len(), 100_000);
    sandbox.shutdown().await;
    Row {
        what: "sandbox: seeding 100,000 pages",
        measured: format!("{:.2} s", took.as_secs_f64()),
        target: "< 5 s (issue 3)",
        peer: "-",
    }
}

/// One run of `kind` (`seq` or `loop`) with `n` steps or items, alone in this process, with
/// run history on: prints the engine's time per step or item in µs, the process's peak RSS
/// in KiB (loading the workflow included), the engine's whole duration in µs, and the peak
/// RSS of loading and of the run alone, in KiB.
async fn scale_child(kind: &str, n: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn RunStore> = Arc::new(
        SledRunStore::open(&dir.path().join("runs"))
            .await
            .expect("open store"),
    );
    let engine = weft().engine(store, Arc::new(weft_runtime::action::NoTokens));
    let text = match kind {
        "seq" => sequential_workflow(n),
        _ => loop_workflow(n),
    };
    // Written, then dropped before loading: `weft run` holds no copy of the file's text but
    // the one it reads (100,000 steps: 8 MB).
    let path = dir.path().join("scale.yaml");
    std::fs::write(&path, text).expect("write workflow");
    let workflow = load_path(&engine, &path);
    // The peak so far is loading's; it is then set back to the RSS of the moment, so that
    // the run's own peak is known too (the process's is the higher of the two).
    let load_kib = vm_hwm_kib().unwrap_or(0);
    let run_measured = reset_vm_hwm();
    // Held here, as `weft run` holds it: freeing the workflow is not part of the run.
    let outcome = engine.run(workflow.clone(), RunRequest::default()).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    let micros = outcome.duration.as_secs_f64() * 1e6;
    let run_kib = match run_measured {
        true => vm_hwm_kib().unwrap_or(0),
        false => load_kib,
    };
    println!(
        "{} {} {micros} {load_kib} {run_kib}",
        micros / n as f64,
        load_kib.max(run_kib)
    );
}

/// Sets the process's peak RSS back to its RSS of the moment (Linux's `clear_refs`, 5).
fn reset_vm_hwm() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// What [`scale_in_child`] measured: medians of the runs, and the highest peak.
struct Scaled {
    micros_per_item: f64,
    /// The engine's whole duration of the run, in µs.
    duration_micros: f64,
    peak_mb: f64,
    /// The highest peaks while loading the workflow, and while running it.
    load_peak_mb: f64,
    run_peak_mb: f64,
}

/// Runs [`scale_child`] `times` times, each in a fresh process (peak RSS is per process).
fn scale_in_child(kind: &str, n: usize, times: usize) -> Scaled {
    let exe = std::env::current_exe().expect("own path");
    let mut durations = Vec::new();
    let (mut peak_kib, mut load_kib, mut run_kib) = (0.0f64, 0.0f64, 0.0f64);
    for _ in 0..times {
        let output = Command::new(&exe)
            .args(["scale", kind, &n.to_string()])
            .output()
            .expect("run weft-bench");
        let text = String::from_utf8_lossy(&output.stdout);
        // The child prints µs per item, peak KiB, the whole duration in µs, and the peaks of
        // loading and of the run in KiB; the first is the third divided by `n`.
        let fields: Vec<f64> = text
            .split_whitespace()
            .map_while(|f| f.parse().ok())
            .collect();
        match fields[..] {
            [_, kib, micros, load, run] => {
                durations.push(Duration::from_secs_f64(micros / 1e6));
                peak_kib = peak_kib.max(kib);
                load_kib = load_kib.max(load);
                run_kib = run_kib.max(run);
            }
            _ => panic!(
                "weft-bench scale {kind} {n} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }
    let duration_micros = median(durations).as_secs_f64() * 1e6;
    Scaled {
        micros_per_item: duration_micros / n as f64,
        duration_micros,
        peak_mb: peak_kib / 1024.0,
        load_peak_mb: load_kib / 1024.0,
        run_peak_mb: run_kib / 1024.0,
    }
}

/// How the cost per step and per item, and the memory, change with size. Two costs a step:
/// the run's duration divided by the count (the run's fixed part, opening the run and its
/// final sync, included), and the part beyond the fixed cost, (duration(N) - duration(1)) /
/// (N - 1), where duration(1) is the same workflow with one step or item.
fn scaling_table() -> String {
    let mut table = String::from(
        "| workload (run history on) | size | µs per step or item | µs per step or item beyond the run's fixed cost | peak RSS (loading / run) |\n|---|---|---|---|---|\n",
    );
    let mut fixed_costs = Vec::new();
    // 100,000 steps is about the most one workflow file may hold (16 MiB).
    let cases = [
        (
            "seq",
            "sequential `core.set` steps",
            &[100, 1_000, 10_000, 100_000][..],
        ),
        (
            "loop",
            "`for_each` items, concurrency 16",
            &[100, 1_000, 10_000, 100_000, 1_000_000][..],
        ),
    ];
    for (kind, what, sizes) in cases {
        let fixed = scale_in_child(kind, 1, 5).duration_micros;
        fixed_costs.push(format!("{what}: {:.2} ms", fixed / 1e3));
        for &n in sizes {
            let times = if n <= 10_000 { 5 } else { 1 };
            let scaled = scale_in_child(kind, n, times);
            let beyond = (scaled.duration_micros - fixed) / (n - 1) as f64;
            table.push_str(&format!(
                "| {what} | {n} | {:.1} | {beyond:.1} | {:.1} MB ({:.1} / {:.1}) |\n",
                scaled.micros_per_item, scaled.peak_mb, scaled.load_peak_mb, scaled.run_peak_mb
            ));
        }
    }
    table.push_str(&format!(
        "\nThe run's fixed cost (its duration with one step or item, median of 5): {}\n",
        fixed_costs.join("; ")
    ));
    table
}

fn print_row(row: &Row) {
    println!(
        "| {} | {} | {} | {} |",
        row.what, row.measured, row.target, row.peer
    );
}

fn main() {
    // As `weft` does: the figures are those of its process.
    weft_runtime::limit_malloc_arenas();
    weft_runtime::keep_big_blocks_mapped();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("start the async runtime")
        .block_on(scenarios());
}

async fn scenarios() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // One scenario alone: `weft-bench webhooks|dispatch|crons|only confluence-calls|poll|start-up|scale`
    // (crons takes minutes); `crons N` and `scale KIND N` are the children those measure.
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args[..] {
        ["webhooks"] => return print_row(&webhooks::webhook_runs().await),
        ["dispatch"] => {
            let dir = tempfile::tempdir().expect("tempdir");
            return dispatch::trivial_runs(dir.path())
                .await
                .iter()
                .for_each(print_row);
        }
        ["crons"] => return print_row(&crons::ten_thousand_crons()),
        ["crons", n] => {
            return crons::crons_child(n.parse().expect("a number of workflows")).await;
        }
        ["scale", kind, n] => {
            return scale_child(kind, n.parse().expect("a number of steps or items")).await;
        }
        ["only", "confluence-calls"] => return print_row(&confluence_calls::overhead().await),
        ["only", "poll"] => return print_row(&poll::poll_new_pages().await),
        ["only", "start-up"] => {
            let dir = tempfile::tempdir().expect("tempdir");
            return validate_and_start(dir.path()).iter().for_each(print_row);
        }
        ["only", "scale"] => return println!("{}", scaling_table()),
        ["only", other] => {
            panic!("no scenario {other:?}: confluence-calls, poll, start-up or scale")
        }
        _ => {}
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rows = vec![sequential_steps(dir.path()).await, http_calls().await];
    rows.push(confluence_calls::overhead().await);
    rows.extend(validate_and_start(dir.path()));
    rows.push(for_each_items());
    rows.push(sandbox_seeding().await);
    // Its peak memory is reset first: it covers the poll only.
    rows.push(poll::poll_new_pages().await);
    rows.push(webhooks::webhook_runs().await);
    rows.extend(dispatch::trivial_runs(dir.path()).await);
    rows.push(crons::ten_thousand_crons());
    println!("| scenario | weft | target | best peer |\n|---|---|---|---|");
    rows.iter().for_each(print_row);
    println!("\n{}", scaling_table());
}
