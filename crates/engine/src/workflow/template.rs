//! Values from YAML whose strings may hold `${{ }}` expressions, compiled once per load.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value};
use weft_expr::{Checks, EvalError, ParseError, Scope, Template};

use crate::diagnostic::{Diagnostic, Span};
use crate::yaml::{Node, NodeKind};

#[derive(Debug, Clone)]
pub enum ValueTemplate {
    /// No expression anywhere below: rendered by cloning. Boxed, like the others, so a
    /// template is three words and not a `Value`'s nine: a step holds its `with:` inline.
    Literal(Box<Value>),
    Template(Box<Template>),
    Array(Box<[ValueTemplate]>),
    /// Its keys are shared ([`Keys`]).
    Object(Box<[(Arc<str>, ValueTemplate)]>),
}

/// The keys of the mappings a workflow's templates hold, each text once: the steps of a
/// generated workflow write the same `with:` keys, and a key of its own cost each a heap
/// block.
#[derive(Default)]
pub struct Keys(HashSet<Arc<str>>);

impl Keys {
    /// The shared key `text`.
    pub fn shared(&mut self, text: &str) -> Arc<str> {
        if let Some(known) = self.0.get(text) {
            return known.clone();
        }
        let key: Arc<str> = Arc::from(text);
        self.0.insert(key.clone());
        key
    }
}

impl ValueTemplate {
    pub fn render(&self, scope: &dyn Scope) -> Result<Value, EvalError> {
        self.render_tainted(scope, &mut |_, _| {})
    }

    /// Renders, handing each value computed by an expression that reads `secrets` to `tainted`
    /// (the engine masks them as secrets). Literal text and keys written in YAML are not
    /// tainted.
    pub fn render_tainted(
        &self,
        scope: &dyn Scope,
        tainted: &mut dyn FnMut(&Value, weft_expr::Taint),
    ) -> Result<Value, EvalError> {
        match self {
            ValueTemplate::Literal(value) => Ok(Value::clone(value)),
            ValueTemplate::Template(template) => template.render_tainted(scope, tainted),
            ValueTemplate::Array(items) => items
                .iter()
                .map(|i| i.render_tainted(scope, tainted))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            ValueTemplate::Object(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (key, value) in entries {
                    map.insert(key.to_string(), value.render_tainted(scope, tainted)?);
                }
                Ok(Value::Object(map))
            }
        }
    }

    pub fn is_literal(&self) -> bool {
        matches!(self, ValueTemplate::Literal(_))
    }

    /// Adds its templates to `packing`.
    pub fn pack_into<'a>(&'a mut self, packing: &mut weft_expr::Packing<'a>) {
        match self {
            ValueTemplate::Literal(_) => {}
            ValueTemplate::Template(template) => packing.template(template),
            ValueTemplate::Array(items) => items.iter_mut().for_each(|i| i.pack_into(packing)),
            ValueTemplate::Object(entries) => entries
                .iter_mut()
                .for_each(|(_, value)| value.pack_into(packing)),
        }
    }

    /// An empty object: the rendering of an absent `with:`.
    pub fn empty_object() -> Self {
        ValueTemplate::literal(Value::Object(Map::new()))
    }

    pub fn literal(value: Value) -> Self {
        ValueTemplate::Literal(Box::new(value))
    }
}

/// The position of bytes `range` of a string scalar, when it is written as is on one line;
/// else the scalar's.
pub fn span_in_string(node: &Node, range: std::ops::Range<usize>) -> Span {
    StringSpans::new(node).span(range)
}

/// Positions of byte ranges of one string scalar (its expressions' references and errors).
/// The string is measured once, and a range is counted from the one asked before it when it
/// starts after it: a string with a million references costs its length, not a million times
/// its length.
pub struct StringSpans<'n> {
    node: &'n Node,
    /// The scalar's text when it sits on one line (positions inside it are meaningful).
    single_line: Option<(&'n str, bool)>,
    /// Offsets up to this one (included) map to columns (see `NodeKind::Str::exact`).
    exact: usize,
    /// The last start asked for, in bytes, and its count of characters.
    at: (usize, usize),
}

impl<'n> StringSpans<'n> {
    pub fn new(node: &'n Node) -> Self {
        let single_line = match &node.kind {
            NodeKind::Str {
                value,
                quoted,
                exact: 1..,
            } => Some((value.as_str(), *quoted)),
            _ => None,
        };
        StringSpans {
            node,
            single_line,
            exact: match node.kind {
                NodeKind::Str { exact, .. } => (exact as usize).saturating_sub(1),
                _ => 0,
            },
            at: (0, 0),
        }
    }

