//! Secret values never leave the engine: anything recorded or shown passes through here.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use parking_lot::RwLock;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use weft_expr::{EvalError, Scope, Taint};

use crate::workflow::ValueTemplate;
use matcher::Matcher;

mod matcher;

pub const REDACTED: &str = "***";

/// Secrets shorter than this are not masked: masking a one-character secret would replace that
/// character everywhere, and the `***` around every occurrence would show the text beside it.
pub const MIN_SECRET_LEN: usize = 4;

/// Header names whose values are credentials: masked wherever headers are shown or recorded,
/// whatever the value (compared without case).
pub const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "x-access-token",
    "x-csrf-token",
    "x-xsrf-token",
    "x-amz-security-token",
    "api-key",
];

/// A base64 fragment shorter than this (from a secret at an unknown position inside the encoded
/// text) is not masked: it would match unrelated ids too often.
const MIN_FRAGMENT_LEN: usize = 8;

/// Masks the secrets of one run and every value derived from them (see [`Redactor::add`]).
/// Shared by the run's tasks; the matcher is rebuilt only when a new value is added.
#[derive(Debug, Default)]
pub struct Redactor {
    state: RwLock<Arc<Patterns>>,
    /// A dry run shows a secret that is not set as `***`: a value computed from it holds that
    /// placeholder, not a secret.
    placeholders: AtomicBool,
}

#[derive(Debug, Default)]
struct Patterns {
    /// The values as given, to skip adding one twice. Shared by every snapshot and grown in
    /// place (a copy for each value added was quadratic): a snapshot that sees a value
    /// added after it only skips it too.
    values: Arc<RwLock<HashSet<String>>>,
    /// Every form of every value.
    matcher: Matcher,
    /// Values masked whole, shared by every snapshot of the patterns.
    whole: Arc<WholeValues>,
}

/// Values masked whole, as compact JSON (a string also as its text): rendered values that
/// hold something computed from a secret that matching cannot mask (a short string, a
/// number, a boolean: `len(...)`, `slice(..., 0, 3)`, the characters of `split(..., '')`), and
/// computed texts that hold a secret. A value equal to one of them is shown as `***`; text
/// around it is not touched. Grown in place: a loop adding one for each item copies nothing
/// (a copy of the set for each, or a pattern for each, was quadratic in the items).
#[derive(Debug, Default)]
struct WholeValues {
    set: RwLock<HashSet<String>>,
    /// Whether `set` holds any, read without its lock.
    any: AtomicBool,
    /// Whether `set` holds an array or object (only then are containers compared).
    containers: AtomicBool,
}

impl WholeValues {
    fn is_empty(&self) -> bool {
        !self.any.load(Ordering::Acquire)
    }

    fn contains(&self, entry: &str) -> bool {
        !self.is_empty() && self.set.read().contains(entry)
    }

    fn containers(&self) -> bool {
        self.containers.load(Ordering::Acquire)
    }

    fn extend(&self, entries: impl IntoIterator<Item = String>, container: bool) {
        self.set.write().extend(entries);
        if container {
            self.containers.store(true, Ordering::Release);
        }
        self.any.store(true, Ordering::Release);
    }
}

impl Patterns {
    fn with(&self, value: &str) -> Patterns {
        self.values.write().insert(value.to_string());
        Patterns {
            values: self.values.clone(),
            matcher: self.matcher.with(forms_of(value)),
            whole: self.whole.clone(),
        }
    }

    fn has_value(&self, value: &str) -> bool {
        self.values.read().contains(value)
    }

