//! The workflows a daemon runs, by name: each with its gate (overlap and concurrency) and a
//! paused flag. Every trigger kind starts runs through this one set, so a workflow's
//! concurrency limit holds across its cron fires, poll events, webhooks and API calls.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use weft_engine::workflow::model::OverlapPolicy;
use weft_engine::workflow::{CompiledWorkflow, TriggerPlan};

use crate::dispatch::Pending;
use crate::gate::Gate;

/// One workflow of the set.
pub struct WorkflowEntry {
    pub workflow: Arc<CompiledWorkflow>,
    pub(crate) gate: Mutex<Gate<Pending>>,
    paused: AtomicBool,
}

impl WorkflowEntry {
    fn new(workflow: Arc<CompiledWorkflow>) -> Self {
        // `overlap` is a cron setting; runs started otherwise are limited by `concurrency` alone.
        let overlap = match &workflow.trigger {
            TriggerPlan::Cron(plan) => plan.overlap,
            TriggerPlan::Manual | TriggerPlan::Poll(_) | TriggerPlan::Webhook(_) => {
                OverlapPolicy::Allow
            }
        };
        WorkflowEntry {
            gate: Mutex::new(Gate::new(overlap, workflow.concurrency.as_ref())),
            workflow,
            paused: AtomicBool::new(false),
        }
    }

    /// A paused workflow's triggers start nothing; runs going go on.
    pub fn paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }
}

/// The workflows of a daemon by name. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct WorkflowSet {
    entries: Arc<RwLock<BTreeMap<String, Arc<WorkflowEntry>>>>,
}

impl WorkflowSet {
    pub fn new(workflows: impl IntoIterator<Item = Arc<CompiledWorkflow>>) -> Self {
        let set = WorkflowSet::default();
        for workflow in workflows {
            set.insert(workflow);
        }
        set
    }

    /// Adds a workflow or replaces the one of the same name, keeping its paused flag. Runs of
    /// the replaced version finish under the version they started with.
    pub fn insert(&self, workflow: Arc<CompiledWorkflow>) -> Arc<WorkflowEntry> {
        let mut entries = self.entries.write();
        let entry = Arc::new(WorkflowEntry::new(workflow));
        if let Some(previous) = entries.get(&entry.workflow.name) {
            entry
                .paused
                .store(previous.paused(), std::sync::atomic::Ordering::Relaxed);
        }
        entries.insert(entry.workflow.name.clone(), entry.clone());
        entry
    }

    /// Removes a workflow (its file was deleted); runs going finish.
    pub fn remove(&self, name: &str) -> Option<Arc<WorkflowEntry>> {
        self.entries.write().remove(name)
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
