//! weft's plug-in API. A connector crate depends on this crate alone: it defines actions (what a
//! step does) and polling sources (what a poll trigger checks), each one type in one file, and
//! registers them with one line each in a [`Registry`] / [`SourceCatalog`].
//!
//! An action declares a typed input struct (`serde` + `schemars`); the inputs the checker, the
//! CLI and the docs show are derived from that struct's JSON schema.

mod action;
mod catalog;
mod context;
pub mod duration;
mod effect;
mod error;
pub mod http_errors;
mod source;
mod spec;
/// The one cut of a long text (`weft-text`), here for connectors, which depend on this crate alone.
pub use weft_text as text;
mod token;

pub use action::{Action, ActionInfo, Typed, TypedAction};
pub use catalog::{Registry, RegistryError, SourceCatalog};
pub use context::{ActionContext, LogLevel, SourceContext, StepLog, WaitPolicy, WorkflowCaller};
pub use duration::DurationSpec;
pub use effect::DryRunEffect;
pub use error::{ActionError, ErrorKind};
pub use source::{
    poll_all, EventSink, PollSource, Polled, SourceInfo, SourceSpec, TypedPollSource, TypedSource,
};
pub use spec::{json_type_name, ActionSpec, FieldType, InputField, InputMismatch, IntegerRange};
pub use token::{
    is_setting_name, AccessToken, ConnectionInfo, NoTokens, TokenError, TokenProvider,
    MAX_SETTING_NAME_LEN,
};

pub use async_trait::async_trait;
pub use schemars;