    fn whole_values(&self, value: &Value) -> Value {
        let matched = matches!(value, Value::String(s) if self.has_value(s));
        if self.is_whole(value) && !matched {
            return Value::String(REDACTED.to_string());
        }
        match value {
            Value::Array(items) => {
                Value::Array(items.iter().map(|i| self.whole_values(i)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.whole_values(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Whether `value` is one of the values masked whole.
    fn is_whole(&self, value: &Value) -> bool {
        if self.whole.is_empty() {
            return false;
        }
        match value {
            Value::Null => false,
            Value::Array(_) | Value::Object(_) if !self.whole.containers() => false,
            _ => serde_json::to_string(value).is_ok_and(|json| self.whole.contains(&json)),
        }
    }
}

/// The values inside `value` that [`Redactor::add_value`] cannot mask by matching, as JSON
/// (how [`Patterns::whole`] compares values): short strings, numbers written short, booleans.
/// Not as text: one character of a secret would mask every text and key that is that
/// character.
fn unmaskable_parts(value: &Value, out: &mut Vec<String>) {
    let short = |s: &str| s.chars().count() < MIN_SECRET_LEN;
    match value {
        Value::String(s) if short(s) => out.extend(serde_json::to_string(s).ok()),
        Value::Number(n) if short(&n.to_string()) => out.push(n.to_string()),
        Value::Bool(b) => out.push(b.to_string()),
        Value::Array(items) => items.iter().for_each(|i| unmaskable_parts(i, out)),
        Value::Object(map) => map.values().for_each(|i| unmaskable_parts(i, out)),
        Value::Null | Value::String(_) | Value::Number(_) => {}
    }
}

/// Whether [`Redactor::add_value`] can mask every part of `value` by matching: strings and
/// object keys of at least [`MIN_SECRET_LEN`] characters, numbers written that long, `null`.
fn maskable(value: &Value) -> bool {
    let long = |s: &str| s.chars().count() >= MIN_SECRET_LEN;
    match value {
        Value::Null => true,
        Value::String(s) => long(s),
        Value::Number(n) => long(&n.to_string()),
        Value::Bool(_) => false,
        Value::Array(items) => items.iter().all(maskable),
        Value::Object(map) => map.iter().all(|(k, v)| long(k) && maskable(v)),
    }
}

impl Redactor {
    /// Secrets shorter than [`MIN_SECRET_LEN`] are left out; [`Redactor::short`] tells which.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let redactor = Redactor::default();
        for secret in secrets {
            redactor.add(&secret);
        }
        redactor
    }

    /// For a dry run in which some secrets are not set (they read as `***`).
    pub fn allow_placeholders(&self) {
        self.placeholders.store(true, Ordering::Relaxed);
    }

    /// Which of `secrets` are too short to be masked (an empty one included).
    pub fn short<'a>(secrets: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<&'a str> {
        secrets
            .into_iter()
            .filter(|(_, value)| value.chars().count() < MIN_SECRET_LEN)
            .map(|(name, _)| name)
            .collect()
    }

    /// Masks `value` from now on, in every form it can take on its way out: as written,
    /// URL-encoded (query, form or path), JSON-escaped and base64-encoded. A value computed
    /// from a secret is added here before it is recorded or shown. A value that contains a
    /// secret already masked is skipped: its URL and JSON forms contain that secret's forms.
    pub fn add(&self, value: &str) {
        if !self.can_mask(value) {
            return;
        }
        let current = self.state.read().clone();
        if current.has_value(value) || current.covers(value) {
            return;
        }
        self.insert(value);
    }

    /// Whether `value` can be masked as a secret: long enough, and in a dry run not computed
    /// from the placeholder of a secret that is not set.
    fn can_mask(&self, value: &str) -> bool {
        value.chars().count() >= MIN_SECRET_LEN
            && !(self.placeholders.load(Ordering::Relaxed) && value.contains(REDACTED))
    }

    /// Masks `value` from now on, in every form, even when it contains a secret already masked.
    pub(crate) fn insert(&self, value: &str) {
        if !self.can_mask(value) || self.state.read().has_value(value) {
            return;
        }
        let mut state = self.state.write();
        if !state.has_value(value) {
            *state = Arc::new(state.with(value));
        }
    }

    /// Adds every string in `value`, a value computed from a secret: object keys, string
    /// leaves and numbers as written (see [`Redactor::mask_text`]). Returns whether one of
    /// them holds a secret already masked: then what holds `value` must be masked whole, as
    /// matching masks only that secret in it.
    pub fn add_value(&self, value: &Value) -> bool {
        match value {
            Value::String(s) => self.mask_text(s),
            Value::Number(n) => self.mask_text(&n.to_string()),
            Value::Array(items) => items.iter().fold(false, |held, i| self.add_value(i) | held),
            Value::Object(map) => map.iter().fold(false, |held, (key, item)| {
                self.mask_text(key) | self.add_value(item) | held
            }),
            _ => false,
        }
    }

    /// Masks `text`, computed from a secret, from now on; returns whether it holds a secret
    /// already masked. Such a text is masked wherever a value or a text equals it, not as a
    /// secret of its own: masking only its secret would show the rest
    /// (`***|sup3rs3cretvalue` for `tok + "|" + lower(tok)`), and a secret for each (say, for
    /// each item of a loop) made the matcher grow with every one.
    fn mask_text(&self, text: &str) -> bool {
        if !self.can_mask(text) {
            return false;
        }
        let state = self.state.read().clone();
        if state.has_value(text) {
            return false;
        }
        if state.whole.contains(text) {
            return true;
        }
        if state.covers(text) {
            let json = serde_json::to_string(text).ok();
            state
                .whole
                .extend(json.into_iter().chain([text.to_string()]), false);
            return true;
        }
        drop(state);
        self.insert(text);
        false
    }

    /// Renders `template`; each value a template of it computed from secrets is added first.
    /// When such a value cannot be masked by matching (see [`maskable`]), the whole value of
    /// the string that holds it (a `with` key's value, a var, an output) is masked instead: as
    /// a secret when it is long enough, else wherever a value equals it.
    pub(crate) fn render(
        &self,
        template: &ValueTemplate,
        scope: &dyn Scope,
    ) -> Result<Value, EvalError> {
        self.render_noting(template, scope, &mut false)
    }

    /// Renders like [`Redactor::render`]; sets `tainted` when any value was computed from a
    /// secret.
    pub(crate) fn render_noting(
        &self,
        template: &ValueTemplate,
        scope: &dyn Scope,
        tainted: &mut bool,
    ) -> Result<Value, EvalError> {
        match template {
            ValueTemplate::Literal(value) => Ok(Value::clone(value)),
            ValueTemplate::Template(template) => {
                let mut unmaskable = false;
                let value = template.render_tainted(scope, &mut |value, taint| {
                    *tainted = true;
                    match taint {
                        Taint::Computed => {
                            let held = self.add_value(value);
                            unmaskable |= held || !maskable(value);
                        }
                        // A server may echo it alone: masked as a secret of its own, unless
                        // a form of one is found in it (then that part is masked, and the
                        // rest was not computed from a secret: `{"i":7,"t":"***"}`; a loop
                        // building one for each item then adds nothing for each), or it is
                        // a boolean (`tok && flag`), no form of the secret.
                        Taint::Intermediate => {
                            if let Value::String(text) = value {
                                let boolean = matches!(text.as_str(), "true" | "false" | "null");
                                // Most repeat (a loop's items): known, they need no matching.
                                let known = || self.state.read().has_value(text);
                                if !boolean && !known() && !self.text_holds_secret(text) {
                                    self.insert(text);
                                }
                            }
                        }
                        // Its secrets were added when it was computed; its other parts (a
                        // title beside a token) are no secrets. Passed on as it is, it is
                        // masked as it was; in a text, a part masked whole (a short one)
                        // masks that text whole.
                        Taint::Read => {}
                        Taint::ReadIntoText => {
                            unmaskable |= self.state.read().holds_whole(value);
                        }
                    }
                })?;
                if unmaskable {
                    self.mask_whole(&value);
                }
                Ok(value)
            }
            ValueTemplate::Array(items) => items
                .iter()
                .map(|i| self.render_noting(i, scope, tainted))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            ValueTemplate::Object(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (key, value) in entries {
                    map.insert(key.to_string(), self.render_noting(value, scope, tainted)?);
                }
                Ok(Value::Object(map))
            }
        }
    }

    /// The strings in `value` that were computed from a secret and hold one (masked where a
    /// value equals them: see [`Redactor::add_value`]).
    pub fn texts_holding_secrets(&self, value: &Value) -> Vec<String> {
        fn walk(state: &Patterns, value: &Value, out: &mut Vec<String>) {
            match value {
                Value::String(s) if state.whole.contains(s) && state.covers(s) => {
                    out.push(s.clone());
                }
                Value::Array(items) => items.iter().for_each(|i| walk(state, i, out)),
                Value::Object(map) => map.values().for_each(|i| walk(state, i, out)),
                _ => {}
            }
        }
        let state = self.state.read().clone();
        let mut out = Vec::new();
        if !state.whole.is_empty() {
            walk(&state, value, &mut out);
        }
        out
    }

    /// Whether `text` holds a secret or a value computed from one, as matching finds them.
    pub fn text_holds_secret(&self, text: &str) -> bool {
        self.state.read().matcher.is_match(text)
    }

    /// Whether `value` holds a secret or a value computed from one, as masking finds them (a
    /// credential header alone does not count: it is masked whatever its value). With
    /// `equal_values`, a value equal to one masked whole (`true`, `13`) counts too: say so
    /// only when `value` may have been computed from a secret, as such values are common.
    pub fn holds_secret(&self, value: &Value, equal_values: bool) -> bool {
        let state = self.state.read().clone();
        (!state.matcher.is_empty() || !state.whole.is_empty()) && state.holds(value, equal_values)
    }

    /// Masks `value` whole from now on: a long string as a secret, anything else wherever a
    /// value (or a whole text) equals it.
    /// Each part of it that matching cannot mask is masked wherever a value equals it too:
    /// an expression that only reads a part (`item`, `steps.s.output.chars[0]`) is not
    /// tainted, as what it reads was masked here.
    fn mask_whole(&self, value: &Value) {
        match value {
            Value::Null => {}
            // Not `add`: a text that holds a secret besides the short value would be skipped,
            // and the short value shown beside the masked secret (`a***bSu`).
            Value::String(s) if s.chars().count() >= MIN_SECRET_LEN => {
                self.mask_text(s);
            }
            _ => {
                let mut whole = Vec::new();
                if let Ok(json) = serde_json::to_string(value) {
                    whole.push(json);
                }
                // A string also as its text, for messages that are exactly that value.
                if let Value::String(s) = value {
                    whole.push(s.clone());
                }
                unmaskable_parts(value, &mut whole);
                let container = matches!(value, Value::Array(_) | Value::Object(_));
                self.state.read().whole.extend(whole, container);
            }
        }
    }

    /// `value` with only the values masked whole (see [`Redactor::render`]) replaced by `***`:
    /// what a description computed from a step's input (a dry run's summary) is built from. A
    /// text that is also masked as a secret is left to matching.
    pub fn whole_values(&self, value: &Value) -> Value {
        let state = self.state.read().clone();
        if state.whole.is_empty() {
            return value.clone();
        }
        state.whole_values(value)
    }

    pub fn is_empty(&self) -> bool {
        let state = self.state.read();
        state.matcher.is_empty() && state.whole.is_empty()
    }

    pub fn text(&self, text: &str) -> String {
        self.state.read().clone().text(text)
    }

    /// Masks strings and object keys, and the whole value of every credential header.
    pub fn value(&self, value: &Value) -> Value {
        self.state.read().clone().value(value)
    }

    /// Whether [`Redactor::value`] may change `value`: the run has secrets, or `value` holds a
    /// credential header (masked whatever the secrets). Without secrets only object keys are
    /// looked at, so a value that needs no masking is written as it is at little cost.
    pub fn may_mask(&self, value: &Value) -> bool {
        !self.is_empty() || holds_credential_header(value)
    }

    /// Writes `value` masked as [`Redactor::value`] masks it, as compact JSON, in one walk
    /// that copies nothing of it; returns whether anything was masked.
    pub fn write_json(&self, value: &Value, out: impl std::io::Write) -> bool {
        let patterns = self.state.read().clone();
        let changed = Cell::new(false);
        let nothing_to_mask = patterns.matcher.is_empty()
            && patterns.whole.is_empty()
            && !holds_credential_header(value);
        // Writing into memory cannot fail, and a `Value` always serializes.
        let _ = if nothing_to_mask {
            serde_json::to_writer(out, value)
        } else {
            serde_json::to_writer(out, &Masking::new(&patterns, value, &changed))
        };
        changed.get()
    }
}

/// Whether an object anywhere in `value` has a key naming a credential header.
fn holds_credential_header(value: &Value) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(key, item)| is_credential_header(key) || holds_credential_header(item)),
        Value::Array(items) => items.iter().any(holds_credential_header),
        _ => false,
    }
}

impl Patterns {
    fn holds(&self, value: &Value, equal_values: bool) -> bool {
        let matches = |text: &str| self.matcher.is_match(text);
        if equal_values && self.is_whole(value) {
            return true;
        }
        match value {
            Value::String(s) => matches(s),
            Value::Number(n) => !self.matcher.is_empty() && self.has_value(&n.to_string()),
            Value::Array(items) => items.iter().any(|i| self.holds(i, equal_values)),
            Value::Object(map) => map
                .iter()
                .any(|(k, v)| matches(k) || self.holds(v, equal_values)),
            _ => false,
        }
    }

    /// Whether `value` or a part of it is one of the values masked whole.
    fn holds_whole(&self, value: &Value) -> bool {
        if self.whole.is_empty() {
            return false;
        }
        self.is_whole(value)
            || match value {
                Value::Array(items) => items.iter().any(|i| self.holds_whole(i)),
                Value::Object(map) => map.values().any(|v| self.holds_whole(v)),
                _ => false,
            }
    }

    fn covers(&self, value: &str) -> bool {
        self.matcher
            .find_iter(value)
            .any(|found| self.has_value(&value[found]))
    }

    fn text(&self, text: &str) -> String {
        self.masked_text(text).into_owned()
    }

    /// `text` with its secrets masked, borrowed when it holds none (the common case).
    fn masked_text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if !self.whole.is_empty() && self.whole.contains(text) {
            return Cow::Borrowed(REDACTED);
        }
        if !self.matcher.is_match(text) {
            return Cow::Borrowed(text);
        }
        // Every stretch some secret covers is masked, overlaps included: matches that do not
        // overlap (`replace_all`) let `xSup` (a short value computed from a secret) hide
        // where `Sup3rS3cretValue` starts in `xSup3rS3cretValue`, and the rest was shown. A
        // search from each match's start + 1 finds the next leftmost one, which may overlap.
        let mut out = String::with_capacity(text.len());
        let mut shown = 0;
        let mut masking: Option<std::ops::Range<usize>> = None;
        let mut from = 0;
        while let Some(found) = self.matcher.find(text, from) {
            from = found.start + 1;
            masking = match masking {
                Some(stretch) if found.start <= stretch.end => {
                    Some(stretch.start..stretch.end.max(found.end))
                }
                done => {
                    if let Some(stretch) = done {
                        out.push_str(&text[shown..stretch.start]);
                        out.push_str(REDACTED);
                        shown = stretch.end;
                    }
                    Some(found)
                }
            };
        }
        if let Some(stretch) = masking {
            out.push_str(&text[shown..stretch.start]);
            out.push_str(REDACTED);
            shown = stretch.end;
        }
        out.push_str(&text[shown..]);
        Cow::Owned(out)
    }

    fn value(&self, value: &Value) -> Value {
        let changed = Cell::new(false);
        // Serializing a `Value` into a `Value` cannot fail (its keys are strings).
        serde_json::to_value(Masking::new(self, value, &changed))
            .unwrap_or_else(|_| Value::String(REDACTED.to_string()))
    }
}

/// `value` with its secrets masked, as any serde serializer writes it: the one definition of
/// what masking does, walked without copying the value (a record's JSON is written straight
/// from the run's values). `changed` is set when anything was masked.
struct Masking<'a> {
    patterns: &'a Patterns,
    value: &'a Value,
    changed: &'a Cell<bool>,
}

