//! The daemon's metrics, one registry every component reports to: the dispatcher (runs, steps,
//! waiting submissions), the cron scheduler (fire lag), the poller (poll lag and errors) and
//! the token manager (refreshes). `GET /metrics` encodes them in the OpenMetrics text format,
//! which Prometheus reads.
//!
//! Labels stay few on purpose: a daemon runs thousands of workflows, so histograms carry no
//! workflow label (each would be a dozen series per workflow); counters do.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use weft_engine::exec::{RunEvent, RunObserver};
use weft_engine::store::{RunStatus, StepStatus};

/// What `GET /metrics` answers with.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    workflow: String,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkflowLabel {
    workflow: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabel {
    connection: String,
}

/// Seconds from 1 ms to about 4.4 hours (each bucket four times the previous).
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 4.0, 12))
}

/// Seconds from 0.5 ms to about 2 minutes: lags are small when all is well.
fn lag_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

/// The daemon's metrics. Shared as `Arc<Metrics>`; every method takes `&self`.
pub struct Metrics {
    registry: Registry,
    runs_ended: Family<RunLabels, Counter>,
    runs_going: Gauge,
    step_seconds: Family<StatusLabel, Histogram, fn() -> Histogram>,
    waiting: Family<WorkflowLabel, Gauge>,
    fire_lag_seconds: Histogram,
    poll_lag_seconds: Histogram,
    poll_errors: Family<WorkflowLabel, Counter>,
    paused_targets: Family<ConnectionLabel, Gauge>,
    token_refreshes: Family<ConnectionLabel, Counter>,
    token_refresh_failures: Family<ConnectionLabel, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let runs_ended = Family::default();
        registry.register(
            "weft_runs",
            "Runs that ended, by workflow and status",
            runs_ended.clone(),
        );
        let runs_going = Gauge::default();
        registry.register("weft_runs_going", "Runs going now", runs_going.clone());
        let step_seconds =
            Family::<StatusLabel, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            );
        registry.register(
            "weft_step_duration_seconds",
            "How long steps took (every attempt included), by the step's status",
            step_seconds.clone(),
        );
        let waiting = Family::default();
        registry.register(
            "weft_queue_depth",
            "Runs submitted and waiting for their workflow's gate (overlap, concurrency), by workflow",
            waiting.clone(),
        );
        let fire_lag_seconds = lag_histogram();
        registry.register(
            "weft_cron_fire_lag_seconds",
            "From a cron fire's scheduled instant to its run's submission",
            fire_lag_seconds.clone(),
        );
        let poll_lag_seconds = lag_histogram();
        registry.register(
            "weft_poll_lag_seconds",
            "From a poll's due instant to its start",
            poll_lag_seconds.clone(),
        );
        let poll_errors = Family::default();
        registry.register(
            "weft_poll_errors",
            "Polls that failed, by workflow",
            poll_errors.clone(),
        );
        let paused_targets = Family::default();
        registry.register(
            "weft_poll_targets_paused",
            "Poll triggers paused until their connection is reconnected, by connection",
            paused_targets.clone(),
        );
        let token_refreshes = Family::default();
        registry.register(
            "weft_token_refreshes",
            "Access tokens refreshed, by connection",
            token_refreshes.clone(),
        );
        let token_refresh_failures = Family::default();
        registry.register(
            "weft_token_refresh_failures",
            "Token refreshes that failed, by connection",
            token_refresh_failures.clone(),
        );
        Metrics {
            registry,
            runs_ended,
            runs_going,
            step_seconds,
            waiting,
            fire_lag_seconds,
            poll_lag_seconds,
            poll_errors,
            paused_targets,
            token_refreshes,
            token_refresh_failures,
        }
    }

    pub(crate) fn run_started(&self) {
        self.runs_going.inc();
    }

    /// `count` runs started at once (a batch of submissions).
    pub(crate) fn runs_started(&self, count: usize) {
        self.runs_going.inc_by(count as i64);
    }

    /// A run counted as started could not be resumed: it is no longer going.
    pub(crate) fn run_not_resumed(&self) {
        self.runs_going.dec();
    }

    /// A run is no longer going: it ended, or it was parked on a stored wait (`Waiting`),
    /// which is counted as ended only once it resumes and really ends.
    pub(crate) fn run_ended(&self, workflow: &str, status: RunStatus) {
        self.runs_going.dec();
        if status.is_finished() {
            self.run_closed(workflow, status);
        }
    }

    /// A run that was not going ended (a waiting run cancelled).
    pub(crate) fn run_closed(&self, workflow: &str, status: RunStatus) {
        self.runs_ended
            .get_or_create(&RunLabels {
                workflow: workflow.to_string(),
                status: status.as_str(),
            })
            .inc();
    }

    fn step_finished(&self, status: StepStatus, duration: Duration) {
        self.step_seconds
            .get_or_create(&StatusLabel {
                status: status.as_str(),
            })
            .observe(duration.as_secs_f64());
    }

    /// A cron fire submitted `lag` after its scheduled instant.
    pub fn fire_submitted(&self, lag: Duration) {
        self.fire_lag_seconds.observe(lag.as_secs_f64());
    }

    /// A poll started `lag` after it was due.
    pub fn poll_started(&self, lag: Duration) {
        self.poll_lag_seconds.observe(lag.as_secs_f64());
    }

    pub fn poll_failed(&self, workflow: &str) {
        self.poll_errors
            .get_or_create(&WorkflowLabel {
                workflow: workflow.to_string(),
            })
            .inc();
    }

    pub fn token_refreshed(&self, connection: &str) {
        self.token_refreshes
            .get_or_create(&ConnectionLabel {
                connection: connection.to_string(),
            })
            .inc();
    }

    pub fn token_refresh_failed(&self, connection: &str) {
        self.token_refresh_failures
            .get_or_create(&ConnectionLabel {
                connection: connection.to_string(),
            })
            .inc();
    }

    /// The text of every metric, with what is read at scrape time (a workflow or connection
    /// gone since is no longer listed): `waiting`, each workflow's count of waiting
    /// submissions; `paused`, each connection's count of poll triggers it paused.
    pub fn encode(
        &self,
        waiting: impl IntoIterator<Item = (String, usize)>,
        paused: impl IntoIterator<Item = (String, usize)>,
    ) -> String {
        self.waiting.clear();
        for (workflow, count) in waiting {
            self.waiting
                .get_or_create(&WorkflowLabel { workflow })
                .set(gauge_value(count));
        }
        self.paused_targets.clear();
        for (connection, count) in paused {
            self.paused_targets
                .get_or_create(&ConnectionLabel { connection })
                .set(gauge_value(count));
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

fn gauge_value(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// Step durations, from the engine's run events. It wants progress events, which the engine
/// delivers once a step's record is synced: steps are timed as they are recorded.
pub(crate) struct StepTimer {
    pub metrics: std::sync::Arc<Metrics>,
    /// The observer the engine had (its events go on to it).
    pub next: std::sync::Arc<dyn RunObserver>,
}

impl RunObserver for StepTimer {
    fn on_event(&self, event: &RunEvent<'_>) {
        if let RunEvent::StepFinished {
            status, duration, ..
        } = event
        {
            self.metrics.step_finished(*status, *duration);
        }
        self.next.on_event(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Review: a run parked on a stored wait left `weft_runs_going` and was counted in
    /// `weft_runs_total` as `status="waiting"`, then again when it really ended.
    #[test]
    fn a_run_parked_on_a_wait_is_not_counted_as_ended() {
        let metrics = Metrics::new();
        metrics.run_started();
        metrics.run_ended("sleepy", RunStatus::Waiting);
        metrics.run_started();
        metrics.run_ended("sleepy", RunStatus::Succeeded);
        let text = metrics.encode([], []);
        assert!(!text.contains(r#"status="waiting""#), "{text}");
        assert!(
            text.contains(r#"weft_runs_total{workflow="sleepy",status="succeeded"} 1"#),
            "{text}"
        );
        assert!(text.contains("weft_runs_going 0"), "{text}");
    }

    #[test]
    fn every_metric_is_in_the_text_with_its_labels_escaped() {
        let metrics = Metrics::new();
        metrics.run_started();
        metrics.run_started();
        metrics.run_ended("nightly \"report\"", RunStatus::Failed);
        metrics.step_finished(StepStatus::Succeeded, Duration::from_millis(3));
        metrics.fire_submitted(Duration::from_millis(2));
        metrics.poll_started(Duration::from_millis(1));
        metrics.poll_failed("inbox");
        metrics.token_refreshed("acme");
        metrics.token_refresh_failed("acme");
        let text = metrics.encode([("nightly".to_string(), 3)], [("acme".to_string(), 2)]);
        for line in [
            r#"weft_runs_total{workflow="nightly \"report\"",status="failed"} 1"#,
            "weft_runs_going 1",
            r#"weft_step_duration_seconds_count{status="succeeded"} 1"#,
            r#"weft_step_duration_seconds_bucket{le="0.004",status="succeeded"} 1"#,
            r#"weft_queue_depth{workflow="nightly"} 3"#,
            "weft_cron_fire_lag_seconds_count 1",
            "weft_poll_lag_seconds_count 1",
            r#"weft_poll_errors_total{workflow="inbox"} 1"#,
            r#"weft_token_refreshes_total{connection="acme"} 1"#,
            r#"weft_token_refresh_failures_total{connection="acme"} 1"#,
            r#"weft_poll_targets_paused{connection="acme"} 2"#,
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }

    #[test]
    fn a_workflow_or_connection_gone_since_the_last_scrape_is_no_longer_listed() {
        let metrics = Metrics::new();
        metrics.encode(
            [("a".to_string(), 1), ("b".to_string(), 2)],
            [("acme".to_string(), 1)],
        );
        let text = metrics.encode([("b".to_string(), 0)], []);
        assert!(!text.contains(r#"workflow="a""#), "{text}");
        assert!(!text.contains(r#"connection="acme""#), "{text}");
        assert!(
            text.contains(r#"weft_queue_depth{workflow="b"} 0"#),
            "{text}"
        );
    }
}
