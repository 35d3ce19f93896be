//! Poll triggers: each workflow's `trigger: poll` is polled on its interval through each of its
//! connections, one task per (workflow, connection). A poll saves a run owed per new event,
//! a batch at a time with the old cursor, and submits each batch's runs to the dispatcher with
//! their ids fixed while it goes on ([`poll_owing`]); the cursor moves after the last batch:
//! an event becomes one run, also across crashes, restarts and polls failing midway.
//!
//! `connection: all` polls every connection of the source's provider; the list is read again
//! every interval, so a connection added later is polled without a restart. Repeated poll
//! errors back off exponentially (bounded). A connection whose token cannot be had for good
//! (refresh refused, connection deleted) pauses its polls until its token works again, and says
//! so once in the log and in [`PollStatus`], which the API shows; polls are timed and their
//! failures counted in the daemon's metrics.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use weft_action::TokenError;
use weft_engine::exec::Redactor;
use weft_engine::store::TriggerStore;
use weft_engine::trigger::poll_owing;
use weft_engine::workflow::{CompiledWorkflow, PollPlan, PollTargets, TriggerPlan};

use crate::clock::{reach, Clock};
use crate::dispatch::{Dispatcher, Submission, SubmitError, Submitted, TriggerKind};

/// The longest wait between two polls of a failing connection, unless its interval is longer.
const LONGEST_BACKOFF: Duration = Duration::from_secs(15 * 60);

/// Polls are spread over the first `1 / SPREAD` of their interval.
const SPREAD: u32 = 10;

/// The longest error text kept for the API: a source's error can quote a whole response.
const MAX_ERROR_CHARS: usize = 1000;

/// Where one polled connection of one workflow stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum PollState {
    /// Polling on its interval.
    Polling,
    /// The last `failures` polls failed: the next one waits longer.
    BackingOff { failures: u32 },
    /// The connection's token cannot be had until it is reconnected: no polls until then.
    NeedsReconnect {
        since: DateTime<Utc>,
        reason: String,
    },
}

/// One polled connection of one workflow, as the API and metrics show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PollTargetStatus {
    /// Shown under its workflow: not repeated.
    #[serde(skip)]
    pub workflow: String,
    pub connection: String,
    #[serde(flatten)]
    pub state: PollState,
    pub last_poll: Option<DateTime<Utc>>,
    /// When it polls next (backing off: the next attempt; needs reconnect: when the connection
    /// is checked again). `None` before its first round ends.
    pub next_poll: Option<DateTime<Utc>>,
    /// Runs submitted for events since the daemon started.
    pub runs_submitted: u64,
    /// Failed polls since the daemon started.
    pub errors: u64,
    /// Why the latest failed poll failed (kept once polls work again), secrets masked.
    pub last_error: Option<String>,
}

/// The state of every polled connection, shared with the API. Cheap to clone.
#[derive(Clone)]
pub struct PollStatus {
    targets: Arc<RwLock<BTreeMap<(String, String), PollTargetStatus>>>,
    /// Poll rounds finished (a poll, or a check of a paused connection), for waiters.
    rounds: watch::Sender<u64>,
}

impl Default for PollStatus {
    fn default() -> Self {
        PollStatus {
            targets: Arc::default(),
            rounds: watch::Sender::new(0),
        }
    }
}

impl PollStatus {
    /// Every polled connection, by workflow then connection.
    pub fn all(&self) -> Vec<PollTargetStatus> {
        self.targets.read().values().cloned().collect()
    }

    pub fn get(&self, workflow: &str, connection: &str) -> Option<PollTargetStatus> {
        let key = (workflow.to_string(), connection.to_string());
        self.targets.read().get(&key).cloned()
    }

    /// The polled connections of one workflow, by connection.
    pub fn of_workflow(&self, workflow: &str) -> Vec<PollTargetStatus> {
        let from = (workflow.to_string(), String::new());
        self.targets
            .read()
            .range(from..)
            .take_while(|((w, _), _)| w == workflow)
            .map(|(_, status)| status.clone())
            .collect()
    }