impl<'a> Masking<'a> {
    fn new(patterns: &'a Patterns, value: &'a Value, changed: &'a Cell<bool>) -> Self {
        Masking {
            patterns,
            value,
            changed,
        }
    }

    fn at(&self, value: &'a Value) -> Self {
        Masking::new(self.patterns, value, self.changed)
    }

    fn text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let masked = self.patterns.masked_text(text);
        if masked != text {
            self.changed.set(true);
        }
        masked
    }
}

impl Serialize for Masking<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let patterns = self.patterns;
        if patterns.is_whole(self.value) {
            if self.value.as_str() != Some(REDACTED) {
                self.changed.set(true);
            }
            return serializer.serialize_str(REDACTED);
        }
        match self.value {
            Value::String(s) => serializer.serialize_str(&self.text(s)),
            // A number that is a secret (a PIN, or computed from a secret) as written.
            Value::Number(n)
                if !patterns.matcher.is_empty() && patterns.has_value(&n.to_string()) =>
            {
                self.changed.set(true);
                serializer.serialize_str(REDACTED)
            }
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&self.at(item))?;
                }
                seq.end()
            }
            Value::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, item) in entries {
                    let shown = self.text(key);
                    if is_credential_header(key) {
                        let masked = mask_credential(item);
                        if masked != *item {
                            self.changed.set(true);
                        }
                        map.serialize_entry(&*shown, &masked)?;
                    } else {
                        map.serialize_entry(&*shown, &self.at(item))?;
                    }
                }
                map.end()
            }
            other => other.serialize(serializer),
        }
    }
}

