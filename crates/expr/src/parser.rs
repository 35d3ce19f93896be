//! Recursive-descent parser from tokens to [`Node`]s, appended to a [`Builder`].
//!
//! Precedence, lowest first: `? :`, `||`/`or`, `&&`/`and`, `==` `!=`, `<` `<=` `>` `>=` `in`,
//! `+` `-`, `*` `/` `%`, unary `!`/`not`/`-`, then `.field` `[index]` and calls.

use crate::ast::{
    is_common_literal, literal_ref, lookup_literal, name_ref, offset, BinOp, Code, Kind, Node,
    Span, MAX_NAME_BYTES,
};
use crate::error::ParseError;
use crate::functions;
use crate::lexer::{Tok, Token};
use serde_json::{Map, Value};
use smallvec::SmallVec;
use std::ops::Range;

/// Parser recursion limit (parentheses, brackets, calls, unary operators).
pub const MAX_NESTING: usize = 64;
/// Height limit of the syntax tree, which bounds the evaluator's recursion. A flat run of
/// operators (`a + b + c ...`) is one level, however long.
pub const MAX_TREE_DEPTH: usize = 128;

/// The parsed form under construction: the nodes of one expression or of all the
/// expressions of a template, each appended after its children.
#[derive(Default)]
pub(crate) struct Builder {
    nodes: Vec<Node>,
    /// Each node's span, by index: errors and references while parsing, the [`Located`]
    /// form when asked for; the kept code does not hold them.
    spans: Vec<Span>,
    /// The height of each node's subtree (links and segments: their child's), bounded by
    /// [`MAX_TREE_DEPTH`] so evaluation can never overflow the stack. Only needed while
    /// parsing.
    depths: Vec<u8>,
    lits: Vec<Value>,
}

/// A path's segment nodes while the path is read, with their spans and depths: inline for
/// a path of up to 8 segments, so that reading one takes no heap block.
#[derive(Default)]
struct Segments {
    nodes: SmallVec<[Node; 8]>,
    spans: SmallVec<[Span; 8]>,
    depths: SmallVec<[u8; 8]>,
}

impl Builder {
    /// Room for the nodes of `src`, guessed from its length (an expression makes about a node
    /// for every four bytes): a short one is built without growing its lists.
    pub(crate) fn for_source(src: &str) -> Self {
        let nodes = src.len() / 4 + 2;
        Builder {
            nodes: Vec::with_capacity(nodes),
            spans: Vec::with_capacity(nodes),
            depths: Vec::with_capacity(nodes),
            lits: Vec::new(),
        }
    }

    /// The code, given the source it was parsed from, and its nodes' spans.
    pub(crate) fn finish(self, src: &str) -> (Code, Vec<Span>) {
        // The nodes are copied to a block of the exact size: the list was sized from the
        // source, and shrinking it in place would leave the rest of its block a hole among the
        // blocks a workflow keeps (`weft validate` of 100,000 steps: 4.6 MB more).
        (Code::new(src, &self.nodes, self.lits), self.spans)
    }

    /// The span of node `i`.
    pub(crate) fn span(&self, i: u32) -> Span {
        self.spans
            .get(i as usize)
            .copied()
            .unwrap_or(Span::new(0..0))
    }

    /// Removes the last node.
    fn pop(&mut self) {
        self.nodes.pop();
        self.spans.pop();
        self.depths.pop();
    }

    /// Takes the nodes from `first` on out.
    fn split_off(&mut self, first: usize) -> Segments {
        Segments {
            nodes: self.nodes.drain(first..).collect(),
            spans: self.spans.drain(first..).collect(),
            depths: self.depths.drain(first..).collect(),
        }
    }

    /// Appends nodes taken out (emptying `taken`).
    fn append(&mut self, taken: &mut Segments) {
        self.nodes.extend(taken.nodes.drain(..));
        self.spans.extend(taken.spans.drain(..));
        self.depths.extend(taken.depths.drain(..));
    }