    /// The workflows whose polls each connection paused until it is reconnected, by connection.
    pub fn paused_by_connection(&self) -> BTreeMap<String, Vec<String>> {
        let mut paused: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for ((workflow, connection), status) in self.targets.read().iter() {
            if matches!(status.state, PollState::NeedsReconnect { .. }) {
                paused
                    .entry(connection.clone())
                    .or_default()
                    .push(workflow.clone());
            }
        }
        paused
    }

    /// Resolves once `rounds` poll rounds have finished since the daemon started.
    pub async fn rounds_done(&self, rounds: u64) {
        let _ = self
            .rounds
            .subscribe()
            .wait_for(|done| *done >= rounds)
            .await;
    }

    /// Poll rounds finished since the daemon started.
    pub fn rounds(&self) -> u64 {
        *self.rounds.borrow()
    }

    fn update(&self, workflow: &str, connection: &str, change: impl FnOnce(&mut PollTargetStatus)) {
        let key = (workflow.to_string(), connection.to_string());
        let mut targets = self.targets.write();
        let status = targets.entry(key).or_insert_with(|| PollTargetStatus {
            workflow: workflow.to_string(),
            connection: connection.to_string(),
            state: PollState::Polling,
            last_poll: None,
            next_poll: None,
            runs_submitted: 0,
            errors: 0,
            last_error: None,
        });
        change(status);
    }

    fn forget(&self, workflow: &str, connection: Option<&str>) {
        self.targets
            .write()
            .retain(|(w, c), _| w != workflow || connection.is_some_and(|keep| keep != c));
    }

    fn round_done(&self) {
        self.rounds.send_modify(|rounds| *rounds += 1);
    }
}

/// What the poll tasks share.
struct Shared {
    dispatcher: Dispatcher,
    triggers: Arc<dyn TriggerStore>,
    clock: Arc<dyn Clock>,
    status: PollStatus,
    tasks: TaskTracker,
    /// Masks the daemon's secrets in the errors kept for the API.
    redactor: Redactor,
}

impl Shared {
    /// An error as the API shows it: its causes, secrets masked, bounded.
    fn word(&self, error: &(dyn std::error::Error + 'static)) -> String {
        bounded(
            self.redactor
                .text(&weft_action::http_errors::describe_error_chain(error)),
        )
    }
}

/// `text` cut after [`MAX_ERROR_CHARS`] characters.
fn bounded(text: String) -> String {
    weft_action::text::shorten(&text, MAX_ERROR_CHARS).into_owned()
}

/// The running poll triggers. Workflows are added, replaced and removed while it runs.
pub(crate) struct Poller {
    shared: Arc<Shared>,
    /// The poll tasks of each workflow, stopped together.
    workflows: Mutex<HashMap<String, CancellationToken>>,
    stop: CancellationToken,
}

impl Poller {
    /// `redactor` masks the secrets the runs get, which a poll's error could quote.
    pub fn new(
        dispatcher: Dispatcher,
        triggers: Arc<dyn TriggerStore>,
        clock: Arc<dyn Clock>,
        redactor: Redactor,
    ) -> Self {
        Poller {
            shared: Arc::new(Shared {
                dispatcher,
                triggers,
                clock,
                status: PollStatus::default(),
                tasks: TaskTracker::new(),
                redactor,
            }),
            workflows: Mutex::new(HashMap::new()),
            stop: CancellationToken::new(),
        }
    }

    pub fn status(&self) -> &PollStatus {
        &self.shared.status
    }

    /// Starts polling `workflow`, or polls its new version instead of the old one (same file,
    /// same cursors). A workflow without a poll trigger stops being polled.
    pub fn set(&self, workflow: Arc<CompiledWorkflow>) {
        self.remove(&workflow.name);
        let TriggerPlan::Poll(plan) = &workflow.trigger else {
            return;
        };
        let stop = self.stop.child_token();
        self.workflows
            .lock()
            .insert(workflow.name.clone(), stop.clone());
        let targets = match &plan.connections {
            PollTargets::All => None,
            PollTargets::Named(names) if names.is_empty() => {
                Some(workflow.connection.iter().cloned().collect::<Vec<_>>())
            }
            PollTargets::Named(names) => Some(names.clone()),
        };
        match targets {
            Some(connections) => {
                if connections.is_empty() {
                    tracing::warn!(workflow = %workflow.name, "the poll trigger has no connection: not polled");
                }
                for connection in connections {
                    spawn_target(
                        &self.shared,
                        workflow.clone(),
                        connection,
                        stop.child_token(),
                    );
                }
            }
            None => {
                let shared = self.shared.clone();
                self.shared
                    .tasks
                    .spawn(poll_all_connections(shared, workflow, stop));
            }
        }
    }

