//! Tree-walking evaluator. Values flow as `Cow` so that reading `steps.a.output.items`
//! borrows from the scope instead of cloning the step output.

use crate::ast::{BinOp, Code, Kind, Located, Node, Span};
use crate::error::{EvalError, EvalErrorKind};
use crate::functions::{self, Call, FunctionInfo, Impl};
use crate::ops::{self, Spans};
use crate::scope::{Scope, StepView, KNOWN_ROOTS};
use crate::suggest::{closest, ranked_list};
use crate::value::{a_type, truthy};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::ops::Range;

/// How many names "available fields" lists before "and N more".
const LISTED_NAMES: usize = 12;

pub(crate) struct Ctx<'a> {
    pub code: &'a Code,
    /// The nodes' spans, for errors: none on a first evaluation (see [`Located`]).
    pub spans: Located<'a>,
    pub scope: &'a dyn Scope,
    /// The expression reads `secrets`: keep values out of error messages.
    pub redact: bool,
    /// Handed the value of each call and path node as it is computed, with the node (see
    /// `Template::render_tainted`): none when nothing asks.
    pub on_value: Option<&'a OnValue<'a>>,
}

/// What [`Ctx::on_value`] hands a node and its value to.
pub(crate) type OnValue<'a> = dyn Fn(u32, &Value) + 'a;

impl Ctx<'_> {
    fn span(&self, i: u32) -> Span {
        self.spans.span(i)
    }
}

pub(crate) fn eval<'a>(i: u32, cx: &Ctx<'a>) -> Result<Cow<'a, Value>, EvalError> {
    let code = cx.code;
    let node = code.node(i);
    match node.kind {
        Kind::Literal(at) => Ok(Cow::Borrowed(code.literal(at))),
        Kind::Path { segments } => {
            let value = eval_path(i, segments, cx)?;
            if let Some(hand) = cx.on_value {
                hand(i, &value);
            }
            Ok(value)
        }
        Kind::Array(n) => {
            let values = code
                .before(i, n)
                .iter()
                .map(|item| eval(child(item), cx).map(Cow::into_owned))
                .collect::<Result<Vec<_>, _>>()?;
            built(Value::Array(values), &cx.span(i).range())
        }
        Kind::Object(n) => {
            let entries = code.before(i, 2 * n);
            let mut map = Map::with_capacity(n as usize);
            for entry in entries.chunks_exact(2) {
                if let [Node {
                    kind: Kind::Key(key),
                    ..
                }, link] = entry
                {
                    let key = code.literal(*key).as_str().unwrap_or_default();
                    map.insert(key.to_string(), eval(child(link), cx)?.into_owned());
                }
            }
            built(Value::Object(map), &cx.span(i).range())
        }
        Kind::Not(operand) => Ok(Cow::Owned(Value::Bool(!truthy(&*eval(operand, cx)?)))),
        Kind::Negate(operand) => {
            ops::negate(&*eval(operand, cx)?, &cx.span(i).range()).map(Cow::Owned)
        }
        Kind::Binary(op, left) => binary(
            op,
            eval(left, cx)?,
            &cx.span(left).range(),
            (i - 1, cx.span(i - 1)),
            &cx.span(i).range(),
            cx,
        ),
        Kind::Pair(op, left) => {
            let left_span = cx.span(left);
            let right = (i - 1, cx.span(i - 1));
            let whole = left_span.start()..right.1.end();
            binary(op, eval(left, cx)?, &left_span.range(), right, &whole, cx)
        }
        Kind::Chain(n) => {
            let links = code.before(i, n);
            let Some((first, rest)) = links.split_first() else {
                return Ok(Cow::Owned(Value::Null));
            };
            let mut value = eval(child(first), cx)?;
            let first_link = i - n;
            let mut left = cx.span(first_link).range();
            for (at, link) in (first_link + 1..).zip(rest) {
                let Kind::Link(op, right) = link.kind else {
                    continue;
                };
                let link_span = cx.span(at);
                let whole = left.start..link_span.end();
                value = binary(op, value, &left, (right, link_span), &whole, cx)?;
                left = whole;
            }
            Ok(value)
        }
        Kind::Conditional(cond) => {
            let (then, otherwise) = code.branches(i);
            if truthy(&*eval(cond, cx)?) {
                eval(then, cx)
            } else {
                eval(otherwise, cx)
            }
        }
        Kind::Call { function, args } => {
            let info = function_info(function);
            match info.imp {
                Impl::Coalesce => coalesce(code.before(i, args), cx),
                Impl::Eager(function) => {
                    let value = call(i, args, info, cx, function)?;
                    if let Some(hand) = cx.on_value {
                        hand(i, &value);
                    }
                    built(value, &cx.span(i).range())
                }
            }
        }
        // Parts of other nodes, never evaluated alone.
        Kind::Root(_)
        | Kind::Field(_)
        | Kind::Key(_)
        | Kind::Index(_)
        | Kind::LongIndex(_)
        | Kind::Dynamic(_)
        | Kind::Link(..)
        | Kind::Text(_)
        | Kind::Part(_) => Ok(Cow::Owned(Value::Null)),
    }
}

