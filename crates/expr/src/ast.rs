//! The parsed form of an expression. Spans are absolute byte offsets in the source given
//! to `Template::parse` / `Expr::parse`.

use crate::functions::FunctionInfo;
use serde_json::Value;
use std::ops::Range;

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    pub span: Range<usize>,
    /// Height of this subtree; bounded so evaluation can never overflow the stack.
    pub depth: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// A constant, including array/object literals made only of constants.
    Literal(Value),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
    Path(Box<Path>),
    Not(Box<Node>),
    Negate(Box<Node>),
    /// A comparison (these do not chain).
    Binary(BinOp, Box<Node>, Box<Node>),
    /// `a + b - c`, `a && b && c`: a left-associative run of operators of one precedence,
    /// kept flat so a long run adds no depth to the tree.
    Chain(Box<Node>, Vec<(BinOp, Node)>),
    Conditional(Box<[Node; 3]>),
    Call(&'static FunctionInfo, Vec<Node>),
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
    pub segments: Vec<Seg>,
    /// Source text of the whole path, used to name prefixes in error messages.
    pub text: String,
    /// Length of the base within `text`.
    pub base_len: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum Base {
    /// A root variable such as `inputs` or `steps`, with the span of its name.
    Root(String, Range<usize>),
    Value(Node),
}

#[derive(Debug, Clone)]
pub(crate) struct Seg {
    pub key: SegKey,
    /// Span of the field name or of the whole `[...]`.
    pub span: Range<usize>,
    /// End of this segment within `Path::text`.
    pub text_end: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum SegKey {
    Field(String),
    Index(i64),
    Dynamic(Node),
}

impl Path {
    /// The source text of the path up to (not including) segment `i`.
    pub(crate) fn prefix(&self, i: usize) -> &str {
        let end = match i.checked_sub(1) {
            None => self.base_len,
            Some(last) => self
                .segments
                .get(last)
                .map_or(self.text.len(), |s| s.text_end),
        };
        self.text.get(..end).unwrap_or(&self.text)
    }
}