pub fn is_credential_header(name: &str) -> bool {
    // Most keys are not header names: their length alone rules them out, without comparing.
    name.len() < 64
        && CREDENTIAL_HEADER_LENGTHS & (1 << name.len()) != 0
        && CREDENTIAL_HEADERS
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
}

/// Bit `n` is set when a name in [`CREDENTIAL_HEADERS`] is `n` bytes long.
const CREDENTIAL_HEADER_LENGTHS: u64 = {
    let mut lengths = 0u64;
    let mut i = 0;
    while i < CREDENTIAL_HEADERS.len() {
        lengths |= 1 << CREDENTIAL_HEADERS[i].len();
        i += 1;
    }
    lengths
};

/// `Bearer abc` → `Bearer ***` (the scheme says how it is sent, not what it is); anything
/// else → `***`.
fn mask_credential(value: &Value) -> Value {
    match value {
        Value::String(s) => {
            let scheme = s
                .split_once(' ')
                .map(|(scheme, _)| scheme)
                .filter(|scheme| {
                    !scheme.is_empty()
                        && scheme
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            Value::String(match scheme {
                Some(scheme) => format!("{scheme} {REDACTED}"),
                None => REDACTED.to_string(),
            })
        }
        Value::Array(items) => Value::Array(items.iter().map(mask_credential).collect()),
        Value::Null => Value::Null,
        _ => Value::String(REDACTED.to_string()),
    }
}

/// The forms in which a value can reach a URL, a body, a header or an error message.
fn forms_of(value: &str) -> Vec<String> {
    let form: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let form_space = form.replace('+', "%20");
    let mut forms = vec![value.to_string(), form, form_space];
    // A `+` is sent as is in a query, which a server decodes as a space.
    let texts = match value.contains('+') {
        true => vec![value.to_string(), value.replace('+', " ")],
        false => vec![value.to_string()],
    };
    for text in &texts {
        forms.push(text.clone());
        forms.extend(json_escapes(text));
    }
    forms.extend(url_forms(value));
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        forms.push(engine.encode(value));
    }
    forms.extend(base64_fragments(value.as_bytes()));
    // PHP's JSON writes every `/` as `\/`: in the value, its URL forms, its base64.
    let slashed: Vec<String> = forms
        .iter()
        .filter(|f| f.contains('/'))
        .map(|f| f.replace('/', "\\/"))
        .collect();
    forms.extend(slashed);
    forms.retain(|f| !f.is_empty());
    forms.sort_unstable();
    forms.dedup();
    forms
}

/// `text` as JSON writers escape it inside a string: serde (only `"`, `\` and control
/// characters), and those that also escape non-ASCII characters (Python's `json`, Jackson,
/// .NET; UTF-16 pairs beyond the first plane) or the characters unsafe in HTML (Go: `<>&`;
/// Jinja: and `'`; .NET: and `'+``), with lower- or upper-case hex.
fn json_escapes(text: &str) -> Vec<String> {
    let json = serde_json::to_string(text).unwrap_or_default();
    let json = json.trim_matches('"').to_string();
    let mut escapes = vec![json.clone()];
    let html_sets: [&[char]; 4] = [
        &[],
        &['<', '>', '&'],
        &['<', '>', '&', '\''],
        &['<', '>', '&', '\'', '+', '`'],
    ];
    if json.is_ascii() && !json.contains(html_sets[3]) {
        return escapes;
    }
    for upper in [false, true] {
        for ascii in [false, true] {
            for set in html_sets {
                let mut out = String::with_capacity(json.len() * 2);
                for c in json.chars() {
                    if !(set.contains(&c) || (ascii && !c.is_ascii())) {
                        out.push(c);
                        continue;
                    }
                    for unit in c.encode_utf16(&mut [0; 2]) {
                        match upper {
                            true => out.push_str(&format!("\\u{unit:04X}")),
                            false => out.push_str(&format!("\\u{unit:04x}")),
                        }
                    }
                }
                escapes.push(out);
            }
        }
    }
    escapes.sort_unstable();
    escapes.dedup();
    escapes
}

/// The value written into a URL's path, query, host or password, as the URL parser writes
/// it: percent-encoded (a `\` is sent as `%5C`: see `actions::http`), a dotted name as a
/// host, in lower case and IDNA (`Tenant.Example.com` is sent and quoted as
/// `tenant.example.com`).
fn url_forms(value: &str) -> Vec<String> {
    let Ok(mut url) = url::Url::parse("http://u@h/") else {
        return Vec::new();
    };
    let escaped = value.replace('\\', "%5C");
    url.set_path(&format!("/{escaped}"));
    let path = url.path().trim_start_matches('/').to_string();
    url.set_query(Some(&escaped));
    let query = url.query().unwrap_or_default().to_string();
    let mut forms = vec![path, query];
    if url.set_password(Some(value)).is_ok() {
        forms.extend(url.password().map(str::to_string));
    }
    // A URL as the parser normalizes it before it is sent or quoted (`http://h?q=…` is
    // `http://h/?q=…`).
    if value.contains("://") {
        if let Ok(parsed) = url::Url::parse(value) {
            forms.push(parsed.to_string());
        }
    }
    // Only a dotted name: a token is no host, and its lower case as a form of its own would
    // hide that a text computed from it (`lower(tok)`) holds it.
    if value.contains('.') {
        if let Ok(url::Host::Domain(host)) = url::Host::parse(value) {
            forms.push(host);
        }
    }
    forms.retain(|form| form != value);
    forms
}

/// Base64 of a text that contains `bytes` at any position: for each of the three alignments,
/// the characters that encode nothing but `bytes` (the ones at both ends depend on the text
/// around it).
fn base64_fragments(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for offset in 1..3usize {
        let mut padded = vec![0u8; offset];
        padded.extend_from_slice(bytes);
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let encoded = engine.encode(&padded);
            let start = (offset * 8).div_ceil(6);
            let end = (padded.len() * 8) / 6;
            if let Some(fragment) = encoded.get(start..end) {
                if fragment.len() >= MIN_FRAGMENT_LEN {
                    out.push(fragment.to_string());
                }
            }
        }
    }
    // Offset 0: the encoding of the value alone, without the characters that depend on what
    // follows it.
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        let encoded = engine.encode(bytes);
        let end = (bytes.len() * 8) / 6;
        if let Some(fragment) = encoded.get(..end) {
            if fragment.len() >= MIN_FRAGMENT_LEN {
                out.push(fragment.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encoded_forms_of_a_secret_are_masked_too() {
        let r = Redactor::new(["p@ss w0rd/+=\"x".to_string()]);
        assert_eq!(
            r.text("GET /items?token=p%40ss+w0rd%2F%2B%3D%22x"),
            "GET /items?token=***"
        );
        assert_eq!(r.text("/p%40ss%20w0rd%2F%2B%3D%22x"), "/***");
        assert_eq!(
            r.text(r#"{"password":"p@ss w0rd/+=\"x"}"#),
            r#"{"password":"***"}"#
        );
        // As the URL parser writes it into a path or a query: `@`, `/` and `=` stay.
        assert_eq!(r.text("http://h/p@ss%20w0rd/+=%22x/y"), "http://h/***/y");
    }

    #[test]
    fn a_path_secret_with_non_ascii_and_backslash_is_masked_as_sent() {
        let r = Redactor::new(["pa ss\\wörd".to_string()]);
        assert_eq!(
            r.text("GET http://h/x/pa%20ss%5Cw%C3%B6rd/y"),
            "GET http://h/x/***/y"
        );
    }

    #[test]
    fn secrets_are_replaced_everywhere_even_inside_longer_text() {
        let r = Redactor::new(["s3cr3t-token".to_string(), "s3cr3t".to_string()]);
        let v = r.value(&json!({"h": {"x": "Bearer s3cr3t-token"}, "l": ["x s3cr3t y"]}));
        assert_eq!(v, json!({"h": {"x": "Bearer ***"}, "l": ["x *** y"]}));
    }

    /// A short value computed from a secret, masked as a secret once it was seen inside a
    /// longer text, does not unmask the secret it overlaps (review of 2026-12-03: `x` then
    /// the secret rendered as `***3rS3cretValue`).
    #[test]
    fn overlapping_secrets_are_masked_over_their_whole_stretch() {
        let r = Redactor::new(["Sup3rS3cretValue".to_string(), "xSup".to_string()]);
        assert_eq!(r.text("xSup3rS3cretValueSup"), "***Sup");
        assert_eq!(r.text("a xSup3rS3cretValue b xSup c"), "a *** b *** c");
        let r = Redactor::new(["abcd".to_string(), "cdef".to_string(), "efgh".to_string()]);
        assert_eq!(r.text("1abcdefgh2 abcd cdef"), "1***2 *** ***");
        assert_eq!(r.text("no secret here"), "no secret here");
    }

    /// A computed text that holds a secret (one for each item of a loop) is masked where a
    /// value or text equals it, adding no pattern: the matcher does not grow with the items.
    #[test]
    fn computed_texts_holding_a_secret_are_masked_whole_without_new_patterns() {
        let r = Redactor::new(["s3cr3t-token".to_string()]);
        let forms = r.state.read().matcher.form_count();
        for i in 0..1000 {
            assert!(r.add_value(&json!(format!("s3cr3t-token|{i}"))), "{i}");
        }
        assert_eq!(r.state.read().matcher.form_count(), forms);
        assert_eq!(r.text("s3cr3t-token|7"), "***");
        assert_eq!(
            r.value(&json!({"v": ["s3cr3t-token|7"]})),
            json!({"v": ["***"]})
        );
        // Elsewhere only the secret is found: the engine masks whole the texts it builds
        // from such a value (taint).
        assert_eq!(r.text("x s3cr3t-token|7"), "x ***|7");
        assert!(!r.add_value(&json!("S3CR3T-TOKEN")), "holds no secret");
        assert!(
            r.state.read().matcher.form_count() > forms,
            "a new form is a pattern"
        );
    }

    /// A URL holds a secret host in lower case and a secret password encoded its own way:
    /// both are masked as the URL parser writes them.
    #[test]
    fn a_secret_host_or_password_in_a_url_is_masked() {
        let r = Redactor::new([
            "Tenant-ACME.Example.com".to_string(),
            "pa ss;w\u{f6}rd+Qx".to_string(),
        ]);
        assert_eq!(
            r.text("GET https://tenant-acme.example.com/v1 failed"),
            "GET https://***/v1 failed"
        );
        assert_eq!(
            r.text("GET http://svc:pa%20ss%3Bw%C3%B6rd+Qx@h/ failed"),
            "GET http://svc:***@h/ failed"
        );
        // A URL holding a secret, as it is sent once normalized.
        let r2 = Redactor::new(["http://127.0.0.1:9?p=Xk9&t=Tok3n-Value".to_string()]);
        assert_eq!(
            r2.text("GET http://127.0.0.1:9/?p=Xk9&t=Tok3n-Value failed"),
            "GET *** failed"
        );
        // A query sends the `+` as is; the server reads it as a space.
        assert_eq!(r.text("got q=pa ss;w\u{f6}rd Qx"), "got q=***");
    }

    /// Servers escape JSON differently: every writer's escape of the secret is masked.
    #[test]
    fn a_secret_escaped_as_other_json_writers_do_is_masked() {
        let r = Redactor::new(["pa ss/w\u{f6}rd\u{1f600}".to_string()]);
        for echoed in [
            r#"{"echo": "pa ss/w\u00f6rd\ud83d\ude00"}"#,
            r#"{"echo": "pa ss\/w\u00F6rd\uD83D\uDE00"}"#,
            "{\"echo\": \"pa ss\\/w\u{f6}rd\u{1f600}\"}",
        ] {
            assert_eq!(r.text(echoed), r#"{"echo": "***"}"#, "{echoed}");
        }
        assert_eq!(
            r.text(r#"{"uri": "\/echo\/pa%20ss\/w%C3%B6rd%F0%9F%98%80"}"#),
            r#"{"uri": "\/echo\/***"}"#
        );
        // .NET: `+` and `'` too, upper-case hex; Python: the `+` a query turned into a space.
        let r = Redactor::new(["k3Jx+9Pq'w\u{f6}".to_string()]);
        assert_eq!(
            r.text(r#"bad \u0027k3Jx\u002B9Pq\u0027w\u00F6\u0027"#),
            r#"bad \u0027***\u0027"#
        );
        assert_eq!(r.text(r#"{"q": "k3Jx 9Pq'w\u00f6"}"#), r#"{"q": "***"}"#);
        let r = Redactor::new(["a<b>&c=d".to_string()]);
        assert_eq!(
            r.text(r#"{"q": "a\u003cb\u003e\u0026c=d"}"#),
            r#"{"q": "***"}"#
        );
    }

    #[test]
    fn object_keys_are_masked() {
        let r = Redactor::new(["s3cr3t".to_string()]);
        assert_eq!(
            r.value(&json!({"s3cr3t": 1, "a": {"k-s3cr3t": [2]}})),
            json!({"***": 1, "a": {"k-***": [2]}})
        );
    }

    #[test]
    fn credential_headers_are_masked_whatever_their_value() {
        let r = Redactor::default();
        let headers = json!({
            "Authorization": "Basic bWU6cGFzcw==",
            "PROXY-AUTHORIZATION": "opaque",
            "cookie": "session=abc",
            "set-cookie": ["a=1", "b=2"],
            "X-Api-Key": "k",
            "content-type": "application/json"
        });
        assert_eq!(
            r.value(&headers),
            json!({
                "Authorization": "Basic ***",
                "PROXY-AUTHORIZATION": "***",
                "cookie": "***",
                "set-cookie": ["***", "***"],
                "X-Api-Key": "***",
                "content-type": "application/json"
            })
        );
    }

    #[test]
    fn header_names_of_other_lengths_are_not_credentials() {
        for name in CREDENTIAL_HEADERS {
            assert!(is_credential_header(&name.to_uppercase()), "{name}");
        }
        for name in ["", "x", "cookies", "authorisation", &"a".repeat(200)] {
            assert!(!is_credential_header(name), "{name}");
        }
    }

    #[test]
    fn every_base64_form_of_a_secret_is_masked() {
        let secret = "tok>en?s3cr3t~";
        let r = Redactor::new([secret.to_string()]);
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            let whole = engine.encode(secret);
            assert_eq!(r.text(&format!("x {whole} y")), "x *** y", "{whole}");
            // After a prefix of any length the secret's bytes are encoded at another
            // alignment: the characters that encode only the secret are masked.
            for prefix in ["a", "ab", "abc", "me@example.com:"] {
                let encoded = engine.encode(format!("{prefix}{secret}!"));
                let shown = r.text(&encoded);
                assert!(shown.contains(REDACTED), "{prefix}: {encoded} → {shown}");
                assert!(shown.len() < encoded.len(), "{shown}");
            }
        }
    }

    #[test]
    fn derived_values_are_masked_once_added() {
        let r = Redactor::new(["s3cr3t".to_string()]);
        r.add("S3CR3T");
        r.add_value(&json!({"TERCES-key": ["tr3rc3s"]}));
        assert_eq!(
            r.text("S3CR3T TERCES-key tr3rc3s s3cr3t"),
            "*** *** *** ***"
        );
    }

    /// Written as JSON in one walk, a value reads back as [`Redactor::value`] masks it, and
    /// the walk tells whether anything was masked.
    #[test]
    fn a_value_written_masked_reads_back_as_its_masked_copy() {
        let r = Redactor::new(["s3cr3t-token".to_string()]);
        r.add_value(&json!(96426));
        let cases = [
            (
                json!({"a": "plain", "n": [1, 2.5, null, true], "e": {}}),
                false,
            ),
            (json!({"headers": {"Authorization": "Bearer x"}}), true),
            (json!({"headers": {"Cookie": "***"}}), false),
            (json!({"k-s3cr3t-token": 1}), true),
            (json!(["x s3cr3t-token y"]), true),
            (json!({"double": 96426}), true),
            (json!({"already": "***"}), false),
        ];
        for (value, masked) in cases {
            let mut text = Vec::new();
            assert_eq!(r.write_json(&value, &mut text), masked, "{value}");
            let read: Value = serde_json::from_slice(&text).unwrap();
            assert_eq!(read, r.value(&value), "{value}");
        }
    }

    /// A run without secrets still records credential headers masked, however deep; any
    /// other value is written as it is.
    #[test]
    fn without_secrets_only_credential_headers_are_masked() {
        let r = Redactor::default();
        let cases = [
            (
                json!({"headers": {"Authorization": "Basic bWU6cGFzcw=="}}),
                json!({"headers": {"Authorization": "Basic ***"}}),
            ),
            (
                json!([{"req": {"h": {"proxy-authorization": "opaque", "accept": "x"}}}]),
                json!([{"req": {"h": {"proxy-authorization": "***", "accept": "x"}}}]),
            ),
        ];
        for (value, masked) in cases {
            assert!(r.may_mask(&value), "{value}");
            let mut text = Vec::new();
            assert!(r.write_json(&value, &mut text), "{value}");
            let read: Value = serde_json::from_slice(&text).unwrap();
            assert_eq!(read, masked);
        }
        let plain = json!({"a": ["Authorization", {"b": "Basic bWU6cGFzcw=="}], "n": 1});
        assert!(!r.may_mask(&plain));
        let mut text = Vec::new();
        assert!(!r.write_json(&plain, &mut text));
        assert_eq!(text, serde_json::to_vec(&plain).unwrap());
    }

    #[test]
    fn numbers_that_are_secrets_are_masked() {
        let r = Redactor::new(["48213".to_string()]);
        r.add_value(&json!(96426));
        assert_eq!(
            r.value(&json!({"pin": 48213, "double": 96426, "n": 7})),
            json!({"pin": "***", "double": "***", "n": 7})
        );
    }

    #[test]
    fn short_secrets_are_not_masked_but_named() {
        let r = Redactor::new(["x".to_string(), "abc".to_string()]);
        assert!(r.is_empty());
        assert_eq!(r.text("a box of abc"), "a box of abc");
        assert_eq!(
            Redactor::short([("a", "x"), ("b", "long-one"), ("c", "")]),
            vec!["a", "c"]
        );
    }
}
