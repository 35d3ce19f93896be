//! Built-in functions: the registry ([`FUNCTIONS`]) and the argument helpers shared by
//! the implementations in the submodules.

mod collections;
mod convert;
mod dates;
mod numbers;
mod text;

pub(crate) use collections::range_bounds;

use crate::ast::Span;
use crate::error::EvalError;
use crate::scope::Scope;
use crate::value::{a_type, number_from_f64, preview, Num};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::ops::Range;

/// Evaluated arguments of a call; borrowed where possible so paths are not cloned.
pub(crate) type Args<'a> = Vec<Cow<'a, Value>>;
type EagerFn = fn(&Call<'_>, Args<'_>) -> Result<Value, EvalError>;

/// How a function receives its arguments.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Impl {
    /// All arguments are evaluated first.
    Eager(EagerFn),
    /// `default` / `coalesce`: arguments are evaluated left to right until one is defined
    /// and not null (see the evaluator).
    Coalesce,
}

/// Documentation and arity of a built-in function.
#[derive(Debug)]
pub struct FunctionInfo {
    pub name: &'static str,
    pub signature: &'static str,
    pub description: &'static str,
    pub example: &'static str,
    /// What `example` evaluates to, as JSON (checked by the test suite).
    pub example_result: &'static str,
    pub min_args: usize,
    /// `None` for variadic functions.
    pub max_args: Option<usize>,
    pub(crate) imp: Impl,
}

impl FunctionInfo {
    /// "1 argument", "2 or 3 arguments", "at least 1 argument"...
    pub fn arity_text(&self) -> String {
        let noun = |n: usize| if n == 1 { "argument" } else { "arguments" };
        match self.max_args {
            Some(max) if max == self.min_args => format!("{max} {}", noun(max)),
            Some(max) if max == self.min_args + 1 => {
                format!("{} or {max} arguments", self.min_args)
            }
            Some(max) => format!("{} to {max} arguments", self.min_args),
            None => format!("at least {} {}", self.min_args, noun(self.min_args)),
        }
    }
}

#[allow(clippy::too_many_arguments)]
const fn function(
    name: &'static str,
    signature: &'static str,
    min_args: usize,
    max_args: Option<usize>,
    description: &'static str,
    example: &'static str,
    example_result: &'static str,
    imp: Impl,
) -> FunctionInfo {
    FunctionInfo {
        name,
        signature,
        description,
        example,
        example_result,
        min_args,
        max_args,
        imp,
    }
}

use Impl::Eager;
const VARIADIC: Option<usize> = None;
const fn at_most(n: usize) -> Option<usize> {
    Some(n)
}

