//! A serde `Deserializer` over [`Node`]: every error it raises carries the position of the value
//! (or key) at fault, and unknown keys are collected with a "did you mean" instead of aborting.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use compact_str::CompactString;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use super::load::yaml11_bool_help;
use super::node::{Node, NodeKind};
use super::spanned::{RAW_NAME, RECOVER_NAME, SPANNED_NAME, SPAN_FIELD, VALUE_FIELD};
use crate::diagnostic::{suggestion, Diagnostic, Span};

thread_local! {
    /// Problems that did not stop deserialization (unknown keys, recovered list items).
    static RECOVERED: RefCell<Vec<Diagnostic>> = const { RefCell::new(Vec::new()) };
    /// The problems in `RECOVERED`, to find a repeat without searching the list (a file
    /// of 300,000 bad steps has 300,000 problems).
    static RECORDED: RefCell<HashSet<Diagnostic>> = RefCell::new(HashSet::new());
    /// Hands a subtree to [`RawNode`](super::RawNode), which serde cannot pass by value.
    pub(super) static RAW: RefCell<Option<Node>> = const { RefCell::new(None) };
}

/// Where a subtree stood before it was moved into the model (by [`RawNode`](super::RawNode) or
/// [`Recover`](super::Recover)): no value is written on line 0. Moving instead of copying lets
/// each step's part of the tree go as soon as its model is built. Only a deserialization after
/// pruning meets one again; the subtree's problems were recorded the first time.
pub(super) const TAKEN: Span = Span {
    line: 0,
    col: 0,
    len: 0,
};

/// Moves the subtree at `node` out of the tree, leaving a [`TAKEN`] null behind.
fn take(node: &mut Node) -> Node {
    std::mem::replace(
        node,
        Node {
            kind: NodeKind::Null,
            span: TAKEN,
        },
    )
}

/// Records a problem once (a subtree deserialized again after pruning repeats its own).
pub(super) fn record_recovered(diagnostic: Diagnostic) {
    let new = RECORDED.with(|seen| seen.borrow_mut().insert(diagnostic.clone()));
    if new {
        RECOVERED.with(|r| r.borrow_mut().push(diagnostic));
    }
}

/// How many more problems one subtree may report after its first.
const MAX_PRUNES: usize = 100;

/// Deserializes `T` from `node`. When that fails, the error is recorded and `T` is tried again
/// without the mapping entry or list item at fault, and so on, so every problem of the subtree
/// is reported instead of only the first. `None` when there was any.
pub(super) fn recovering<T: DeserializeOwned>(mut node: Node) -> Option<T> {
    let mut error = match T::deserialize(NodeDe { node: &mut node }) {
        Ok(value) => return Some(value),
        Err(e) => e.diagnostic,
    };
    let pruned = &mut node;
    // Entries taken out, as (span of their mapping, key): their absence is no new problem.
    let mut removed: Vec<(Span, String)> = Vec::new();
    for _ in 0..MAX_PRUNES {
        let consequence = removed.iter().any(|(map, key)| {
            Some(*map) == error.span && error.message == missing_key_message(key)
        });
        if !consequence {
            record_recovered(error.clone());
        }
        let Some(span) = error.span else { break };
        if !remove_holder(pruned, span, &mut removed) {
            break;
        }
        error = match T::deserialize(NodeDe { node: pruned }) {
            Ok(_) => break,
            Err(e) => e.diagnostic,
        };
    }
    None
}

