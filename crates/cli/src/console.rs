//! Progress lines on stderr while a run goes on.

use std::io::Write;
use std::time::Duration;

use weft_engine::exec::{LogLevel, RunEvent, RunObserver};
use weft_engine::store::{RunStatus, StepStatus};

pub struct ConsoleObserver;

/// Only the warnings, on stderr: for `--json` and `--dry-run`, whose stdout is the result and
/// which print no progress (a warning about a secret must reach the user in every mode).
pub struct WarningsObserver;

impl RunObserver for WarningsObserver {
    fn on_event(&self, event: &RunEvent<'_>) {
        if let RunEvent::Warning { message } = event {
            let _ = writeln!(std::io::stderr().lock(), "warning: {message}");
        }
    }

    fn wants_progress(&self) -> bool {
        false
    }
}

pub fn format_elapsed(d: Duration) -> String {
    let micros = d.as_micros();
    if micros < 1_000 {
        format!("{micros}µs")
    } else if micros < 1_000_000 {
        format!("{:.1}ms", micros as f64 / 1000.0)
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

fn step_label(step: &str, iteration: &[usize]) -> String {
    if iteration.is_empty() {
        step.to_string()
    } else {
        let path: Vec<String> = iteration.iter().map(usize::to_string).collect();
        format!("{step}[{}]", path.join("]["))
    }
}

impl RunObserver for ConsoleObserver {
    fn on_event(&self, event: &RunEvent<'_>) {
        let line = match event {
            RunEvent::RunStarted {
                run_id,
                workflow,
                dry_run: false,
            } => format!("▶ {workflow} (run {run_id})"),
            RunEvent::RunStarted { .. } => return,
            RunEvent::StepStarted { .. } => return,
            RunEvent::StepFinished {
                step,
                iteration,
                status,
                attempts,
                duration,
                error,
            } => {
                let label = step_label(step, iteration);
                match status {
                    StepStatus::Succeeded if *attempts > 1 => {
                        format!(
                            "  ok     {label}  {} (attempt {attempts})",
                            format_elapsed(*duration)
                        )
                    }
                    StepStatus::Succeeded => {
                        format!("  ok     {label}  {}", format_elapsed(*duration))
                    }
                    StepStatus::Skipped => format!("  skip   {label}  (`if` was false)"),
                    StepStatus::Failed => {
                        let tries = if *attempts > 1 {
                            format!(" after {attempts} attempts")
                        } else {
                            String::new()
                        };
                        format!("  FAIL   {label}{tries}: {}", error.unwrap_or("failed"))
                    }
                    StepStatus::Cancelled => format!("  cancel {label}"),
                }
            }
            RunEvent::Retrying {
                step,
                attempt,
                delay,
                error,
            } => {
                format!(
                    "  retry  {step}: attempt {attempt} failed: {error}; next in {}",
                    format_elapsed(*delay)
                )
            }
            RunEvent::Log {
                step,
                level,
                message,
            } => {
                let tag = match level {
                    LogLevel::Debug => "debug",
                    LogLevel::Info => "log",
                    LogLevel::Warn => "warn",
                    LogLevel::Error => "error",
                };
                format!("  {tag:6} {step}: {message}")
            }
            RunEvent::Warning { message } => format!("warning: {message}"),
            RunEvent::RunFinished {
                status,
                duration,
                error,
                ..
            } => match status {
                RunStatus::Succeeded => format!("✔ succeeded in {}", format_elapsed(*duration)),
                RunStatus::Cancelled => format!("✘ cancelled after {}", format_elapsed(*duration)),
                _ => format!(
                    "✘ failed after {}: {}",
                    format_elapsed(*duration),
                    error.unwrap_or("unknown error")
                ),
            },
        };
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}