    pub fn span(&mut self, range: std::ops::Range<usize>) -> Span {
        let Some((value, quoted)) = self.single_line.filter(|_| range.start <= self.exact) else {
            return self.node.span;
        };
        let start = match value.get(..range.start) {
            Some(_) => {
                let (from, count) = if range.start >= self.at.0 {
                    self.at
                } else {
                    (0, 0)
                };
                let start = count + value[from..range.start].chars().count();
                self.at = (range.start, start);
                start
            }
            None => 0,
        } as u32;
        let len = value.get(range).map_or(1, |s| s.chars().count()) as u32;
        self.node
            .span
            .shifted(start + u32::from(quoted), len.max(1))
    }
}

/// Compiles a node; strings become templates. Errors carry the string's span. `sites`, when
/// given, gets what checking each template needs, with its string.
pub fn compile_value<'a>(
    node: &'a Node,
    mut sites: Option<&mut Vec<(Checks, &'a Node)>>,
    keys: &mut Keys,
    errors: &mut Vec<Diagnostic>,
) -> ValueTemplate {
    match &node.kind {
        NodeKind::Str { value, .. } => match parse(value, sites.is_some()) {
            Ok((template, _)) if template.is_literal() => {
                ValueTemplate::literal(Value::String(template_literal_text(&template, value)))
            }
            Ok((template, checks)) => {
                if let (Some(sites), Some(checks)) = (sites, checks) {
                    sites.push((checks, node));
                }
                ValueTemplate::Template(Box::new(template))
            }
            Err(parse_errors) => {
                errors.extend(parse_errors.iter().map(|e| invalid_expression(node, e)));
                ValueTemplate::literal(Value::Null)
            }
        },
        NodeKind::Seq(items) => {
            let compiled: Vec<ValueTemplate> = items
                .iter()
                .map(|i| compile_value(i, sites.as_deref_mut(), keys, errors))
                .collect();
            if compiled.iter().all(ValueTemplate::is_literal) {
                ValueTemplate::literal(Value::Array(
                    compiled.into_iter().map(into_literal).collect(),
                ))
            } else {
                ValueTemplate::Array(compiled.into_boxed_slice())
            }
        }
        NodeKind::Map(entries) => {
            let compiled: Vec<(&Node, ValueTemplate)> = entries
                .iter()
                .map(|(k, v)| (k, compile_value(v, sites.as_deref_mut(), keys, errors)))
                .collect();
            // Only mappings that stay templates keep their keys, shared; a literal one becomes
            // a `Value` with its own.
            if compiled.iter().all(|(_, v)| v.is_literal()) {
                ValueTemplate::literal(Value::Object(
                    compiled
                        .into_iter()
                        .map(|(k, v)| (k.key_text(), into_literal(v)))
                        .collect(),
                ))
            } else {
                ValueTemplate::Object(
                    compiled
                        .into_iter()
                        .map(|(k, v)| (keys.shared(&k.key_text()), v))
                        .collect(),
                )
            }
        }
        _ => ValueTemplate::literal(node.to_json()),
    }
}

/// A template, with what checking it needs when `checked`.
fn parse(src: &str, checked: bool) -> Result<(Template, Option<Checks>), Vec<ParseError>> {
    if checked {
        Template::parse_checked(src).map(|(template, checks)| (template, Some(checks)))
    } else {
        Template::parse_all(src).map(|template| (template, None))
    }
}

/// The diagnostic of an expression that does not parse, at its place in the string `node`.
pub fn invalid_expression(node: &Node, error: &ParseError) -> Diagnostic {
    Diagnostic::error(
        format!("invalid expression: {}", error.message),
        Some(span_in_string(node, error.span.clone())),
    )
    .with_optional_help(error.help.clone())
}

fn into_literal(template: ValueTemplate) -> Value {
    match template {
        ValueTemplate::Literal(value) => *value,
        _ => Value::Null,
    }
}

/// The text of a template with no expression (escapes such as `$${{` resolved).
fn template_literal_text(template: &Template, source: &str) -> String {
    struct NoScope;
    impl Scope for NoScope {
        fn root(&self, _: &str) -> Option<&Value> {
            None
        }
        fn step(&self, _: &str) -> Option<weft_expr::StepView<'_>> {
            None
        }
        fn now(&self) -> chrono::DateTime<chrono::Utc> {
            chrono::DateTime::UNIX_EPOCH
        }
    }
    match template.render(&NoScope) {
        Ok(Value::String(s)) => s,
        _ => source.to_string(),
    }
}
