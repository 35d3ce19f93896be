//! Every action and polling source a process knows, by name. A name is registered once.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::action::{Action, Typed, TypedAction};
use crate::source::{PollSource, SourceSpec, TypedPollSource, TypedSource};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("two {kind}s are named `{name}`")]
    Duplicate { kind: &'static str, name: String },
}

#[derive(Clone, Default)]
pub struct Registry {
    actions: BTreeMap<&'static str, Arc<dyn Action>>,
}

impl Registry {
    /// Adds a typed action: `registry.add(MyAction)?`.
    pub fn add<A: TypedAction>(&mut self, action: A) -> Result<(), RegistryError> {
        self.register(Arc::new(Typed::new(action)))
    }

    /// Adds an action; a second action with the same name is refused.
    pub fn register(&mut self, action: Arc<dyn Action>) -> Result<(), RegistryError> {
        let name = action.name();
        if self.actions.contains_key(name) {
            return Err(RegistryError::Duplicate {
                kind: "action",
                name: name.to_string(),
            });
        }
        self.actions.insert(name, action);
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Action>> {
        self.actions.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + Clone + '_ {
        self.actions.keys().copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Action>> {
        self.actions.values()
    }
}

#[derive(Clone, Default)]
pub struct SourceCatalog {
    sources: BTreeMap<&'static str, Arc<dyn PollSource>>,
}

impl SourceCatalog {
    /// Adds a typed source: `sources.add(MySource)?`.
    pub fn add<S: TypedPollSource>(&mut self, source: S) -> Result<(), RegistryError> {
        self.register(Arc::new(TypedSource::new(source)))
    }

    /// Adds a source; a second source with the same name is refused.
    pub fn register(&mut self, source: Arc<dyn PollSource>) -> Result<(), RegistryError> {
        let name = source.name();
        if self.sources.contains_key(name) {
            return Err(RegistryError::Duplicate {
                kind: "polling source",
                name: name.to_string(),
            });
        }
        self.sources.insert(name, source);
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn PollSource>> {
        self.sources.get(name)
    }

    pub fn spec(&self, name: &str) -> Option<&SourceSpec> {
        self.get(name).map(|source| source.spec())
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + Clone + '_ {
        self.sources.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::{ActionContext, ActionError, ActionInfo, EventSink, SourceContext, SourceInfo};

    struct Echo;

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    struct EchoInput {
        /// What to return.
        text: String,
    }

    #[async_trait::async_trait]
    impl TypedAction for Echo {
        type Input = EchoInput;
        const INFO: ActionInfo = ActionInfo {
            name: "test.echo",
            description: "Returns its text.",
            output_description: "The text.",
            output_example: r#"{"text": "hi"}"#,
            writes: false,
            scopes: &[],
        };

        async fn run(
            &self,
            input: EchoInput,
            _ctx: &ActionContext<'_>,
        ) -> Result<Value, ActionError> {
            Ok(json!({ "text": input.text }))
        }
    }

    struct Ticks;

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    struct NoSettings {}

    #[async_trait::async_trait]
    impl TypedPollSource for Ticks {
        type Settings = NoSettings;
        type Cursor = u64;
        const INFO: SourceInfo = SourceInfo {
            name: "test.ticks",
            description: "Counts.",
            event_example: "{}",
            scopes: &[],
        };

        async fn poll(
            &self,
            _settings: NoSettings,
            cursor: Option<u64>,
            _ctx: &SourceContext<'_>,
            events: &EventSink,
        ) -> Result<u64, ActionError> {
            let next = cursor.unwrap_or(0) + 1;
            events.deliver(json!({ "tick": next })).await?;
            Ok(next)
        }
    }

    #[test]
    fn a_second_action_with_the_same_name_is_refused() {
        let mut registry = Registry::default();
        registry.add(Echo).unwrap();
        assert_eq!(
            registry.add(Echo),
            Err(RegistryError::Duplicate {
                kind: "action",
                name: "test.echo".into()
            })
        );
        assert_eq!(registry.names().collect::<Vec<_>>(), ["test.echo"]);
        let spec = registry.get("test.echo").unwrap().spec();
        assert_eq!(spec.inputs[0].name, "text");
        assert_eq!(spec.inputs[0].description, "What to return.");
    }

    #[test]
    fn a_second_source_with_the_same_name_is_refused() {
        let mut sources = SourceCatalog::default();
        sources.add(Ticks).unwrap();
        assert_eq!(
            sources.add(Ticks).unwrap_err().to_string(),
            "two polling sources are named `test.ticks`"
        );
    }

    #[tokio::test]
    async fn a_typed_source_reads_and_returns_its_cursor() {
        let mut sources = SourceCatalog::default();
        sources.add(Ticks).unwrap();
        let http = reqwest::Client::new();
        let cancel = tokio_util::sync::CancellationToken::new();
        let ctx = SourceContext {
            source: "test.ticks",
            connection: None,
            http: &http,
            tokens: &crate::NoTokens,
            cancel: &cancel,
        };
        let source = sources.get("test.ticks").unwrap();
        let polled = crate::poll_all(source.as_ref(), &json!({}), Some(&json!(41)), &ctx)
            .await
            .unwrap();
        assert_eq!(polled.cursor, json!(42));
        assert_eq!(polled.events, [json!({ "tick": 42 })]);
        let error = crate::poll_all(source.as_ref(), &json!({}), Some(&json!("x")), &ctx)
            .await
            .unwrap_err();
        assert!(error.message.contains("cursor of `test.ticks`"), "{error}");
        // A consumer that stopped taking events stops the source.
        let (sink, received) = EventSink::bounded(1);
        drop(received);
        let error = source
            .poll(&json!({}), None, &ctx, &sink)
            .await
            .unwrap_err();
        assert_eq!(error.kind, crate::ErrorKind::Cancelled, "{error}");
    }
}
