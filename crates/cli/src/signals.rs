//! SIGINT (Ctrl-C) and SIGTERM (what Docker and systemd send) both ask weft to stop: the first
//! one stops gracefully, whatever the command.
//!
//! Before a one-shot command reaches a point where it waits for signals on the async runtime
//! (reading and checking a workflow of 100,000 steps takes a second, on the runtime's one
//! thread), [`stop_now_on_interrupt`] makes a signal end the process at once with a message
//! saying where it stopped, instead of the signal's silent default.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// Which request to stop arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    CtrlC,
    Terminate,
}

impl Interrupt {
    pub fn name(self) -> &'static str {
        match self {
            Interrupt::CtrlC => "Ctrl-C",
            Interrupt::Terminate => "SIGTERM",
        }
    }

    /// The shell's convention for a process ended by this signal (128 + its number).
    pub fn exit_code(self) -> u8 {
        match self {
            Interrupt::CtrlC => 130,
            Interrupt::Terminate => 143,
        }
    }
}

/// Listens for interrupts from the moment it is created (a signal that arrives before
/// [`Interrupts::next`] is awaited is kept, not lost).
pub struct Interrupts {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Interrupts {
    #[cfg(unix)]
    pub fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    #[cfg(not(unix))]
    pub fn listen() -> std::io::Result<Self> {
        Ok(Self {})
    }

    /// The next interrupt.
    #[cfg(unix)]
    pub async fn next(&mut self) -> Interrupt {
        tokio::select! {
            _ = self.interrupt.recv() => Interrupt::CtrlC,
            _ = self.terminate.recv() => Interrupt::Terminate,
        }
    }

    #[cfg(not(unix))]
    pub async fn next(&mut self) -> Interrupt {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        Interrupt::CtrlC
    }
}

/// SIGHUP asks the daemon to read its workflows folder again. Listens from the moment it is
/// created, like [`Interrupts`].
pub struct Hangups {
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
}

impl Hangups {
    #[cfg(unix)]
    pub fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            hangup: signal(SignalKind::hangup())?,
        })
    }

    #[cfg(not(unix))]
    pub fn listen() -> std::io::Result<Self> {
        Ok(Self {})
    }

    /// The next SIGHUP (never, where there is none).
    #[cfg(unix)]
    pub async fn next(&mut self) {
        if self.hangup.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
    }

    #[cfg(not(unix))]
    pub async fn next(&mut self) {
        std::future::pending::<()>().await;
    }
}

/// Where a one-shot command stands when a signal ends it before it listens for signals itself:
/// what it says, after "interrupted (SIGTERM): ".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Stage {
    /// `weft validate`, which writes nothing.
    Checking = 1,
    /// `weft run` reading and checking its workflow, opening the run history.
    BeforeRun = 2,
    /// `weft run` waiting for the run it asked a daemon for.
    WaitingForDaemon = 3,
    /// `weft run --dry-run` writing its report (10,000 steps: 1.3 MB), after the run.
    DryRunReport = 4,
    /// `weft run` writing what the run gave, after the run.
    RunReport = 5,
}

impl Stage {
    fn note(self) -> &'static str {
        match self {
            Stage::Checking => "stopped checking",
            Stage::BeforeRun => "stopped before the run started; no run was recorded",
            Stage::WaitingForDaemon => {
                "stopped waiting; the daemon's run goes on (`weft runs list` shows it)"
            }
            Stage::DryRunReport => "stopped writing the dry run's report; nothing was recorded",
            Stage::RunReport => {
                "stopped writing the report; the run had ended and is recorded (`weft runs list` shows it)"
            }
        }
    }

    fn from_u8(stage: u8) -> Option<Stage> {
        [
            Stage::Checking,
            Stage::BeforeRun,
            Stage::WaitingForDaemon,
            Stage::DryRunReport,
            Stage::RunReport,
        ]
        .into_iter()
        .find(|s| *s as u8 == stage)
    }
}

/// The [`Stage`] the handler reports, as its number; 0 once [`Interrupts`] took over.
static STAGE: AtomicU8 = AtomicU8::new(0);
static HANDLERS: OnceLock<()> = OnceLock::new();

/// From now on, until [`handled_by_the_runtime`], Ctrl-C or SIGTERM ends the process at once
/// with "interrupted (NAME): " and `stage`'s note, and the signal's shell code (130, 143).
pub fn stop_now_on_interrupt(stage: Stage) {
    STAGE.store(stage as u8, Ordering::SeqCst);
    #[cfg(unix)]
    HANDLERS.get_or_init(|| {
        for interrupt in [Interrupt::CtrlC, Interrupt::Terminate] {
            let number = match interrupt {
                Interrupt::CtrlC => libc::SIGINT,
                Interrupt::Terminate => libc::SIGTERM,
            };
            #[allow(unsafe_code)]
            // SAFETY: the action only reads an atomic, writes to stderr and exits the process
            // (`write` and `_exit` are async-signal-safe): nothing that allocates or locks.
            let registered =
                unsafe { signal_hook_registry::register(number, move || stop_now(interrupt)) };
            // Without the handler a signal keeps its default action: it still ends the process.
            if let Err(e) = registered {
                tracing::warn!("cannot handle {} while starting: {e}", interrupt.name());
            }
        }
    });
}

/// The command listens with [`Interrupts`] from now on: the handler of
/// [`stop_now_on_interrupt`] leaves signals to it (call it after [`Interrupts::listen`], so
/// that no signal goes unheard in between).
pub fn handled_by_the_runtime() {
    STAGE.store(0, Ordering::SeqCst);
}

/// The signal handler's action: runs inside the handler, so only async-signal-safe calls.
#[cfg(unix)]
fn stop_now(interrupt: Interrupt) {
    let Some(stage) = Stage::from_u8(STAGE.load(Ordering::SeqCst)) else {
        return;
    };
    for part in ["interrupted (", interrupt.name(), "): ", stage.note(), "\n"] {
        #[allow(unsafe_code)]
        // SAFETY: writes a static string to stderr; a failed write is ignored (the process
        // ends next, and there is nothing better to do inside a signal handler).
        unsafe {
            libc::write(libc::STDERR_FILENO, part.as_ptr().cast(), part.len());
        }
    }
    #[allow(unsafe_code)]
    // SAFETY: `_exit` ends the process without running anything of this one's.
    unsafe {
        libc::_exit(interrupt.exit_code().into())
    };
}