/// The node a link points to.
fn child(link: &Node) -> u32 {
    match link.kind {
        Kind::Link(_, child) => child,
        _ => 0,
    }
}

fn function_info(function: u16) -> &'static FunctionInfo {
    &functions::FUNCTIONS[usize::from(function)]
}

/// Evaluates the `n` arguments of call node `i` of `info` (all of them, left to right) and
/// hands them to `function`.
fn call<'a, T>(
    i: u32,
    n: u32,
    info: &'static FunctionInfo,
    cx: &Ctx<'a>,
    function: impl FnOnce(&Call<'_>, Vec<Cow<'a, Value>>) -> Result<T, EvalError>,
) -> Result<T, EvalError> {
    let values = cx
        .code
        .before(i, n)
        .iter()
        .map(|a| eval(child(a), cx))
        .collect::<Result<Vec<_>, _>>()?;
    let call = Call {
        info,
        span: &cx.span(i).range(),
        arg_spans: cx
            .spans
            .0
            .get((i - n) as usize..i as usize)
            .unwrap_or_default(),
        scope: cx.scope,
        redact: cx.redact,
    };
    function(&call, values)
}

/// When node `i` is a call of `range`: the numbers it lists, as bounds, with `range`'s own
/// checks and errors but without building them. `None` for any other node.
pub(crate) fn range_bounds(i: u32, cx: &Ctx<'_>) -> Option<Result<Range<i64>, EvalError>> {
    match cx.code.node(i).kind {
        Kind::Call { function, args } if function_info(function).name == "range" => {
            let info = function_info(function);
            Some(call(i, args, info, cx, |call, values| {
                functions::range_bounds(call, &values)
            }))
        }
        _ => None,
    }
}

/// `left op right` with `left` already evaluated (from `left_span`), the result spanning
/// `whole`; `right` is a node and its span.
fn binary<'a>(
    op: BinOp,
    l: Cow<'a, Value>,
    left_span: &Range<usize>,
    (right, right_span): (u32, Span),
    whole: &Range<usize>,
    cx: &Ctx<'a>,
) -> Result<Cow<'a, Value>, EvalError> {
    if let BinOp::And | BinOp::Or = op {
        // `a && b` only looks at `b` when `a` is true; `a || b` when `a` is false.
        let result = match (op, truthy(&l)) {
            (BinOp::And, false) => false,
            (BinOp::Or, true) => true,
            _ => truthy(&*eval(right, cx)?),
        };
        return Ok(Cow::Owned(Value::Bool(result)));
    }
    let r = eval(right, cx)?;
    let spans = Spans {
        whole,
        left: left_span,
        right: &right_span.range(),
    };
    built(ops::apply(op, &l, &r, spans)?, whole)
}

/// A value the expression built, checked against the size limits.
fn built<'a>(value: Value, span: &Range<usize>) -> Result<Cow<'a, Value>, EvalError> {
    crate::limits::check(&value, span)?;
    Ok(Cow::Owned(value))
}