/// Every built-in function, in documentation order.
pub const FUNCTIONS: &[FunctionInfo] = &[
    // Fallbacks
    function("default", "default(value, fallback)", 2, at_most(2),
        "`value` unless it is undefined or null, else `fallback` (evaluated only when needed)",
        "default(inputs.missing, 10)", "10", Impl::Coalesce),
    function("coalesce", "coalesce(a, b, ...)", 1, VARIADIC,
        "The first argument that is defined and not null; the last argument is returned as is",
        "coalesce(null, inputs.missing, 'x')", "\"x\"", Impl::Coalesce),
    // Text
    function("len", "len(string | array | object) -> number", 1, at_most(1),
        "Number of characters, elements or keys", "len('héllo')", "5", Eager(collections::len)),
    function("contains", "contains(string | array, value) -> boolean", 2, at_most(2),
        "Substring test for strings, element test (deep equality) for arrays",
        "contains([1, 2], 2)", "true", Eager(collections::contains)),
    function("starts_with", "starts_with(string, prefix) -> boolean", 2, at_most(2),
        "Whether the string begins with `prefix` (case-sensitive)",
        "starts_with('weft-42', 'weft')", "true", Eager(text::starts_with)),
    function("ends_with", "ends_with(string, suffix) -> boolean", 2, at_most(2),
        "Whether the string ends with `suffix` (case-sensitive)",
        "ends_with('report.pdf', '.pdf')", "true", Eager(text::ends_with)),
    function("lower", "lower(string) -> string", 1, at_most(1),
        "Lowercase (Unicode)", "lower('Hello')", "\"hello\"", Eager(text::lower)),
    function("upper", "upper(string) -> string", 1, at_most(1),
        "Uppercase (Unicode)", "upper('Hello')", "\"HELLO\"", Eager(text::upper)),
    function("trim", "trim(string) -> string", 1, at_most(1),
        "Removes leading and trailing whitespace", "trim('  hi \\n')", "\"hi\"", Eager(text::trim)),
    function("split", "split(string, separator) -> array", 2, at_most(2),
        "Splits on every `separator`; an empty separator splits into characters",
        "split('a,b,c', ',')", "[\"a\",\"b\",\"c\"]", Eager(text::split)),
    function("join", "join(array, separator = ',') -> string", 1, at_most(2),
        "Joins the text form of each element", "join([1, 'b', true], '-')", "\"1-b-true\"", Eager(text::join)),
    function("replace", "replace(string, from, to) -> string", 3, at_most(3),
        "Replaces every occurrence of `from` (not a pattern)",
        "replace('a-b-c', '-', '/')", "\"a/b/c\"", Eager(text::replace)),
    function("format", "format(template, values...) -> string", 1, VARIADIC,
        "Fills `{}` (next value), `{0}` (value by position) and `{name}` (field of the last value, an object); `{{` and `}}` are literal braces",
        "format('{} of {total}', 3, {total: 10})", "\"3 of 10\"", Eager(text::format)),
    function("url_encode", "url_encode(string) -> string", 1, at_most(1),
        "Percent-encodes everything except A-Z a-z 0-9 - _ . ~ (for a URL path segment or query value)",
        "url_encode('a b&c')", "\"a%20b%26c\"", Eager(text::url_encode)),
    function("base64_encode", "base64_encode(string) -> string", 1, at_most(1),
        "Standard base64 (with padding) of the UTF-8 bytes", "base64_encode('hi')", "\"aGk=\"", Eager(text::base64_encode)),
    function("base64_decode", "base64_decode(string) -> string", 1, at_most(1),
        "Decodes standard base64; the result must be UTF-8 text", "base64_decode('aGk=')", "\"hi\"", Eager(text::base64_decode)),
    // Conversion and inspection
    function("to_string", "to_string(value) -> string", 1, at_most(1),
        "Text form: strings as is, other values as compact JSON", "to_string([1, 2])", "\"[1,2]\"", Eager(convert::to_string)),
    function("to_number", "to_number(string | number | boolean) -> number", 1, at_most(1),
        "Parses a decimal number (surrounding whitespace allowed); true/false become 1/0",
        "to_number(' 42 ')", "42", Eager(convert::to_number)),
    function("to_json", "to_json(value, pretty = false) -> string", 1, at_most(2),
        "Serializes to JSON text", "to_json({a: [1, null]})", "\"{\\\"a\\\":[1,null]}\"", Eager(convert::to_json)),
    function("from_json", "from_json(string) -> value", 1, at_most(1),
        "Parses JSON text (nesting limited to 128 levels)", "from_json('{\"a\": 1}').a", "1", Eager(convert::from_json)),
    function("type_of", "type_of(value) -> string", 1, at_most(1),
        "One of null, boolean, number, string, array, object", "type_of([])", "\"array\"", Eager(convert::type_of)),
    function("is_null", "is_null(value) -> boolean", 1, at_most(1),
        "Whether the value is null (undefined paths are still errors; see default)", "is_null(null)", "true", Eager(convert::is_null)),
    // Collections
    function("keys", "keys(object) -> array", 1, at_most(1),
        "Field names, in document order", "keys({b: 1, a: 2})", "[\"b\",\"a\"]", Eager(collections::keys)),
    function("values", "values(object) -> array", 1, at_most(1),
        "Field values, in document order", "values({b: 1, a: 2})", "[1,2]", Eager(collections::values)),
    function("has", "has(object | array, key) -> boolean", 2, at_most(2),
        "Whether the object has the field, or the array has the index", "has({a: null}, 'a')", "true", Eager(collections::has)),
    function("first", "first(array) -> value", 1, at_most(1),
        "First element; an empty array is an undefined-value error", "first([3, 4])", "3", Eager(collections::first)),
    function("last", "last(array) -> value", 1, at_most(1),
        "Last element; an empty array is an undefined-value error", "last([3, 4])", "4", Eager(collections::last)),
    function("slice", "slice(array | string, start, end = length) -> array | string", 2, at_most(3),
        "Elements (or characters) from `start` up to `end` (exclusive); negative counts from the end; out-of-range bounds are clamped",
        "slice([1, 2, 3, 4], 1, -1)", "[2,3]", Eager(collections::slice)),
    function("range", "range(end) | range(start, end) -> array", 1, at_most(2),
        "Whole numbers from `start` (default 0) up to `end` (exclusive); at most 1,000,000 of them",
        "range(2, 5)", "[2,3,4]", Eager(collections::range)),
    function("reverse", "reverse(array | string) -> array | string", 1, at_most(1),
        "Elements (or characters) in reverse order", "reverse([1, 2, 3])", "[3,2,1]", Eager(collections::reverse)),
    function("sort", "sort(array) -> array", 1, at_most(1),
        "Ascending; all numbers or all strings", "sort(['b', 'a', 'c'])", "[\"a\",\"b\",\"c\"]", Eager(collections::sort)),
    function("unique", "unique(array) -> array", 1, at_most(1),
        "Drops repeated elements (deep equality), keeping the first", "unique([1, 2, 1])", "[1,2]", Eager(collections::unique)),
    function("flatten", "flatten(array) -> array", 1, at_most(1),
        "Splices nested arrays one level deep", "flatten([[1, 2], 3, [[4]]])", "[1,2,3,[4]]", Eager(collections::flatten)),
    function("pluck", "pluck(array, field) -> array", 2, at_most(2),
        "The `field` of every element (each must be an object that has it)",
        "pluck([{id: 1}, {id: 2}], 'id')", "[1,2]", Eager(collections::pluck)),
    function("merge", "merge(object, object, ...) -> object", 1, VARIADIC,
        "Shallow merge; later objects win", "merge({a: 1, b: 1}, {b: 2})", "{\"a\":1,\"b\":2}", Eager(collections::merge)),
    // Numbers
    function("abs", "abs(number) -> number", 1, at_most(1), "Absolute value", "abs(-3)", "3", Eager(numbers::abs)),
    function("min", "min(a, b, ... | array) -> number | string", 1, VARIADIC,
        "Smallest of the arguments, or of the elements of a single array argument", "min(3, 1, 2)", "1", Eager(numbers::min)),
    function("max", "max(a, b, ... | array) -> number | string", 1, VARIADIC,
        "Largest of the arguments, or of the elements of a single array argument", "max([3, 1, 2])", "3", Eager(numbers::max)),
    function("sum", "sum(array) -> number", 1, at_most(1), "Sum of the numbers (0 for [])", "sum([1, 2.5])", "3.5", Eager(numbers::sum)),
    function("round", "round(number, digits = 0) -> number", 1, at_most(2),
        "Rounds half away from zero to `digits` decimals (0 to 15)", "round(2.345, 2)", "2.35", Eager(numbers::round)),
    function("floor", "floor(number) -> number", 1, at_most(1), "Largest whole number not above", "floor(-1.5)", "-2", Eager(numbers::floor)),
    function("ceil", "ceil(number) -> number", 1, at_most(1), "Smallest whole number not below", "ceil(1.2)", "2", Eager(numbers::ceil)),
    // Dates
    function("now", "now() -> string", 0, at_most(0),
        "Current time as an RFC 3339 UTC string", "now()", "\"2024-03-01T12:00:00Z\"", Eager(dates::now)),
    function("date_parse", "date_parse(text | epoch_seconds, format?) -> string", 1, at_most(2),
        "Normalizes a date to RFC 3339 UTC. Without `format`: RFC 3339, `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` or epoch seconds; with it: a strftime format (no offset in it means UTC)",
        "date_parse('03/01/2024 08:30', '%m/%d/%Y %H:%M')", "\"2024-03-01T08:30:00Z\"", Eager(dates::date_parse)),
    function("date_format", "date_format(date, format, timezone = 'UTC') -> string", 2, at_most(3),
        "Formats a date with a strftime format in an IANA time zone",
        "date_format('2024-03-01T12:00:00Z', '%d %b %Y %H:%M', 'Europe/Paris')", "\"01 Mar 2024 13:00\"", Eager(dates::date_format)),
    function("date_add", "date_add(date, duration) -> string", 2, at_most(2),
        "Adds a duration: seconds as a number, or text like `1h30m`, `-2d`, `1w`, `500ms` (units w d h m s ms)",
        "date_add('2024-03-01T12:00:00Z', '-1d2h')", "\"2024-02-29T10:00:00Z\"", Eager(dates::date_add)),
    function("date_diff", "date_diff(a, b) -> number", 2, at_most(2),
        "Seconds from `b` to `a` (positive when `a` is later)",
        "date_diff('2024-03-01T12:00:00Z', '2024-03-01T11:30:00Z')", "1800", Eager(dates::date_diff)),
];