    /// The last node's index.
    fn last(&self) -> u32 {
        offset(self.nodes.len().saturating_sub(1))
    }

    fn depth(&self, i: u32) -> u8 {
        self.depths.get(i as usize).copied().unwrap_or(0)
    }

    /// Appends a node that does not add a level: a link, a segment or a template part.
    pub(crate) fn attach(&mut self, kind: Kind, span: Span) -> u32 {
        let depth = match kind {
            Kind::Link(_, child) | Kind::Dynamic(child) => self.depth(child),
            _ => 0,
        };
        self.nodes.push(Node { kind });
        self.spans.push(span);
        self.depths.push(depth);
        self.last()
    }

    /// Appends a node, computing its height and enforcing [`MAX_TREE_DEPTH`].
    fn node(&mut self, kind: Kind, span: Range<usize>) -> Result<u32, ParseError> {
        let at = offset(self.nodes.len());
        let listed = |n: u32| (at - n..at).map(|i| self.depth(i)).max().unwrap_or(0);
        let children = match kind {
            Kind::Literal(_)
            | Kind::Root(_)
            | Kind::Field(_)
            | Kind::Key(_)
            | Kind::Index(_)
            | Kind::LongIndex(_)
            | Kind::Text(_) => 0,
            Kind::Array(n) | Kind::Chain(n) | Kind::Call { args: n, .. } => listed(n),
            Kind::Object(n) => listed(2 * n),
            Kind::Path { segments } => {
                // The base, or a link to it (as deep as it); a root adds no level.
                let before = at - segments - 1;
                let base = match self.nodes.get(before as usize) {
                    Some(Node {
                        kind: Kind::Root(_),
                        ..
                    }) => 0,
                    _ => self.depth(before),
                };
                listed(segments).max(base)
            }
            Kind::Not(n)
            | Kind::Negate(n)
            | Kind::Dynamic(n)
            | Kind::Link(_, n)
            | Kind::Part(n) => self.depth(n),
            Kind::Binary(_, left) | Kind::Pair(_, left) => self.depth(left).max(self.depth(at - 1)),
            Kind::Conditional(cond) => self.depth(cond).max(listed(2)),
        };
        let depth = usize::from(children) + 1;
        if depth > MAX_TREE_DEPTH {
            return Err(too_deep(span));
        }
        self.nodes.push(Node { kind });
        self.spans.push(Span::new(span));
        // At most MAX_TREE_DEPTH, which fits (checked at compile time below).
        self.depths.push(depth as u8);
        Ok(at)
    }

    fn literal(&mut self, value: Value, span: Range<usize>) -> Result<u32, ParseError> {
        let at = literal_ref(value, &mut self.lits);
        self.node(Kind::Literal(at), span)
    }

    /// The value of node `i` when it is a constant.
    fn constant(&self, i: u32) -> Option<&Value> {
        match self.nodes.get(i as usize)?.kind {
            Kind::Literal(at) => lookup_literal(at, &self.lits),
            _ => None,
        }
    }

    /// Removes the last node, a constant just parsed, and gives its value back.
    fn pop_constant(&mut self) -> Value {
        self.depths.pop();
        self.spans.pop();
        let Some(Node {
            kind: Kind::Literal(at),
            ..
        }) = self.nodes.pop()
        else {
            return Value::Null;
        };
        if is_common_literal(at) {
            return lookup_literal(at, &[]).cloned().unwrap_or(Value::Null);
        }
        // Own literals are added in the order of their nodes: the last node's is last.
        self.lits.pop().unwrap_or(Value::Null)
    }
}

/// A name longer than a node keeps (see [`MAX_NAME_BYTES`]).
fn too_long_name(span: &Range<usize>) -> ParseError {
    ParseError::new(
        format!(
            "name is too long: {} bytes (at most {MAX_NAME_BYTES})",
            span.len()
        ),
        span.clone(),
    )
}

