//! What the run history keeps.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// The process running it stopped (crash, `kill -9`, power loss) before it finished; its
    /// records are kept so it can be resumed.
    Interrupted,
    /// Parked on a stored wait (`core.sleep`, `core.wait_until` in the daemon): no task holds
    /// it; the daemon resumes it at [`RunRecord::wait`]'s time.
    Waiting,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Waiting => "waiting",
        }
    }

    /// Whether the run has ended for good. Running, waiting and interrupted runs may still go
    /// on (a resume continues them).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Succeeded,
    Failed,
    Skipped,
    Cancelled,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Cancelled => "cancelled",
        }
    }
}

/// One run of a workflow. Inputs are stored with secrets redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    pub workflow: String,
    pub path: String,
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub trigger: Value,
    pub inputs: Value,
    pub status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Value>,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// The process that ran it, to tell a run still going from one whose process died.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Fields (`inputs`, `outputs`) too large to record whole: they hold the start of their JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<Truncation>,
    /// How many times the run was resumed after its process stopped, counted before each
    /// resume starts: the restart limit reads it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub resumes: u32,
    /// The stored wait a `waiting` run is parked on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<StoredWait>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A wait step that parked its run: which one (by step and loop position) and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredWait {
    pub step: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub iteration: Vec<usize>,
    pub until: DateTime<Utc>,
}

/// One attempt of one step (a loop item's steps are recorded per item).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// Absent from a record kept in a chunk of the run's records, which knows it.
    #[serde(default)]
    pub run_id: String,
    /// Order of recording within the run. Absent from a record kept in a chunk, which keeps
    /// it beside the record.
    #[serde(default)]
    pub seq: u64,
    pub step: String,
    /// Loop positions from the outermost `for_each` in, empty outside loops.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub iteration: Vec<usize>,
    pub attempt: u32,
    pub status: StepStatus,
    /// Rendered inputs, secrets redacted.
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(serialize_with = "rfc3339")]
    pub started_at: DateTime<Utc>,
    pub duration_us: u64,
    /// Fields (`input`, `output`, `error`) too large to record whole: they hold their start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<Truncation>,
    /// The output held a secret (or a value computed from one), masked in the record: a
    /// resume cannot read it back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub output_redacted: bool,
}

/// An attempt handed to a store, which writes its JSON (that of an [`AttemptRecord`]) only if
/// it keeps attempts: the engine's writes the record straight from the run's values, redacted
/// and capped as it goes, without building an [`AttemptRecord`] first.
pub trait AttemptJson: Send + Sync {
    fn run_id(&self) -> &str;
    fn seq(&self) -> u64;
    /// Appends the record's JSON to `out` (writing into memory cannot fail).
    fn write_json(&self, out: &mut Vec<u8>);
    /// Appends the record's JSON, `run_id` and `seq` left out when the writer can (a store
    /// that keeps them beside the record, to fill in when it is read back): a fifth less to
    /// store per record.
    fn write_json_without_ids(&self, out: &mut Vec<u8>) {
        self.write_json(out)
    }
}

impl AttemptJson for AttemptRecord {
    fn run_id(&self) -> &str {
        &self.run_id
    }

    fn seq(&self) -> u64 {
        self.seq
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        // Its fields are strings, numbers and `Value`s: serializing cannot fail.
        let _ = serde_json::to_writer(out, self);
    }
}

/// An attempt's start as its record writes it (see [`rfc3339`]).
pub(crate) struct Rfc3339<'a>(pub &'a DateTime<Utc>);

impl Rfc3339<'_> {
    /// Appends the instant as a JSON string, as serializing it would: the text needs no
    /// escaping, so it is copied in as it is.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut text = [0u8; 30];
        match fast_rfc3339(self.0, &mut text) {
            Some(len) => {
                out.push(b'"');
                out.extend_from_slice(&text[..len]);
                out.push(b'"');
            }
            // A `DateTime` always serializes.
            None => {
                let _ = serde_json::to_writer(out, self.0);
            }
        }
    }
}

impl Serialize for Rfc3339<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        rfc3339(self.0, serializer)
    }
}

/// The text chrono's `Serialize` writes (RFC 3339, UTC, `Z`, the fraction in 0, 3, 6 or 9
/// digits), without its formatting machinery: an attempt record is encoded for every step, and
/// chrono's formatter was a sixth of that.
fn rfc3339<S: serde::Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut text = [0u8; 30];
    match fast_rfc3339(at, &mut text) {
        Some(len) => {
            serializer.serialize_str(std::str::from_utf8(&text[..len]).unwrap_or_default())
        }
        None => serde::Serialize::serialize(at, serializer),
    }
}

