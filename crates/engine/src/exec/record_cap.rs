//! What the run history keeps of one value: whole up to a cap; beyond it, the start of its JSON
//! text with its full size and SHA-256, so a huge output neither floods the history nor makes
//! reading it back slow. The live run still hands the whole value to later steps.

use std::borrow::Cow;
use std::io::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::redact::Redactor;
use crate::store::{AttemptJson, Rfc3339, StepStatus, Truncation};

/// The default cap on each recorded value (rendered inputs, output, error, run outputs).
pub const DEFAULT_RECORD_CAP: usize = 1024 * 1024;
/// How much of a value over the cap is kept: enough to see what it was, small enough that a
/// history of many such values stays quick to read.
const PREVIEW_BYTES: usize = 64 * 1024;

/// Counts the bytes of JSON text written, keeping none: the common case, a value within the
/// cap, costs no allocation.
struct Count(u64);

impl Write for Count {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Keeps the first `cap` bytes written and hashes them all.
struct PrefixAndHash {
    kept: Vec<u8>,
    cap: usize,
    hasher: Sha256,
}

impl Write for PrefixAndHash {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let room = self.cap.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.hasher.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What is recorded of `value`: redacted, then capped as by [`cap_value`]. Without secrets to
/// redact, a value over the cap is never copied whole.
pub(crate) fn cap_redacted(
    redactor: &Redactor,
    value: &Value,
    cap: usize,
    field: &str,
    truncated: &mut Vec<Truncation>,
) -> Value {
    let value = if !redactor.may_mask(value) {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(redactor.value(value))
    };
    cap_value(value, cap, field, truncated)
}

/// Appends to `out` the JSON of what is recorded of `value`, as [`cap_redacted`] has it, in
/// one walk that copies nothing of the value: it is written redacted, and if its text goes
/// past `cap` bytes, what was written is replaced by its start as a string (at most
/// [`PREVIEW_BYTES`] held meanwhile) and a [`Truncation`] is pushed. Returns whether
/// redacting masked something.
pub(crate) fn write_recorded(
    out: &mut Vec<u8>,
    redactor: &Redactor,
    value: &Value,
    cap: usize,
    field: &str,
    truncated: &mut Vec<Truncation>,
) -> bool {
    // The common value: nothing to mask, well within the cap; written without the
    // bookkeeping of each piece.
    if !redactor.may_mask(value) && fits_surely(value, cap as u64) {
        let _ = serde_json::to_writer(out, value);
        return false;
    }
    let start = out.len();
    let mut capped = Capped {
        out,
        start,
        cap,
        size: 0,
        over: None,
    };
    let masked = redactor.write_json(value, &mut capped);
    let (size, over) = (capped.size, capped.over);
    if let Some(hasher) = over {
        let preview = utf8_prefix(out[start..].to_vec());
        out.truncate(start);
        let _ = serde_json::to_writer(&mut *out, &preview);
        truncated.push(Truncation {
            field: field.to_string(),
            size_bytes: size,
            sha256: hex::encode(hasher.finalize()),
        });
    }
    masked
}

/// An attempt's input as its record keeps it (redacted and capped), written before the
/// attempt: the rendered value itself then goes to the action instead of a copy of it.
pub(crate) struct RecordedInput {
    json: Vec<u8>,
    truncated: Vec<Truncation>,
}

impl RecordedInput {
    pub fn of(redactor: &Redactor, input: &Value, cap: usize) -> Self {
        // A small input's JSON in one allocation instead of a few growing ones.
        let (mut json, mut truncated) = (Vec::with_capacity(128), Vec::new());
        write_recorded(&mut json, redactor, input, cap, "input", &mut truncated);
        RecordedInput { json, truncated }
    }
}

/// One attempt as a run hands it to its store ([`AttemptJson`]): the record is written from
/// the run's own values (nothing is copied into an [`AttemptRecord`] first), each value
/// redacted and capped as it is written ([`write_recorded`]), and only by a store that keeps
/// attempts. Its JSON is that of the [`AttemptRecord`] it reads back as.
///
/// [`AttemptRecord`]: crate::store::AttemptRecord
pub(crate) struct Attempt<'a> {
    pub run_id: &'a str,
    pub seq: u64,
    pub step: &'a str,
    pub iteration: &'a [usize],
    pub attempt: u32,
    pub status: StepStatus,
    pub input: &'a RecordedInput,
    /// The output, or the error's message (not yet redacted).
    pub result: Result<&'a Value, &'a str>,
    pub started_at: DateTime<Utc>,
    pub duration_us: u64,
    pub redactor: &'a Redactor,
    pub cap: usize,
}

impl AttemptJson for Attempt<'_> {
    fn run_id(&self) -> &str {
        self.run_id
    }

