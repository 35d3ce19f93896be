//! What the run history keeps of one value: whole up to a cap; beyond it, the start of its JSON
//! text with its full size and SHA-256, so a huge output neither floods the history nor makes
//! reading it back slow. The live run still hands the whole value to later steps.

use std::borrow::Cow;
use std::io::Write;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::redact::Redactor;
use crate::store::Truncation;

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
    cap_redacted_noting(redactor, value, cap, field, truncated).0
}

/// [`cap_redacted`], and whether redacting masked something (then the record is not the value).
pub(crate) fn cap_redacted_noting(
    redactor: &Redactor,
    value: &Value,
    cap: usize,
    field: &str,
    truncated: &mut Vec<Truncation>,
) -> (Value, bool) {
    let (value, masked) = if redactor.is_empty() {
        (Cow::Borrowed(value), false)
    } else {
        let redacted = redactor.value(value);
        let masked = redacted != *value;
        (Cow::Owned(redacted), masked)
    };
    (cap_value(value, cap, field, truncated), masked)
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
    use serde_json::json;

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
