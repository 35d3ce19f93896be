//! Templates: YAML strings with `${{ expr }}` parts, and standalone expressions.

use crate::ast::Node;
use crate::error::{EvalError, ParseError};
use crate::eval::{eval, range_bounds, Ctx};
use crate::fold::constant_errors;
use crate::lexer::lex;
use crate::parser;
use crate::refs::{collect, Reference, ReferenceUse, Segment};
use crate::scope::Scope;
use crate::value::push_text;
use serde_json::Value;
use std::ops::Range;

/// A single parsed expression (no `${{ }}`), e.g. an `if:` condition.
#[derive(Debug, Clone)]
pub struct Expr {
    source: String,
    node: Node,
    redact: bool,
}

impl Expr {
    pub fn parse(src: &str) -> Result<Expr, ParseError> {
        let tokens = lex(src, 0, None)?.tokens;
        if tokens.is_empty() {
            return Err(ParseError::new("empty expression", 0..src.len()));
        }
        let node = parser::parse(src, &tokens, src.len())?;
        Ok(Expr {
            source: src.to_string(),
            redact: reads_secrets(std::slice::from_ref(&node)),
            node,
        })
    }

    pub fn eval(&self, scope: &dyn Scope) -> Result<Value, EvalError> {
        // A variable computed from a secret (see `Scope::is_taint_source`) hides values too.
        let redact = self.redact || (scope.has_taint_sources() && reads_source(&self.node, scope));
        let cx = Ctx { scope, redact };
        eval(&self.node, &cx).map(|v| v.into_owned()).map_err(|e| {
            if redact {
                e.hide_values()
            } else {
                e
            }
        })
    }

    /// Every variable path the expression reads (including inside function arguments).
    pub fn references(&self) -> Vec<Reference> {
        plain(self.references_with_context())
    }

