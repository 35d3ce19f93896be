//! Static references: which variables a template or expression reads, for the validator.

use crate::ast::{Code, Kind, Located};
use crate::functions::{Impl, FUNCTIONS};
use std::fmt;
use std::ops::Range;

/// One accessor of a [`Reference`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    Field(String),
    Index(i64),
    /// A computed index like `a[b]`; the static part of the path stops here.
    Dynamic,
}

/// A variable path read by an expression, e.g. `steps.fetch.output.items[0]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `inputs`, `steps`, `item`... For `steps`, the first segment is the step id.
    pub root: String,
    pub segments: Vec<Segment>,
    /// Byte range of the path in the template/expression source.
    pub span: Range<usize>,
}

/// Canonical form: `steps.fetch.output.items[0]`, `a["key with space"]`, `a[*]` for dynamic.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.root)?;
        for segment in &self.segments {
            match segment {
                Segment::Field(name) if is_plain_name(name) => write!(f, ".{name}")?,
                Segment::Field(name) => write!(f, "[{}]", serde_json::Value::String(name.clone()))?,
                Segment::Index(i) => write!(f, "[{i}]")?,
                Segment::Dynamic => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

fn is_plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !name.ends_with('-')
}

/// A reference together with how it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceUse {
    pub reference: Reference,
    /// Inside a non-last argument of `default`/`coalesce`: the expression tolerates the
    /// path being undefined at run time (the validator may still check step ids).
    pub guarded: bool,
}

/// Adds the references node `i` of `code` reads, in the order they are written.
/// Spans come from `spans`: none when only names are wanted.
pub(crate) fn collect(
    code: &Code,
    spans: Located<'_>,
    i: u32,
    guarded: bool,
    out: &mut Vec<ReferenceUse>,
) {
    let walk = |out: &mut Vec<ReferenceUse>, child: u32, tolerated: bool| {
        collect(code, spans, child, guarded || tolerated, out)
    };
    match code.node(i).kind {
        Kind::Array(_) | Kind::Object(_) | Kind::Chain(_) => {
            code.linked(i).for_each(|child| walk(out, child, false));
        }
        Kind::Not(n) | Kind::Negate(n) => walk(out, n, false),
        Kind::Binary(_, left) | Kind::Pair(_, left) => {
            walk(out, left, false);
            walk(out, i - 1, false);
        }
        Kind::Conditional(cond) => {
            let (then, otherwise) = code.branches(i);
            walk(out, cond, false);
            walk(out, then, false);
            walk(out, otherwise, false);
        }
        Kind::Call { function, args } => {
            let coalesce = matches!(FUNCTIONS[usize::from(function)].imp, Impl::Coalesce);
            let links = code.before(i, args);
            let last = links.len().saturating_sub(1);
            for (at, link) in links.iter().enumerate() {
                if let Kind::Link(_, child) = link.kind {
                    walk(out, child, coalesce && at < last);
                }
            }
        }
        Kind::Path { segments } => {
            let first_segment = i - segments;
            let (base, segments) = code.path(i, segments);
            match code.node(base).kind {
                Kind::Root(name) => {
                    let mut listed = Vec::new();
                    let mut end = spans.span(base).end();
                    for (at, seg) in (first_segment..).zip(segments) {
                        end = spans.span(at).end();
                        match seg.kind {
                            Kind::Field(field) => {
                                listed.push(Segment::Field(code.name(field).to_string()))
                            }
                            Kind::Key(name) => listed.push(Segment::Field(
                                code.literal(name).as_str().unwrap_or_default().to_string(),
                            )),
                            Kind::Index(_) | Kind::LongIndex(_) => {
                                listed.push(Segment::Index(code.index(seg).unwrap_or_default()))
                            }
                            _ => {
                                listed.push(Segment::Dynamic);
                                break;
                            }
                        }
                    }
                    out.push(ReferenceUse {
                        reference: Reference {
                            root: code.name(name).to_string(),
                            segments: listed,
                            span: spans.span(base).start()..end,
                        },
                        guarded,
                    });
                }
                _ => walk(out, base, false),
            }
            for seg in segments {
                if let Kind::Dynamic(index) = seg.kind {
                    walk(out, index, false);
                }
            }
        }
        Kind::Literal(_)
        | Kind::Root(_)
        | Kind::Field(_)
        | Kind::Key(_)
        | Kind::Index(_)
        | Kind::LongIndex(_)
        | Kind::Dynamic(_)
        | Kind::Link(..)
        | Kind::Text(_)
        | Kind::Part(_) => {}
    }
}