/// `default` / `coalesce`: the first argument that is defined and not null. Undefined
/// errors in all but the last argument fall through; other errors (type errors...) do not.
fn coalesce<'a>(args: &'a [Node], cx: &Ctx<'a>) -> Result<Cow<'a, Value>, EvalError> {
    let Some((last, candidates)) = args.split_last() else {
        return Ok(Cow::Owned(Value::Null));
    };
    for candidate in candidates {
        match eval(child(candidate), cx) {
            Ok(value) if !value.is_null() => return Ok(value),
            Ok(_) => {}
            Err(error) if error.kind == EvalErrorKind::Undefined => {}
            Err(error) => return Err(error),
        }
    }
    eval(child(last), cx)
}

/// A resolved accessor key.
enum Key<'k> {
    Field(&'k str),
    Index(i64),
}

/// The name of a `.name` or `["name"]` segment; `None` for an index.
fn segment_name<'a>(code: &'a Code, segment: &Node) -> Option<&'a str> {
    match segment.kind {
        Kind::Field(name) => Some(code.name(name)),
        Kind::Key(name) => code.literal(name).as_str(),
        _ => None,
    }
}

/// Path node `i` over `n` segments.
fn eval_path<'a>(i: u32, n: u32, cx: &Ctx<'a>) -> Result<Cow<'a, Value>, EvalError> {
    let code = cx.code;
    let (base, segments) = code.path(i, n);
    let first_segment = i - n;
    let (mut current, skip) = match code.node(base).kind {
        Kind::Root(name) if name.is_steps() => {
            let record = step_record(segments, first_segment, &cx.span(base).range(), cx)?;
            let field = segments.get(1).and_then(|seg| segment_name(code, seg));
            match (field.and_then(|name| record.field(name)), record) {
                (Some(field), _) => (field, 2),
                (None, StepView::Value(value)) => (Cow::Borrowed(value), 1),
                // Read whole, or a field it does not have (the error lists the ones it has).
                (None, fields) => (Cow::Owned(fields.to_value()), 1),
            }
        }
        Kind::Root(name) => {
            let name = code.name(name);
            match cx.scope.root(name) {
                Some(value) => (Cow::Borrowed(value), 0),
                None => return Err(unknown_root(name, &cx.span(base).range(), cx.scope)),
            }
        }
        _ => (eval(base, cx)?, 0),
    };
    for (at, seg) in segments.iter().enumerate().skip(skip) {
        let computed;
        let key = match seg.kind {
            Kind::Dynamic(node) => {
                computed = eval(node, cx)?;
                dynamic_key(&computed, &cx.span(node).range())?
            }
            _ => match code.index(seg) {
                Some(index) => Key::Index(index),
                None => Key::Field(segment_name(code, seg).unwrap_or_default()),
            },
        };
        let at = Site {
            code,
            spans: cx.spans,
            base: cx.span(base),
            base_node: base,
            first_segment,
            i: at,
        };
        current = match current {
            Cow::Borrowed(value) => Cow::Borrowed(locate(value, &key, &at)?.0),
            Cow::Owned(mut value) => {
                let position = locate(&value, &key, &at)?.1;
                Cow::Owned(take_child(&mut value, &key, position))
            }
        };
    }
    Ok(current)
}

/// `steps.<id>`: the first segment names the step.
/// `segments` are nodes `first_segment...`.
fn step_record<'a>(
    segments: &'a [Node],
    first_segment: u32,
    span: &Range<usize>,
    cx: &Ctx<'a>,
) -> Result<StepView<'a>, EvalError> {
    let Some(first) = segments.first() else {
        return Err(
            EvalError::type_error("`steps` needs a step id", span.clone())
                .with_help("write steps.<id>.output, e.g. steps.fetch.output"),
        );
    };
    let computed;
    let id: &str = match first.kind {
        Kind::Dynamic(node) => {
            computed = eval(node, cx)?;
            match &*computed {
                Value::String(id) => id,
                other => {
                    return Err(EvalError::type_error(
                        format!("a step id must be a string, got {}", a_type(other)),
                        cx.span(node).range(),
                    ))
                }
            }
        }
        Kind::Index(_) | Kind::LongIndex(_) => {
            return Err(EvalError::type_error(
                "steps are named, not numbered",
                cx.span(first_segment).range(),
            )
            .with_help("write steps.<id>, e.g. steps.fetch.output"))
        }
        _ => segment_name(cx.code, first).unwrap_or_default(),
    };
    cx.scope.step(id).ok_or_else(|| {
        let error = EvalError::undefined(
            format!("step `{id}` does not exist or has not run before this point"),
            cx.span(first_segment).range(),
        );
        let ids = cx.scope.step_ids();
        match closest(id, ids.iter().map(String::as_str)) {
            Some(near) => error.with_help(format!("did you mean `{near}`?")),
            None if ids.is_empty() => error.with_help("no step results are available here"),
            None => error.with_help(format!(
                "steps available here: {}",
                ranked_list(id, ids.iter().map(String::as_str), LISTED_NAMES)
            )),
        }
    })
}

