//! The workflow file format, as written by authors. These types are both what the YAML is
//! deserialized into and what `weft schema` describes, so the two never drift apart.

use std::num::NonZeroU32;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::DurationSpec;
use crate::yaml::{ExactList, RawNode, Recover, Spanned};

/// A weft workflow.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(title = "weft workflow", extend("additionalProperties" = false))]
pub struct Workflow {
    /// A short name, shown in run history.
    pub name: Spanned<String>,
    /// What the workflow does, for people reading it.
    #[serde(default)]
    pub description: Option<String>,
    /// Typed inputs, given with `--input name=value` or by the trigger.
    #[serde(default)]
    pub inputs: IndexMap<String, Recover<Spanned<InputSpec>>>,
    /// Values computed once at the start of a run, available as `vars.<name>`.
    #[serde(default)]
    pub vars: IndexMap<String, RawNode>,
    /// Environment values available as `env.<name>` (on top of the process environment).
    #[serde(default)]
    pub env: IndexMap<String, RawNode>,
    /// The default connection for connector steps (`confluence.*`).
    #[serde(default)]
    pub connection: Option<Spanned<String>>,
    /// Settings this workflow reads from its connection as `connection.config.<name>`; each
    /// connection holds its own (`weft connections set NAME --config name=value`).
    #[serde(default)]
    pub connection_config: IndexMap<String, Recover<Spanned<SettingSpec>>>,
    /// What starts the workflow: `manual` (the default), `cron`, or `poll`.
    #[serde(default)]
    pub trigger: Recover<Option<Spanned<Trigger>>>,
    /// How many runs of this workflow may be active at once, and what happens to the others.
    #[serde(default)]
    pub concurrency: Recover<Option<Spanned<RunConcurrency>>>,
    /// The steps, run in file order unless `needs` says otherwise.
    pub steps: Spanned<ExactList<Recover<Box<Step>>>>,
    /// Steps run when the workflow fails (with `error` describing the failure).
    #[serde(default)]
    pub on_failure: StepList,
    /// Steps always run at the end, whatever happened.
    #[serde(default)]
    pub finally: StepList,
    /// The workflow's result, computed after the steps (returned to `workflow.call` callers).
    #[serde(default)]
    pub outputs: IndexMap<String, RawNode>,
}

/// One typed input.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct InputSpec {
    #[serde(rename = "type")]
    pub kind: Spanned<InputType>,
    /// A run without this input is refused. An input with a default is never missing.
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<Spanned<serde_json::Value>>,
    /// The only values allowed.
    #[serde(default, rename = "enum")]
    pub allowed: Option<Spanned<Vec<serde_json::Value>>>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", rename = "type")]
#[schemars(rename = "InputType")]
pub enum InputType {
    String,
    Number,
    Integer,
    Boolean,
    Object,
    Array,
}

impl InputType {
    pub fn name(self) -> &'static str {
        match self {
            InputType::String => "string",
            InputType::Number => "number",
            InputType::Integer => "integer",
            InputType::Boolean => "boolean",
            InputType::Object => "object",
            InputType::Array => "array",
        }
    }

    /// "a string", "an integer", for messages.
    pub fn with_article(self) -> String {
        match self {
            InputType::Integer | InputType::Object | InputType::Array => {
                format!("an {}", self.name())
            }
            _ => format!("a {}", self.name()),
        }
    }

    pub fn accepts(self, value: &serde_json::Value) -> bool {
        use serde_json::Value;
        match self {
            InputType::String => value.is_string(),
            InputType::Number => value.is_number(),
            InputType::Integer => value.is_i64() || value.is_u64(),
            InputType::Boolean => value.is_boolean(),
            InputType::Object => value.is_object(),
            InputType::Array => matches!(value, Value::Array(_)),
        }
    }
}

/// One setting read from the workflow's connection. Without a default, a run on a connection
/// that lacks it is refused before the first step.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct SettingSpec {
    /// The stored text is converted to this type when a run starts.
    #[serde(rename = "type")]
    pub kind: Spanned<SettingType>,
    /// Used when the connection does not hold the setting.
    #[serde(default)]
    pub default: Option<Spanned<serde_json::Value>>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", rename = "type")]
#[schemars(rename = "SettingType")]
pub enum SettingType {
    String,
    Number,
    Integer,
    Boolean,
}

impl SettingType {
    /// The input type with the same values (settings share the inputs' checks and conversion).
    pub fn input_type(self) -> InputType {
        match self {
            SettingType::String => InputType::String,
            SettingType::Number => InputType::Number,
            SettingType::Integer => InputType::Integer,
            SettingType::Boolean => InputType::Boolean,
        }
    }
}

