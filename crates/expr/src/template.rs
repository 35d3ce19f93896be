//! Templates: YAML strings with `${{ expr }}` parts, and standalone expressions.

use crate::ast::{offset, Code, Kind, Located, Node, Span, TextRef};
use crate::carry;
use crate::error::{EvalError, ParseError};
use crate::eval::{eval, range_bounds, Ctx, OnValue};
use crate::fold::constant_errors;
use crate::lexer::lex;
use crate::parser::{self, Builder};
use crate::refs::{collect, Reference, ReferenceUse};
use crate::scope::Scope;
use crate::value::push_text;
use serde_json::Value;
use smallvec::SmallVec;
use std::cell::RefCell;
use std::ops::Range;

/// Templates and expressions whose code is to be kept together (see [`Packing::finish`]).
#[derive(Default)]
pub struct Packing<'a> {
    codes: Vec<&'a mut Code>,
}

impl<'a> Packing<'a> {
    pub fn template(&mut self, template: &'a mut Template) {
        self.codes.push(&mut template.code);
    }

    pub fn expr(&mut self, expr: &'a mut Expr) {
        self.codes.push(&mut expr.code);
    }

    /// Moves the sources, nodes and literals of every template and expression added into one
    /// heap block each, which they share: parsed alone, each holds four.
    pub fn finish(mut self) {
        crate::ast::pack(&mut self.codes);
    }
}

/// A single parsed expression (no `${{ }}`), e.g. an `if:` condition.
#[derive(Debug, Clone)]
pub struct Expr {
    /// Its source, then its nodes; the root is the last one.
    code: Code,
    redact: bool,
}

impl Expr {
    pub fn parse(src: &str) -> Result<Expr, ParseError> {
        Self::parse_located(src).map(|(expr, _)| expr)
    }

    /// The expression and its nodes' spans.
    fn parse_located(src: &str) -> Result<(Expr, Vec<Span>), ParseError> {
        let tokens = lex(src, 0, None)?.tokens;
        if tokens.is_empty() {
            return Err(ParseError::new("empty expression", 0..src.len()));
        }
        let mut code = Builder::for_source(src);
        parser::parse(&mut code, src, &tokens, src.len())?;
        let (code, spans) = code.finish(src);
        let expr = Expr {
            redact: any_reads_secrets(&code),
            code,
        };
        Ok((expr, spans))
    }

    /// Its nodes' spans, from its source parsed again (see `ast::Located`).
    fn spans(&self) -> Vec<Span> {
        Self::parse_located(self.code.source())
            .map(|(_, spans)| spans)
            .unwrap_or_default()
    }

    /// [`Expr::parse`], with what checking it needs (found with the spans of this parse).
    pub fn parse_checked(src: &str) -> Result<(Expr, Checks), ParseError> {
        let (expr, spans) = Self::parse_located(src)?;
        let root = expr.code.root();
        let checks = Checks::of(&expr.code, Located(&spans), [root]);
        Ok((expr, checks))
    }

    pub fn eval(&self, scope: &dyn Scope) -> Result<Value, EvalError> {
        self.eval_located(Located::NONE, scope)
            .map_err(|unlocated| {
                let spans = self.spans();
                located(
                    self.eval_located(Located(&spans), scope),
                    unlocated,
                    &self.code,
                )
            })
    }

    fn eval_located(&self, spans: Located<'_>, scope: &dyn Scope) -> Result<Value, EvalError> {
        let root = self.code.root();
        // A variable computed from a secret (see `Scope::is_taint_source`) hides values too.
        let redact =
            self.redact || (scope.has_taint_sources() && reads_source(&self.code, root, scope));
        let cx = Ctx {
            code: &self.code,
            spans,
            scope,
            redact,
            on_value: None,
        };
        eval(root, &cx).map(|v| v.into_owned()).map_err(
            |e| {
                if redact {
                    e.hide_values()
                } else {
                    e
                }
            },
        )
    }

    /// Every variable path the expression reads (including inside function arguments).
    pub fn references(&self) -> Vec<Reference> {
        plain(self.references_with_context())
    }

    /// Like [`Expr::references`], also telling which ones are guarded by `default`/`coalesce`.
    pub fn references_with_context(&self) -> Vec<ReferenceUse> {
        let spans = self.spans();
        let mut out = Vec::new();
        collect(
            &self.code,
            Located(&spans),
            self.code.root(),
            false,
            &mut out,
        );
        out
    }

