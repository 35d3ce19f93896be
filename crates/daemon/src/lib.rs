//! weft-daemon: runs the workflows of a folder on their triggers. The process around it
//! (loading the folder, the data folder, signals) is the CLI's `weft daemon`.
//!
//! Every trigger kind submits runs to one [`Dispatcher`]: each workflow's gate (`overlap`,
//! `concurrency`) decides whether a run starts, waits or is dropped, whatever started it.
//! Cron: one scheduler task holds a priority queue of the next fire of every trigger and
//! sleeps until the earliest: ten thousand workflows cost ten thousand heap entries, not ten
//! thousand sleeping tasks. Each fire is recorded in the trigger store
//! (`weft_engine::store::TriggerStore`) under its unique key (workflow, trigger, scheduled
//! instant), with the id of its run, before the run starts; a fire already recorded is never
//! run again, also by a restarted daemon. Missed fires are counted from the last recorded one.

pub mod address;
mod ahead;
pub mod api;
mod clock;
mod daemon;
mod dispatch;
mod due;
pub mod events;
pub mod expiry;
mod gate;
pub mod metrics;
mod poller;
pub mod private_file;
mod recovery;
pub mod reload;
pub mod retry;
mod scheduler;
pub mod signature;
mod workflows;

pub use ahead::{mark_reached, owed_fires};
pub use clock::{Clock, ManualClock, SystemClock};
pub use daemon::{Daemon, DaemonError, Settings};
pub use dispatch::ReadyBatch;
pub use dispatch::{
    Cancelling, Dispatcher, RunEnded, ShutdownReport, Submission, SubmitError, Submitted,
    TriggerKind,
};
pub use gate::DropReason;
pub use poller::{PollState, PollStatus, PollTargetStatus};
pub use recovery::{Recovered, UNSTARTED_FIRE_WINDOW};
pub use scheduler::{CronError, CRON_TRIGGER, DROPPED_CRON_FIRES};
pub use workflows::{WorkflowEntry, WorkflowSet};
