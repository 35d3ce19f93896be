//! Polling sources (`trigger: poll: source: ...`), registered by connector crates.

use std::collections::BTreeMap;

use crate::actions::InputField;

/// A source of events that a poll trigger checks every `interval`.
#[derive(Debug, Clone, Copy)]
pub struct PollSource {
    pub name: &'static str,
    pub description: &'static str,
    pub config: &'static [InputField],
    /// A JSON example of one event (`trigger` in the workflow), used by dry runs.
    pub event_example: &'static str,
    pub scopes: &'static [&'static str],
}

#[derive(Debug, Clone, Default)]
pub struct SourceCatalog {
    sources: BTreeMap<&'static str, PollSource>,
}

impl SourceCatalog {
    pub fn register(&mut self, source: PollSource) {
        self.sources.insert(source.name, source);
    }

    pub fn get(&self, name: &str) -> Option<&PollSource> {
        self.sources.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + Clone + '_ {
        self.sources.keys().copied()
    }
}