    pub fn source(&self) -> &str {
        self.code.source()
    }

    /// The errors that evaluating it would give on every run (constant subexpressions such
    /// as `'n=' + 3` or `1 / 0`), for validation.
    pub fn constant_errors(&self) -> Vec<EvalError> {
        let spans = self.spans();
        let mut out = Vec::new();
        constant_errors(&self.code, Located(&spans), self.code.root(), &mut out);
        out
    }
}

/// What checking an expression or a template needs: the variables it reads and the errors
/// it would give on every run. Found with the spans of its parse, which its kept form does
/// not hold: [`Template::parse_checked`] gives both at once.
#[derive(Debug)]
pub struct Checks {
    pub references: Vec<Reference>,
    pub constant_errors: Vec<EvalError>,
}

impl Checks {
    fn of(code: &Code, spans: Located<'_>, roots: impl IntoIterator<Item = u32>) -> Self {
        let mut uses = Vec::new();
        let mut constant = Vec::new();
        for root in roots {
            collect(code, spans, root, false, &mut uses);
            constant_errors(code, spans, root, &mut constant);
        }
        Checks {
            references: plain(uses),
            constant_errors: constant,
        }
    }
}

/// The error of an evaluation again with spans, given the one without (`unlocated`). The two
/// read the same values and so fail alike; were they not to (a function of the clock), the
/// error without spans points at the whole source.
fn located<T>(again: Result<T, EvalError>, unlocated: EvalError, code: &Code) -> EvalError {
    match again {
        Err(error) => error,
        Ok(_) => EvalError {
            span: 0..code.source().len(),
            ..unlocated
        },
    }
}

/// A string from YAML that may contain `${{ expr }}` parts. Parsed once at load time,
/// rendered many times. `$${{` stands for a literal `${{`.
#[derive(Debug, Clone)]
pub struct Template {
    /// The nodes of its expressions, then (see `parts`) its parts.
    code: Code,
    /// How many nodes at the end of the code are its parts ([`Kind::Text`], [`Kind::Part`]).
    /// None: the template is exactly one `${{ }}`, whose root is the last node, or, with no
    /// node at all, exactly its source text.
    parts: u32,
    redact: bool,
}

/// A template's parts while parsing: the node of an expression, or a span of the text.
enum Part {
    Text(Span),
    Expr(u32),
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, ParseError> {
        Self::parse_all(src).map_err(|mut errors| errors.swap_remove(0))
    }

    /// Like [`Template::parse`], but a broken `${{ }}` does not hide the ones after it: every
    /// error is returned, in order (never an empty list).
    pub fn parse_all(src: &str) -> Result<Template, Vec<ParseError>> {
        Self::parse_located(src).map(|(template, _)| template)
    }

    /// Its nodes' spans, from its source parsed again (see `ast::Located`).
    fn spans(&self) -> Vec<Span> {
        Self::parse_located(self.code.source())
            .map(|(_, spans)| spans)
            .unwrap_or_default()
    }

    /// [`Template::parse_all`], with what checking it needs (found with the spans of this
    /// parse, so the source is not parsed again for them).
    pub fn parse_checked(src: &str) -> Result<(Template, Checks), Vec<ParseError>> {
        let (template, spans) = Self::parse_located(src)?;
        let checks = Checks::of(&template.code, Located(&spans), template.expressions());
        Ok((template, checks))
    }