    /// Like [`Expr::references`], also telling which ones are guarded by `default`/`coalesce`.
    pub fn references_with_context(&self) -> Vec<ReferenceUse> {
        let mut out = Vec::new();
        collect(&self.node, false, &mut out);
        out
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The errors that evaluating it would give on every run (constant subexpressions such
    /// as `'n=' + 3` or `1 / 0`), for validation.
    pub fn constant_errors(&self) -> Vec<EvalError> {
        let mut out = Vec::new();
        constant_errors(&self.node, &mut out);
        out
    }
}

#[derive(Debug, Clone)]
enum Part {
    Text(Box<str>),
    Expr(Node),
}

/// A string from YAML that may contain `${{ expr }}` parts. Parsed once at load time,
/// rendered many times. `$${{` stands for a literal `${{`.
#[derive(Debug, Clone)]
pub struct Template {
    /// Kept for the life of the workflow: without room for growth.
    source: Box<str>,
    parts: Box<[Part]>,
    redact: bool,
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, ParseError> {
        Self::parse_all(src).map_err(|mut errors| errors.swap_remove(0))
    }

    /// Like [`Template::parse`], but a broken `${{ }}` does not hide the ones after it: every
    /// error is returned, in order (never an empty list).
    pub fn parse_all(src: &str) -> Result<Template, Vec<ParseError>> {
        let mut parts = Vec::new();
        let mut errors = Vec::new();
        let mut text = String::new();
        let mut pos = 0;
        while let Some(found) = src[pos..].find("${{") {
            let at = pos + found;
            if at > pos && src.as_bytes()[at - 1] == b'$' {
                // `$${{` is an escaped, literal `${{`.
                text.push_str(&src[pos..at - 1]);
                text.push_str("${{");
                pos = at + 3;
                continue;
            }
            text.push_str(&src[pos..at]);
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text).into_boxed_str()));
            }
            match expression(src, at) {
                Ok((node, end)) => {
                    parts.push(Part::Expr(node));
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
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        text.push_str(&src[pos..]);
        if !text.is_empty() {
            parts.push(Part::Text(text.into_boxed_str()));
        }
        let nodes: Vec<&Node> = parts
            .iter()
            .filter_map(|p| match p {
                Part::Expr(n) => Some(n),
                Part::Text(_) => None,
            })
            .collect();
        let redact = nodes
            .iter()
            .any(|n| reads_secrets(std::slice::from_ref(*n)));
        Ok(Template {
            source: src.into(),
            parts: parts.into_boxed_slice(),
            redact,
        })
    }

    /// True when the template contains no expression.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// A template that is exactly one `${{ expr }}` keeps the value's type (an array stays
    /// an array). Otherwise each part is converted to text and concatenated: strings as is,
    /// numbers, booleans and null as JSON, arrays and objects as compact JSON.
    pub fn render(&self, scope: &dyn Scope) -> Result<Value, EvalError> {
        self.render_tainted(scope, &mut |_| {})
    }

    /// Renders like [`Template::render`], handing `tainted` the value of each expression that
    /// reads `secrets`: whatever it computes may come from a secret, so it is one (taint). The
    /// text around the expressions is not. A template that reads no secret pays nothing more.
    pub fn render_tainted(
        &self,
        scope: &dyn Scope,
        tainted: &mut dyn FnMut(&Value),
    ) -> Result<Value, EvalError> {
        // A variable computed from a secret (see `Scope::is_taint_source`) taints like `secrets`.
        let sources = scope.has_taint_sources();
        let secret_node = |node: &Node| {
            reads_secrets(std::slice::from_ref(node)) || (sources && reads_source(node, scope))
        };
        let redact = self.redact
            || (sources
                && self
                    .parts
                    .iter()
                    .any(|p| matches!(p, Part::Expr(n) if secret_node(n))));
        let cx = Ctx { scope, redact };
        let mut eval_part = |node| {
            let secret = redact && secret_node(node);
            // The message of a failure could quote a value computed from the secret.
            let value = eval(node, &cx).map_err(|e| if secret { e.hide_values() } else { e })?;
            if secret {
                tainted(&value);
            }
            Ok(value)
        };
        match &*self.parts {
            [Part::Expr(node)] => eval_part(node).map(|v| v.into_owned()),
            parts => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Text(text) => out.push_str(text),
                        Part::Expr(node) => {
                            push_text(&mut out, &*eval_part(node)?);
                            crate::limits::check_text(out.len(), &node.span.range())?;
                        }
                    }
                }
                Ok(Value::String(out))
            }
        }
    }

    /// When the template is exactly `${{ range(...) }}` and reads no secret: the numbers it
    /// would list, as bounds (evaluated and checked as `range` does), so that a `for_each`
    /// counts through them instead of holding a list of up to a million values. `None` for
    /// any other template: render it.
    pub fn range_bounds(&self, scope: &dyn Scope) -> Option<Result<Range<i64>, EvalError>> {
        let [Part::Expr(node)] = &*self.parts else {
            return None;
        };
        // Rendering hands every number computed from a secret to the caller (taint), and
        // keeps values out of the errors: leave that to `render_tainted`.
        if self.redact || (scope.has_taint_sources() && reads_source(node, scope)) {
            return None;
        }
        let cx = Ctx {
            scope,
            redact: false,
        };
        range_bounds(node, &cx)
    }

    /// Every variable path used in the template (also inside function arguments and operators).
    pub fn references(&self) -> Vec<Reference> {
        plain(self.references_with_context())
    }

    /// Like [`Template::references`], also telling which ones are guarded by `default`/`coalesce`.
    pub fn references_with_context(&self) -> Vec<ReferenceUse> {
        let mut out = Vec::new();
        for part in &self.parts {
            if let Part::Expr(node) = part {
                collect(node, false, &mut out);
            }
        }
        out
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Like [`Expr::constant_errors`], for every expression of the template.
    pub fn constant_errors(&self) -> Vec<EvalError> {
        let mut out = Vec::new();
        for part in &self.parts {
            if let Part::Expr(node) = part {
                constant_errors(node, &mut out);
            }
        }
        out
    }
}

/// Parses the `${{ ... }}` starting at byte `at`; returns it and the offset after its `}}`.
fn expression(src: &str, at: usize) -> Result<(Node, usize), ParseError> {
    let lexed = lex(src, at + 3, Some(at..at + 3))?;
    let close = lexed.close.unwrap_or(src.len()..src.len());
    if lexed.tokens.is_empty() {
        return Err(
            ParseError::new("empty expression `${{ }}`", at..close.end).with_help(
                "put an expression between `${{` and `}}`, or write `$${{` for a literal `${{`",
            ),
        );
    }
    Ok((parser::parse(src, &lexed.tokens, close.start)?, close.end))
}

fn plain(uses: Vec<ReferenceUse>) -> Vec<Reference> {
    uses.into_iter().map(|u| u.reference).collect()
}

/// Whether `node` reads a variable that `scope` marks as computed from a secret.
fn reads_source(node: &Node, scope: &dyn Scope) -> bool {
    let mut uses = Vec::new();
    collect(node, false, &mut uses);
    uses.iter().any(|u| match u.reference.segments.first() {
        Some(Segment::Field(name)) => scope.is_taint_source(&u.reference.root, name),
        // `vars[x]`: any of them could be read.
        Some(_) | None => ["vars", "env", "inputs"].contains(&u.reference.root.as_str()),
    })
}

/// Whether any of the nodes reads `secrets` (then values stay out of error messages).
fn reads_secrets(nodes: &[Node]) -> bool {
    let mut uses = Vec::new();
    for node in nodes {
        collect(node, false, &mut uses);
    }
    uses.iter().any(|u| u.reference.root == "secrets")
}
