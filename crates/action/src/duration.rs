//! Human durations in workflow files: `250ms`, `30s`, `5m`, `1h30m`, `2d`, or a number of seconds.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserialize, Deserializer, Visitor};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct DurationSpec(pub Duration);

/// Parses `1h30m`, `250ms`, `10s`, `2d`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    if text.contains(char::is_whitespace) {
        return Err(format!(
            "`{text}` is not a duration: write it without spaces, like `30s`, `5m` or `1h30m`"
        ));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "`{text}` is not a duration: expected a number before `{rest}`"
            ));
        }
        let amount: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}` is too long a duration"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(amount),
            "s" => Duration::from_secs(amount),
            "m" => Duration::from_secs(amount.saturating_mul(60)),
            "h" => Duration::from_secs(amount.saturating_mul(3600)),
            "d" => Duration::from_secs(amount.saturating_mul(86_400)),
            "" => {
                return Err(format!(
                    "`{text}` is missing a unit after {amount} (ms, s, m, h or d)"
                ))
            }
            fraction if fraction.starts_with(['.', ',']) => {
                return Err(format!(
                    "`{text}` is not a duration: amounts are whole numbers (write `1s500ms`, not `1.5s`)"
                ))
            }
            other => {
                return Err(format!(
                    "`{other}` is not a duration unit in `{text}`: use ms, s, m, h or d"
                ))
            }
        };
        total = total.saturating_add(part);
    }
    Ok(total)
}

/// Formats a duration the way authors write them (`1h30m`, `250ms`).
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) && ms < 60_000 {
        return format!("{ms}ms");
    }
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

impl fmt::Display for DurationSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for DurationSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = DurationSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as `30s`, `5m` or `1h30m`")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationSpec, E> {
                u64::try_from(v)
                    .map(|s| DurationSpec(Duration::from_secs(s)))
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationSpec, E> {
                Ok(DurationSpec(Duration::from_secs(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<DurationSpec, E> {
                Duration::try_from_secs_f64(v)
                    .map(DurationSpec)
                    .map_err(|_| E::custom("a duration must be a positive number of seconds"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationSpec, E> {
                parse_duration(v).map(DurationSpec).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(DurationVisitor)
    }
}

impl JsonSchema for DurationSpec {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "A duration: `250ms`, `30s`, `5m`, `1h30m`, `2d`, or a number of seconds.",
            (crate::spec::KIND_KEYWORD): "duration",
            "anyOf": [
                {"type": "string", "pattern": "^([0-9]+(ms|s|m|h|d))+$"},
                {"type": "number", "minimum": 0}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compound_durations() {
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("45").unwrap(), Duration::from_secs(45));
        assert!(parse_duration("5 minutes")
            .unwrap_err()
            .contains("without spaces"));
        assert!(parse_duration("5min")
            .unwrap_err()
            .contains("not a duration unit"));
        assert!(parse_duration("1.5s")
            .unwrap_err()
            .contains("whole numbers (write `1s500ms`"));
        assert!(parse_duration("m")
            .unwrap_err()
            .contains("expected a number"));
        assert!(parse_duration("10").is_ok());
        assert!(parse_duration("10x").is_err());
    }

    #[test]
    fn formats_like_authors_write() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_secs(2)), "2s");
    }
}