    fn seq(&self) -> u64 {
        self.seq
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        self.write(out, true);
    }

    fn write_json_without_ids(&self, out: &mut Vec<u8>) {
        self.write(out, false);
    }
}

impl Attempt<'_> {
    /// Writes the record's JSON, with its `run_id` and `seq` or without.
    fn write(&self, out: &mut Vec<u8>, with_ids: bool) {
        /// Writes `,"<name>":`.
        fn key(out: &mut Vec<u8>, name: &str) {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
        }
        /// Writes `,"<name>":` and the value's JSON.
        fn field<T: Serialize + ?Sized>(out: &mut Vec<u8>, name: &str, value: &T) {
            key(out, name);
            // Strings and numbers written into memory: this cannot fail.
            let _ = serde_json::to_writer(&mut *out, value);
        }
        let (redactor, cap) = (self.redactor, self.cap);
        let mut truncated = self.input.truncated.clone();
        if with_ids {
            out.extend_from_slice(b"{\"run_id\":");
            let _ = serde_json::to_writer(&mut *out, self.run_id);
            field(out, "seq", &self.seq);
            field(out, "step", self.step);
        } else {
            out.extend_from_slice(b"{\"step\":");
            let _ = serde_json::to_writer(&mut *out, self.step);
        }
        if !self.iteration.is_empty() {
            field(out, "iteration", self.iteration);
        }
        field(out, "attempt", &self.attempt);
        field(out, "status", self.status.as_str());
        key(out, "input");
        out.extend_from_slice(&self.input.json);
        let mut output_redacted = false;
        match self.result {
            Ok(output) => {
                key(out, "output");
                output_redacted =
                    write_recorded(out, redactor, output, cap, "output", &mut truncated);
            }
            Err(message) => {
                let error = cap_text(redactor.text(message), cap, "error", &mut truncated);
                field(out, "error", &error);
            }
        }
        key(out, "started_at");
        Rfc3339(&self.started_at).write_json(out);
        field(out, "duration_us", &self.duration_us);
        if !truncated.is_empty() {
            field(out, "truncated", &truncated);
        }
        if output_redacted {
            field(out, "output_redacted", &true);
        }
        out.push(b'}');
    }
}

/// An attempt's record written out ahead, for a store to take later (an attempt dropped
/// mid-way is recorded by whoever dropped it).
pub(crate) struct WrittenAttempt {
    run_id: String,
    seq: u64,
    json: Vec<u8>,
}

impl WrittenAttempt {
    pub fn of(attempt: &Attempt<'_>) -> Self {
        let mut json = Vec::new();
        attempt.write_json(&mut json);
        WrittenAttempt {
            run_id: attempt.run_id.to_string(),
            seq: attempt.seq,
            json,
        }
    }
}

impl AttemptJson for WrittenAttempt {
    fn run_id(&self) -> &str {
        &self.run_id
    }

    fn seq(&self) -> u64 {
        self.seq
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.json);
    }
}

/// Appends to a buffer up to `cap` bytes from `start`; past that, keeps only the first
/// [`PREVIEW_BYTES`] and hashes the whole text.
struct Capped<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
    cap: usize,
    size: u64,
    /// Set once the text went past the cap: the hash of all of it so far.
    over: Option<Sha256>,
}