/// Parses one whole expression into `code`; returns its root. `end` is the offset reported
/// for "expression ended" errors.
pub(crate) fn parse(
    code: &mut Builder,
    src: &str,
    tokens: &[Token<'_>],
    end: usize,
) -> Result<u32, ParseError> {
    let mut parser = Parser {
        code,
        src,
        tokens,
        pos: 0,
        nesting: 0,
        end,
    };
    let root = parser.expr()?;
    match parser.peek() {
        None => Ok(root),
        Some(token) => Err(ParseError::new(
            format!(
                "unexpected {} after the end of the expression",
                token.tok.describe()
            ),
            token.span.clone(),
        )
        .with_help("is an operator or a comma missing?")),
    }
}

struct Parser<'s, 't, 'b> {
    code: &'b mut Builder,
    src: &'s str,
    tokens: &'t [Token<'t>],
    pos: usize,
    nesting: usize,
    end: usize,
}

impl<'t> Parser<'_, 't, '_> {
    fn peek(&self) -> Option<&'t Token<'t>> {
        self.tokens.get(self.pos)
    }

    fn peek_tok(&self) -> Option<&'t Tok<'t>> {
        self.peek().map(|t| &t.tok)
    }

    fn advance(&mut self) -> Option<&'t Token<'t>> {
        let token = self.tokens.get(self.pos);
        self.pos += 1;
        token
    }

    fn eat(&mut self, tok: &Tok) -> Option<Range<usize>> {
        match self.peek() {
            Some(token) if &token.tok == tok => {
                let span = token.span.clone();
                self.pos += 1;
                Some(span)
            }
            _ => None,
        }
    }

    /// Span of the current token, or an empty span at the end.
    fn here(&self) -> Range<usize> {
        self.peek().map_or(self.end..self.end, |t| t.span.clone())
    }

    fn unexpected(&self, expected: &str) -> ParseError {
        match self.peek() {
            Some(token) => ParseError::new(
                format!("expected {expected}, found {}", token.tok.describe()),
                token.span.clone(),
            ),
            None => ParseError::new(
                format!("expected {expected}, but the expression ended"),
                self.end..self.end,
            ),
        }
    }

    fn expect(&mut self, tok: Tok, expected: &str) -> Result<Range<usize>, ParseError> {
        self.eat(&tok).ok_or_else(|| self.unexpected(expected))
    }

