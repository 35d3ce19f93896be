//! The parsed form of an expression: one flat array of nodes, each a few bytes, children
//! named by their index (a tree of boxes cost ~9 heap blocks for `steps.a.output.n + 1`;
//! a workflow keeps one per expression for as long as it is loaded). Nodes come in post
//! order: every child is before its parent, so the array is built bottom up while parsing
//! and the last node is the root. Names and path texts are ranges of the source text, which
//! the parsed form keeps once. Spans are absolute byte offsets in the source given to
//! `Template::parse` / `Expr::parse`.
//!
//! The kept form holds no spans: a node is 8 bytes, not 16. What evaluation reads on every run
//! (a name that is not a common one, a template's text) is located inside its node; the spans
//! of errors and references come from parsing the source again ([`Located`]), which gives the
//! same nodes in the same order.

use serde_json::Value;
use std::ops::Range;
use std::sync::{Arc, LazyLock};

/// The small constants most expressions write (`0`, `1`, `true`, `null`, `""`), held once
/// for the process; other literals are kept by their expression (see [`Code::lits`]).
static COMMON_LITERALS: LazyLock<Box<[Value]>> = LazyLock::new(|| {
    let mut values: Vec<Value> = (-1..=10).map(Value::from).collect();
    values.extend([
        Value::Bool(true),
        Value::Bool(false),
        Value::Null,
        Value::String(String::new()),
    ]);
    values.into_boxed_slice()
});

/// Where a literal is: below the number of common literals, one of them; from there on,
/// one of the expression's own ([`Code::lits`]), counted from that number.
pub(crate) fn literal_ref(value: Value, own: &mut Vec<Value>) -> u32 {
    match COMMON_LITERALS.iter().position(|common| *common == value) {
        Some(i) => offset(i),
        None => {
            own.push(value);
            offset(COMMON_LITERALS.len() + own.len() - 1)
        }
    }
}

/// The names most expressions read (`steps.x.output`, `inputs.y`, `item`...): a name among
/// them is kept as its index (see [`name_ref`]), read without slicing the source.
static NAMES: [&str; 21] = [
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
    "trigger",
];

/// The index of `steps` in [`NAMES`].
pub(crate) const STEPS: u8 = 0;

/// A name that is not one of [`NAMES`]: its text is in the source.
const WRITTEN: u8 = u8::MAX;

/// How a node keeps the name `text` found at bytes `at` of the source: its index in
/// [`NAMES`], or where it is written. `None`: too long to be kept so.
pub(crate) fn name_ref(text: &str, at: Range<usize>) -> Option<NameRef> {
    match NAMES.iter().position(|name| *name == text) {
        Some(i) => Some(NameRef {
            common: u8::try_from(i).unwrap_or(WRITTEN),
            len: 0,
            start: 0,
        }),
        None => Some(NameRef {
            common: WRITTEN,
            len: u16::try_from(at.len()).ok()?,
            start: offset(at.start),
        }),
    }
}

/// A name as a node keeps it: one of [`NAMES`], or a range of the source. Packed, so that
/// with the kind's tag it fills the 8 bytes of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, packed)]
pub(crate) struct NameRef {
    common: u8,
    len: u16,
    start: u32,
}

impl NameRef {
    /// Whether this is `steps`.
    pub(crate) fn is_steps(self) -> bool {
        self.common == STEPS
    }
}

/// The longest name a node keeps (longer ones do not parse).
pub(crate) const MAX_NAME_BYTES: usize = u16::MAX as usize;

/// A range of the source, as a template's text part keeps it: longer texts are split into
/// parts of at most [`MAX_NAME_BYTES`]. Packed, as [`NameRef`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, packed)]
pub(crate) struct TextRef {
    len: u16,
    start: u32,
}

impl TextRef {
    /// The parts of the text at `range` of `src`, split at character boundaries.
    pub(crate) fn split(src: &str, range: Range<usize>) -> Vec<TextRef> {
        let mut parts = Vec::new();
        let mut start = range.start;
        while start < range.end {
            let mut end = (start + MAX_NAME_BYTES).min(range.end);
            while !src.is_char_boundary(end) {
                end -= 1;
            }
            parts.push(TextRef {
                len: u16::try_from(end - start).unwrap_or(u16::MAX),
                start: offset(start),
            });
            start = end;
        }
        parts
    }

    fn range(self) -> Range<usize> {
        let start = self.start as usize;
        start..start + usize::from(self.len)
    }
}

/// The literal at `i` (see [`literal_ref`]), `own` being the expression's own literals.
pub(crate) fn lookup_literal(i: u32, own: &[Value]) -> Option<&Value> {
    let i = i as usize;
    let common: &'static [Value] = &COMMON_LITERALS;
    match common.get(i) {
        Some(value) => Some(value),
        None => own.get(i - common.len()),
    }
}