/// Looks a function up by name (parse time only).
/// The function called `name` and its index in [`FUNCTIONS`].
pub(crate) fn lookup(name: &str) -> Option<(u16, &'static FunctionInfo)> {
    let (i, info) = FUNCTIONS.iter().enumerate().find(|(_, f)| f.name == name)?;
    Some((u16::try_from(i).ok()?, info))
}

/// The closest function name, for "did you mean". `startsWith` and `toJSON` map to
/// `starts_with` / `to_json`, so GitHub Actions habits get a useful hint.
pub(crate) fn suggest(name: &str) -> Option<&'static str> {
    let squash = |s: &str| s.to_lowercase().replace('_', "");
    let wanted = squash(name);
    if let Some(f) = FUNCTIONS.iter().find(|f| squash(f.name) == wanted) {
        return Some(f.name);
    }
    crate::suggest::closest(name, FUNCTIONS.iter().map(|f| f.name))
}

/// A call being evaluated: gives implementations typed access to arguments and
/// builds errors that point at the right argument.
pub(crate) struct Call<'c> {
    pub info: &'static FunctionInfo,
    pub span: &'c Range<usize>,
    /// The spans of the arguments, when the code is located (see `ast::Located`).
    pub arg_spans: &'c [Span],
    pub scope: &'c dyn Scope,
    /// The expression reads secrets: keep argument values out of error messages.
    pub redact: bool,
}

