//! Cron schedules with standard cron semantics (Sunday is 0 or 7) and one DST rule, wall clock:
//! a time that falls in a spring-forward gap runs at the first valid instant after the gap, and
//! a time repeated by a fall-back fold runs once, at its first occurrence.

use std::str::FromStr;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone)]
pub struct CronSchedule {
    /// One schedule, or two when both day of month and weekday are restricted: standard cron
    /// then fires when *either* matches, while the `cron` crate requires both.
    schedules: Vec<::cron::Schedule>,
}

/// Why a cron schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("a cron schedule has 5 fields (minute hour day month weekday), or 6 with seconds first; found {found}")]
    FieldCount { found: usize },
    #[error("`{item}`: the step after `/` must be a whole number of at least 1")]
    BadStep { item: String },
    #[error("{field} {value} is out of range ({min}-{max})")]
    OutOfRange {
        field: &'static str,
        value: u32,
        min: u32,
        max: u32,
    },
    #[error("`{text}` is not a weekday (0-7 or sun-sat)")]
    NotAWeekday { text: String },
    #[error("weekday {value} is out of range (0-7, 0 and 7 are Sunday)")]
    WeekdayOutOfRange { value: u32 },
    #[error("weekday range `{range}` with a step wraps past Sunday: split it")]
    WrappingWeekdayStep { range: String },
    /// Refused by the `cron` crate; `reason` is the last line of its message (the rest echoes
    /// its own 6-field form).
    #[error("invalid cron schedule `{schedule}`: {reason}")]
    Invalid { schedule: String, reason: String },
    #[error("cron schedule `{schedule}` never fires: no date matches it")]
    NeverFires { schedule: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DstNote {
    /// The wall-clock time does not exist that day; the fire moved to the end of the gap.
    ShiftedOutOfGap,
    /// The wall-clock time happens twice that day; this is the single fire, at the first.
    FirstOfRepeatedTime,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Fire {
    pub at: DateTime<Utc>,
    pub local: DateTime<Tz>,
    pub note: Option<DstNote>,
}

impl CronSchedule {
    /// Parses 5 fields (`min hour day month weekday`), 6 with seconds first, or a nickname.
    pub fn parse(text: &str) -> Result<Self, CronError> {
        let text = text.trim();
        let expressions = if text.starts_with('@') {
            vec![text.to_string()]
        } else {
            let fields: Vec<&str> = text.split_whitespace().collect();
            let (seconds, rest) = match fields.len() {
                5 => ("0", &fields[..]),
                6 => (fields[0], &fields[1..]),
                found => return Err(CronError::FieldCount { found }),
            };
            check_field(seconds, "second", 0, 59)?;
            for (field, (name, min, max)) in rest[..4].iter().zip(FIELDS) {
                check_field(field, name, min, max)?;
            }
            let weekday = standard_weekdays(rest[4])?;
            let [minute, hour, day, month] = [rest[0], rest[1], rest[2], rest[3]];
            let restricted = |field: &str| field != "*" && field != "?";
            if restricted(day) && restricted(&weekday) {
                vec![
                    format!("{seconds} {minute} {hour} {day} {month} *"),
                    format!("{seconds} {minute} {hour} * {month} {weekday}"),
                ]
            } else {
                vec![format!("{seconds} {minute} {hour} {day} {month} {weekday}")]
            }
        };
        let schedules = expressions
            .iter()
            .map(|expression| ::cron::Schedule::from_str(expression))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CronError::Invalid {
                schedule: text.to_string(),
                reason: e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            })?;
        let schedule = CronSchedule { schedules };
        let probe = Utc
            .with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        if schedule.next_fires(chrono_tz::UTC, probe, 1).is_empty() {
            return Err(CronError::NeverFires {
                schedule: text.to_string(),
            });
        }
        Ok(schedule)
    }

    /// Wall-clock candidates of every schedule after `start`, merged in order.
    fn candidates(&self, start: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let mut streams: Vec<_> = self
            .schedules
            .iter()
            .map(|s| s.after(&start).peekable())
            .collect();
        std::iter::from_fn(move || {
            let next = streams
                .iter_mut()
                .enumerate()
                .filter_map(|(i, s)| s.peek().map(|t| (*t, i)))
                .min()?;
            streams[next.1].next()
        })
    }

    /// The next `count` fires strictly after `after`, following the DST rule.
    pub fn next_fires(&self, tz: Tz, after: DateTime<Utc>, count: usize) -> Vec<Fire> {
        let mut fires: Vec<Fire> = Vec::with_capacity(count);
        // Iterate wall-clock times by running the schedule on naive local time read as UTC.
        let local_after = after.with_timezone(&tz).naive_local();
        // Near a DST transition a wall-clock time before `after`'s may still come after it:
        // look three hours back then. Elsewhere the look-back only finds candidates that are
        // skipped (180 of them each call for a minutely schedule, the most of its cost).
        let offset = |at: DateTime<Utc>| at.with_timezone(&tz).offset().fix();
        let window = Duration::hours(3);
        let steady = [
            after.checked_sub_signed(window),
            after.checked_add_signed(window),
        ]
        .into_iter()
        .all(|at| at.is_some_and(|at| offset(at) == offset(after)));
        let look_back = if steady { Duration::zero() } else { window };
        let start = Utc.from_utc_datetime(&(local_after - look_back));
        for candidate in self.candidates(start) {
            if fires.len() >= count {
                break;
            }
            let naive = candidate.naive_utc();
            let (local, note) = match tz.from_local_datetime(&naive) {
                LocalResult::Single(t) => (t, None),
                LocalResult::Ambiguous(first, _) => (first, Some(DstNote::FirstOfRepeatedTime)),
                LocalResult::None => match end_of_gap(tz, naive) {
                    Some(t) => (t, Some(DstNote::ShiftedOutOfGap)),
                    None => continue,
                },
            };
            let at = local.with_timezone(&Utc);
            if at <= after || fires.last().is_some_and(|f| f.at >= at) {
                continue;
            }
            fires.push(Fire { at, local, note });
        }
        fires
    }
}

/// The first valid instant after a wall-clock time that a DST gap skips.
fn end_of_gap(tz: Tz, naive: NaiveDateTime) -> Option<DateTime<Tz>> {
    let mut probe = naive;
    for _ in 0..(4 * 60) {
        probe += Duration::minutes(1);
        let minute = probe.with_second_truncated();
        if let Some(t) = tz.from_local_datetime(&minute).earliest() {
            return Some(t);
        }
    }
    None
}

trait TruncateSeconds {
    fn with_second_truncated(self) -> Self;
}

impl TruncateSeconds for NaiveDateTime {
    fn with_second_truncated(self) -> Self {
        use chrono::Timelike;
        self.with_second(0)
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(self)
    }
}

/// Minute, hour, day of month and month, with their ranges.
const FIELDS: [(&str, u32, u32); 4] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
];