/// Removes the innermost mapping entry or list item whose value was written at `span` (an
/// error at a mapping's first key is about the mapping: a mapping's span is its first key's).
fn remove_holder(node: &mut Node, span: Span, removed: &mut Vec<(Span, String)>) -> bool {
    let map_span = node.span;
    match &mut node.kind {
        NodeKind::Map(entries) => {
            for i in 0..entries.len() {
                if remove_holder(&mut entries[i].1, span, removed) {
                    return true;
                }
                if entries[i].1.span == span {
                    removed.push((map_span, entries[i].0.key_text()));
                    entries.remove(i);
                    return true;
                }
            }
            false
        }
        NodeKind::Seq(items) => {
            for i in 0..items.len() {
                if remove_holder(&mut items[i], span, removed) {
                    return true;
                }
                if items[i].span == span {
                    items.remove(i);
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

fn missing_key_message(field: &str) -> String {
    format!("missing required key `{field}`")
}

/// Deserializes `T` from a node, moving the parts it keeps (`RawNode`s) out of the tree.
/// Problems that did not stop it (unknown keys, list items left out) come with the value, so
/// later checks can still report theirs.
pub fn from_node<T: DeserializeOwned>(node: Node) -> (Option<T>, Vec<Diagnostic>) {
    RECOVERED.with(|r| r.borrow_mut().clear());
    RECORDED.with(|seen| seen.borrow_mut().clear());
    let result = recovering(node);
    let problems = RECOVERED.with(|r| std::mem::take(&mut *r.borrow_mut()));
    RECORDED.with(|seen| std::mem::take(&mut *seen.borrow_mut()));
    RAW.with(|r| r.borrow_mut().take());
    (result, problems)
}

#[derive(Debug)]
pub struct DeError {
    pub diagnostic: Diagnostic,
}

impl DeError {
    fn new(message: String, help: Option<String>) -> Self {
        DeError {
            diagnostic: Diagnostic::error(message, None).with_optional_help(help),
        }
    }

    fn at(mut self, span: Span) -> Self {
        if self.diagnostic.span.is_none() {
            self.diagnostic.span = Some(span);
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for DeError {}

fn describe(unexpected: de::Unexpected<'_>) -> String {
    use de::Unexpected::*;
    match unexpected {
        Str(s) => format!("the text `{s}`"),
        Signed(i) => format!("the integer {i}"),
        Unsigned(u) => format!("the integer {u}"),
        Float(f) => format!("the number {f}"),
        Bool(b) => format!("`{b}`"),
        Unit => "null".to_string(),
        Seq => "a list".to_string(),
        Map => "a mapping".to_string(),
        other => other.to_string(),
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(msg.to_string(), None)
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let expected = plain_expected(exp);
        let help = match unexp {
            de::Unexpected::Str(text) if expected == "a boolean" => yaml11_bool_help(text),
            _ => None,
        };
        DeError::new(
            format!("expected {expected}, found {}", describe(unexp)),
            help,
        )
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(
            format!(
                "{} is not allowed here: expected {}",
                describe(unexp),
                plain_expected(exp)
            ),
            None,
        )
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::new(
            format!("unknown value `{variant}`"),
            suggestion(variant, expected.iter().copied()),
        )
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError::new(
            format!("unknown key `{field}`"),
            suggestion(field, expected.iter().copied()),
        )
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::new(missing_key_message(field), None)
    }
}

/// serde names Rust types ("u32"); authors read the range they may write.
fn plain_expected(exp: &dyn de::Expected) -> String {
    let text = exp.to_string();
    match text.as_str() {
        "u32" => "a whole number from 0 to 4294967295".to_string(),
        "a nonzero u32" => "a whole number from 1 to 4294967295".to_string(),
        "u8" | "u16" | "u64" | "usize" => "a whole number from 0".to_string(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_string(),
        "f32" | "f64" => "a number".to_string(),
        _ => text,
    }
}

/// Turns a type name such as `RetryPolicy` into "retry policy" for messages.
fn noun(type_name: &str) -> String {
    let mut out = String::new();
    for (i, c) in type_name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// Reads the tree in place; only [`RawNode`](super::RawNode) and [`Recover`](super::Recover)
/// change it, taking their subtree.
pub(super) struct NodeDe<'a> {
    pub(super) node: &'a mut Node,
}

impl<'a> NodeDe<'a> {
    fn type_error(&self, expected: &str) -> DeError {
        DeError::new(
            format!("expected {expected}, found {}", self.node.type_name()),
            None,
        )
        .at(self.node.span)
    }
}

macro_rules! forward_to_any {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.deserialize_any(visitor)
        })*
    };
}

impl<'de, 'a: 'de> de::Deserializer<'de> for NodeDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = self.node.span;
        let result = match &mut self.node.kind {
            NodeKind::Null => visitor.visit_unit(),
            NodeKind::Bool(b) => visitor.visit_bool(*b),
            NodeKind::Int(i) => visitor.visit_i64(*i),
            NodeKind::Float(f) => visitor.visit_f64(*f),
            NodeKind::Str { value, .. } => visitor.visit_borrowed_str(value.as_str()),
            NodeKind::Seq(items) => visitor.visit_seq(SeqAccess {
                items: items.iter_mut(),
            }),
            NodeKind::Map(entries) => visitor.visit_map(MapAccess::new(entries, None, "")),
        };
        result.map_err(|e| e.at(span))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.node.kind == NodeKind::Null {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = self.node.span;
        match &self.node.kind {
            NodeKind::Str { value, .. } => visitor
                .visit_borrowed_str(value.as_str())
                .map_err(|e: DeError| e.at(span)),
            _ => Err(self.type_error("text")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = self.node.span;
        match &self.node.kind {
            NodeKind::Str { value, .. } => visitor.visit_borrowed_str(value.as_str()),
            _ => visitor.visit_string(self.node.key_text()),
        }
        .map_err(|e: DeError| e.at(span))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = self.node.span;
        if !matches!(self.node.kind, NodeKind::Seq(_)) {
            return Err(self.type_error("a list"));
        }
        let NodeKind::Seq(items) = &mut self.node.kind else {
            unreachable!("checked above")
        };
        visitor
            .visit_seq(SeqAccess {
                items: items.iter_mut(),
            })
            .map_err(|e: DeError| e.at(span))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = self.node.span;
        if !matches!(self.node.kind, NodeKind::Map(_) | NodeKind::Null) {
            return Err(self.type_error("a mapping"));
        }
        let entries: &'a mut [(Node, Node)] = match &mut self.node.kind {
            NodeKind::Map(entries) => entries,
            // An empty `with:` or `inputs:` is written as a bare key: treat it as an empty mapping.
            _ => &mut [],
        };
        visitor
            .visit_map(MapAccess::new(entries, None, ""))
            .map_err(|e: DeError| e.at(span))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let span = self.node.span;
        if name == SPANNED_NAME {
            return visitor.visit_map(SpannedAccess {
                span: Some(span),
                node: Some(self.node),
            });
        }
        if name == RAW_NAME || name == RECOVER_NAME {
            let subtree = take(self.node);
            RAW.with(|r| *r.borrow_mut() = Some(subtree));
            return visitor.visit_unit();
        }
        if !matches!(self.node.kind, NodeKind::Map(_)) {
            return Err(self.type_error(&format!("a mapping ({})", noun(name))));
        }
        let NodeKind::Map(entries) = &mut self.node.kind else {
            unreachable!("checked above")
        };
        visitor
            .visit_map(MapAccess::new(entries, Some(fields), name))
            .map_err(|e| e.at(span))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let span = self.node.span;
        let found = self.node.type_name();
        let node: &'a mut Node = self.node;
        let access = match node.kind {
            NodeKind::Str { .. } => EnumAccess {
                tag: node,
                value: None,
            },
            NodeKind::Map(ref entries) if entries.len() == 1 => {
                let NodeKind::Map(entries) = &mut node.kind else {
                    unreachable!("matched above")
                };
                let (tag, value) = &mut entries[0];
                EnumAccess {
                    tag,
                    value: Some(value),
                }
            }
            _ => {
                let list: Vec<String> = variants.iter().map(|v| format!("`{v}`")).collect();
                return Err(DeError::new(
                    format!("expected one of {}, found {found}", list.join(", ")),
                    None,
                )
                .at(span));
            }
        };
        visitor.visit_enum(access).map_err(|mut e| {
            // Say what the value was for: "unknown value `int` for input type".
            if e.diagnostic.message.starts_with("unknown value")
                && !e.diagnostic.message.contains(" for ")
            {
                // Workflow enums are named after their field (`on_error`, `retry.on`).
                let what = if name.chars().any(char::is_uppercase) {
                    noun(name)
                } else {
                    format!("`{name}`")
                };
                e.diagnostic.message = format!("{} for {what}", e.diagnostic.message);
            }
            e.at(span)
        })
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_any! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32
        deserialize_f64 deserialize_char deserialize_bytes deserialize_byte_buf deserialize_unit
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }
}

struct SeqAccess<'a> {
    items: std::slice::IterMut<'a, Node>,
}

impl<'de, 'a: 'de> de::SeqAccess<'de> for SeqAccess<'a> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(node) => seed.deserialize(NodeDe { node }).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapAccess<'a> {
    entries: std::slice::IterMut<'a, (Node, Node)>,
    value: Option<&'a mut Node>,
    /// For structs: keys outside this list are reported and skipped.
    known_fields: Option<&'static [&'static str]>,
    owner: &'static str,
}

impl<'a> MapAccess<'a> {
    fn new(
        entries: &'a mut [(Node, Node)],
        known_fields: Option<&'static [&'static str]>,
        owner: &'static str,
    ) -> Self {
        MapAccess {
            entries: entries.iter_mut(),
            value: None,
            known_fields,
            owner,
        }
    }
}

impl<'de, 'a: 'de> de::MapAccess<'de> for MapAccess<'a> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        for (key, value) in self.entries.by_ref() {
            if let Some(fields) = self.known_fields {
                let text = key.key_str();
                if !fields.contains(&text.as_ref()) {
                    let mut known: Vec<&str> = fields
                        .iter()
                        .copied()
                        .filter(|f| !f.starts_with('$'))
                        .collect();
                    known.sort_unstable();
                    record_recovered(
                        Diagnostic::error(
                            format!("unknown key `{text}` in {}", noun(self.owner)),
                            Some(key.span),
                        )
                        .with_optional_help(suggestion(&text, known.iter().copied())),
                    );
                    continue;
                }
            }
            self.value = Some(value);
            return seed.deserialize(NodeDe { node: key }).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some(node) => seed.deserialize(NodeDe { node }),
            None => Err(DeError::new("value requested before key".to_string(), None)),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// Feeds `Spanned<T>` its position and then its value.
struct SpannedAccess<'a> {
    /// Each is handed over once, the position first.
    span: Option<Span>,
    node: Option<&'a mut Node>,
}

impl<'de, 'a: 'de> de::MapAccess<'de> for SpannedAccess<'a> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let key = match (&self.span, &self.node) {
            (Some(_), _) => SPAN_FIELD,
            (None, Some(_)) => VALUE_FIELD,
            (None, None) => return Ok(None),
        };
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        if let Some(s) = self.span.take() {
            return seed.deserialize(de::value::SeqDeserializer::new(
                [s.line, s.col, s.len].into_iter(),
            ));
        }
        match self.node.take() {
            Some(node) => seed.deserialize(NodeDe { node }),
            None => Err(DeError::new("value requested before key".to_string(), None)),
        }
    }
}

