//! Which fires of a cron trigger are due when the scheduler wakes, and which of them run: the
//! on-time fire always, missed ones as the trigger's `missed` setting says.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use weft_engine::trigger::Fire;
use weft_engine::workflow::model::MissedRuns;
use weft_engine::workflow::CronPlan;

/// Fires read from the schedule per call: the usual wake needs two (the due one and the next),
/// a long gap is walked in growing batches up to this many.
const BATCH: usize = 256;

/// The fires of one trigger scheduled after the last handled one, up to now.
#[derive(Debug, Default)]
pub(crate) struct Due {
    /// Missed fires the `missed` setting runs, oldest first.
    pub catch_up: Vec<Fire>,
    /// Missed fires that are not run.
    pub skipped: usize,
    /// The fire that came due while the scheduler was running, on time.
    pub on_time: Option<Fire>,
    /// The latest fire handled (run or not): where the next look starts.
    pub last: Option<DateTime<Utc>>,
    /// The first fire after now.
    pub next: Option<DateTime<Utc>>,
}

/// Fires in `(after, now]`. The latest of them is on time when it is at or after
/// `on_time_since` (the scheduler was running when it came due, and it is not too late);
/// the others were missed.
pub(crate) fn due_fires(
    plan: &CronPlan,
    after: DateTime<Utc>,
    now: DateTime<Utc>,
    on_time_since: DateTime<Utc>,
) -> Due {
    // Only the latest fires can be run; the rest are counted.
    let keep = match plan.missed {
        MissedRuns::None => 0,
        MissedRuns::Latest => 1,
        MissedRuns::All => plan.max_catch_up as usize,
    } + 1;
    let mut recent: VecDeque<Fire> = VecDeque::with_capacity(keep.min(BATCH));
    let mut seen = 0usize;
    let mut next = None;
    let mut cursor = after;
    let mut batch_size = 2;
    'walk: loop {
        let batch = plan.schedule.next_fires(plan.timezone, cursor, batch_size);
        let Some(last) = batch.last() else { break };
        cursor = last.at;
        let full = batch.len() == batch_size;
        batch_size = (batch_size * 2).min(BATCH);
        for fire in batch {
            if fire.at > now {
                next = Some(fire.at);
                break 'walk;
            }
            seen += 1;
            if recent.len() == keep {
                recent.pop_front();
            }
            recent.push_back(fire);
        }
        if !full {
            break;
        }
    }
    let last = recent.back().map(|f| f.at);
    let on_time = match recent.back() {
        Some(fire) if fire.at >= on_time_since => recent.pop_back(),
        _ => None,
    };
    let missed = seen - usize::from(on_time.is_some());
    let mut catch_up: Vec<Fire> = recent.into();
    let runs = keep - 1;
    if catch_up.len() > runs {
        catch_up.drain(..catch_up.len() - runs);
    }
    Due {
        skipped: missed - catch_up.len(),
        catch_up,
        on_time,
        last,
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_engine::trigger::CronSchedule;
    use weft_engine::workflow::model::OverlapPolicy;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn plan(schedule: &str, missed: MissedRuns, max_catch_up: u32) -> CronPlan {
        CronPlan {
            expression: schedule.to_string(),
            schedule: CronSchedule::parse(schedule).unwrap(),
            timezone: chrono_tz::UTC,
            missed,
            max_catch_up,
            overlap: OverlapPolicy::Skip,
        }
    }

    fn times(fires: &[Fire]) -> Vec<String> {
        fires
            .iter()
            .map(|f| f.at.format("%H:%M").to_string())
            .collect()
    }

    #[test]
    fn the_latest_fire_is_on_time_and_the_next_is_found() {
        let p = plan("*/5 * * * *", MissedRuns::None, 10);
        let due = due_fires(
            &p,
            utc("2026-01-01T09:00:00Z"),
            utc("2026-01-01T09:05:00.003Z"),
            utc("2026-01-01T09:04:00Z"),
        );
        assert_eq!(due.on_time.map(|f| f.at), Some(utc("2026-01-01T09:05:00Z")));
        assert_eq!((due.catch_up.len(), due.skipped), (0, 0));
        assert_eq!(due.next, Some(utc("2026-01-01T09:10:00Z")));
        assert_eq!(due.last, Some(utc("2026-01-01T09:05:00Z")));
    }

    #[test]
    fn missed_fires_follow_the_missed_setting() {
        // Down from 09:00 to 10:02: twelve fires missed (09:05 .. 10:00).
        let (after, now, start) = (
            utc("2026-01-01T09:00:00Z"),
            utc("2026-01-01T10:02:00Z"),
            utc("2026-01-01T10:02:00Z"),
        );
        let none = due_fires(
            &plan("*/5 * * * *", MissedRuns::None, 10),
            after,
            now,
            start,
        );
        assert_eq!((none.catch_up.len(), none.skipped), (0, 12));
        assert!(none.on_time.is_none());
        assert_eq!(none.last, Some(utc("2026-01-01T10:00:00Z")));

        let latest = due_fires(
            &plan("*/5 * * * *", MissedRuns::Latest, 10),
            after,
            now,
            start,
        );
        assert_eq!(times(&latest.catch_up), ["10:00"]);
        assert_eq!(latest.skipped, 11);

        let all = due_fires(&plan("*/5 * * * *", MissedRuns::All, 3), after, now, start);
        assert_eq!(
            times(&all.catch_up),
            ["09:50", "09:55", "10:00"],
            "the latest 3, oldest first"
        );
        assert_eq!(all.skipped, 9);
    }

    #[test]
    fn a_long_gap_is_walked_in_batches() {
        // A minute schedule down for two days: 2880 fires, far more than one batch.
        let due = due_fires(
            &plan("* * * * *", MissedRuns::All, 2),
            utc("2026-01-01T00:00:00Z"),
            utc("2026-01-03T00:00:30Z"),
            utc("2026-01-03T00:00:30Z"),
        );
        assert_eq!(times(&due.catch_up), ["23:59", "00:00"]);
        assert_eq!(due.skipped, 2880 - 2);
        assert_eq!(due.next, Some(utc("2026-01-03T00:01:00Z")));
    }
}