impl Write for Capped<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.size += bytes.len() as u64;
        if let Some(hasher) = &mut self.over {
            hasher.update(bytes);
            return Ok(bytes.len());
        }
        let held = self.out.len() - self.start;
        if held + bytes.len() <= self.cap {
            self.out.extend_from_slice(bytes);
            return Ok(bytes.len());
        }
        let mut hasher = Sha256::new();
        hasher.update(&self.out[self.start..]);
        hasher.update(bytes);
        let preview = self.cap.min(PREVIEW_BYTES);
        self.out.truncate(self.start + held.min(preview));
        let room = preview.saturating_sub(held);
        self.out.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.over = Some(hasher);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `value` itself when its JSON text fits in `cap` bytes; else the start of that text (at most
/// [`PREVIEW_BYTES`]) as a string, with a [`Truncation`] for `field` pushed onto `truncated`.
pub(crate) fn cap_value(
    value: Cow<'_, Value>,
    cap: usize,
    field: &str,
    truncated: &mut Vec<Truncation>,
) -> Value {
    if fits_surely(&value, cap as u64) {
        return value.into_owned();
    }
    let mut size = Count(0);
    // Writing into memory cannot fail, and a `Value` always serializes.
    let _ = serde_json::to_writer(&mut size, &*value);
    if size.0 <= cap as u64 {
        return value.into_owned();
    }
    // A second pass, only for the rare value over the cap.
    let preview = cap.min(PREVIEW_BYTES);
    let mut cut = PrefixAndHash {
        kept: Vec::with_capacity(preview),
        cap: preview,
        hasher: Sha256::new(),
    };
    let _ = serde_json::to_writer(&mut cut, &*value);
    truncated.push(Truncation {
        field: field.to_string(),
        size_bytes: size.0,
        sha256: hex::encode(cut.hasher.finalize()),
    });
    Value::String(utf8_prefix(cut.kept))
}

/// Whether the JSON text of `value` is at most `budget` bytes, by a bound that writes nothing:
/// a string takes at most six bytes per byte of it (`\u00XX`) and two quotes, a number at
/// most 32 bytes. The common value, well within the cap, skips the exact count (a second
/// serialization of every recorded value); a `false` only means "count exactly".
fn fits_surely(value: &Value, budget: u64) -> bool {
    fn bound(value: &Value, budget: u64, used: &mut u64) -> bool {
        let string = |s: &str| 2 + 6 * s.len() as u64;
        *used += match value {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 32,
            Value::String(s) => string(s),
            Value::Array(items) => {
                *used += 2 + items.len() as u64;
                for item in items {
                    if !bound(item, budget, used) {
                        return false;
                    }
                }
                0
            }
            Value::Object(map) => {
                *used += 2 + map.len() as u64;
                for (key, item) in map {
                    *used += string(key) + 1;
                    if !bound(item, budget, used) {
                        return false;
                    }
                }
                0
            }
        };
        *used <= budget
    }
    bound(value, budget, &mut 0)
}

/// `text` itself when it fits in `cap` bytes; else its start, at most [`PREVIEW_BYTES`] (whole
/// characters).
pub(crate) fn cap_text(
    text: String,
    cap: usize,
    field: &str,
    truncated: &mut Vec<Truncation>,
) -> String {
    if text.len() <= cap {
        return text;
    }
    truncated.push(Truncation {
        field: field.to_string(),
        size_bytes: text.len() as u64,
        sha256: hex::encode(Sha256::digest(text.as_bytes())),
    });
    match weft_action::text::cut(&text, usize::MAX, cap.min(PREVIEW_BYTES)) {
        Some(start) => start.to_string(),
        None => text,
    }
}

/// The longest valid UTF-8 start of `bytes` (a cut may split a character).
fn utf8_prefix(mut bytes: Vec<u8>) -> String {
    let valid = match std::str::from_utf8(&bytes) {
        Ok(_) => bytes.len(),
        Err(e) => e.valid_up_to(),
    };
    bytes.truncate(valid);
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AttemptRecord;
    use serde_json::json;

    fn attempt<'a>(
        redactor: &'a Redactor,
        input: &'a RecordedInput,
        result: Result<&'a Value, &'a str>,
        iteration: &'a [usize],
        cap: usize,
    ) -> Attempt<'a> {
        Attempt {
            run_id: "01RUN",
            seq: 7,
            step: "fetch \"pages\"",
            iteration,
            attempt: 2,
            status: if result.is_ok() {
                StepStatus::Succeeded
            } else {
                StepStatus::Failed
            },
            input,
            result,
            started_at: chrono::Utc::now(),
            duration_us: 1234,
            redactor,
            cap,
        }
    }

    /// What the record was before it was written straight from the values: an
    /// `AttemptRecord` of the redacted, capped copies.
    fn as_record(attempt: &Attempt<'_>, input: &Value) -> AttemptRecord {
        let (redactor, cap) = (attempt.redactor, attempt.cap);
        let mut truncated = Vec::new();
        let input = cap_redacted(redactor, input, cap, "input", &mut truncated);
        let output = attempt
            .result
            .ok()
            .map(|v| cap_redacted(redactor, v, cap, "output", &mut truncated));
        let output_redacted = attempt
            .result
            .is_ok_and(|v| redactor.may_mask(v) && redactor.value(v) != *v);
        let error = attempt
            .result
            .err()
            .map(|e| cap_text(redactor.text(e), cap, "error", &mut truncated));
        AttemptRecord {
            run_id: attempt.run_id.into(),
            seq: attempt.seq,
            step: attempt.step.into(),
            iteration: attempt.iteration.to_vec(),
            attempt: attempt.attempt,
            status: attempt.status,
            input,
            output,
            error,
            started_at: attempt.started_at,
            duration_us: attempt.duration_us,
            truncated,
            output_redacted,
        }
    }

    /// The JSON written from the values is, byte for byte, that of the record built from
    /// copies of them: with and without secrets, loop positions, errors and values over the cap.
    #[test]
    fn an_attempt_is_written_as_its_record_would_be() {
        let plain = Redactor::default();
        let secret = Redactor::new(["hunter2-secret".to_string()]);
        let small = json!({"n": 1, "text": "é\n\"q\""});
        let holding = json!({"token": "Bearer hunter2-secret", "n": [1, 2.5, null, true]});
        let big = json!({"text": "x".repeat(300)});
        /// The redactor, input, result, loop position and cap of an attempt.
        type Case<'a> = (
            &'a Redactor,
            &'a Value,
            Result<&'a Value, &'a str>,
            &'a [usize],
            usize,
        );
        let cases: Vec<Case<'_>> = vec![
            (&plain, &small, Ok(&small), &[], DEFAULT_RECORD_CAP),
            (&plain, &small, Err("boom"), &[3, 1], DEFAULT_RECORD_CAP),
            (&secret, &holding, Ok(&holding), &[0], DEFAULT_RECORD_CAP),
            (&secret, &small, Ok(&small), &[], DEFAULT_RECORD_CAP),
            (&secret, &holding, Err("got hunter2-secret back"), &[], 10),
            (&plain, &big, Ok(&big), &[], 100),
            (&secret, &holding, Ok(&big), &[], 100),
            (&secret, &big, Ok(&holding), &[], 40),
        ];
        let mut texts = Vec::new();
        for (redactor, input, result, iteration, cap) in cases {
            let recorded = RecordedInput::of(redactor, input, cap);
            let case = attempt(redactor, &recorded, result, iteration, cap);
            let mut written = Vec::new();
            case.write_json(&mut written);
            let expected = serde_json::to_vec(&as_record(&case, input)).unwrap();
            assert_eq!(
                String::from_utf8(written.clone()).unwrap(),
                String::from_utf8(expected).unwrap()
            );
            let read: AttemptRecord = serde_json::from_slice(&written).unwrap();
            assert_eq!(read, as_record(&case, input));
            // Without its ids, the same record but for them.
            let mut without = Vec::new();
            case.write_json_without_ids(&mut without);
            let read: AttemptRecord = serde_json::from_slice(&without).unwrap();
            let text = String::from_utf8(without).unwrap();
            assert!(
                !text.contains("01RUN") && !text.contains("\"seq\""),
                "{text}"
            );
            let mut expected = as_record(&case, input);
            (expected.run_id, expected.seq) = (String::new(), 0);
            assert_eq!(read, expected);
            texts.push(String::from_utf8(written).unwrap());
        }
        let text = &texts[2];
        assert!(
            !text.contains("hunter2") && text.contains("\"output_redacted\":true"),
            "{text}"
        );
    }

    /// Written in pieces of every size around the cap, a value keeps exactly its start, size
    /// and hash, as when it was counted and cut from a copy.
    #[test]
    fn a_value_written_over_the_cap_keeps_its_start_size_and_hash() {
        let redactor = Redactor::default();
        let value = json!({"a": "é".repeat(50), "b": ["x".repeat(70), 12345, {"c": "\u{1}"}]});
        let exact = serde_json::to_vec(&value).unwrap().len();
        for cap in (0..exact + 2)
            .step_by(3)
            .chain([exact - 1, exact, exact + 1])
        {
            let (mut written, mut truncated) = (b"[".to_vec(), Vec::new());
            write_recorded(
                &mut written,
                &redactor,
                &value,
                cap,
                "output",
                &mut truncated,
            );
            let mut old = Vec::new();
            let kept = cap_value(Cow::Borrowed(&value), cap, "output", &mut old);
            assert_eq!(
                written[1..],
                serde_json::to_vec(&kept).unwrap()[..],
                "cap {cap}"
            );
            assert_eq!(truncated, old, "cap {cap}");
        }
        // Far over the cap, only the preview is held.
        let huge = json!("x".repeat(3 * DEFAULT_RECORD_CAP));
        let (mut written, mut truncated) = (Vec::new(), Vec::new());
        write_recorded(
            &mut written,
            &redactor,
            &huge,
            DEFAULT_RECORD_CAP,
            "input",
            &mut truncated,
        );
        let preview: Value = serde_json::from_slice(&written).unwrap();
        assert_eq!(preview.as_str().unwrap().len(), PREVIEW_BYTES);
        assert!(
            written.capacity() < 2 * DEFAULT_RECORD_CAP,
            "{}",
            written.capacity()
        );
        assert_eq!(truncated[0].size_bytes, 3 * DEFAULT_RECORD_CAP as u64 + 2);
    }

    #[test]
    fn a_value_within_the_cap_is_kept_whole() {
        let mut truncated = Vec::new();
        let value = json!({"a": [1, 2, 3]});
        assert_eq!(
            cap_value(Cow::Borrowed(&value), 15, "output", &mut truncated),
            value
        );
        assert!(truncated.is_empty());
    }

    #[test]
    fn a_value_over_the_cap_keeps_its_start_size_and_hash() {
        let mut truncated = Vec::new();
        let value = json!({"text": "é".repeat(20)});
        let text = serde_json::to_string(&value).unwrap();
        let kept = cap_value(Cow::Owned(value), 10, "output", &mut truncated);
        // `{"text":"` is 9 bytes and `é` 2: the cut falls inside it, so it is left out.
        assert_eq!(kept, json!("{\"text\":\""));
        assert_eq!(
            truncated,
            [Truncation {
                field: "output".into(),
                size_bytes: text.len() as u64,
                sha256: hex::encode(Sha256::digest(text.as_bytes())),
            }]
        );
    }

    #[test]
    fn the_preview_of_a_value_far_over_the_cap_is_short() {
        let mut truncated = Vec::new();
        let value = json!("x".repeat(2 * DEFAULT_RECORD_CAP));
        let kept = cap_value(
            Cow::Borrowed(&value),
            DEFAULT_RECORD_CAP,
            "output",
            &mut truncated,
        );
        assert_eq!(kept.as_str().unwrap().len(), PREVIEW_BYTES);
        assert_eq!(truncated[0].size_bytes, 2 * DEFAULT_RECORD_CAP as u64 + 2);
    }

    /// The bound that skips the exact count is never below the exact length, whatever needs
    /// escaping: a value one byte over its budget is always counted.
    #[test]
    fn the_quick_bound_never_says_fits_when_it_does_not() {
        let values = [
            json!(null),
            json!(true),
            json!(-9223372036854775807i64),
            json!(18446744073709551615u64),
            json!(-1.2345678901234567e-308),
            json!(""),
            json!("\u{0}\u{1f}\"\\\n\u{7f}é€😀"),
            json!({"\u{0}": ["\u{1}", {"": null}], "k": [[], {}]}),
        ];
        for value in values {
            let exact = serde_json::to_vec(&value).unwrap().len() as u64;
            assert!(!fits_surely(&value, exact - 1), "{value}");
            let mut truncated = Vec::new();
            let kept = cap_value(Cow::Borrowed(&value), exact as usize, "x", &mut truncated);
            assert_eq!((kept, truncated.len()), (value.clone(), 0));
            let kept = cap_value(
                Cow::Borrowed(&value),
                exact as usize - 1,
                "x",
                &mut truncated,
            );
            assert_ne!(kept, value);
            assert_eq!(truncated[0].size_bytes, exact);
        }
    }

    #[test]
    fn text_over_the_cap_is_cut_on_a_character_boundary() {
        let mut truncated = Vec::new();
        assert_eq!(cap_text("abc".into(), 3, "error", &mut truncated), "abc");
        assert!(truncated.is_empty());
        assert_eq!(cap_text("aéb".into(), 2, "error", &mut truncated), "a");
        assert_eq!(truncated[0].size_bytes, 4);
        assert_eq!(truncated[0].field, "error");
    }
}