    /// Stops polling a workflow; runs going finish.
    pub fn remove(&self, name: &str) {
        if let Some(stop) = self.workflows.lock().remove(name) {
            stop.cancel();
            self.shared.status.forget(name, None);
        }
    }

    /// Stops every poll and waits for the polls going to end.
    pub async fn stop(&self) {
        self.stop.cancel();
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
    }
}

fn spawn_target(
    shared: &Arc<Shared>,
    workflow: Arc<CompiledWorkflow>,
    connection: String,
    stop: CancellationToken,
) {
    let target = Target {
        shared: shared.clone(),
        workflow,
        connection,
        submitted: HashSet::new(),
        settled: HashSet::new(),
        failures: 0,
        needs_reconnect: false,
    };
    shared.tasks.spawn(target.run(stop));
}

fn plan(workflow: &CompiledWorkflow) -> Option<&PollPlan> {
    match &workflow.trigger {
        TriggerPlan::Poll(plan) => Some(plan),
        TriggerPlan::Manual | TriggerPlan::Cron(_) | TriggerPlan::Webhook(_) => None,
    }
}

/// The provider of a polling source: its name up to the first dot (`confluence.page_created`
/// → `confluence`).
fn provider_of(source: &str) -> &str {
    source.split('.').next().unwrap_or(source)
}

/// `connection: all`: polls every connection of the source's provider, reading the list
/// again every interval.
async fn poll_all_connections(
    shared: Arc<Shared>,
    workflow: Arc<CompiledWorkflow>,
    stop: CancellationToken,
) {
    let Some(plan) = plan(&workflow) else {
        return;
    };
    let provider = provider_of(&plan.source).to_string();
    let mut polled: HashMap<String, CancellationToken> = HashMap::new();
    let mut listing_failed = false;
    loop {
        let tokens = shared.dispatcher.engine().tokens.clone();
        match tokens.connections(&provider).await {
            Ok(names) => {
                listing_failed = false;
                let names: HashSet<String> = names.into_iter().collect();
                polled.retain(|name, task| {
                    let keep = names.contains(name);
                    if !keep {
                        tracing::info!(workflow = %workflow.name, "connection `{name}` is gone: no longer polled");
                        task.cancel();
                        shared.status.forget(&workflow.name, Some(name));
                    }
                    keep
                });
                for name in names {
                    if let std::collections::hash_map::Entry::Vacant(slot) =
                        polled.entry(name.clone())
                    {
                        tracing::info!(workflow = %workflow.name, "polling connection `{name}`");
                        let task = stop.child_token();
                        spawn_target(&shared, workflow.clone(), name, task.clone());
                        slot.insert(task);
                    }
                }
            }
            // Said once; the connections polled so far go on.
            Err(e) if !listing_failed => {
                listing_failed = true;
                tracing::error!(workflow = %workflow.name, "{}", weft_action::http_errors::describe_error_chain(&e));
            }
            Err(_) => {}
        }
        let next = shared.clock.now() + chrono_duration(plan.interval);
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = reach(shared.clock.as_ref(), next) => {}
        }
    }
}

/// One workflow polled through one connection.
struct Target {
    shared: Arc<Shared>,
    workflow: Arc<CompiledWorkflow>,
    connection: String,
    /// Owed runs submitted by this process (a queued one is owed until it starts).
    submitted: HashSet<String>,
    /// Owed runs whose submission was refused or dropped since the last poll: no longer owed.
    settled: HashSet<String>,
    /// Polls failed in a row.
    failures: u32,
    needs_reconnect: bool,
}

