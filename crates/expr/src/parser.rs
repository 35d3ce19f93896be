//! Recursive-descent parser from tokens to [`Node`]s.
//!
//! Precedence, lowest first: `? :`, `||`/`or`, `&&`/`and`, `==` `!=`, `<` `<=` `>` `>=` `in`,
//! `+` `-`, `*` `/` `%`, unary `!`/`not`/`-`, then `.field` `[index]` and calls.

use crate::ast::{self, literal, offset, Base, BinOp, Kind, Node, Path, Seg, SegKey, Span};
use crate::error::ParseError;
use crate::functions;
use crate::lexer::{Tok, Token};
use serde_json::{Map, Value};
use std::ops::Range;
use std::sync::Arc;

/// Parser recursion limit (parentheses, brackets, calls, unary operators).
pub const MAX_NESTING: usize = 64;
/// Height limit of the syntax tree, which bounds the evaluator's recursion. A flat run of
/// operators (`a + b + c ...`) is one level, however long.
pub const MAX_TREE_DEPTH: usize = 128;

/// Parses one whole expression. `end` is the offset reported for "expression ended" errors.
pub(crate) fn parse(src: &str, tokens: &[Token], end: usize) -> Result<Node, ParseError> {
    let mut parser = Parser {
        src,
        tokens,
        pos: 0,
        nesting: 0,
        end,
    };
    let node = parser.expr()?;
    match parser.peek() {
        None => Ok(node),
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

struct Parser<'s, 't> {
    src: &'s str,
    tokens: &'t [Token],
    pos: usize,
    nesting: usize,
    end: usize,
}

impl<'t> Parser<'_, 't> {
    fn peek(&self) -> Option<&'t Token> {
        self.tokens.get(self.pos)
    }

    fn peek_tok(&self) -> Option<&'t Tok> {
        self.peek().map(|t| &t.tok)
    }

    fn advance(&mut self) -> Option<&'t Token> {
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

    fn expr(&mut self) -> Result<Node, ParseError> {
        self.nested(Self::conditional)
    }

    fn conditional(&mut self) -> Result<Node, ParseError> {
        let cond = self.or()?;
        if self.eat(&Tok::Question).is_none() {
            return Ok(cond);
        }
        let then = self.expr()?;
        self.expect(Tok::Colon, "`:` of the `cond ? a : b` conditional")?;
        let otherwise = self.expr()?;
        let span = cond.span.start()..otherwise.span.end();
        node(Kind::Conditional(Box::new([cond, then, otherwise])), span)
    }

    /// Left-associative chain of operators at one precedence level.
    fn chain(
        &mut self,
        next: fn(&mut Self) -> Result<Node, ParseError>,
        op_of: fn(&Tok) -> Option<BinOp>,
    ) -> Result<Node, ParseError> {
        let first = next(self)?;
        let mut rest = Vec::new();
        while let Some(op) = self.peek_tok().and_then(op_of) {
            self.pos += 1;
            rest.push((op, next(self)?));
        }
        let Some(end) = rest.last().map(|(_, last)| last.span.end()) else {
            return Ok(first);
        };
        let span = first.span.start()..end;
        node(Kind::Chain(Box::new(first), rest.into_boxed_slice()), span)
    }

    /// One non-associative comparison: `a < b < c` is refused instead of silently
    /// comparing a boolean with `c`.
    fn comparison_level(
        &mut self,
        next: fn(&mut Self) -> Result<Node, ParseError>,
        op_of: fn(&Tok) -> Option<BinOp>,
    ) -> Result<Node, ParseError> {
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
        binary(op, left, right)
    }

    fn or(&mut self) -> Result<Node, ParseError> {
        self.chain(Self::and, |t| {
            matches!(t, Tok::OrOr | Tok::Or).then_some(BinOp::Or)
        })
    }

    fn and(&mut self) -> Result<Node, ParseError> {
        self.chain(Self::equality, |t| {
            matches!(t, Tok::AndAnd | Tok::And).then_some(BinOp::And)
        })
    }

    fn equality(&mut self) -> Result<Node, ParseError> {
        self.comparison_level(Self::comparison, |t| match t {
            Tok::EqEq => Some(BinOp::Eq),
            Tok::NotEq => Some(BinOp::Ne),
            _ => None,
        })
    }

    fn comparison(&mut self) -> Result<Node, ParseError> {
        self.comparison_level(Self::additive, |t| match t {
            Tok::Lt => Some(BinOp::Lt),
            Tok::Le => Some(BinOp::Le),
            Tok::Gt => Some(BinOp::Gt),
            Tok::Ge => Some(BinOp::Ge),
            Tok::In => Some(BinOp::In),
            _ => None,
        })
    }

    fn additive(&mut self) -> Result<Node, ParseError> {
        self.chain(Self::multiplicative, |t| match t {
            Tok::Plus => Some(BinOp::Add),
            Tok::Minus => Some(BinOp::Sub),
            _ => None,
        })
    }

    fn multiplicative(&mut self) -> Result<Node, ParseError> {
        self.chain(Self::unary, |t| match t {
            Tok::Star => Some(BinOp::Mul),
            Tok::Slash => Some(BinOp::Div),
            Tok::Percent => Some(BinOp::Rem),
            _ => None,
        })
    }

    fn unary(&mut self) -> Result<Node, ParseError> {
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
        let operand = self.nested(Self::unary)?;
        let span = start..operand.span.end();
        if !negate {
            return node(Kind::Not(Box::new(operand)), span);
        }
        // Fold `-<number literal>` so that `a[-1]` is a static index and `-5` a constant.
        let folded = match &operand.kind {
            Kind::Literal(literal) => match &**literal {
                Value::Number(n) => match n.as_i64() {
                    Some(i) => i.checked_neg().map(Value::from),
                    None => n.as_f64().and_then(|f| crate::value::number_from_f64(-f)),
                },
                _ => None,
            },
            _ => None,
        };
        match folded {
            Some(value) => node(Kind::Literal(literal(value)), span),
            None => node(Kind::Negate(Box::new(operand)), span),
        }
    }

    fn postfix(&mut self) -> Result<Node, ParseError> {
        let primary = self.primary()?;
        if !matches!(self.peek_tok(), Some(Tok::Dot | Tok::LBracket)) {
            return Ok(primary);
        }
        let start = primary.span.start();
        let mut path = match primary.kind {
            Kind::Path(path) => *path,
            _ => Path {
                base_len: offset(primary.span.range().len()),
                base: Base::Value(Box::new(primary)),
                segments: Box::new([]),
                text: Box::from(""),
            },
        };
        let mut end = start + path.base_len as usize;
        let mut segments = std::mem::take(&mut path.segments).into_vec();
        loop {
            let seg = if self.eat(&Tok::Dot).is_some() {
                self.field()?
            } else if let Some(open) = self.eat(&Tok::LBracket) {
                self.index(open)?
            } else {
                break;
            };
            end = seg.span.end();
            segments.push(Seg {
                text_end: offset(end - start),
                ..seg
            });
        }
        path.text = self.src.get(start..end).unwrap_or_default().into();
        // Parsed once, kept for the life of the workflow: without the room left for growth.
        path.segments = segments.into_boxed_slice();
        node(Kind::Path(Box::new(path)), start..end)
    }

    /// The name after a `.`.
    fn field(&mut self) -> Result<Seg, ParseError> {
        let Some(token) = self.advance() else {
            return Err(ParseError::new(
                "expected a field name after `.`",
                self.end..self.end,
            ));
        };
        let span = token.span.clone();
        let key = match token.tok.as_name() {
            Some(name) => SegKey::Field(ast::name(name)),
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
        Ok(Seg {
            key,
            span: Span::new(span),
            text_end: 0,
        })
    }

    /// The `[...]` accessor; `open` is the span of `[`.
    fn index(&mut self, open: Range<usize>) -> Result<Seg, ParseError> {
        let index = self.expr()?;
        let close = self.expect(Tok::RBracket, "`]`")?;
        let span = open.start..close.end;
        let literal = match index.kind {
            Kind::Literal(literal) => Arc::unwrap_or_clone(literal),
            _ => {
                return Ok(Seg {
                    key: SegKey::Dynamic(Box::new(index)),
                    span: Span::new(span),
                    text_end: 0,
                })
            }
        };
        let key = match literal {
            Value::String(name) => SegKey::Field(ast::name(&name)),
            Value::Number(n) => match n.as_i64() {
                Some(i) => SegKey::Index(i),
                None => {
                    return Err(ParseError::new(
                        "an index must be a whole number",
                        index.span.range(),
                    )
                    .with_help("use floor(x) or round(x) to get a whole number"))
                }
            },
            other => {
                return Err(ParseError::new(
                    format!(
                        "an index must be a string or a whole number, not {}",
                        crate::value::a_type(&other)
                    ),
                    index.span.range(),
                ))
            }
        };
        Ok(Seg {
            key,
            span: Span::new(span),
            text_end: 0,
        })
    }

    fn primary(&mut self) -> Result<Node, ParseError> {
        let Some(token) = self.peek() else {
            return Err(self.unexpected("a value"));
        };
        let span = token.span.clone();
        let literal = match &token.tok {
            Tok::Null => Value::Null,
            Tok::True => Value::Bool(true),
            Tok::False => Value::Bool(false),
            Tok::Int(i) => Value::from(*i),
            Tok::Float(f) => crate::value::number_from_f64(*f).unwrap_or(Value::Null),
            Tok::Str(s) => Value::String(s.clone()),
            Tok::Ident(name) => {
                let name = name.clone();
                self.pos += 1;
                return if self.peek_tok() == Some(&Tok::LParen) {
                    self.call(name, span)
                } else {
                    let path = Path {
                        base_len: offset(span.len()),
                        text: name.as_str().into(),
                        base: Base::Root(ast::name(&name), Span::new(span.clone())),
                        segments: Box::new([]),
                    };
                    node(Kind::Path(Box::new(path)), span)
                };
            }
            Tok::LParen => {
                self.pos += 1;
                let mut inner = self.expr()?;
                let close = self.expect(Tok::RParen, "`)`")?;
                inner.span = Span::new(span.start..close.end);
                return Ok(inner);
            }
            Tok::LBracket => return self.array(),
            Tok::LBrace => return self.object(),
            _ => return Err(self.unexpected("a value")),
        };
        self.pos += 1;
        node(Kind::Literal(ast::literal(literal)), span)
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

    fn array(&mut self) -> Result<Node, ParseError> {
        let start = self.here().start;
        self.pos += 1;
        let (items, end) = self.nested(|p| p.list(Tok::RBracket, "array", Self::expr))?;
        let kind = match constants(&items) {
            true => Kind::Literal(literal(Value::Array(
                items.into_iter().map(into_constant).collect(),
            ))),
            false => Kind::Array(items.into_boxed_slice()),
        };
        node(kind, start..end)
    }

    fn object(&mut self) -> Result<Node, ParseError> {
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
        let kind = if entries.iter().all(|(_, n)| is_constant(n)) {
            let map: Map<String, Value> = entries
                .into_iter()
                .map(|(k, n)| (k, into_constant(n)))
                .collect();
            Kind::Literal(literal(Value::Object(map)))
        } else {
            Kind::Object(
                entries
                    .into_iter()
                    .map(|(k, n)| (k.into_boxed_str(), n))
                    .collect(),
            )
        };
        node(kind, start..end)
    }

    fn call(&mut self, name: String, name_span: Range<usize>) -> Result<Node, ParseError> {
        let Some(info) = functions::lookup(&name) else {
            let error = ParseError::new(format!("unknown function `{name}`"), name_span);
            return Err(match functions::suggest(&name) {
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
        node(Kind::Call(info, args.into_boxed_slice()), span)
    }
}

fn close_symbol(tok: &Tok) -> &'static str {
    match tok {
        Tok::RBracket => "]",
        Tok::RBrace => "}",
        _ => ")",
    }
}

fn is_constant(n: &Node) -> bool {
    matches!(n.kind, Kind::Literal(_))
}

fn constants(nodes: &[Node]) -> bool {
    nodes.iter().all(is_constant)
}

/// Only called after [`is_constant`] holds.
fn into_constant(n: Node) -> Value {
    match n.kind {
        Kind::Literal(v) => Arc::unwrap_or_clone(v),
        _ => Value::Null,
    }
}

fn too_deep(span: Range<usize>) -> ParseError {
    ParseError::new(
        format!("expression is nested too deeply (limit {MAX_NESTING} levels)"),
        span,
    )
    .with_help("split it into several steps or variables")
}

fn binary(op: BinOp, left: Node, right: Node) -> Result<Node, ParseError> {
    let span = left.span.start()..right.span.end();
    node(Kind::Binary(op, Box::new(left), Box::new(right)), span)
}

/// Builds a node, computing its height and enforcing [`MAX_TREE_DEPTH`].
fn node(kind: Kind, span: Range<usize>) -> Result<Node, ParseError> {
    let children = match &kind {
        Kind::Literal(_) => 0,
        Kind::Array(items) | Kind::Call(_, items) => {
            items.iter().map(|n| n.depth).max().unwrap_or(0)
        }
        Kind::Object(entries) => entries.iter().map(|(_, n)| n.depth).max().unwrap_or(0),
        Kind::Path(path) => {
            let base = match &path.base {
                Base::Root(..) => 0,
                Base::Value(n) => n.depth,
            };
            path.segments
                .iter()
                .filter_map(|s| match &s.key {
                    SegKey::Dynamic(n) => Some(n.depth),
                    _ => None,
                })
                .fold(base, u8::max)
        }
        Kind::Not(n) | Kind::Negate(n) => n.depth,
        Kind::Binary(_, a, b) => a.depth.max(b.depth),
        Kind::Chain(first, rest) => rest.iter().map(|(_, n)| n.depth).fold(first.depth, u8::max),
        Kind::Conditional(parts) => parts.iter().map(|n| n.depth).max().unwrap_or(0),
    };
    let depth = usize::from(children) + 1;
    if depth > MAX_TREE_DEPTH {
        return Err(too_deep(span));
    }
    Ok(Node {
        kind,
        span: Span::new(span),
        // At most MAX_TREE_DEPTH, which fits (checked at compile time below).
        depth: depth as u8,
    })
}

const _: () = assert!(MAX_TREE_DEPTH <= u8::MAX as usize);
