//! Reads YAML text into a [`Node`] tree with positions, refusing hostile input with a clear
//! diagnostic: oversized files, deep nesting, alias bombs, duplicate keys, complex keys.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::node::{Node, NodeKind};
use crate::diagnostic::{Diagnostic, Span};

/// Bounds that keep a hostile or broken file from exhausting memory or the stack.
#[derive(Debug, Clone, Copy)]
pub struct LoadLimits {
    pub max_bytes: usize,
    pub max_depth: usize,
    /// Nodes in the tree after aliases are expanded (the defence against "billion laughs").
    pub max_nodes: usize,
}

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            max_bytes: 4 * 1024 * 1024,
            max_depth: 64,
            max_nodes: 200_000,
        }
    }
}

/// Parses one YAML document. All problems found are returned; the tree only when there were none.
pub fn load(bytes: &[u8], limits: LoadLimits) -> Result<Node, Vec<Diagnostic>> {
    if bytes.len() > limits.max_bytes {
        return Err(vec![Diagnostic::error(
            format!(
                "file is too large: {:.1} MB (the limit for a workflow file is {} MB)",
                bytes.len() as f64 / 1_000_000.0,
                limits.max_bytes / (1024 * 1024)
            ),
            None,
        )
        .with_help(
            "split the workflow and call the parts with `workflow.call`",
        )]);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            let valid = std::str::from_utf8(valid).unwrap_or_default();
            let line = valid.matches('\n').count() as u32 + 1;
            let col = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
            return Err(vec![Diagnostic::error(
                format!(
                    "file is not valid UTF-8 (invalid byte at offset {})",
                    e.valid_up_to()
                ),
                Some(Span::new(line, col, 1)),
            )
            .with_help("save the file as UTF-8")]);
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(vec![Diagnostic::error("file is empty", None).with_help(
            "a workflow is a mapping with at least `name` and `steps`",
        )]);
    }

    let mut builder = TreeBuilder::new(limits);
    let mut parser = Parser::new_from_str(text);
    let parsed = read_events(&mut parser, &mut builder);
    // Our own limits stop the tree first; the parser's error then only repeats them.
    if builder.stopped {
        return Err(builder.errors);
    }
    if let Err(e) = parsed {
        let mark = e.marker();
        let line = mark.line() as u32;
        let span = Span::new(line, mark.col() as u32 + 1, 1);
        let line_text = text
            .lines()
            .nth(line.saturating_sub(1) as usize)
            .unwrap_or("");
        let help = if line_text.contains('\t') || e.info().contains("tab") {
            Some("YAML does not allow tabs for indentation: indent with spaces".to_string())
        } else {
            None
        };
        let message = if e.info().contains("recursion limit") {
            format!(
                "nesting is too deep (more than {} levels)",
                limits.max_depth
            )
        } else {
            format!("invalid YAML: {}", e.info())
        };
        return Err(vec![
            Diagnostic::error(message, Some(span)).with_optional_help(help)
        ]);
    }
    if !builder.errors.is_empty() {
        return Err(builder.errors);
    }
    builder
        .root
        .ok_or_else(|| vec![Diagnostic::error("file holds no YAML document", None)])
}

/// Feeds the parser's events to the builder until the stream ends or the builder stops.
/// Every document is read, so a second one is reported instead of silently ignored.
/// `Parser::load` is not used: it recurses once per nesting level (a line of 5,000 `- `
/// overflowed the stack) and keeps reading after our limits stopped the tree, while this
/// loop stops at the first level past `max_depth`, however deep the rest of the file goes.
fn read_events(
    parser: &mut Parser<std::str::Chars<'_>>,
    builder: &mut TreeBuilder,
) -> Result<(), yaml_rust2::ScanError> {
    loop {
        let (event, mark) = parser.next_token()?;
        let end = event == Event::StreamEnd;
        builder.on_event(event, mark);
        if end || builder.stopped {
            return Ok(());
        }
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        span: Span,
        anchor: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        pending_key: Option<Node>,
        span: Option<Span>,
        anchor: usize,
    },
}

struct TreeBuilder {
    limits: LoadLimits,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    nodes: usize,
    errors: Vec<Diagnostic>,
    /// After a fatal problem the rest of the events are ignored.
    stopped: bool,
}

fn span_at(mark: &Marker, len: usize) -> Span {
    Span::new(mark.line() as u32, mark.col() as u32 + 1, len as u32)
}