/// Range checks with a plain message (`hour 25 is out of range (0-23)`).
fn check_field(field: &str, name: &'static str, min: u32, max: u32) -> Result<(), CronError> {
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            if !matches!(step.parse::<u32>(), Ok(n) if n >= 1) {
                return Err(CronError::BadStep {
                    item: item.to_string(),
                });
            }
        }
        for bound in range.split('-').filter(|b| *b != "*" && !b.is_empty()) {
            if let Ok(value) = bound.parse::<u32>() {
                if value < min || value > max {
                    return Err(CronError::OutOfRange {
                        field: name,
                        value,
                        min,
                        max,
                    });
                }
            }
        }
    }
    Ok(())
}

/// Standard cron numbers weekdays 0-6 from Sunday (7 is Sunday too); the `cron` crate uses
/// 1-7 from Sunday. Names pass through.
fn standard_weekdays(field: &str) -> Result<String, CronError> {
    let map = |n: &str| -> Result<u32, CronError> {
        let value: u32 = n.parse().map_err(|_| CronError::NotAWeekday {
            text: n.to_string(),
        })?;
        if value > 7 {
            return Err(CronError::WeekdayOutOfRange { value });
        }
        Ok(value % 7 + 1)
    };
    let is_number = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let mut parts = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        let suffix = step.map(|s| format!("/{s}")).unwrap_or_default();
        match range.split_once('-') {
            Some((a, b)) if is_number(a) && is_number(b) => {
                let (a, b) = (map(a)?, map(b)?);
                if a <= b {
                    parts.push(format!("{a}-{b}{suffix}"));
                } else if step.is_none() {
                    // A range through Sunday, such as 5-7 (Friday to Sunday).
                    parts.push(format!("{a}-7"));
                    parts.push(format!("1-{b}"));
                } else {
                    return Err(CronError::WrappingWeekdayStep {
                        range: range.to_string(),
                    });
                }
            }
            None if is_number(range) => parts.push(format!("{}{suffix}", map(range)?)),
            _ => parts.push(item.to_string()),
        }
    }
    Ok(parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn weekdays_follow_standard_cron() {
        // 2026-11-27 is a Friday.
        let s = CronSchedule::parse("0 9 * * 1-5").unwrap();
        let fires = s.next_fires(chrono_tz::UTC, utc("2026-11-27T10:00:00Z"), 2);
        assert_eq!(fires[0].at, utc("2026-11-30T09:00:00Z")); // Monday
        assert_eq!(fires[1].at, utc("2026-12-01T09:00:00Z"));
        let sunday = CronSchedule::parse("0 9 * * 0").unwrap();
        assert_eq!(
            sunday.next_fires(chrono_tz::UTC, utc("2026-11-27T10:00:00Z"), 1)[0].at,
            utc("2026-11-29T09:00:00Z")
        );
        let weekend = CronSchedule::parse("0 9 * * 6-7").unwrap();
        let fires = weekend.next_fires(chrono_tz::UTC, utc("2026-11-27T10:00:00Z"), 2);
        assert_eq!(fires[0].at, utc("2026-11-28T09:00:00Z"));
        assert_eq!(fires[1].at, utc("2026-11-29T09:00:00Z"));
    }

    #[test]
    fn timezone_and_nicknames() {
        let s = CronSchedule::parse("@daily").unwrap();
        let fires = s.next_fires(chrono_tz::Europe::Paris, utc("2026-11-27T10:00:00Z"), 1);
        assert_eq!(fires[0].at, utc("2026-11-27T23:00:00Z"));
        assert_eq!(fires[0].local.to_rfc3339(), "2026-11-28T00:00:00+01:00");
    }

    #[test]
    fn spring_forward_gap_runs_at_the_end_of_the_gap_once() {
        // Europe/Paris jumps from 02:00 to 03:00 on 2026-03-29.
        let s = CronSchedule::parse("30 2 * * *").unwrap();
        let fires = s.next_fires(chrono_tz::Europe::Paris, utc("2026-03-28T12:00:00Z"), 2);
        assert_eq!(fires[0].local.to_rfc3339(), "2026-03-29T03:00:00+02:00");
        assert_eq!(fires[0].note, Some(DstNote::ShiftedOutOfGap));
        assert_eq!(fires[1].local.to_rfc3339(), "2026-03-30T02:30:00+02:00");
        // Every minute: the skipped hour collapses into one fire at 03:00.
        let every = CronSchedule::parse("* * * * *").unwrap();
        let fires = every.next_fires(chrono_tz::Europe::Paris, utc("2026-03-29T00:58:00Z"), 3);
        let locals: Vec<String> = fires.iter().map(|f| f.local.to_rfc3339()).collect();
        assert_eq!(
            locals,
            [
                "2026-03-29T01:59:00+01:00",
                "2026-03-29T03:00:00+02:00",
                "2026-03-29T03:01:00+02:00"
            ]
        );
    }

    #[test]
    fn the_next_fire_from_any_instant_is_the_one_a_long_walk_finds() {
        // Walked from far before both of Paris's DST nights of 2026, and asked again from
        // every 7 minutes around them (near a transition and away from one): the same fires.
        let every = CronSchedule::parse("*/15 * * * *").unwrap();
        let paris = chrono_tz::Europe::Paris;
        for (from, to) in [
            ("2026-03-28T18:00:00Z", "2026-03-29T06:00:00Z"),
            ("2026-10-24T18:00:00Z", "2026-10-25T06:00:00Z"),
        ] {
            let walk = every.next_fires(paris, utc(from), 12 * 4 + 8);
            let mut after = utc(from);
            while after < utc(to) {
                let next = &every.next_fires(paris, after, 1)[0];
                let expected = walk.iter().find(|f| f.at > after).unwrap();
                assert_eq!(
                    (next.at, next.note),
                    (expected.at, expected.note),
                    "after {after}"
                );
                after += Duration::minutes(7);
            }
        }
    }

    #[test]
    fn fall_back_fold_runs_once() {
        // Europe/Paris repeats 02:00-03:00 on 2026-10-25.
        let s = CronSchedule::parse("30 2 * * *").unwrap();
        let fires = s.next_fires(chrono_tz::Europe::Paris, utc("2026-10-24T12:00:00Z"), 2);
        assert_eq!(fires[0].local.to_rfc3339(), "2026-10-25T02:30:00+02:00");
        assert_eq!(fires[0].note, Some(DstNote::FirstOfRepeatedTime));
        assert_eq!(fires[1].local.to_rfc3339(), "2026-10-26T02:30:00+01:00");
    }

    #[test]
    fn day_and_weekday_both_set_fire_on_either() {
        // The 1st of the month or any Monday, as standard cron does.
        let s = CronSchedule::parse("0 9 1 * 1").unwrap();
        let fires = s.next_fires(chrono_tz::UTC, utc("2026-11-27T10:00:00Z"), 3);
        let days: Vec<String> = fires
            .iter()
            .map(|f| f.at.format("%Y-%m-%d").to_string())
            .collect();
        assert_eq!(days, ["2026-11-30", "2026-12-01", "2026-12-07"]);
    }

    #[test]
    fn bad_schedules_are_explained() {
        assert!(CronSchedule::parse("0 0 31 2 *")
            .unwrap_err()
            .to_string()
            .contains("never fires"));
        assert!(CronSchedule::parse("* * *")
            .unwrap_err()
            .to_string()
            .contains("5 fields"));
        assert!(CronSchedule::parse("0 9 * * 8")
            .unwrap_err()
            .to_string()
            .contains("out of range"));
        assert_eq!(
            CronSchedule::parse("61 * * * *").unwrap_err().to_string(),
            "minute 61 is out of range (0-59)"
        );
        assert_eq!(
            CronSchedule::parse("0 25 * * *").unwrap_err().to_string(),
            "hour 25 is out of range (0-23)"
        );
        assert!(CronSchedule::parse("0 9 */0 * *")
            .unwrap_err()
            .to_string()
            .contains("at least 1"));
        let odd = CronSchedule::parse("0 9 * foo *").unwrap_err().to_string();
        assert!(
            odd.starts_with("invalid cron schedule `0 9 * foo *`: "),
            "{odd}"
        );
        assert!(!odd.contains('\n'), "{odd}");
    }
}
