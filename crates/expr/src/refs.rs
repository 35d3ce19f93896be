//! Static references: which variables a template or expression reads, for the validator.

use crate::ast::{Base, Kind, Node, SegKey};
use crate::functions::Impl;
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

pub(crate) fn collect(node: &Node, guarded: bool, out: &mut Vec<ReferenceUse>) {
    match &node.kind {
        Kind::Literal(_) => {}
        Kind::Array(items) => items.iter().for_each(|n| collect(n, guarded, out)),
        Kind::Object(entries) => entries.iter().for_each(|(_, n)| collect(n, guarded, out)),
        Kind::Not(n) | Kind::Negate(n) => collect(n, guarded, out),
        Kind::Binary(_, a, b) => {
            collect(a, guarded, out);
            collect(b, guarded, out);
        }
        Kind::Chain(first, rest) => {
            collect(first, guarded, out);
            rest.iter().for_each(|(_, n)| collect(n, guarded, out));
        }
        Kind::Conditional(parts) => parts.iter().for_each(|n| collect(n, guarded, out)),
        Kind::Call(info, args) => {
            let last = args.len().saturating_sub(1);
            for (i, arg) in args.iter().enumerate() {
                let tolerated = matches!(info.imp, Impl::Coalesce) && i < last;
                collect(arg, guarded || tolerated, out);
            }
        }
        Kind::Path(path) => {
            match &path.base {
                Base::Root(root, span) => {
                    let mut segments = Vec::new();
                    let mut end = span.end();
                    for seg in &path.segments {
                        end = seg.span.end();
                        match &seg.key {
                            SegKey::Field(name) => segments.push(Segment::Field(name.to_string())),
                            SegKey::Index(i) => segments.push(Segment::Index(*i)),
                            SegKey::Dynamic(_) => {
                                segments.push(Segment::Dynamic);
                                break;
                            }
                        }
                    }
                    out.push(ReferenceUse {
                        reference: Reference {
                            root: root.to_string(),
                            segments,
                            span: span.start()..end,
                        },
                        guarded,
                    });
                }
                Base::Value(base) => collect(base, guarded, out),
            }
            for seg in &path.segments {
                if let SegKey::Dynamic(index) = &seg.key {
                    collect(index, guarded, out);
                }
            }
        }
    }
}
