//! weft-daemon: runs the workflows of a folder on their triggers. Today: cron triggers, with
//! the `missed`, `overlap` and `concurrency` settings as docs/workflow-language.md describes
//! them. The process around it (loading the folder, the data folder, signals) is the CLI's
//! `weft daemon`.
//!
//! One scheduler task holds a priority queue of the next fire of every trigger and sleeps until
//! the earliest: ten thousand workflows cost ten thousand heap entries, not ten thousand
//! sleeping tasks. Each fire is recorded in the trigger store (`weft_engine::store::TriggerStore`) under its unique key
//! (workflow, trigger, scheduled instant) before its run starts, and a fire already recorded is
//! never run again, also by a restarted daemon. Missed fires are counted from the last recorded
//! one.

mod clock;
mod due;
mod gate;
mod scheduler;

pub use clock::{Clock, ManualClock, SystemClock};
pub use scheduler::{Daemon, DaemonError, Settings, ShutdownReport, CRON_TRIGGER};