    /// Runs `f` one nesting level deeper, refusing to go past [`MAX_NESTING`].
    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        if self.nesting >= MAX_NESTING {
            return Err(too_deep(self.here()));
        }
        self.nesting += 1;
        let result = f(self);
        self.nesting -= 1;
        result
    }

    fn span(&self, i: u32) -> Span {
        self.code.span(i)
    }

    fn expr(&mut self) -> Result<u32, ParseError> {
        self.nested(Self::conditional)
    }

    fn conditional(&mut self) -> Result<u32, ParseError> {
        let cond = self.or()?;
        if self.eat(&Tok::Question).is_none() {
            return Ok(cond);
        }
        let then = self.expr()?;
        self.expect(Tok::Colon, "`:` of the `cond ? a : b` conditional")?;
        let otherwise = self.expr()?;
        let span = self.span(cond).start()..self.span(otherwise).end();
        let then_span = self.span(then);
        self.code.attach(Kind::Link(BinOp::Add, then), then_span);
        self.code.node(Kind::Conditional(cond), span)
    }

    /// Left-associative chain of operators at one precedence level.
    fn chain(
        &mut self,
        next: fn(&mut Self) -> Result<u32, ParseError>,
        op_of: fn(&Tok) -> Option<BinOp>,
    ) -> Result<u32, ParseError> {
        let first = next(self)?;
        let mut rest = Vec::new();
        while let Some(op) = self.peek_tok().and_then(op_of) {
            self.pos += 1;
            rest.push((op, next(self)?));
        }
        let span = match rest.last() {
            None => return Ok(first),
            Some(&(_, last)) => self.span(first).start()..self.span(last).end(),
        };
        if let [(op, _)] = *rest {
            // The second operand is the last node.
            return self.code.node(Kind::Pair(op, first), span);
        }
        let operands = offset(rest.len() + 1);
        let first_span = self.span(first);
        self.code.attach(Kind::Link(BinOp::Add, first), first_span);
        for (op, operand) in rest {
            let operand_span = self.span(operand);
            self.code.attach(Kind::Link(op, operand), operand_span);
        }
        self.code.node(Kind::Chain(operands), span)
    }

    /// One non-associative comparison: `a < b < c` is refused instead of silently
    /// comparing a boolean with `c`.
    fn comparison_level(
        &mut self,
        next: fn(&mut Self) -> Result<u32, ParseError>,
        op_of: fn(&Tok) -> Option<BinOp>,
    ) -> Result<u32, ParseError> {
        let left = next(self)?;
        let Some(op) = self.peek_tok().and_then(op_of) else {
            return Ok(left);
        };
        self.pos += 1;
        let right = next(self)?;
        if let Some(second) = self.peek().filter(|t| op_of(&t.tok).is_some()) {
            return Err(
                ParseError::new("comparisons cannot be chained", second.span.clone())
                    .with_help("combine them with `&&`, e.g. `a < b && b < c`, or add parentheses"),
            );
        }
        let span = self.span(left).start()..self.span(right).end();
        // `right` is the last node.
        self.code.node(Kind::Binary(op, left), span)
    }

    fn or(&mut self) -> Result<u32, ParseError> {
        self.chain(Self::and, |t| {
            matches!(t, Tok::OrOr | Tok::Or).then_some(BinOp::Or)
        })
    }

    fn and(&mut self) -> Result<u32, ParseError> {
        self.chain(Self::equality, |t| {
            matches!(t, Tok::AndAnd | Tok::And).then_some(BinOp::And)
        })
    }

    fn equality(&mut self) -> Result<u32, ParseError> {
        self.comparison_level(Self::comparison, |t| match t {
            Tok::EqEq => Some(BinOp::Eq),
            Tok::NotEq => Some(BinOp::Ne),
            _ => None,
        })
    }

    fn comparison(&mut self) -> Result<u32, ParseError> {
        self.comparison_level(Self::additive, |t| match t {
            Tok::Lt => Some(BinOp::Lt),
            Tok::Le => Some(BinOp::Le),
            Tok::Gt => Some(BinOp::Gt),
            Tok::Ge => Some(BinOp::Ge),
            Tok::In => Some(BinOp::In),
            _ => None,
        })
    }

    fn additive(&mut self) -> Result<u32, ParseError> {
        self.chain(Self::multiplicative, |t| match t {
            Tok::Plus => Some(BinOp::Add),
            Tok::Minus => Some(BinOp::Sub),
            _ => None,
        })
    }

    fn multiplicative(&mut self) -> Result<u32, ParseError> {
        self.chain(Self::unary, |t| match t {
            Tok::Star => Some(BinOp::Mul),
            Tok::Slash => Some(BinOp::Div),
            Tok::Percent => Some(BinOp::Rem),
            _ => None,
        })
    }

    fn unary(&mut self) -> Result<u32, ParseError> {
        let (negate, start) = match self.peek() {
            Some(Token {
                tok: Tok::Bang | Tok::Not,
                span,
            }) => (false, span.start),
            Some(Token {
                tok: Tok::Minus,
                span,
            }) => (true, span.start),
            _ => return self.postfix(),
        };
        self.pos += 1;
        if negate {
            if let Some(Token {
                tok: Tok::MinIntMagnitude,
                span,
            }) = self.peek()
            {
                let span = start..span.end;
                self.pos += 1;
                return self.code.literal(Value::from(i64::MIN), span);
            }
        }
        let operand = self.nested(Self::unary)?;
        let span = start..self.span(operand).end();
        if !negate {
            return self.code.node(Kind::Not(operand), span);
        }
        // Fold `-<number literal>` so that `a[-1]` is a static index and `-5` a constant.
        let folded = match self.code.constant(operand) {
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => i.checked_neg().map(Value::from),
                None => n.as_f64().and_then(|f| crate::value::number_from_f64(-f)),
            },
            _ => None,
        };
        match folded {
            Some(value) => {
                self.code.pop_constant();
                self.code.literal(value, span)
            }
            None => self.code.node(Kind::Negate(operand), span),
        }
    }

    fn postfix(&mut self) -> Result<u32, ParseError> {
        let primary = self.primary()?;
        if !matches!(self.peek_tok(), Some(Tok::Dot | Tok::LBracket)) {
            return Ok(primary);
        }
        let start = self.span(primary).start();
        // `(a.b).c` goes on with the path `a.b`: its references are those of `a.b.c`.
        let (base, mut listed) = match self.code.nodes.get(primary as usize) {
            Some(Node {
                kind: Kind::Path { segments },
            }) => {
                // Its segments are just before the path node: they become this path's first.
                let first = self.code.nodes.len() - 1 - *segments as usize;
                self.code.pop();
                let segments = self.code.split_off(first);
                // Before them its base, or a link to it (dropped: linked again below if the
                // base is not just before the segments).
                let base = match self.code.nodes.last() {
                    Some(Node {
                        kind: Kind::Link(_, linked),
                    }) => {
                        let linked = *linked;
                        self.code.pop();
                        linked
                    }
                    _ => self.code.last(),
                };
                (base, segments)
            }
            _ => (primary, Segments::default()),
        };
        // Segment nodes end up together just before the path node; a `[expr]` appends the
        // nodes of `expr` first, so the segments wait here.
        let mut end = start;
        loop {
            let (kind, span) = if self.eat(&Tok::Dot).is_some() {
                self.field()?
            } else if let Some(open) = self.eat(&Tok::LBracket) {
                self.index(open)?
            } else {
                break;
            };
            end = span.end();
            let depth = match kind {
                Kind::Dynamic(child) => self.code.depth(child),
                _ => 0,
            };
            listed.nodes.push(Node { kind });
            listed.spans.push(span);
            listed.depths.push(depth);
        }
        if base != self.code.last() {
            let base_span = self.span(base);
            self.code.attach(Kind::Link(BinOp::Add, base), base_span);
        }
        let segments = offset(listed.nodes.len());
        self.code.append(&mut listed);
        self.code.node(Kind::Path { segments }, start..end)
    }

    /// The name after a `.`.
    fn field(&mut self) -> Result<(Kind, Span), ParseError> {
        let Some(token) = self.advance() else {
            return Err(ParseError::new(
                "expected a field name after `.`",
                self.end..self.end,
            ));
        };
        let span = token.span.clone();
        let name = match token.tok.as_name() {
            Some(name) => name_ref(name, span.clone()).ok_or_else(|| too_long_name(&span))?,
            None if matches!(token.tok, Tok::Int(_)) => {
                let index = self.src.get(span.clone()).unwrap_or_default();
                return Err(
                    ParseError::new("array elements are read with brackets", span)
                        .with_help(format!("write `[{index}]` instead of `.{index}`")),
                );
            }
            None => {
                return Err(ParseError::new(
                    format!(
                        "expected a field name after `.`, found {}",
                        token.tok.describe()
                    ),
                    span,
                ))
            }
        };
        if self.peek_tok() == Some(&Tok::LParen) {
            return Err(ParseError::new("methods are not supported", span).with_help(
                "call functions with the value as first argument, e.g. `len(x)` instead of `x.len()`",
            ));
        }
        Ok((Kind::Field(name), Span::new(span)))
    }

    /// The `[...]` accessor; `open` is the span of `[`.
    fn index(&mut self, open: Range<usize>) -> Result<(Kind, Span), ParseError> {
        let index = self.expr()?;
        let close = self.expect(Tok::RBracket, "`]`")?;
        let span = Span::new(open.start..close.end);
        let index_span = self.span(index).range();
        if self.code.constant(index).is_none() {
            return Ok((Kind::Dynamic(index), span));
        }
        let kind = match self.code.pop_constant() {
            Value::String(name) => Kind::Key(literal_ref(Value::String(name), &mut self.code.lits)),
            Value::Number(n) => match n.as_i64() {
                Some(i) => match i32::try_from(i) {
                    Ok(small) => Kind::Index(small),
                    Err(_) => Kind::LongIndex(literal_ref(Value::from(i), &mut self.code.lits)),
                },
                None => {
                    return Err(
                        ParseError::new("an index must be a whole number", index_span)
                            .with_help("use floor(x) or round(x) to get a whole number"),
                    )
                }
            },
            other => {
                return Err(ParseError::new(
                    format!(
                        "an index must be a string or a whole number, not {}",
                        crate::value::a_type(&other)
                    ),
                    index_span,
                ))
            }
        };
        Ok((kind, span))
    }

    fn primary(&mut self) -> Result<u32, ParseError> {
        let Some(token) = self.peek() else {
            return Err(self.unexpected("a value"));
        };
        let span = token.span.clone();
        let literal = match &token.tok {
            Tok::Null => Value::Null,
            Tok::True => Value::Bool(true),
            Tok::False => Value::Bool(false),
            Tok::Int(i) => Value::from(*i),
            Tok::MinIntMagnitude => {
                let text = self.src.get(span.clone()).unwrap_or_default();
                return Err(crate::lexer::too_large(text, span));
            }
            Tok::Float(f) => crate::value::number_from_f64(*f).unwrap_or(Value::Null),
            Tok::Str(s) => Value::String(s.clone()),
            Tok::Ident(name) => {
                self.pos += 1;
                if self.peek_tok() == Some(&Tok::LParen) {
                    return self.call(name, span);
                }
                let name = name_ref(name, span.clone()).ok_or_else(|| too_long_name(&span))?;
                self.code.node(Kind::Root(name), span.clone())?;
                return self.code.node(Kind::Path { segments: 0 }, span);
            }
            Tok::LParen => {
                self.pos += 1;
                let inner = self.expr()?;
                let close = self.expect(Tok::RParen, "`)`")?;
                if let Some(inner_span) = self.code.spans.get_mut(inner as usize) {
                    *inner_span = Span::new(span.start..close.end);
                }
                return Ok(inner);
            }
            Tok::LBracket => return self.array(),
            Tok::LBrace => return self.object(),
            _ => return Err(self.unexpected("a value")),
        };
        self.pos += 1;
        self.code.literal(literal, span)
    }

    /// Parses `item, item, ...` up to `close` (a trailing comma is allowed).
    fn list<T>(
        &mut self,
        close: Tok,
        what: &str,
        mut item: impl FnMut(&mut Self) -> Result<T, ParseError>,
    ) -> Result<(Vec<T>, usize), ParseError> {
        let mut items = Vec::new();
        loop {
            if let Some(end) = self.eat(&close) {
                return Ok((items, end.end));
            }
            items.push(item(self)?);
            if let Some(end) = self.eat(&close) {
                return Ok((items, end.end));
            }
            self.expect(
                Tok::Comma,
                &format!("`,` or `{}` in {what}", close_symbol(&close)),
            )?;
        }
    }

    /// Links `items` (in order) to the node about to be appended.
    fn link(&mut self, items: &[u32]) -> u32 {
        for &item in items {
            let span = self.span(item);
            self.code.attach(Kind::Link(BinOp::Add, item), span);
        }
        offset(items.len())
    }

    /// Whether every one of `items` is a constant; then they are the last nodes, one each.
    fn constants(&self, items: impl IntoIterator<Item = u32>) -> bool {
        items.into_iter().all(|i| self.code.constant(i).is_some())
    }

    /// Takes the values of the last `n` nodes, constants, in order.
    fn pop_constants(&mut self, n: usize) -> Vec<Value> {
        let mut values: Vec<Value> = (0..n).map(|_| self.code.pop_constant()).collect();
        values.reverse();
        values
    }

    fn array(&mut self) -> Result<u32, ParseError> {
        let start = self.here().start;
        self.pos += 1;
        let (items, end) = self.nested(|p| p.list(Tok::RBracket, "array", Self::expr))?;
        if self.constants(items.iter().copied()) {
            let values = self.pop_constants(items.len());
            return self.code.literal(Value::Array(values), start..end);
        }
        let n = self.link(&items);
        self.code.node(Kind::Array(n), start..end)
    }

    fn object(&mut self) -> Result<u32, ParseError> {
        let start = self.here().start;
        self.pos += 1;
        let mut seen: Vec<String> = Vec::new();
        let (entries, end) = self.nested(|p| {
            p.list(Tok::RBrace, "object", |p| {
                let key_token = p.peek().cloned();
                let key = match key_token.as_ref().map(|t| &t.tok) {
                    Some(Tok::Str(s)) => s.clone(),
                    Some(tok) => match tok.as_name() {
                        Some(name) => name.to_string(),
                        None => return Err(p.unexpected("an object key (a name or a string)")),
                    },
                    None => return Err(p.unexpected("an object key")),
                };
                let key_span = key_token.map(|t| t.span).unwrap_or_default();
                p.pos += 1;
                if seen.contains(&key) {
                    return Err(ParseError::new(
                        format!("duplicate key `{key}` in object"),
                        key_span,
                    ));
                }
                seen.push(key.clone());
                p.expect(Tok::Colon, "`:` after the object key")?;
                Ok((key, p.expr()?))
            })
        })?;
        if self.constants(entries.iter().map(|&(_, n)| n)) {
            let values = self.pop_constants(entries.len());
            let map: Map<String, Value> = entries.into_iter().map(|(k, _)| k).zip(values).collect();
            return self.code.literal(Value::Object(map), start..end);
        }
        let n = offset(entries.len());
        for (key, value) in entries {
            let key = literal_ref(Value::String(key), &mut self.code.lits);
            let span = self.span(value);
            self.code.attach(Kind::Key(key), span);
            self.code.attach(Kind::Link(BinOp::Add, value), span);
        }
        self.code.node(Kind::Object(n), start..end)
    }

    fn call(&mut self, name: &str, name_span: Range<usize>) -> Result<u32, ParseError> {
        let Some((function, info)) = functions::lookup(name) else {
            let error = ParseError::new(format!("unknown function `{name}`"), name_span);
            return Err(match functions::suggest(name) {
                Some(close) => error.with_help(format!("did you mean `{close}`?")),
                None => error.with_help("see docs/expressions.md for the list of functions"),
            });
        };
        self.pos += 1; // `(`
        let (args, end) = self.nested(|p| p.list(Tok::RParen, "function arguments", Self::expr))?;
        let span = name_span.start..end;
        if args.len() < info.min_args || info.max_args.is_some_and(|max| args.len() > max) {
            return Err(ParseError::new(
                format!(
                    "`{name}` takes {}, but {} were given",
                    info.arity_text(),
                    args.len()
                ),
                span,
            )
            .with_help(format!("usage: {}", info.signature)));
        }
        let args = self.link(&args);
        self.code.node(Kind::Call { function, args }, span)
    }
}

fn close_symbol(tok: &Tok) -> &'static str {
    match tok {
        Tok::RBracket => "]",
        Tok::RBrace => "}",
        _ => ")",
    }
}

fn too_deep(span: Range<usize>) -> ParseError {
    ParseError::new(
        format!("expression is nested too deeply (limit {MAX_NESTING} levels)"),
        span,
    )
    .with_help("split it into several steps or variables")
}

const _: () = assert!(MAX_TREE_DEPTH <= u8::MAX as usize);
