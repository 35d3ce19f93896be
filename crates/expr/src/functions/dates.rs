//! Date functions. Dates travel as RFC 3339 strings (UTC, `Z` suffix) so they stay plain
//! JSON values that can be compared, stored and passed to APIs.

use super::{Args, Call};
use crate::error::EvalError;
use chrono::format::StrftimeItems;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;
use std::fmt::Write as _;

/// Formats without an offset that are read as UTC.
const NAIVE_FORMATS: &[&str] = &["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"];

/// The RFC 3339 text of a date; RFC 3339 has four-digit years, so others are refused.
fn date_value(call: &Call<'_>, dt: DateTime<Utc>) -> Result<Value, EvalError> {
    if !(0..=9999).contains(&dt.year()) {
        return Err(EvalError::invalid(
            format!(
                "`{}` result is outside the years 0000 to 9999",
                call.info.name
            ),
            call.span.clone(),
        ));
    }
    Ok(Value::String(
        dt.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    ))
}

/// Reads argument `i` as a date: an RFC 3339 string, a date-time without offset (UTC),
/// a `YYYY-MM-DD` date (midnight UTC) or epoch seconds.
fn read_date(call: &Call<'_>, args: &Args<'_>, i: usize) -> Result<DateTime<Utc>, EvalError> {
    match call.value(args, i)? {
        Value::String(text) => parse_default(text).ok_or_else(|| {
            call.invalid(
                i,
                format!(
                    "`{}` could not read {} as a date",
                    call.info.name,
                    call.show(&Value::String(text.clone()))
                ),
            )
            .with_help(
                "use RFC 3339 like 2024-03-01T12:00:00Z, or convert with date_parse(text, format)",
            )
        }),
        Value::Number(n) => {
            let seconds = n.as_f64().unwrap_or(f64::NAN);
            let millis = seconds * 1000.0;
            let date = (millis.abs() < 1e15)
                .then(|| DateTime::from_timestamp_millis(millis.round() as i64))
                .flatten();
            date.ok_or_else(|| call.invalid(i, "epoch seconds out of range for a date"))
        }
        other => Err(call.wrong_type(i, "a date string or epoch seconds", other)),
    }
}

fn parse_default(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.with_timezone(&Utc));
    }
    NAIVE_FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .map(|naive| naive.and_utc())
}

pub(crate) fn now(call: &Call<'_>, _args: Args<'_>) -> Result<Value, EvalError> {
    date_value(call, call.scope.now())
}

pub(crate) fn date_parse(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    if call.optional(&args, 1).is_none() {
        return date_value(call, read_date(call, &args, 0)?);
    }
    let text = call.str(&args, 0)?.trim();
    let format = call.str(&args, 1)?;
    if let Ok(dt) = DateTime::parse_from_str(text, format) {
        return date_value(call, dt.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(text, format).or_else(|error| {
        NaiveDate::parse_from_str(text, format)
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .ok_or(error)
    });
    let naive = naive.map_err(|error| {
        call.invalid(
            0,
            format!(
                "`date_parse` could not read {} with format `{format}`: {error}",
                call.show(&Value::String(text.to_string()))
            ),
        )
    })?;
    date_value(call, naive.and_utc())
}

pub(crate) fn date_format(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let date = read_date(call, &args, 0)?;
    let format = call.str(&args, 1)?;
    let items = StrftimeItems::new(format).parse().map_err(|_| {
        call.invalid(1, format!("invalid date format `{format}`"))
            .with_help(
                "use strftime specifiers such as %Y-%m-%d %H:%M (%% for a literal percent sign)",
            )
    })?;
    let zone = match call.optional(&args, 2) {
        None => chrono_tz::UTC,
        Some(_) => {
            let name = call.str(&args, 2)?;
            name.parse::<chrono_tz::Tz>().map_err(|_| {
                call.invalid(2, format!("unknown time zone `{name}`"))
                    .with_help("use an IANA name such as UTC, Europe/Paris or America/New_York")
            })?
        }
    };
    let mut out = String::new();
    write!(
        out,
        "{}",
        date.with_timezone(&zone).format_with_items(items.iter())
    )
    .map_err(|_| {
        call.invalid(
            1,
            format!("date format `{format}` cannot be applied to this date"),
        )
    })?;
    Ok(Value::String(out))
}

pub(crate) fn date_add(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let date = read_date(call, &args, 0)?;
    let delta = match call.value(&args, 1)? {
        Value::Number(n) => {
            let millis = n.as_f64().unwrap_or(f64::NAN) * 1000.0;
            (millis.abs() < 1e15)
                .then(|| TimeDelta::try_milliseconds(millis.round() as i64))
                .flatten()
        }
        Value::String(text) => parse_duration(text),
        other => {
            return Err(call.wrong_type(
                1,
                "a duration like \"1h30m\" or a number of seconds",
                other,
            ))
        }
    }
    .ok_or_else(|| {
        call.invalid(1, "`date_add` got an invalid duration")
            .with_help(
            "write durations like 90, \"1h30m\", \"-2d\", \"1w\" or \"500ms\" (units w d h m s ms)",
        )
    })?;
    let sum = date
        .checked_add_signed(delta)
        .ok_or_else(|| call.invalid(1, "`date_add` result is outside the years 0000 to 9999"))?;
    date_value(call, sum)
}

/// Parses `[-+]<n><unit>...` such as `1h30m`, `-2d` or `1w 2d`.
fn parse_duration(text: &str) -> Option<TimeDelta> {
    let text = text.trim();
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let mut total_ms: i64 = 0;
    let mut parts = 0;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let amount: i64 = rest.get(..digits)?.parse().ok()?;
        rest = &rest[digits..];
        let (unit_ms, unit_len) = if rest.starts_with("ms") {
            (1, 2)
        } else {
            let unit = match rest.bytes().next()? {
                b'w' => 7 * 86_400_000,
                b'd' => 86_400_000,
                b'h' => 3_600_000,
                b'm' => 60_000,
                b's' => 1_000,
                _ => return None,
            };
            (unit, 1)
        };
        rest = &rest[unit_len..];
        total_ms = total_ms.checked_add(amount.checked_mul(unit_ms)?)?;
        parts += 1;
        rest = rest.trim_start();
    }
    if parts == 0 {
        return None;
    }
    TimeDelta::try_milliseconds(if negative { -total_ms } else { total_ms })
}

pub(crate) fn date_diff(call: &Call<'_>, args: Args<'_>) -> Result<Value, EvalError> {
    let a = read_date(call, &args, 0)?;
    let b = read_date(call, &args, 1)?;
    let millis = (a - b).num_milliseconds();
    if millis % 1000 == 0 {
        Ok(Value::from(millis / 1000))
    } else {
        call.float_result(millis as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use chrono::TimeDelta;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m"), Some(TimeDelta::minutes(90)));
        assert_eq!(parse_duration("-2d"), Some(TimeDelta::days(-2)));
        assert_eq!(parse_duration("1w 2d"), Some(TimeDelta::days(9)));
        assert_eq!(parse_duration("500ms"), Some(TimeDelta::milliseconds(500)));
        assert_eq!(parse_duration("+10s"), Some(TimeDelta::seconds(10)));
        for bad in [
            "",
            "-",
            "h",
            "10",
            "10x",
            "1h-2m",
            "99999999999999999999s",
            "9223372036854775807w",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
