//! What an action would do, shown by `weft run --dry-run` instead of doing it.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DryRunEffect {
    /// Local computation only.
    Local { summary: String },
    /// An HTTP request, exactly as it would be sent.
    Http {
        method: String,
        url: String,
        headers: BTreeMap<String, String>,
        body: Option<String>,
        writes: bool,
    },
    /// Another workflow would run.
    Workflow { path: String },
}