    /// The template and its nodes' spans.
    fn parse_located(src: &str) -> Result<(Template, Vec<Span>), Vec<ParseError>> {
        let mut code = Builder::for_source(src);
        let mut parts: SmallVec<[Part; 4]> = SmallVec::new();
        let mut errors = Vec::new();
        // The literal text since the last expression or escape starts at `text`: the parts
        // are ranges of the source (a `$${{` ends one, its `${{` starts the next).
        let mut text = 0;
        let mut pos = 0;
        let end_text = |parts: &mut SmallVec<[Part; 4]>, range: Range<usize>| {
            if !range.is_empty() {
                parts.push(Part::Text(Span::new(range)));
            }
        };
        while let Some(found) = src[pos..].find("${{") {
            let at = pos + found;
            if at > pos && src.as_bytes()[at - 1] == b'$' {
                // `$${{` is an escaped, literal `${{`.
                end_text(&mut parts, text..at - 1);
                text = at;
                pos = at + 3;
                continue;
            }
            end_text(&mut parts, text..at);
            match expression(&mut code, src, at) {
                Ok((root, end)) => {
                    parts.push(Part::Expr(root));
                    pos = end;
                }
                Err(error) => {
                    errors.push(error);
                    // Resume after the next `}}`, the likely end of the broken expression.
                    match src[at + 3..].find("}}") {
                        Some(close) => pos = at + 3 + close + 2,
                        None => return Err(errors),
                    }
                }
            }
            text = pos;
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        end_text(&mut parts, text..src.len());
        let whole_source = matches!(*parts, [Part::Text(span)] if span.range() == (0..src.len()));
        let count = match *parts {
            [Part::Expr(_)] => 0,
            _ if whole_source => 0,
            _ => {
                let mut count = 0;
                for part in &parts {
                    match *part {
                        Part::Text(span) => {
                            for text in TextRef::split(src, span.range()) {
                                code.attach(Kind::Text(text), span);
                                count += 1;
                            }
                        }
                        Part::Expr(root) => {
                            code.attach(Kind::Part(root), Span::new(0..0));
                            count += 1;
                        }
                    };
                }
                offset(count)
            }
        };
        let (code, spans) = code.finish(src);
        let mut template = Template {
            code,
            parts: count,
            redact: false,
        };
        template.redact = any_reads_secrets(&template.code);
        Ok((template, spans))
    }

    fn shape(&self) -> Shape<'_> {
        match (self.parts, self.code.nodes().is_empty()) {
            (0, true) => Shape::Source,
            (0, false) => Shape::Single(self.code.root()),
            (n, _) => Shape::Parts(self.code.before(offset(self.code.nodes().len()), n)),
        }
    }