/// What starts a workflow.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", rename = "trigger")]
#[schemars(rename = "Trigger")]
pub enum Trigger {
    /// Started by `weft run` or by a caller.
    Manual,
    /// Started on a schedule.
    Cron(CronTrigger),
    /// Started when a polling source reports new events.
    Poll(PollTrigger),
    /// Started by an HTTP request to the daemon (`POST /hooks/<workflow name>`).
    Webhook(WebhookTrigger),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct CronTrigger {
    /// Five fields (`min hour day month weekday`), six with seconds first, or `@hourly`,
    /// `@daily`, `@weekly`, `@monthly`, `@yearly`.
    pub schedule: Spanned<String>,
    /// IANA time zone the schedule is read in (`Europe/Paris`); UTC by default.
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    /// Fires missed while weft was not running: `none`, `latest` or `all` (up to `max_catch_up`).
    #[serde(default)]
    pub missed: MissedRuns,
    #[serde(default)]
    pub max_catch_up: Option<u32>,
    /// When a fire comes while the previous run is still going.
    #[serde(default)]
    pub overlap: OverlapPolicy,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", rename = "missed")]
#[schemars(rename = "MissedRuns")]
pub enum MissedRuns {
    /// Skip missed fires (logged).
    #[default]
    None,
    /// Run once for the most recent missed fire.
    Latest,
    /// Run every missed fire, oldest first, up to `max_catch_up`.
    All,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", rename = "overlap")]
#[schemars(rename = "OverlapPolicy")]
pub enum OverlapPolicy {
    /// Drop the new fire (logged).
    #[default]
    Skip,
    /// Keep at most one waiting run.
    QueueOne,
    /// Queue every fire.
    QueueAll,
    /// Cancel the running one and start the new one.
    CancelPrevious,
    /// Run side by side.
    Allow,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct PollTrigger {
    /// The polling source, such as `confluence.page_updated`.
    pub source: Spanned<String>,
    /// The source's settings.
    #[serde(default)]
    pub with: Option<RawNode>,
    /// How often to poll.
    pub interval: Spanned<DurationSpec>,
    /// The connection to poll through (defaults to the workflow's): one name, a list of names,
    /// or `all` (every connection of the source's provider, also ones added later).
    #[serde(default)]
    pub connection: Option<Spanned<PollConnections>>,
}

/// The connections a poll trigger polls through, as written.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(untagged)]
pub enum PollConnections {
    /// One connection by name, or `all`.
    One(String),
    /// Several connections by name.
    List(Vec<String>),
}

/// `connection: all` on a poll trigger: every connection of the source's provider.
pub const ALL_CONNECTIONS: &str = "all";

impl<'de> Deserialize<'de> for PollConnections {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ConnectionsVisitor;
        impl<'de> serde::de::Visitor<'de> for ConnectionsVisitor {
            type Value = PollConnections;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a connection name, a list of them, or `all`")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Self::Value, E> {
                Ok(PollConnections::One(name.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut items: A,
            ) -> Result<Self::Value, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = items.next_element::<String>()? {
                    names.push(name);
                }
                Ok(PollConnections::List(names))
            }
        }
        deserializer.deserialize_any(ConnectionsVisitor)
    }
}

/// How a webhook request proves it comes from the sender: exactly one of `secret` (an
/// HMAC-SHA256 signature of the body) or `token` (a bearer token).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct WebhookTrigger {
    /// The secret (`secrets.<name>`, from `WEFT_SECRET_<NAME>`) that signs the body: the request
    /// carries `X-Weft-Signature: sha256=<hex of HMAC-SHA256(secret, body)>`.
    #[serde(default)]
    pub secret: Option<Spanned<String>>,
    /// The secret (`secrets.<name>`) the request carries as `Authorization: Bearer <value>`.
    #[serde(default)]
    pub token: Option<Spanned<String>>,
}

/// Limits on simultaneous runs of one workflow.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct RunConcurrency {
    /// Runs allowed at once (default 1).
    #[serde(default = "one")]
    pub limit: NonZeroU32,
    /// What a run over the limit does: `queue` (default), `skip` or `cancel_previous`.
    #[serde(default)]
    pub policy: RunConcurrencyPolicy,
}

fn one() -> NonZeroU32 {
    NonZeroU32::MIN
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", rename = "concurrency.policy")]
#[schemars(rename = "RunConcurrencyPolicy")]
pub enum RunConcurrencyPolicy {
    #[default]
    Queue,
    Skip,
    CancelPrevious,
}

/// A list of steps. Each step is boxed: the list is a word a step, and a step's model is its
/// own block, allocated as its part of the YAML tree is freed (the tree's blocks are reused)
/// and freed as the step is compiled, so the model of a 100,000-step workflow is never whole
/// (a list of the steps themselves, 216 bytes each, was allocated whole beside the whole tree
/// and lived to the end of compiling).
pub type StepList = Vec<Recover<Box<Step>>>;

/// Named branches of a `parallel` step, in file order.
pub type Branches = IndexMap<String, StepList>;

/// One step. Exactly one of `uses`, `for_each` (with `steps`) or `parallel`. What few steps
/// have (`if`, `for_each`, `timeout`, `outputs`, `retry`, `parallel`, `on_error`, `steps`,
/// `name`...) is boxed and the texts are boxed strings, so the others do not pay for its room.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct Step {
    /// Unique in the workflow; other steps refer to it as `steps.<id>`.
    pub id: Spanned<Box<str>>,
    /// A display name.
    #[serde(default)]
    pub name: Option<Box<String>>,
    /// The action to run, such as `core.log` or `http.request`.
    #[serde(default)]
    pub uses: Option<Spanned<Box<str>>>,
    /// The action's inputs; strings may contain `${{ }}` expressions.
    #[serde(default)]
    pub with: Option<RawNode>,
    /// Run only when this expression is true (`${{ }}` optional).
    #[serde(default, rename = "if")]
    pub condition: Option<Box<RawNode>>,
    /// Steps that must finish first. Without `needs`, a step waits for the one above it.
    #[serde(default)]
    pub needs: Option<Box<[Spanned<String>]>>,
    /// Run `steps` once per element of this list, with `item` and `index`.
    #[serde(default)]
    pub for_each: Option<Box<RawNode>>,
    /// How many `for_each` items run at once (default 1).
    #[serde(default)]
    pub concurrency: Option<Box<Spanned<NonZeroU32>>>,
    /// The body of a `for_each`.
    #[serde(default)]
    pub steps: Option<Box<StepList>>,
    /// Named branches that run at the same time.
    #[serde(default)]
    pub parallel: Option<Box<Spanned<Branches>>>,
    /// Retry failed attempts.
    #[serde(default)]
    pub retry: Option<Box<Spanned<RetryPolicy>>>,
    /// Limit on each attempt.
    #[serde(default)]
    pub timeout: Option<Box<Spanned<DurationSpec>>>,
    /// What a failure does: `fail` (default), `continue`, or `steps: [...]` to handle it.
    #[serde(default)]
    pub on_error: Option<Box<Spanned<OnError>>>,
    /// Reshape the result: each value is computed with `output` bound to the action's result.
    #[serde(default)]
    pub outputs: Option<Box<RawNode>>,
    /// The connection for a connector step (defaults to the workflow's).
    #[serde(default)]
    pub connection: Option<Box<Spanned<String>>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct RetryPolicy {
    /// Attempts in total, the first included (at least 1).
    pub max_attempts: Spanned<NonZeroU32>,
    #[serde(default)]
    pub backoff: Backoff,
    /// Delay before the second attempt (default 1s).
    #[serde(default)]
    pub initial_delay: Option<Spanned<DurationSpec>>,
    /// Cap on any one delay (default 60s).
    #[serde(default)]
    pub max_delay: Option<DurationSpec>,
    /// Randomise each delay between half and all of it (default true).
    #[serde(default = "yes")]
    pub jitter: bool,
    /// Give up once this much time has passed since the first attempt started.
    #[serde(default)]
    pub deadline: Option<DurationSpec>,
    /// Which errors are retried (default `transient`).
    #[serde(default)]
    pub on: Option<Vec<RetryOn>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", rename = "backoff")]
#[schemars(rename = "Backoff")]
pub enum Backoff {
    Constant,
    #[default]
    Exponential,
}

/// A class of errors to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", rename = "retry.on")]
#[schemars(rename = "RetryOn")]
pub enum RetryOn {
    /// timeout, network, http_429 and http_5xx.
    Transient,
    Timeout,
    Network,
    #[serde(rename = "http_429")]
    Http429,
    #[serde(rename = "http_5xx")]
    Http5xx,
    #[serde(rename = "http_4xx")]
    Http4xx,
    /// Any error, `core.fail` included.
    Any,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", rename = "on_error")]
#[schemars(rename = "OnError")]
pub enum OnError {
    /// Fail the workflow (default).
    Fail,
    /// Record the failure and go on; later steps see `steps.<id>.status == "failed"`.
    Continue,
    /// Run these steps, with `error` describing the failure, then go on.
    Steps(StepList),
}