/// Whether literal `i` is one of the common ones (not one of the expression's own).
pub(crate) fn is_common_literal(i: u32) -> bool {
    (i as usize) < COMMON_LITERALS.len()
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

/// The sources, nodes and own literals of parsed code: of one expression or template as
/// parsed, of many once packed ([`pack`]).
#[derive(Debug, Default)]
pub(crate) struct CodeStore {
    text: Box<str>,
    nodes: Box<[Node]>,
    lits: Box<[Value]>,
}

/// Where a code's source, nodes or literals are in its store.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    start: u32,
    len: u32,
}

impl Slot {
    fn range(self) -> Range<usize> {
        let start = self.start as usize;
        start..start + self.len as usize
    }
}

/// A parsed expression (or the expressions of a template): its nodes, the text their names
/// and spans point into, and its literals other than the common ones, in a store it may
/// share with others.
#[derive(Debug, Clone)]
pub(crate) struct Code {
    store: Arc<CodeStore>,
    /// The source, kept for the life of the workflow: names, a path's text for its errors and
    /// a template's text are ranges of it.
    text: Slot,
    nodes: Slot,
    /// Literals that are not common ones: none for most expressions.
    lits: Slot,
}

impl Code {
    /// The code of `text`, `nodes` and `lits`, in a store of its own.
    pub(crate) fn new(text: &str, nodes: &[Node], lits: Vec<Value>) -> Code {
        let slot = |len: usize| Slot {
            start: 0,
            len: offset(len),
        };
        Code {
            text: slot(text.len()),
            nodes: slot(nodes.len()),
            lits: slot(lits.len()),
            store: Arc::new(CodeStore {
                text: Box::from(text),
                nodes: Box::from(nodes),
                lits: lits.into_boxed_slice(),
            }),
        }
    }

    /// Its source.
    pub(crate) fn source(&self) -> &str {
        self.store.text.get(self.text.range()).unwrap_or_default()
    }

    pub(crate) fn nodes(&self) -> &[Node] {
        self.store.nodes.get(self.nodes.range()).unwrap_or_default()
    }

    /// Its own literals (see [`literal_ref`]).
    pub(crate) fn lits(&self) -> &[Value] {
        self.store.lits.get(self.lits.range()).unwrap_or_default()
    }

    /// The root of a single expression: the last node.
    pub(crate) fn root(&self) -> u32 {
        self.nodes.len.saturating_sub(1)
    }

    pub(crate) fn node(&self, i: u32) -> &Node {
        &self.nodes()[i as usize]
    }

    /// The text of a template's text part.
    pub(crate) fn text(&self, part: TextRef) -> &str {
        self.source().get(part.range()).unwrap_or_default()
    }

    /// The name kept as `name` (see [`name_ref`]).
    pub(crate) fn name(&self, name: NameRef) -> &str {
        match NAMES.get(usize::from(name.common)) {
            Some(common) => common,
            None => {
                let start = name.start as usize;
                let end = start + usize::from(name.len);
                self.source().get(start..end).unwrap_or_default()
            }
        }
    }

    pub(crate) fn literal(&self, i: u32) -> &Value {
        lookup_literal(i, self.lits()).unwrap_or(&Value::Null)
    }

    /// Path node `i` with `n` segments: its base and its segments.
    pub(crate) fn path(&self, i: u32, n: u32) -> (u32, &[Node]) {
        let before = i - n - 1;
        let base = match self.node(before).kind {
            Kind::Link(_, base) => base,
            _ => before,
        };
        (base, self.before(i, n))
    }

    /// The index of a segment, when it is one.
    pub(crate) fn index(&self, segment: &Node) -> Option<i64> {
        match segment.kind {
            Kind::Index(i) => Some(i64::from(i)),
            Kind::LongIndex(at) => self.literal(at).as_i64(),
            _ => None,
        }
    }

    /// Conditional node `i`: its `then` and `otherwise` nodes.
    pub(crate) fn branches(&self, i: u32) -> (u32, u32) {
        let then = match self.node(i - 1).kind {
            Kind::Link(_, then) => then,
            _ => i - 1,
        };
        (then, i - 2)
    }

    /// The nodes linked from node `i` (an array's items, an object's values, a chain's
    /// operands, a call's arguments), in order.
    pub(crate) fn linked(&self, i: u32) -> impl Iterator<Item = u32> + '_ {
        let listed = match self.node(i).kind {
            Kind::Array(n) | Kind::Chain(n) | Kind::Call { args: n, .. } => self.before(i, n),
            Kind::Object(n) => self.before(i, 2 * n),
            _ => &[],
        };
        listed.iter().filter_map(|link| match link.kind {
            Kind::Link(_, child) => Some(child),
            _ => None,
        })
    }

    /// The nodes `n` nodes before `i`: the links or segments of node `i`.
    pub(crate) fn before(&self, i: u32, n: u32) -> &[Node] {
        let end = i as usize;
        &self.nodes()[end - n as usize..end]
    }
}

