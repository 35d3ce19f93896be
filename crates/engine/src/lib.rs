//! weft's engine: the YAML workflow language (parsed with positions, checked, compiled), the
//! executor, the durable run history and triggers. It never talks to a provider directly:
//! connectors plug in as actions and polling sources.

pub mod actions;
pub mod bounded_file;
pub mod diagnostic;
pub mod exec;
pub mod store;
pub mod trigger;
pub mod workflow;
pub mod yaml;

pub use weft_action::duration;
pub use weft_expr as expr;