fn unknown_root(name: &str, span: &Range<usize>, scope: &dyn Scope) -> EvalError {
    let available = scope.root_names();
    let listed = available.join(", ");
    if KNOWN_ROOTS.contains(&name) {
        return EvalError::undefined(format!("`{name}` is not available here"), span.clone())
            .with_help(format!("available here: {listed}"));
    }
    let error = EvalError::undefined(format!("unknown name `{name}`"), span.clone());
    // `index-1` lexes as one name, like in GitHub Actions.
    if let Some((head, _)) = name
        .split_once('-')
        .filter(|(head, _)| available.iter().any(|a| a == head))
    {
        return error.with_help(format!(
            "`-` between letters is part of a name; to subtract, put spaces around it: `{head} - ...`"
        ));
    }
    let candidates = available
        .iter()
        .map(String::as_str)
        .chain(["true", "false", "null"]);
    match closest(name, candidates) {
        Some(near) => error.with_help(format!("did you mean `{near}`? available here: {listed}")),
        None => error.with_help(format!("available here: {listed}")),
    }
}

fn dynamic_key<'k>(value: &'k Value, span: &Range<usize>) -> Result<Key<'k>, EvalError> {
    let index = match value {
        Value::String(name) => return Ok(Key::Field(name)),
        Value::Number(n) => n.as_i64(),
        _ => None,
    };
    match index {
        Some(index) => Ok(Key::Index(index)),
        None => Err(EvalError::type_error(
            format!(
                "an index must be a string or a whole number, got {}",
                a_type(value)
            ),
            span.clone(),
        )),
    }
}

/// Where an accessor is applied, for error messages.
struct Site<'p> {
    code: &'p Code,
    spans: Located<'p>,
    /// The span of the path's base, and its node.
    base: Span,
    base_node: u32,
    /// The node of the path's first segment.
    first_segment: u32,
    /// Which segment.
    i: usize,
}

impl Site<'_> {
    /// The source text of the path up to (not including) this segment; without spans (an
    /// error that is not located: see [`Located`]), the path spelled from its nodes.
    fn prefix(&self) -> Cow<'_, str> {
        if self.spans.is_empty() {
            return Cow::Owned(self.spelled());
        }
        // From the base: in `(inputs.a).b` the path starts at the parenthesis, which does not
        // close before `.b`.
        let start = self.base.start();
        let end = match self.i.checked_sub(1) {
            None => self.base.end(),
            Some(last) => self.segment_span(last).end(),
        };
        Cow::Borrowed(self.code.source().get(start..end).unwrap_or_default())
    }

    /// The path up to this segment as its nodes spell it: a computed base or index is `(…)`.
    fn spelled(&self) -> String {
        let code = self.code;
        let mut out = match code.node(self.base_node).kind {
            Kind::Root(name) => code.name(name).to_string(),
            _ => "(…)".to_string(),
        };
        let first = self.first_segment as usize;
        for segment in code.nodes().get(first..first + self.i).unwrap_or_default() {
            match segment.kind {
                Kind::Field(name) => {
                    out.push('.');
                    out.push_str(code.name(name));
                }
                Kind::Key(key) => out.push_str(&format!("[{}]", code.literal(key))),
                _ => match code.index(segment) {
                    Some(index) => out.push_str(&format!("[{index}]")),
                    None => out.push_str("[(…)]"),
                },
            }
        }
        out
    }

    /// The span of segment `i` of the path.
    fn segment_span(&self, i: usize) -> Span {
        let at = u32::try_from(i).map_or(u32::MAX, |i| self.first_segment.saturating_add(i));
        self.spans.span(at)
    }

    fn undefined(&self, message: String) -> EvalError {
        EvalError::undefined(message, self.segment_span(self.i).range())
    }

    fn type_error(&self, message: String) -> EvalError {
        EvalError::type_error(message, self.segment_span(self.i).range())
    }
}