/// Moves `codes` into one store they share: a workflow keeps thousands of expressions, each
/// of which in a store of its own costs four heap blocks. Codes too big to share a store
/// (their parts over 4 GiB) stay as they are.
pub(crate) fn pack(codes: &mut [&mut Code]) {
    let total = |part: fn(&Code) -> Slot| codes.iter().map(|c| part(c).len as usize).sum();
    let (text, nodes, lits): (usize, usize, usize) =
        (total(|c| c.text), total(|c| c.nodes), total(|c| c.lits));
    if [text, nodes, lits]
        .iter()
        .any(|&n| u32::try_from(n).is_err())
    {
        return;
    }
    let mut store = (
        String::with_capacity(text),
        Vec::with_capacity(nodes),
        Vec::with_capacity(lits),
    );
    let mut slots = Vec::with_capacity(codes.len());
    let slot = |start: usize, len: u32| Slot {
        start: offset(start),
        len,
    };
    for code in codes.iter() {
        slots.push([
            slot(store.0.len(), code.text.len),
            slot(store.1.len(), code.nodes.len),
            slot(store.2.len(), code.lits.len),
        ]);
        store.0.push_str(code.source());
        store.1.extend_from_slice(code.nodes());
        store.2.extend_from_slice(code.lits());
    }
    let store = Arc::new(CodeStore {
        text: store.0.into_boxed_str(),
        nodes: store.1.into_boxed_slice(),
        lits: store.2.into_boxed_slice(),
    });
    for (code, [text, nodes, lits]) in codes.iter_mut().zip(slots) {
        **code = Code {
            store: store.clone(),
            text,
            nodes,
            lits,
        };
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    pub kind: Kind,
}

/// The spans of a code's nodes, by index (see the module's comment): empty for the kept form,
/// where every span reads as `0..0` (such errors are located again before they are shown).
#[derive(Clone, Copy)]
pub(crate) struct Located<'s>(pub &'s [Span]);

impl Located<'_> {
    /// No spans: the kept form's.
    pub(crate) const NONE: Located<'static> = Located(&[]);

    pub(crate) fn span(self, i: u32) -> Span {
        self.0.get(i as usize).copied().unwrap_or(Span::new(0..0))
    }

    /// Whether there are no spans (the kept form's).
    pub(crate) fn is_empty(self) -> bool {
        self.0.is_empty()
    }
}

/// A node. `u32`s are node indexes unless said otherwise; "links" are the `n` [`Kind::Link`]
/// nodes just before a node, in order, and "segments" the `n` segment nodes just before a
/// path. A node whose last child is the node just before it does not name that child.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// A constant (see [`Code::literal`]), including array/object literals made only of
    /// constants.
    Literal(u32),
    /// An array of the values of its `n` links.
    Array(u32),
    /// An object of `n` entries, each a [`Kind::Key`] then a link to the value.
    Object(u32),
    /// A root variable such as `inputs` (its name: see [`Code::name`]). Only as a path's
    /// base.
    Root(NameRef),
    /// `base.seg[seg]...`: a path through its `segments` (possibly none) from its base: the
    /// node before the segments, a [`Kind::Root`] or any value, or a link to it (when the
    /// nodes of a `[expr]` come between). See [`Code::path`].
    Path {
        segments: u32,
    },
    /// `.name` (see [`Code::name`]).
    Field(NameRef),
    /// `["name"]`: the name is literal `name` (a string).
    Key(u32),
    /// `[3]`.
    Index(i32),
    /// `[3000000000]`: the index is literal `n`.
    LongIndex(u32),
    /// `[expr]`.
    Dynamic(u32),
    Not(u32),
    Negate(u32),
    /// A comparison (these do not chain) of node `left` with the node just before; its errors
    /// span the whole node.
    Binary(BinOp, u32),
    /// `a + b`: a run of one operator of [`Kind::Chain`], `b` being the node just before;
    /// its errors span the operands.
    Pair(BinOp, u32),
    /// `a + b - c`, `a && b && c`: a left-associative run of operators of one precedence,
    /// kept flat so a long run adds no depth to the tree. `n` links, the first one's
    /// operator unused.
    Chain(u32),
    /// `cond ? then : otherwise`: a link to `then` just before, `otherwise` before it.
    Conditional(u32),
    /// A call of `FUNCTIONS[function]` with `n` links.
    Call {
        function: u16,
        args: u32,
    },
    /// One element of a list: an array item, an argument, an operand of a chain.
    Link(BinOp, u32),
    /// A template's text (or a part of it).
    Text(TextRef),
    /// A template's `${{ }}`.
    Part(u32),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every workflow keeps the nodes of all its expressions for as long as it is loaded
    /// (a 10,000-step workflow holds 10,000 of them): the nodes stay small.
    #[test]
    fn nodes_stay_small() {
        use std::mem::size_of;
        // As a tree of boxes: 48 bytes a node, 64 a path, 40 a path segment; with its span
        // inside, 16.
        assert!(size_of::<Node>() <= 8, "Node: {} bytes", size_of::<Node>());
    }
}