    /// The roots of its expressions, in order.
    fn expressions(&self) -> impl Iterator<Item = u32> + '_ {
        let (single, parts) = match self.shape() {
            Shape::Source => (None, &[][..]),
            Shape::Single(root) => (Some(root), &[][..]),
            Shape::Parts(parts) => (None, parts),
        };
        single
            .into_iter()
            .chain(parts.iter().filter_map(|p| match p.kind {
                Kind::Part(root) => Some(root),
                _ => None,
            }))
    }

    /// True when the template contains no expression.
    pub fn is_literal(&self) -> bool {
        self.expressions().next().is_none()
    }

    /// A template that is exactly one `${{ expr }}` keeps the value's type (an array stays
    /// an array). Otherwise each part is converted to text and concatenated: strings as is,
    /// numbers, booleans and null as JSON, arrays and objects as compact JSON.
    pub fn render(&self, scope: &dyn Scope) -> Result<Value, EvalError> {
        self.render_tainted(scope, &mut |_, _| {})
    }

    /// Renders like [`Template::render`], handing `tainted` the value of each expression that
    /// reads `secrets` or a variable computed from one (see [`Scope::is_taint_source`]):
    /// whatever it computes may come from a secret, so it is one (taint), and [`Taint`] tells
    /// whether it only read it. The text around the expressions is not tainted. A template
    /// that reads no secret pays nothing more.
    pub fn render_tainted(
        &self,
        scope: &dyn Scope,
        tainted: &mut dyn FnMut(&Value, Taint),
    ) -> Result<Value, EvalError> {
        self.render_located(Located::NONE, scope, tainted)
            .map_err(|unlocated| {
                // Rendered again for the spans of the error alone: nothing is handed out twice.
                let spans = self.spans();
                let again = self.render_located(Located(&spans), scope, &mut |_, _| {});
                located(again, unlocated, &self.code)
            })
    }

    fn render_located(
        &self,
        spans: Located<'_>,
        scope: &dyn Scope,
        tainted: &mut dyn FnMut(&Value, Taint),
    ) -> Result<Value, EvalError> {
        let code = &self.code;
        // A variable computed from a secret (see `Scope::is_taint_source`) taints like `secrets`.
        let sources = scope.has_taint_sources();
        let secret_node =
            |root: u32| reads_secrets(code, [root]) || (sources && reads_source(code, root, scope));
        let redact = self.redact || (sources && self.expressions().any(secret_node));
        let tainted = RefCell::new(tainted);
        // Texts computed from a secret's content on the way to an expression's value
        // (`lower(tok)` in `url + tok + lower(tok)`): a server may echo one alone, so each is
        // handed out too, unless the expression writes it (`first(["Bearer", tok])` chose a
        // word of its own). An expression's own value is handed out below.
        let handed = match redact {
            true => {
                let roots: Vec<u32> = self.expressions().collect();
                carry::handed_nodes(code, &roots, &secret_node)
            }
            false => Vec::new(),
        };
        let hand = |i: u32, value: &Value| {
            if value.is_string() && handed.binary_search(&i).is_ok() && !code.lits().contains(value)
            {
                (*tainted.borrow_mut())(value, Taint::Intermediate);
            }
        };
        let cx = Ctx {
            code,
            spans,
            scope,
            redact,
            on_value: (!handed.is_empty()).then_some(&hand as &OnValue),
        };
        let shape = self.shape();
        let eval_part = |root| {
            let secret = redact && secret_node(root);
            // The message of a failure could quote a value computed from the secret.
            let value = eval(root, &cx).map_err(|e| if secret { e.hide_values() } else { e })?;
            if secret {
                let taint = if !is_plain_read(code, root) || reads_secrets(code, [root]) {
                    Taint::Computed
                } else if matches!(shape, Shape::Single(_)) {
                    Taint::Read
                } else {
                    Taint::ReadIntoText
                };
                (*tainted.borrow_mut())(&value, taint);
            }
            Ok(value)
        };
        let parts = match shape {
            Shape::Single(root) => return eval_part(root).map(|v| v.into_owned()),
            Shape::Source => return Ok(Value::String(self.source().to_string())),
            Shape::Parts(parts) => parts,
        };
        let mut out = String::new();
        for part in parts {
            match part.kind {
                Kind::Part(root) => {
                    push_text(&mut out, &*eval_part(root)?);
                    crate::limits::check_text(out.len(), &spans.span(root).range())?;
                }
                Kind::Text(text) => out.push_str(code.text(text)),
                _ => {}
            }
        }
        Ok(Value::String(out))
    }

    /// When the template is exactly `${{ range(...) }}` and reads no secret: the numbers it
    /// would list, as bounds (evaluated and checked as `range` does), so that a `for_each`
    /// counts through them instead of holding a list of up to a million values. `None` for
    /// any other template: render it.
    pub fn range_bounds(&self, scope: &dyn Scope) -> Option<Result<Range<i64>, EvalError>> {
        let Shape::Single(root) = self.shape() else {
            return None;
        };
        // Rendering hands every number computed from a secret to the caller (taint), and
        // keeps values out of the errors: leave that to `render_tainted`.
        if self.redact || (scope.has_taint_sources() && reads_source(&self.code, root, scope)) {
            return None;
        }
        let bounds = |spans| {
            let cx = Ctx {
                code: &self.code,
                spans,
                scope,
                redact: false,
                on_value: None,
            };
            range_bounds(root, &cx)
        };
        match bounds(Located::NONE)? {
            Ok(range) => Some(Ok(range)),
            Err(unlocated) => {
                let spans = self.spans();
                let again = bounds(Located(&spans)).unwrap_or(Ok(0..0));
                Some(Err(located(again, unlocated, &self.code)))
            }
        }
    }

    /// Every variable path used in the template (also inside function arguments and operators).
    pub fn references(&self) -> Vec<Reference> {
        plain(self.references_with_context())
    }

    /// Like [`Template::references`], also telling which ones are guarded by `default`/`coalesce`.
    pub fn references_with_context(&self) -> Vec<ReferenceUse> {
        let spans = self.spans();
        let mut out = Vec::new();
        for root in self.expressions() {
            collect(&self.code, Located(&spans), root, false, &mut out);
        }
        out
    }

    pub fn source(&self) -> &str {
        self.code.source()
    }

    /// Like [`Expr::constant_errors`], for every expression of the template.
    pub fn constant_errors(&self) -> Vec<EvalError> {
        let spans = self.spans();
        let mut out = Vec::new();
        for root in self.expressions() {
            constant_errors(&self.code, Located(&spans), root, &mut out);
        }
        out
    }
}

/// How a value handed out by [`Template::render_tainted`] came from a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taint {
    /// Computed by an expression that reads `secrets`, or computes from a variable computed
    /// from one: a new value.
    Computed,
    /// Read as it is from a variable computed from a secret (`${{ vars.token }}`,
    /// `${{ steps.s.output.code }}`): a part of a value that was tainted when computed, and
    /// the template's whole value.
    Read,
    /// Read so, and written into the template's text (`"<${{ vars.token }}>"`).
    ReadIntoText,
    /// A text made of a secret's content on the way to an expression's value, by a call or
    /// by reading into a computed value (`lower(tok)` in `"q=" + tok + lower(tok)`,
    /// `from_json(secrets.cfg).key`): a form of the secret, which the expression's value holds
    /// or was computed from.
    Intermediate,
}