/// Writes `at` as chrono's `Serialize` does into `text` and returns its length; `None` for
/// what only chrono writes (years of other than four digits, leap seconds). The date comes
/// from the day count by Hinnant's `civil_from_days`, each field in two-digit steps: the
/// per-digit powers and chrono's field accessors were 1,100 instructions a record.
fn fast_rfc3339(at: &DateTime<Utc>, text: &mut [u8; 30]) -> Option<usize> {
    /// Writes `value` (below 100) as two digits at `at`.
    fn two(text: &mut [u8; 30], at: usize, value: u32) {
        text[at] = b'0' + (value / 10) as u8;
        text[at + 1] = b'0' + (value % 10) as u8;
    }
    let (seconds, nanos) = (at.timestamp(), at.timestamp_subsec_nanos());
    if nanos >= 1_000_000_000 {
        return None;
    }
    let (days, of_day) = (
        seconds.div_euclid(86_400),
        seconds.rem_euclid(86_400) as u32,
    );
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let of_era = z.rem_euclid(146_097);
    let year_of_era = (of_era - of_era / 1460 + of_era / 36_524 - of_era / 146_096) / 365;
    let day_of_year = of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return None;
    }
    let year = year as u32;
    two(text, 0, year / 100);
    two(text, 2, year % 100);
    text[4] = b'-';
    two(text, 5, month);
    text[7] = b'-';
    two(text, 8, day);
    text[10] = b'T';
    two(text, 11, of_day / 3600);
    text[13] = b':';
    two(text, 14, of_day / 60 % 60);
    text[16] = b':';
    two(text, 17, of_day % 60);
    let mut len = 19;
    let (fraction, digits) = match nanos {
        0 => (0, 0),
        n if n % 1_000_000 == 0 => (n / 1_000_000, 3),
        n if n % 1_000 == 0 => (n / 1_000, 6),
        n => (n, 9),
    };
    if digits > 0 {
        text[len] = b'.';
        let mut rest = fraction;
        for position in (len + 1..=len + digits).rev() {
            text[position] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        len += digits + 1;
    }
    text[len] = b'Z';
    Some(len + 1)
}

/// A recorded field cut at the record cap: the field keeps the start of its JSON text (of the
/// text itself for `error`); these say what the whole was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truncation {
    pub field: String,
    pub size_bytes: u64,
    /// SHA-256 of the whole JSON text (secrets redacted), in hex.
    pub sha256: String,
}

/// Which trigger a cursor belongs to: one per workflow, trigger and connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TriggerKey {
    pub workflow: String,
    pub trigger: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
}

/// Where a polling trigger got to, and the ids it already started runs for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerCursor {
    /// The source's own cursor (a timestamp, a page token ...).
    pub cursor: Value,
    /// Ids of events already handled since the cursor, for sources that repeat events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<String>,
    /// Runs owed for events the cursor has already passed, each with its run's id chosen in
    /// advance: saved with the cursor, dropped once the run is recorded (the daemon's polls).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owed: Vec<OwedRun>,
    pub updated_at: DateTime<Utc>,
}

/// A run a poll owes for one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OwedRun {
    pub run_id: String,
    /// `trigger` in the run's expressions.
    pub event: Value,
}

/// One cron fire, unique by workflow, trigger and scheduled instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FireRecord {
    pub workflow: String,
    pub trigger: String,
    pub scheduled_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

/// A lease on a run: `owner` works on it until `expires_at` unless it renews.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub run_id: String,
    pub owner: String,
    pub expires_at: DateTime<Utc>,
}

impl Claim {
    /// What claiming `run_id` yields given the stored claim: a new claim when there is none,
    /// it expired, or `owner` holds it already; `None` while another owner's lease runs.
    pub(crate) fn take(
        existing: Option<&Claim>,
        run_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Option<Claim> {
        match existing {
            Some(held) if held.owner != owner && held.expires_at > now => None,
            _ => Some(Claim {
                run_id: run_id.to_string(),
                owner: owner.to_string(),
                expires_at: now + lease,
            }),
        }
    }

    /// The renewed claim, when `stored` is still this one and has not expired.
    pub(crate) fn renewed(
        &self,
        stored: Option<&Claim>,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Option<Claim> {
        match stored {
            Some(held) if held == self && held.expires_at > now => Some(Claim {
                expires_at: now + lease,
                ..self.clone()
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[derive(Serialize)]
    struct Ours(#[serde(serialize_with = "rfc3339")] DateTime<Utc>);

    /// Every kind of instant is written exactly as chrono writes it.
    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        let second = Utc.with_ymd_and_hms(2026, 12, 1, 9, 5, 3).unwrap();
        let mut instants: Vec<DateTime<Utc>> = [0, 1, 7_000_000, 120_000, 123_456_789, 999_999_999]
            .into_iter()
            .map(|nanos| second + chrono::Duration::nanoseconds(nanos))
            .collect();
        instants.extend([
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            Utc::now(),
        ]);
        // Every day of the years around the epoch, the century rules and the last years.
        let day = chrono::Duration::days(1) + chrono::Duration::nanoseconds(1_001_000);
        for start in [1, 1899, 1968, 1999, 2099, 2399, 9995] {
            let mut at = Utc.with_ymd_and_hms(start, 1, 1, 23, 59, 59).unwrap();
            for _ in 0..4 * 366 {
                instants.push(at);
                at += day;
            }
        }
        for at in instants {
            let chrono = serde_json::to_string(&at).unwrap();
            assert_eq!(serde_json::to_string(&Ours(at)).unwrap(), chrono);
            let mut written = Vec::new();
            Rfc3339(&at).write_json(&mut written);
            assert_eq!(String::from_utf8(written).unwrap(), chrono);
        }
    }
}
