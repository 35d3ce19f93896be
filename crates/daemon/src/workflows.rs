//! The workflows a daemon runs, by name: each with its gate (overlap and concurrency) and a
//! paused flag. Every trigger kind starts runs through this one set, so a workflow's
//! concurrency limit holds across its cron fires, poll events, webhooks and API calls.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use weft_engine::workflow::model::OverlapPolicy;
use weft_engine::workflow::{CompiledWorkflow, TriggerPlan};

use crate::dispatch::Pending;
use crate::gate::Gate;

/// One workflow of the set.
pub struct WorkflowEntry {
    pub workflow: Arc<CompiledWorkflow>,
    /// Shared by every version of the workflow loaded since its first: runs of a version
    /// replaced by a reload still count against the limit of the version after it.
    pub(crate) gate: Arc<Mutex<Gate<Pending>>>,
    paused: AtomicBool,
}

impl WorkflowEntry {
    fn new(workflow: Arc<CompiledWorkflow>) -> Self {
        WorkflowEntry {
            gate: Arc::new(Mutex::new(Gate::new(
                overlap(&workflow),
                workflow.concurrency.as_ref(),
            ))),
            workflow,
            paused: AtomicBool::new(false),
        }
    }

    /// A paused workflow's triggers start nothing; runs going go on.
    pub fn paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }
}

/// `overlap` is a cron setting; runs started otherwise are limited by `concurrency` alone.
fn overlap(workflow: &CompiledWorkflow) -> OverlapPolicy {
    match &workflow.trigger {
        TriggerPlan::Cron(plan) => plan.overlap,
        TriggerPlan::Manual | TriggerPlan::Poll(_) | TriggerPlan::Webhook(_) => {
            OverlapPolicy::Allow
        }
    }
}

/// The workflows of a daemon by name. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct WorkflowSet {
    entries: Arc<RwLock<BTreeMap<String, Arc<WorkflowEntry>>>>,
    /// Counts the workflows inserted and removed: an entry looked up when it read some count
    /// is still the current one while the count is the same (a batch made ahead checks it).
    changes: Arc<AtomicU64>,
}

impl WorkflowSet {
    pub fn new(workflows: impl IntoIterator<Item = Arc<CompiledWorkflow>>) -> Self {
        let set = WorkflowSet::default();
        for workflow in workflows {
            set.insert(workflow);
        }
        set
    }

    /// Adds a workflow or replaces the one of the same name, keeping its paused flag and its
    /// gate (with the new version's limits): runs of the replaced version finish under the
    /// version they started with, and hold their places at the gate until they end.
    pub fn insert(&self, workflow: Arc<CompiledWorkflow>) -> Arc<WorkflowEntry> {
        let mut entries = self.entries.write();
        let entry = match entries.get(&workflow.name) {
            Some(previous) => {
                previous
                    .gate
                    .lock()
                    .reconfigure(overlap(&workflow), workflow.concurrency.as_ref());
                WorkflowEntry {
                    gate: previous.gate.clone(),
                    paused: AtomicBool::new(previous.paused()),
                    workflow,
                }
            }
            None => WorkflowEntry::new(workflow),
        };
        let entry = Arc::new(entry);
        entries.insert(entry.workflow.name.clone(), entry.clone());
        self.changes.fetch_add(1, Ordering::Release);
        entry
    }

    /// How many times a workflow was inserted or removed (see `changes`).
    pub(crate) fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    /// The version of `entry`'s workflow running now: the one a run waiting at its gate starts
    /// on. `entry` itself when its workflow was removed since.
    pub(crate) fn current(&self, entry: &Arc<WorkflowEntry>) -> Arc<WorkflowEntry> {
        self.get(&entry.workflow.name)
            .filter(|now| Arc::ptr_eq(&now.gate, &entry.gate))
            .unwrap_or_else(|| entry.clone())
    }

    /// Removes a workflow (its file was deleted); runs going finish.
    pub fn remove(&self, name: &str) -> Option<Arc<WorkflowEntry>> {
        let mut entries = self.entries.write();
        self.changes.fetch_add(1, Ordering::Release);
        entries.remove(name)
    }

    pub fn get(&self, name: &str) -> Option<Arc<WorkflowEntry>> {
        self.entries.read().get(name).cloned()
    }

    /// Every workflow, by name.
    pub fn all(&self) -> Vec<Arc<WorkflowEntry>> {
        self.entries.read().values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.entries.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.read().is_empty()
    }

    /// Pauses or resumes a workflow; false when there is none of that name.
    pub fn set_paused(&self, name: &str, paused: bool) -> bool {
        match self.get(name) {
            Some(entry) => {
                entry.paused.store(paused, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
}