fn count_nodes(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        NodeKind::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| count_nodes(k) + count_nodes(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// Resolves a plain scalar the way YAML 1.2's core schema does.
fn plain_scalar(value: String, span: Span) -> Result<NodeKind, Diagnostic> {
    Ok(match value.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => NodeKind::Null,
        "true" | "True" | "TRUE" => NodeKind::Bool(true),
        "false" | "False" | "FALSE" => NodeKind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN" => {
            return Err(
                Diagnostic::error(format!("`{value}` is not a finite number"), Some(span))
                    .with_help("quote it to use it as text"),
            )
        }
        _ => {
            if let Some(kind) = number(&value, span)? {
                kind
            } else {
                NodeKind::Str {
                    value,
                    quoted: false,
                }
            }
        }
    })
}

fn number(text: &str, span: Span) -> Result<Option<NodeKind>, Diagnostic> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let negative = text.starts_with('-');
    let radix = if let Some(hex) = unsigned.strip_prefix("0x") {
        Some((hex, 16))
    } else {
        unsigned.strip_prefix("0o").map(|oct| (oct, 8))
    };
    if let Some((digits, radix)) = radix {
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return Ok(None);
        }
        return match i64::from_str_radix(digits, radix) {
            Ok(v) => Ok(Some(NodeKind::Int(if negative { -v } else { v }))),
            Err(_) => Err(too_large(text, span)),
        };
    }
    if !unsigned.is_empty() && unsigned.chars().all(|c| c.is_ascii_digit()) {
        return match text.parse::<i64>() {
            Ok(v) => Ok(Some(NodeKind::Int(v))),
            Err(_) => Err(too_large(text, span)),
        };
    }
    let looks_float = unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && unsigned
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        && unsigned.chars().any(|c| c.is_ascii_digit());
    if looks_float {
        if let Ok(v) = text.parse::<f64>() {
            if !v.is_finite() {
                return Err(too_large(text, span));
            }
            return Ok(Some(NodeKind::Float(v)));
        }
    }
    Ok(None)
}

fn too_large(text: &str, span: Span) -> Diagnostic {
    let shown: String = text.chars().take(40).collect();
    Diagnostic::error(format!("number `{shown}` is too large"), Some(span)).with_help(
        "integers must fit in 64 bits (±9223372036854775807); quote the value to keep it as text",
    )
}

impl TreeBuilder {
    fn new(limits: LoadLimits) -> Self {
        TreeBuilder {
            limits,
            stack: Vec::new(),
            anchors: HashMap::new(),
            root: None,
            nodes: 0,
            errors: Vec::new(),
            stopped: false,
        }
    }

    fn fatal(&mut self, diagnostic: Diagnostic) {
        self.errors.push(diagnostic);
        self.stopped = true;
    }

    fn add_nodes(&mut self, count: usize, span: Span) -> bool {
        self.nodes += count;
        if self.nodes > self.limits.max_nodes {
            self.fatal(
                Diagnostic::error(
                    format!(
                        "document is too large: more than {} values once aliases are expanded",
                        self.limits.max_nodes
                    ),
                    Some(span),
                )
                .with_help("this often means an alias (`*name`) is repeated many times over"),
            );
            return false;
        }
        true
    }

    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                span,
                ..
            }) => match pending_key.take() {
                None => {
                    if !matches!(
                        node.kind,
                        NodeKind::Str { .. }
                            | NodeKind::Int(_)
                            | NodeKind::Bool(_)
                            | NodeKind::Null
                    ) {
                        let diagnostic = Diagnostic::error(
                            format!("a mapping key must be text, found {}", node.type_name()),
                            Some(node.span),
                        );
                        self.fatal(diagnostic);
                        return;
                    }
                    if span.is_none() {
                        *span = Some(node.span);
                    }
                    let text = node.key_text();
                    if let Some((first, _)) = entries.iter().find(|(k, _)| k.key_text() == text) {
                        let first_line = first.span.line;
                        let diagnostic = Diagnostic::error(format!("duplicate key `{text}`"), Some(node.span))
                            .with_help(format!("`{text}` is already set on line {first_line}; a key may appear once per mapping"));
                        self.errors.push(diagnostic);
                    }
                    *pending_key = Some(node);
                }
                Some(key) => entries.push((key, node)),
            },
        }
    }
}