/// What a template is made of.
enum Shape<'a> {
    /// Exactly its source text.
    Source,
    /// Exactly one `${{ }}`: its root.
    Single(u32),
    /// Text and expressions: the [`Kind::Text`] and [`Kind::Part`] nodes.
    Parts(&'a [Node]),
}

/// Parses the `${{ ... }}` starting at byte `at` into `code`; returns its root and the
/// offset after its `}}`.
fn expression(code: &mut Builder, src: &str, at: usize) -> Result<(u32, usize), ParseError> {
    let lexed = lex(src, at + 3, Some(at..at + 3))?;
    let close = lexed.close.unwrap_or(src.len()..src.len());
    if lexed.tokens.is_empty() {
        return Err(
            ParseError::new("empty expression `${{ }}`", at..close.end).with_help(
                "put an expression between `${{` and `}}`, or write `$${{` for a literal `${{`",
            ),
        );
    }
    let root = parser::parse(code, src, &lexed.tokens, close.start)?;
    Ok((root, close.end))
}

fn plain(uses: Vec<ReferenceUse>) -> Vec<Reference> {
    uses.into_iter().map(|u| u.reference).collect()
}

/// Whether node `root` reads a variable that `scope` marks as computed from a secret.
fn reads_source(code: &Code, root: u32, scope: &dyn Scope) -> bool {
    let mut uses = Vec::new();
    collect(code, Located::NONE, root, false, &mut uses);
    uses.iter()
        .any(|u| scope.is_taint_source(&u.reference.root, &u.reference.segments))
}

/// Whether node `root` only reads a variable (a path of names and constant indexes:
/// `steps.s.output.items[0]`), computing nothing from it.
fn is_plain_read(code: &Code, root: u32) -> bool {
    match code.node(root).kind {
        Kind::Root(_) => true,
        Kind::Path { segments } => {
            let (base, path) = code.path(root, segments);
            matches!(code.node(base).kind, Kind::Root(_))
                && path.iter().all(|segment| {
                    matches!(
                        segment.kind,
                        Kind::Field(_) | Kind::Key(_) | Kind::Index(_) | Kind::LongIndex(_)
                    )
                })
        }
        _ => false,
    }
}

/// Whether any of the expressions at `roots` reads `secrets` (then values stay out of error
/// messages).
fn reads_secrets(code: &Code, roots: impl IntoIterator<Item = u32>) -> bool {
    let mut uses = Vec::new();
    for root in roots {
        collect(code, Located::NONE, root, false, &mut uses);
    }
    uses.iter().any(|u| u.reference.root == "secrets")
}

/// Whether any expression of `code` reads `secrets`, as [`reads_secrets`] of them all finds.
/// A root is only ever a path's base and every node is in an expression, so a `secrets` root
/// anywhere is a read of it; looking at the nodes copies no name (every parse pays this, and
/// listing the references copied each of their names).
fn any_reads_secrets(code: &Code) -> bool {
    code.nodes()
        .iter()
        .any(|node| matches!(node.kind, Kind::Root(name) if code.name(name) == "secrets"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::MapScope;
    use serde_json::json;

    /// An error is rendered again to be located; the error without spans, which stands when
    /// that second rendering does not fail (a function of the clock), names its path too.
    #[test]
    fn an_error_without_spans_names_its_path() {
        let scope = MapScope::new(chrono::DateTime::UNIX_EPOCH)
            .with_root("inputs", json!({ "a": { "b c": { "x": 1 }, "l": [1] } }));
        for (src, message) in [
            (
                "pre ${{ inputs.a['b c'].zz }} post",
                "`inputs.a[\"b c\"]` has no field `zz`",
            ),
            (
                "${{ inputs.a.l[1 + 0] }}",
                "index 1 is out of range: `inputs.a.l` has 1 element",
            ),
            (
                "${{ (inputs.a).l[3] }}",
                "index 3 is out of range: `inputs.a.l` has 1 element",
            ),
            (
                "${{ reverse(inputs.a.l)[3] }}",
                "index 3 is out of range: `(…)` has 1 element",
            ),
        ] {
            let template = Template::parse(src).expect("parses");
            let unlocated = template
                .render_located(Located::NONE, &scope, &mut |_, _| {})
                .expect_err("fails");
            assert_eq!(unlocated.message, message, "{src}");
        }
    }
}