impl Call<'_> {
    fn arg_span(&self, i: usize) -> Range<usize> {
        self.arg_spans
            .get(i)
            .map_or_else(|| self.span.clone(), |n| n.range())
    }

    /// "`lower` expects a string as argument 1, got a number".
    pub(crate) fn wrong_type(&self, i: usize, expected: &str, got: &Value) -> EvalError {
        EvalError::type_error(
            format!(
                "`{}` expects {expected} as argument {}, got {}",
                self.info.name,
                i + 1,
                a_type(got)
            ),
            self.arg_span(i),
        )
        .with_help(format!("usage: {}", self.info.signature))
    }

    /// An error about the value of argument `i` (the types were fine).
    pub(crate) fn invalid(&self, i: usize, message: impl Into<String>) -> EvalError {
        EvalError::invalid(message, self.arg_span(i))
    }

    /// A value for an error message, or a placeholder when secrets are involved.
    pub(crate) fn show(&self, v: &Value) -> String {
        if self.redact {
            "(value hidden: the expression uses secrets)".to_string()
        } else {
            preview(v)
        }
    }

    pub(crate) fn value<'v>(
        &self,
        args: &'v [Cow<'_, Value>],
        i: usize,
    ) -> Result<&'v Value, EvalError> {
        args.get(i).map(|v| &**v).ok_or_else(|| {
            EvalError::invalid(
                format!("`{}` is missing argument {}", self.info.name, i + 1),
                self.span.clone(),
            )
        })
    }

    pub(crate) fn str<'v>(
        &self,
        args: &'v [Cow<'_, Value>],
        i: usize,
    ) -> Result<&'v str, EvalError> {
        match self.value(args, i)? {
            Value::String(s) => Ok(s),
            other => Err(self.wrong_type(i, "a string", other)),
        }
    }

    pub(crate) fn array<'v>(
        &self,
        args: &'v [Cow<'_, Value>],
        i: usize,
    ) -> Result<&'v Vec<Value>, EvalError> {
        match self.value(args, i)? {
            Value::Array(a) => Ok(a),
            other => Err(self.wrong_type(i, "an array", other)),
        }
    }

    pub(crate) fn object<'v>(
        &self,
        args: &'v [Cow<'_, Value>],
        i: usize,
    ) -> Result<&'v Map<String, Value>, EvalError> {
        match self.value(args, i)? {
            Value::Object(o) => Ok(o),
            other => Err(self.wrong_type(i, "an object", other)),
        }
    }

    pub(crate) fn number(&self, args: &[Cow<'_, Value>], i: usize) -> Result<Num, EvalError> {
        match self.value(args, i)? {
            Value::Number(n) => Ok(Num::of(n)),
            other => Err(self.wrong_type(i, "a number", other)),
        }
    }

    /// A whole-number argument (indexes, digit counts).
    pub(crate) fn integer(&self, args: &[Cow<'_, Value>], i: usize) -> Result<i64, EvalError> {
        match self.number(args, i)? {
            Num::Int(n) => Ok(n),
            Num::Float(_) => Err(self.invalid(
                i,
                format!(
                    "`{}` needs a whole number as argument {}",
                    self.info.name,
                    i + 1
                ),
            )),
        }
    }

    /// Optional argument `i`, `None` when not given.
    pub(crate) fn optional<'v>(&self, args: &'v [Cow<'_, Value>], i: usize) -> Option<&'v Value> {
        args.get(i).map(|v| &**v)
    }

    /// Wraps a floating-point result, refusing NaN and infinities.
    pub(crate) fn float_result(&self, f: f64) -> Result<Value, EvalError> {
        number_from_f64(f).ok_or_else(|| {
            EvalError::invalid(
                format!("the result of `{}` is not a finite number", self.info.name),
                self.span.clone(),
            )
        })
    }
}

/// Element `index` of an array argument: moved out when the array was computed, cloned
/// when it borrows scope data (never the whole array). Callers check the bounds.
pub(crate) fn take_element(arg: Cow<'_, Value>, index: usize) -> Value {
    let element = match arg {
        Cow::Borrowed(v) => v.get(index).cloned(),
        Cow::Owned(Value::Array(mut items)) if index < items.len() => {
            Some(items.swap_remove(index))
        }
        Cow::Owned(_) => None,
    };
    element.unwrap_or(Value::Null)
}

/// All elements of an array argument, for functions that build a new array anyway.
pub(crate) fn into_items(arg: Cow<'_, Value>) -> Vec<Value> {
    match arg {
        Cow::Owned(Value::Array(items)) => items,
        Cow::Borrowed(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    }
}
