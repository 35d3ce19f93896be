//! What `weft scopes` needs from the engine: the actions a workflow uses and their scopes.

use std::path::Path;

use weft_engine::exec::Engine;
use weft_engine::workflow::{self, StepKind, TriggerPlan};

use crate::auth_commands::WorkflowScopes;

pub struct EngineScopes<'a> {
    pub engine: &'a Engine,
}

impl WorkflowScopes for EngineScopes<'_> {
    fn actions_in(&self, file: &Path) -> Result<Vec<String>, String> {
        let loaded = workflow::load_file(file, self.engine.catalog())
            .map_err(|problems| problems.render())?;
        let mut names: Vec<String> = loaded
            .workflow
            .all_steps()
            .into_iter()
            .filter_map(|step| match &step.kind {
                StepKind::Action { action, .. } => Some(action.spec().name.to_string()),
                _ => None,
            })
            .collect();
        if let TriggerPlan::Poll(poll) = &loaded.workflow.trigger {
            names.push(poll.source.clone());
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn scopes_of(&self, action: &str) -> Option<&'static [&'static str]> {
        match self.engine.registry.get(action) {
            Some(found) => Some(found.spec().scopes),
            None => self.engine.sources.spec(action).map(|source| source.scopes),
        }
    }
}
