//! Triggers: cron schedules (next fire times with the DST rule) and the catalogue of polling
//! sources that connector crates provide. Running them is the daemon's job.

mod cron;
mod poll;
mod poll_owing;

pub use self::cron::{CronError, CronSchedule, DstNote, Fire};
pub use self::poll::{
    poll_once, Delivery, PollError, PollReport, POLL_TRIGGER, PROGRESS_EVERY, RUNS_AT_ONCE,
};
pub use self::poll_owing::{poll_owing, OwingReport, OWED_AT_ONCE};
pub use weft_action::{PollSource, Polled, SourceCatalog, SourceSpec, TypedPollSource};