impl MarkedEventReceiver for TreeBuilder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.stopped {
            return;
        }
        match event {
            Event::Scalar(value, style, anchor, _tag) => {
                let len = value.chars().count().max(1);
                let span = span_at(
                    &mark,
                    if style == TScalarStyle::Plain {
                        len
                    } else {
                        len + 2
                    },
                );
                if !self.add_nodes(1, span) {
                    return;
                }
                let kind = if style == TScalarStyle::Plain {
                    match plain_scalar(value, span) {
                        Ok(kind) => kind,
                        Err(diagnostic) => {
                            self.errors.push(diagnostic);
                            NodeKind::Null
                        }
                    }
                } else {
                    NodeKind::Str {
                        value,
                        quoted: true,
                    }
                };
                self.push_value(Node { kind, span }, anchor);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                let span = span_at(&mark, 1);
                if self.stack.len() >= self.limits.max_depth {
                    self.fatal(Diagnostic::error(
                        format!(
                            "nesting is too deep (more than {} levels)",
                            self.limits.max_depth
                        ),
                        Some(span),
                    ));
                    return;
                }
                if !self.add_nodes(1, span) {
                    return;
                }
                let frame = if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        items: Vec::new(),
                        span,
                        anchor,
                    }
                } else {
                    Frame::Map {
                        entries: Vec::new(),
                        pending_key: None,
                        span: None,
                        anchor,
                    }
                };
                self.stack.push(frame);
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq {
                    items,
                    span,
                    anchor,
                }) => self.push_value(
                    Node {
                        kind: NodeKind::Seq(items),
                        span,
                    },
                    anchor,
                ),
                Some(Frame::Map {
                    entries,
                    span,
                    anchor,
                    ..
                }) => {
                    let span = span.unwrap_or_else(|| span_at(&mark, 1));
                    self.push_value(
                        Node {
                            kind: NodeKind::Map(entries),
                            span,
                        },
                        anchor,
                    )
                }
                None => {}
            },
            Event::Alias(id) => {
                let span = span_at(&mark, 1);
                match self.anchors.get(&id).cloned() {
                    Some(mut node) => {
                        if !self.add_nodes(count_nodes(&node), span) {
                            return;
                        }
                        node.span = span;
                        self.push_value(node, 0);
                    }
                    None => self.fatal(Diagnostic::error(
                        "alias refers to an unknown anchor",
                        Some(span),
                    )),
                }
            }
            Event::DocumentStart if self.root.is_some() => self.fatal(
                Diagnostic::error("the file holds a second YAML document", Some(span_at(&mark, 3)))
                    .with_help("a workflow file holds one workflow: remove the `---` and what follows, or move it to its own file"),
            ),
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(text: &str) -> Result<Node, Vec<Diagnostic>> {
        load(text.as_bytes(), LoadLimits::default())
    }

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        let node = load_str("a: 1\nbé: \"x\"\n").unwrap();
        let b = node.get("bé").unwrap();
        assert_eq!(b.span, Span::new(2, 5, 3));
        assert_eq!(b.as_str(), Some("x"));
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        let node = load_str("a: 12\nb: '12'\nc: true\nd: ~\ne: 1.5\nf: 0x1F\ng: yes\n").unwrap();
        assert_eq!(node.get("a").unwrap().kind, NodeKind::Int(12));
        assert!(matches!(
            node.get("b").unwrap().kind,
            NodeKind::Str { quoted: true, .. }
        ));
        assert_eq!(node.get("c").unwrap().kind, NodeKind::Bool(true));
        assert_eq!(node.get("d").unwrap().kind, NodeKind::Null);
        assert_eq!(node.get("e").unwrap().kind, NodeKind::Float(1.5));
        assert_eq!(node.get("f").unwrap().kind, NodeKind::Int(31));
        assert_eq!(node.get("g").unwrap().as_str(), Some("yes"));
    }

    #[test]
    fn duplicate_keys_are_reported_with_both_lines() {
        let errors = load_str("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(errors[0].message, "duplicate key `a`");
        assert_eq!(errors[0].span, Some(Span::new(3, 1, 1)));
        assert!(errors[0].help.as_deref().unwrap().contains("line 1"));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let errors = load_str(&text).unwrap_err();
        assert!(errors[0].message.contains("too large"), "{:?}", errors);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let text = "[".repeat(10_000) + &"]".repeat(10_000);
        let errors = load_str(&text).unwrap_err();
        assert!(errors[0].message.contains("nesting is too deep"));
    }

    #[test]
    fn huge_numbers_are_refused() {
        let errors = load_str("a: 123456789012345678901234567890\n").unwrap_err();
        assert!(errors[0].message.contains("too large"));
        let ok = load_str("a: 1.5e300\n").unwrap();
        assert_eq!(ok.get("a").unwrap().kind, NodeKind::Float(1.5e300));
    }

    #[test]
    fn tabs_get_a_hint() {
        let errors = load_str("a:\n\t- b\n").unwrap_err();
        assert_eq!(errors[0].span.unwrap().line, 2);
        assert!(errors[0].help.as_deref().unwrap().contains("tabs"));
    }

    #[test]
    fn non_utf8_empty_and_oversized_files() {
        let errors = load(b"name: a\nx: \xff\n", LoadLimits::default()).unwrap_err();
        assert_eq!(errors[0].span, Some(Span::new(2, 4, 1)));
        assert_eq!(load_str("  \n").unwrap_err()[0].message, "file is empty");
        let big = vec![b'a'; 10 * 1024 * 1024];
        assert!(load(&big, LoadLimits::default()).unwrap_err()[0]
            .message
            .contains("too large"));
    }
}
