use std::borrow::Cow;

use compact_str::CompactString;

use crate::diagnostic::Span;

/// A YAML value with the place it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// `quoted` strings and block scalars keep their text even when it looks like a number.
    /// Keys and short values (`id`, `uses`, `core.set`: most of a workflow's scalars) are held
    /// inline, without an allocation each.
    Str {
        value: CompactString,
        quoted: bool,
        /// How much of the value is written as is from the scalar's start on its line (no
        /// escape, no folded line break, no block indicator before it): byte offsets below
        /// this map to columns, which is where an expression's error is pointed at; others
        /// point at the scalar's start. 0: none (a block scalar, a tagged one).
        exact: u32,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The YAML type name used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a number",
            NodeKind::Str { .. } => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Plain JSON, dropping positions (for values handed to actions as literals).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Int(i) => Value::from(*i),
            NodeKind::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            NodeKind::Str { value, .. } => Value::String(value.to_string()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.key_text(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// A mapping key as text (keys that are numbers or booleans are written as such).
    pub fn key_text(&self) -> String {
        self.key_str().into_owned()
    }

    /// [`key_text`](Self::key_text) without copying a text key: keys are compared once per key
    /// of every mapping while loading.
    pub(super) fn key_str(&self) -> Cow<'_, str> {
        match &self.kind {
            NodeKind::Str { value, .. } => Cow::Borrowed(value),
            NodeKind::Int(i) => Cow::Owned(i.to_string()),
            NodeKind::Float(f) => Cow::Owned(f.to_string()),
            NodeKind::Bool(b) => Cow::Owned(b.to_string()),
            NodeKind::Null => Cow::Borrowed("null"),
            NodeKind::Seq(_) | NodeKind::Map(_) => Cow::Borrowed(""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree holds every value of a workflow until the model is built (issue 11: a 10,000-step
    /// file is about 90,000 nodes): nine of these a step of the benchmark's workflow.
    #[test]
    fn nodes_stay_small() {
        assert!(size_of::<Node>() <= 48, "{}", size_of::<Node>());
        // `id`, `uses`, `core.set`, a step id: held inline.
        let short = CompactString::from(String::from("a_step_id_of_24_chars_xx"));
        assert!(!short.is_heap_allocated());
    }
}