struct EnumAccess<'a> {
    tag: &'a mut Node,
    value: Option<&'a mut Node>,
}

impl<'de, 'a: 'de> de::EnumAccess<'de> for EnumAccess<'a> {
    type Error = DeError;
    type Variant = VariantAccess<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), DeError> {
        // The variant's messages name it after the tag has been read.
        let tag = Tag {
            name: self.tag.key_str().into(),
            span: self.tag.span,
        };
        let value = seed
            .deserialize(NodeDe { node: self.tag })
            .map_err(|e| e.at(tag.span))?;
        Ok((
            value,
            VariantAccess {
                tag,
                value: self.value,
            },
        ))
    }
}

/// An enum's variant as written.
struct Tag {
    name: CompactString,
    span: Span,
}

struct VariantAccess<'a> {
    tag: Tag,
    value: Option<&'a mut Node>,
}

impl<'a> VariantAccess<'a> {
    fn value(self) -> Result<&'a mut Node, DeError> {
        let tag = self.tag;
        self.value.ok_or_else(|| {
            let name = tag.name;
            DeError::new(
                format!("`{name}` needs settings: write `{name}:` followed by a mapping"),
                None,
            )
            .at(tag.span)
        })
    }
}

impl<'de, 'a: 'de> de::VariantAccess<'de> for VariantAccess<'a> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            None => Ok(()),
            Some(node) if node.kind == NodeKind::Null => Ok(()),
            Some(node) => Err(
                DeError::new(format!("`{}` takes no settings", self.tag.name), None).at(node.span),
            ),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        let node = self.value()?;
        seed.deserialize(NodeDe { node })
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        let node = self.value()?;
        de::Deserializer::deserialize_seq(NodeDe { node }, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let node = self.value()?;
        de::Deserializer::deserialize_struct(NodeDe { node }, "settings", fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::super::{load, LoadLimits, RawNode, Recover};
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Top {
        #[serde(default)]
        items: Vec<Recover<Item>>,
        #[serde(default)]
        raw: Option<RawNode>,
        name: String,
    }

    #[derive(Debug, Deserialize)]
    struct Item {
        n: u32,
    }

    /// Each problem is checked for a repeat without a search of those before it: 300,000
    /// bad items (3.9 MB of a file's 16 MiB) took minutes when each was compared with every
    /// problem recorded before it (4.5 * 10^10 comparisons).
    #[test]
    fn three_hundred_thousand_problems_are_recorded_in_one_pass() {
        const ITEMS: usize = 300_000;
        let mut text = String::from("name: n\nitems:\n");
        for _ in 0..ITEMS {
            text.push_str("- {n: x}\n");
        }
        let node = load(text.as_bytes(), LoadLimits::default()).unwrap().root;
        let (top, problems) = from_node::<Top>(node);
        assert_eq!(top.map(|t| t.items.len()), Some(ITEMS));
        assert_eq!(problems.len(), ITEMS);
        assert_eq!(
            problems[ITEMS - 1].span,
            Some(Span::new(ITEMS as u32 + 2, 7, 1))
        );
    }

    /// Subtrees are moved into the model as they are read; when a later problem makes the
    /// parent be read again, the places they left are neither reported again nor as nulls.
    #[test]
    fn a_parent_read_again_reports_each_problem_once() {
        let text = "items: [{n: 1}, {n: x}]\nraw: {a: 1}\nname: [1]\n";
        let node = load(text.as_bytes(), LoadLimits::default()).unwrap().root;
        let (top, problems) = from_node::<Top>(node);
        assert!(top.is_none());
        let messages: Vec<(&str, Option<Span>)> = problems
            .iter()
            .map(|d| (d.message.as_str(), d.span))
            .collect();
        assert_eq!(
            messages,
            [
                (
                    "expected a whole number from 0 to 4294967295, found the text `x`",
                    Some(Span::new(1, 21, 1))
                ),
                ("expected text, found a list", Some(Span::new(3, 7, 1))),
            ]
        );
    }

    #[test]
    fn kept_subtrees_are_moved_whole() {
        let text = "items: [{n: 1}]\nraw: {a: [1, two]}\nname: x\n";
        let node = load(text.as_bytes(), LoadLimits::default()).unwrap().root;
        let (top, problems) = from_node::<Top>(node);
        assert!(problems.is_empty(), "{problems:?}");
        let top = top.unwrap();
        assert_eq!(top.items[0].0.as_ref().map(|item| item.n), Some(1));
        assert_eq!(top.name, "x");
        let raw = top.raw.unwrap().0;
        assert_eq!(raw.span, Span::new(2, 7, 1));
        assert_eq!(raw.to_json(), serde_json::json!({"a": [1, "two"]}));
    }
}
