//! Polling sources (`trigger: poll: source: ...`): what a poll trigger checks every `interval`.

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::RegistryError;
use crate::context::SourceContext;
use crate::error::ActionError;
use crate::spec::{InputField, InputShape};

/// A source as the checker, the CLI and the docs see it.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// The `with:` settings of the trigger.
    pub settings: Vec<InputField>,
    /// A JSON example of one event (`trigger` in the workflow), used by dry runs.
    pub event_example: &'static str,
    pub scopes: &'static [&'static str],
}

/// What one poll found: new events, oldest first, and the cursor to poll from next time.
#[derive(Debug, Clone, PartialEq)]
pub struct Polled {
    pub events: Vec<Value>,
    pub cursor: Value,
}

/// What the engine (the daemon) calls.
#[async_trait]
pub trait PollSource: Send + Sync + 'static {
    fn spec(&self) -> &SourceSpec;

    /// Events since `cursor` (`None` on the first poll) and the next cursor.
    async fn poll(
        &self,
        settings: &Value,
        cursor: Option<&Value>,
        ctx: &SourceContext<'_>,
    ) -> Result<Polled, ActionError>;
}

/// What a source is, apart from its settings (which come from [`TypedPollSource::Settings`]).
#[derive(Debug, Clone, Copy)]
pub struct SourceInfo {
    pub name: &'static str,
    pub description: &'static str,
    pub event_example: &'static str,
    pub scopes: &'static [&'static str],
}

/// A polling source with typed settings and cursor.
#[async_trait]
pub trait TypedPollSource: Send + Sync + 'static {
    type Settings: DeserializeOwned + schemars::JsonSchema + Send + Sync;
    type Cursor: Serialize + DeserializeOwned + Send + Sync;

    const INFO: SourceInfo;

    async fn poll(
        &self,
        settings: Self::Settings,
        cursor: Option<Self::Cursor>,
        ctx: &SourceContext<'_>,
    ) -> Result<(Vec<Value>, Self::Cursor), ActionError>;
}

/// A [`TypedPollSource`] as a [`PollSource`].
pub struct TypedSource<S: TypedPollSource> {
    source: S,
    spec: SourceSpec,
}

impl<S: TypedPollSource> TypedSource<S> {
    pub fn new(source: S) -> Result<Self, RegistryError> {
        let info = S::INFO;
        let shape = InputShape::of::<S::Settings>()
            .ok_or(RegistryError::InputsNotAnObject { action: info.name })?;
        Ok(TypedSource {
            source,
            spec: SourceSpec {
                name: info.name,
                description: info.description,
                settings: shape.fields,
                event_example: info.event_example,
                scopes: info.scopes,
            },
        })
    }
}

#[async_trait]
impl<S: TypedPollSource> PollSource for TypedSource<S> {
    fn spec(&self) -> &SourceSpec {
        &self.spec
    }

    async fn poll(
        &self,
        settings: &Value,
        cursor: Option<&Value>,
        ctx: &SourceContext<'_>,
    ) -> Result<Polled, ActionError> {
        let invalid = |what: &str, e: serde_json::Error| {
            ActionError::invalid_input(format!("{what} of `{}`: {e}", self.spec.name))
        };
        let settings = S::Settings::deserialize(settings).map_err(|e| invalid("settings", e))?;
        let cursor = cursor
            .map(S::Cursor::deserialize)
            .transpose()
            .map_err(|e| invalid("cursor", e))?;
        let (events, cursor) = self.source.poll(settings, cursor, ctx).await?;
        let cursor = serde_json::to_value(cursor).map_err(|e| invalid("new cursor", e))?;
        Ok(Polled { events, cursor })
    }
}