impl Target {
    async fn run(mut self, stop: CancellationToken) {
        let Some(interval) = plan(&self.workflow).map(|plan| plan.interval) else {
            return;
        };
        // The first poll comes at once (it also submits the runs a stopped daemon owed), later
        // ones at a fixed offset into the interval, so triggers of one interval do not poll
        // together.
        let spread = self.spread(interval);
        // When the round starting was due (none for the first).
        let mut due = None;
        loop {
            // Stopping does not wait for a poll going: a poll cut short has saved the runs
            // owed for what it delivered (with the old cursor, or with the new one after its
            // last batch), which the next start submits.
            let wait = tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                wait = self.round(interval, due) => wait,
            };
            let next = self.shared.clock.now() + chrono_duration(wait + spread);
            // A target stopped is forgotten by whoever stopped it: not written again.
            if stop.is_cancelled() {
                return;
            }
            self.shared
                .status
                .update(&self.workflow.name, &self.connection, |status| {
                    status.next_poll = Some(next);
                });
            self.shared.status.round_done();
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                _ = reach(self.shared.clock.as_ref(), next) => {}
            }
            due = Some(next);
        }
    }

    fn spread(&self, interval: Duration) -> Duration {
        let mut hasher = DefaultHasher::new();
        (&self.workflow.name, &self.connection).hash(&mut hasher);
        let slot = interval / SPREAD;
        let nanos = u64::try_from(slot.as_nanos()).unwrap_or(u64::MAX).max(1);
        Duration::from_nanos(hasher.finish() % nanos)
    }

    /// One round: checks the connection, polls, submits the owed runs. Says how long to wait
    /// before the next one. `due`: when it was due, to measure how late the poll starts.
    async fn round(&mut self, interval: Duration, due: Option<DateTime<Utc>>) -> Duration {
        let lag = due.map(|due| (self.shared.clock.now() - due).to_std().unwrap_or_default());
        let name = self.workflow.name.clone();
        let paused = self
            .shared
            .dispatcher
            .workflows()
            .get(&name)
            .is_none_or(|entry| entry.paused());
        if paused {
            // The cursor stays: events while paused are delivered after resuming.
            return interval;
        }
        if !self.connection_usable().await {
            return interval;
        }
        if let Some(lag) = lag {
            self.shared.dispatcher.metrics().poll_started(lag);
        }
        let shared = self.shared.clone();
        let (workflow, connection) = (self.workflow.clone(), self.connection.clone());
        let settled = std::mem::take(&mut self.settled);
        // Each owed run is submitted as soon as it is saved, while the poll goes on.
        let mut submitted = 0;
        let polled = poll_owing(
            shared.dispatcher.engine(),
            shared.triggers.as_ref(),
            &workflow,
            &connection,
            &settled,
            &mut |run| {
                if !self.submitted.contains(&run.run_id) && self.submit(run.run_id, run.event) {
                    submitted += 1;
                }
            },
        )
        .await;
        let now = self.shared.clock.now();
        self.shared
            .status
            .update(&name, &self.connection, |status| {
                status.runs_submitted += submitted;
            });
        match polled {
            Ok(report) => {
                if self.failures > 0 {
                    tracing::info!(workflow = %name, connection = %self.connection, "polling works again after {} failure(s)", self.failures);
                }
                self.failures = 0;
                self.submitted.retain(|id| report.owed.contains(id));
                self.shared
                    .status
                    .update(&name, &self.connection, |status| {
                        status.state = PollState::Polling;
                        status.last_poll = Some(now);
                    });
                interval
            }
            Err(error) => {
                // The runs settled this round stay settled, with those settled during it.
                self.settled.extend(settled);
                self.failures = self.failures.saturating_add(1);
                let wait = backoff(interval, self.failures);
                self.shared.dispatcher.metrics().poll_failed(&name);
                let error = self.shared.word(&error);
                if self.failures == 1 {
                    tracing::warn!(workflow = %name, connection = %self.connection, "poll failed: {error}");
                } else {
                    tracing::debug!(workflow = %name, connection = %self.connection, "poll failed again ({}): {error}", self.failures);
                }
                let failures = self.failures;
                self.shared
                    .status
                    .update(&name, &self.connection, |status| {
                        status.state = PollState::BackingOff { failures };
                        status.last_poll = Some(now);
                        status.errors += 1;
                        status.last_error = Some(error);
                    });
                wait
            }
        }
    }

    /// Whether the connection's token can be had; a connection that needs reconnecting is
    /// reported once when it starts to, and once when it works again.
    async fn connection_usable(&mut self) -> bool {
        let tokens = self.shared.dispatcher.engine().tokens.clone();
        let refused = match tokens.access_token(&self.connection).await {
            Err(
                error @ TokenError::Failed {
                    transient: false, ..
                },
            ) => Some(self.shared.word(&error)),
            // A source without connections has no token to get; a passing failure is the
            // poll's to report.
            Ok(_) | Err(_) => None,
        };
        let name = &self.workflow.name;
        match refused {
            Some(reason) => {
                if !self.needs_reconnect {
                    self.needs_reconnect = true;
                    tracing::warn!(workflow = %name, connection = %self.connection, "polls paused until the connection is reconnected: {reason}");
                    let since = self.shared.clock.now();
                    self.shared.status.update(name, &self.connection, |status| {
                        status.state = PollState::NeedsReconnect { since, reason };
                    });
                }
                false
            }
            None => {
                if self.needs_reconnect {
                    self.needs_reconnect = false;
                    tracing::info!(workflow = %name, connection = %self.connection, "the connection works again: polls resume");
                    self.shared.status.update(name, &self.connection, |status| {
                        status.state = PollState::Polling;
                    });
                }
                true
            }
        }
    }

    /// Submits one owed run; true when it started or waits to start.
    fn submit(&mut self, run_id: String, event: serde_json::Value) -> bool {
        let name = &self.workflow.name;
        let submission = Submission {
            run_id: Some(run_id.clone()),
            connection: Some(self.connection.clone()),
            ..Submission::new(TriggerKind::Poll, event)
        };
        match self.shared.dispatcher.submit(name, submission) {
            Ok(Submitted::Started { .. } | Submitted::Queued { .. }) => {
                self.submitted.insert(run_id);
                true
            }
            Ok(Submitted::Dropped { reason, .. }) => {
                tracing::warn!(workflow = %name, "an event of connection `{}` is not run: {}", self.connection, reason.describe());
                self.settled.insert(run_id);
                false
            }
            // Still owed: the next start of the daemon submits it.
            Err(SubmitError::Stopping) => false,
            Err(e @ (SubmitError::Paused(_) | SubmitError::UnknownWorkflow(_))) => {
                tracing::warn!(workflow = %name, "an event of connection `{}` is not run: {e}", self.connection);
                self.settled.insert(run_id);
                false
            }
        }
    }
}

