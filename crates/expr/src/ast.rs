//! The parsed form of an expression. Spans are absolute byte offsets in the source given
//! to `Template::parse` / `Expr::parse`.

use crate::functions::FunctionInfo;
use serde_json::Value;
use std::ops::Range;
use std::sync::{Arc, LazyLock};

/// The names most expressions read (`steps.x.output`, `inputs.y`, `item`...), allocated once
/// for the process: a workflow of 100,000 steps that each read `steps.<id>.output` holds one
/// `steps` and one `output`, not 100,000 of each.
static COMMON_NAMES: LazyLock<Box<[Arc<str>]>> = LazyLock::new(|| {
    [
        "steps",
        "inputs",
        "vars",
        "env",
        "secrets",
        "item",
        "index",
        "error",
        "output",
        "connection",
        "config",
        "status",
        "attempts",
        "message",
        "body",
        "id",
        "name",
        "value",
        "items",
        "results",
    ]
    .into_iter()
    .map(Arc::from)
    .collect()
});

/// A name of a path (a root or a field), shared when it is a common one.
pub(crate) fn name(text: &str) -> Arc<str> {
    match COMMON_NAMES.iter().find(|common| ***common == *text) {
        Some(common) => Arc::clone(common),
        None => Arc::from(text),
    }
}

/// The small constants most expressions write (`0`, `1`, `true`, `null`, `""`), allocated once
/// for the process; other literals get their own.
static COMMON_LITERALS: LazyLock<Box<[Arc<Value>]>> = LazyLock::new(|| {
    let mut values: Vec<Value> = (-1..=10).map(Value::from).collect();
    values.extend([
        Value::Bool(true),
        Value::Bool(false),
        Value::Null,
        Value::String(String::new()),
    ]);
    values.into_iter().map(Arc::new).collect()
});

/// A literal of a tree, shared when it is a common one.
pub(crate) fn literal(value: Value) -> Arc<Value> {
    match COMMON_LITERALS.iter().find(|common| ***common == value) {
        Some(common) => Arc::clone(common),
        None => Arc::new(value),
    }
}

/// A byte range of the source, as the tree keeps it: two `u32`s instead of two `usize`s
/// (sources are far smaller than 4 GiB; offsets past that saturate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    pub(crate) fn new(range: Range<usize>) -> Span {
        Span {
            start: offset(range.start),
            end: offset(range.end),
        }
    }

    pub(crate) fn start(self) -> usize {
        self.start as usize
    }

    pub(crate) fn end(self) -> usize {
        self.end as usize
    }

    pub(crate) fn range(self) -> Range<usize> {
        self.start()..self.end()
    }
}

/// An offset within an expression's source as the tree keeps it (see [`Span`]).
pub(crate) fn offset(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    pub span: Span,
    /// Height of this subtree; bounded (by [`crate::MAX_TREE_DEPTH`]) so evaluation can never
    /// overflow the stack.
    pub depth: u8,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// A constant, including array/object literals made only of constants. Boxed: a `Value`
    /// is several times the size of the other variants, which every node would pay for.
    /// Shared with every tree that writes the same common constant (see [`literal`]).
    Literal(Arc<Value>),
    Array(Box<[Node]>),
    Object(Box<[(Box<str>, Node)]>),
    Path(Box<Path>),
    Not(Box<Node>),
    Negate(Box<Node>),
    /// A comparison (these do not chain).
    Binary(BinOp, Box<Node>, Box<Node>),
    /// `a + b - c`, `a && b && c`: a left-associative run of operators of one precedence,
    /// kept flat so a long run adds no depth to the tree.
    Chain(Box<Node>, Box<[(BinOp, Node)]>),
    Conditional(Box<[Node; 3]>),
    Call(&'static FunctionInfo, Box<[Node]>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

/// `base.seg[seg]...`: a variable or any parenthesised value followed by accessors.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    pub base: Base,
    pub segments: Box<[Seg]>,
    /// Source text of the whole path, used to name prefixes in error messages.
    pub text: Box<str>,
    /// Length of the base within `text`.
    pub base_len: u32,
}

#[derive(Debug, Clone)]
pub(crate) enum Base {
    /// A root variable such as `inputs` or `steps`, with the span of its name.
    Root(Arc<str>, Span),
    Value(Box<Node>),
}

#[derive(Debug, Clone)]
pub(crate) struct Seg {
    pub key: SegKey,
    /// Span of the field name or of the whole `[...]`.
    pub span: Span,
    /// End of this segment within `Path::text`.
    pub text_end: u32,
}

#[derive(Debug, Clone)]
pub(crate) enum SegKey {
    Field(Arc<str>),
    Index(i64),
    Dynamic(Box<Node>),
}

impl Path {
    /// The source text of the path up to (not including) segment `i`.
    pub(crate) fn prefix(&self, i: usize) -> &str {
        let end = match i.checked_sub(1) {
            None => self.base_len as usize,
            Some(last) => self
                .segments
                .get(last)
                .map_or(self.text.len(), |s| s.text_end as usize),
        };
        self.text.get(..end).unwrap_or(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every workflow keeps the trees of all its expressions for as long as it is loaded
    /// (a 10,000-step workflow holds 10,000 of them): the nodes stay small.
    #[test]
    fn tree_nodes_stay_small() {
        use std::mem::size_of;
        // Before they were made compact: 96, 152 and 120 bytes.
        assert!(size_of::<Node>() <= 48, "Node: {} bytes", size_of::<Node>());
        assert!(size_of::<Path>() <= 64, "Path: {} bytes", size_of::<Path>());
        assert!(size_of::<Seg>() <= 40, "Seg: {} bytes", size_of::<Seg>());
    }
}
