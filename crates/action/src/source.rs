//! Polling sources (`trigger: poll: source: ...`): what a poll trigger checks every `interval`.

use std::sync::OnceLock;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::context::SourceContext;
use crate::error::{ActionError, ErrorKind};
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

/// What one poll found, collected: new events, oldest first, and the cursor to poll from next
/// time (see [`poll_all`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Polled {
    pub events: Vec<Value>,
    pub cursor: Value,
}

/// Where a source hands the events it finds, oldest first, as it finds them. Handing one over
/// waits while the consumer is busy with earlier ones (recording their runs), so a poll holds a
/// bounded number of events however many it finds.
pub struct EventSink {
    sender: mpsc::Sender<Value>,
}

impl EventSink {
    /// A sink that holds at most `ahead` events the consumer has not taken yet (at least one),
    /// and the consumer's end. The consumer's end yields `None` once the sink is dropped.
    pub fn bounded(ahead: usize) -> (EventSink, mpsc::Receiver<Value>) {
        let (sender, receiver) = mpsc::channel(ahead.max(1));
        (EventSink { sender }, receiver)
    }

    /// Hands `event` over; fails when the consumer stopped taking events (its poll failed), and
    /// the source should then stop.
    pub async fn deliver(&self, event: Value) -> Result<(), ActionError> {
        self.sender
            .send(event)
            .await
            .map_err(|_| ActionError::new(ErrorKind::Cancelled, "the poll stopped taking events"))
    }
}

/// What the engine (the daemon) calls.
#[async_trait]
pub trait PollSource: Send + Sync + 'static {
    fn spec(&self) -> &SourceSpec;

    /// The name it is registered under; cheaper than `spec().name` where the spec is built on
    /// first use (see [`TypedSource`]).
    fn name(&self) -> &'static str {
        self.spec().name
    }

    /// Hands the events since `cursor` (`None` on the first poll) to `events`, oldest first,
    /// and returns the next cursor. Events handed over before a failure may have been acted
    /// on: the caller keeps the old cursor and de-duplicates them on the next poll.
    async fn poll(
        &self,
        settings: &Value,
        cursor: Option<&Value>,
        ctx: &SourceContext<'_>,
        events: &EventSink,
    ) -> Result<Value, ActionError>;
}

/// How many events [`poll_all`] lets a source get ahead of the collecting.
const COLLECT_AHEAD: usize = 64;

/// One poll of `source` with every event collected: for previews, and for callers that store
/// the events themselves.
pub async fn poll_all(
    source: &dyn PollSource,
    settings: &Value,
    cursor: Option<&Value>,
    ctx: &SourceContext<'_>,
) -> Result<Polled, ActionError> {
    let (sink, mut received) = EventSink::bounded(COLLECT_AHEAD);
    let polling = async move {
        // The sink goes when the poll ends, which ends the collecting.
        let sink = sink;
        source.poll(settings, cursor, ctx, &sink).await
    };
    let collecting = async {
        let mut events = Vec::new();
        while let Some(event) = received.recv().await {
            events.push(event);
        }
        events
    };
    let (cursor, events) = tokio::join!(polling, collecting);
    Ok(Polled {
        events,
        cursor: cursor?,
    })
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
    /// A struct or a map, as [`crate::TypedAction::Input`].
    type Settings: DeserializeOwned + schemars::JsonSchema + Send + Sync;
    type Cursor: Serialize + DeserializeOwned + Send + Sync;

    const INFO: SourceInfo;

    /// As [`PollSource::poll`], with settings and cursor typed.
    async fn poll(
        &self,
        settings: Self::Settings,
        cursor: Option<Self::Cursor>,
        ctx: &SourceContext<'_>,
        events: &EventSink,
    ) -> Result<Self::Cursor, ActionError>;
}

/// A [`TypedPollSource`] as a [`PollSource`].
pub struct TypedSource<S: TypedPollSource> {
    source: S,
    /// Built on first use, as [`crate::Typed`]'s spec.
    spec: OnceLock<SourceSpec>,
}

impl<S: TypedPollSource> TypedSource<S> {
    pub fn new(source: S) -> Self {
        TypedSource {
            source,
            spec: OnceLock::new(),
        }
    }
}

#[async_trait]
impl<S: TypedPollSource> PollSource for TypedSource<S> {
    fn spec(&self) -> &SourceSpec {
        self.spec.get_or_init(|| {
            let info = S::INFO;
            SourceSpec {
                name: info.name,
                description: info.description,
                settings: InputShape::of::<S::Settings>().fields,
                event_example: info.event_example,
                scopes: info.scopes,
            }
        })
    }

    fn name(&self) -> &'static str {
        S::INFO.name
    }

    async fn poll(
        &self,
        settings: &Value,
        cursor: Option<&Value>,
        ctx: &SourceContext<'_>,
        events: &EventSink,
    ) -> Result<Value, ActionError> {
        let invalid = |what: &str, e: serde_json::Error| {
            ActionError::invalid_input(format!("{what} of `{}`: {e}", S::INFO.name))
        };
        let settings = S::Settings::deserialize(settings).map_err(|e| invalid("settings", e))?;
        let cursor = cursor
            .map(S::Cursor::deserialize)
            .transpose()
            .map_err(|e| invalid("cursor", e))?;
        let cursor = self.source.poll(settings, cursor, ctx, events).await?;
        serde_json::to_value(cursor).map_err(|e| invalid("new cursor", e))
    }
}