/// The wait after `failures` polls failed in a row: the interval, doubled per failure after
/// the first, up to [`LONGEST_BACKOFF`] (or the interval when it is longer).
fn backoff(interval: Duration, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    let longest = LONGEST_BACKOFF.max(interval);
    interval
        .checked_mul(1 << doublings)
        .map_or(longest, |wait| wait.min(longest))
}

fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_interval_and_is_bounded() {
        let minute = Duration::from_secs(60);
        assert_eq!(backoff(minute, 1), minute);
        assert_eq!(backoff(minute, 2), minute * 2);
        assert_eq!(backoff(minute, 4), minute * 8);
        assert_eq!(backoff(minute, 10), LONGEST_BACKOFF);
        assert_eq!(backoff(minute, u32::MAX), LONGEST_BACKOFF);
        let day = Duration::from_secs(86_400);
        assert_eq!(
            backoff(day, 3),
            day,
            "an interval longer than the bound is kept"
        );
    }

    #[test]
    fn a_long_error_is_cut_between_characters() {
        let short = "é".repeat(MAX_ERROR_CHARS);
        assert_eq!(bounded(short.clone()), short);
        let long = "é".repeat(MAX_ERROR_CHARS + 1);
        assert_eq!(bounded(long), format!("{short}…"));
    }

    #[test]
    fn the_provider_is_the_source_name_up_to_its_first_dot() {
        assert_eq!(provider_of("confluence.page_created"), "confluence");
        assert_eq!(provider_of("plain"), "plain");
    }
}