/// Finds the child `key` of `value`, returning it and its array position (if any).
fn locate<'v>(
    value: &'v Value,
    key: &Key<'_>,
    at: &Site<'_>,
) -> Result<(&'v Value, usize), EvalError> {
    let found = match (value, key) {
        (Value::Object(map), Key::Field(name)) => field(map, name).map(|child| (child, 0)),
        (Value::Array(items), Key::Index(index)) => {
            crate::value::resolve_index(*index, items.len())
                .and_then(|position| Some((items.get(position)?, position)))
        }
        _ => None,
    };
    // The path's text, which every message names, is only sliced for a failure.
    found.ok_or_else(|| not_found(value, key, at))
}

/// Why `value` has no child `key`.
#[cold]
fn not_found(value: &Value, key: &Key<'_>, at: &Site<'_>) -> EvalError {
    let prefix = at.prefix();
    match (value, key) {
        (Value::Object(map), Key::Field(name)) => {
            let error = at.undefined(format!("`{prefix}` has no field `{name}`"));
            if map.is_empty() {
                error.with_help(format!("`{prefix}` is an empty object"))
            } else {
                error.with_help(format!(
                    "available fields: {}",
                    ranked_list(name, map.keys().map(String::as_str), LISTED_NAMES)
                ))
            }
        }
        (Value::Array(items), Key::Index(index)) => {
            let error = at.undefined(format!(
                "index {index} is out of range: `{prefix}` has {} element{}",
                items.len(),
                if items.len() == 1 { "" } else { "s" }
            ));
            match items.len() {
                0 => error.with_help(format!("use default({prefix}[{index}], fallback) when it may be empty")),
                n => error.with_help(format!("valid indexes are 0 to {} (or -{n} to -1 from the end)", n - 1)),
            }
        }
        (Value::Null, Key::Field(name)) => at
            .undefined(format!("`{prefix}` is null, so it has no field `{name}`"))
            .with_help(format!("use default({prefix}.{name}, fallback) when it may be null")),
        (Value::Null, Key::Index(index)) => at
            .undefined(format!("`{prefix}` is null, so it has no element {index}"))
            .with_help(format!("use default({prefix}[{index}], fallback) when it may be null")),
        (Value::Array(_), Key::Field(name)) => at
            .type_error(format!("`{prefix}` is an array, not an object; it has no field `{name}`"))
            .with_help(format!(
                "pick an element first, e.g. `{prefix}[0].{name}`, or collect the field from every element with pluck({prefix}, '{name}')"
            )),
        (Value::Object(_), Key::Index(index)) => at
            .type_error(format!("`{prefix}` is an object, not an array; it has no element {index}"))
            .with_help(format!("read fields by name, e.g. `{prefix}.name` or `{prefix}[\"name\"]`")),
        (Value::String(_), Key::Index(_)) => at
            .type_error(format!("`{prefix}` is a string; strings cannot be indexed"))
            .with_help("use slice(text, start, end) to take characters"),
        (other, Key::Field(name)) => at.type_error(format!(
            "`{prefix}` is {}, not an object; it has no field `{name}`",
            a_type(other)
        )),
        (other, Key::Index(index)) => at.type_error(format!(
            "`{prefix}` is {}, not an array; it has no element {index}",
            a_type(other)
        )),
    }
}

/// Field `name` of an object. Most objects a step reads have a few fields: comparing their
/// names costs less than hashing `name` (SipHash) to look it up.
fn field<'v>(map: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    const SCANNED: usize = 8;
    if map.len() <= SCANNED {
        map.iter()
            .find(|(key, _)| key.as_str() == name)
            .map(|(_, value)| value)
    } else {
        map.get(name)
    }
}

/// Moves a located child out of an owned (computed) value instead of cloning it.
fn take_child(value: &mut Value, key: &Key<'_>, position: usize) -> Value {
    let child = match (value, key) {
        (Value::Object(map), Key::Field(name)) => map.remove(*name),
        (Value::Array(items), Key::Index(_)) => items.get_mut(position).map(std::mem::take),
        _ => None,
    };
    child.unwrap_or(Value::Null)
}
