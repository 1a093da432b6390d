//! The life of one process (a container's init or an exec): its state,
//! its exit, and the waiters of that exit.
//!
//! Exits can arrive from the reaper while `runsc start` is still running;
//! they are held back until the start has been reported, so that containerd
//! always sees TaskStart before TaskExit.

use std::time::SystemTime;

use containerd_shim::api::Status;
use tokio::sync::watch;

use crate::{
    error::{Error, Result},
    stdio::{IoHandles, StdioPaths},
};

/// How and when a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// Exit status; 128 + signal number for a killed process.
    pub status: u32,
    /// When the shim learnt of it.
    pub at: SystemTime,
}

impl Exit {
    /// An exit with the given status, now.
    pub fn now(status: i32) -> Self {
        Self {
            status: status as u32,
            at: SystemTime::now(),
        }
    }
}

/// State of one process.
pub struct Process {
    /// Host pid: the sandbox for a container, the runsc exec helper for an exec.
    pub pid: i32,
    /// Pid inside the sandbox (execs only; 0 if unknown).
    pub sandbox_pid: i32,
    status: Status,
    exit: Option<Exit>,
    exit_tx: watch::Sender<Option<Exit>>,
    starting: bool,
    held_exit: Option<Exit>,
    /// Set when runsc's exec helper died of a signal while the process may
    /// still run: its exit then comes from the sandbox's control server, and
    /// the helper's (reusable) host pid no longer identifies it.
    pub helper_gone: bool,
    /// The stdio containerd asked for.
    pub stdio: StdioPaths,
    /// What the shim keeps of that stdio.
    pub io: IoHandles,
}

/// What the caller must do after an exit was recorded.
#[derive(Debug, PartialEq, Eq)]
pub enum ExitOutcome {
    /// Publish TaskExit now.
    Publish(Exit),
    /// A start is in progress; it will publish the exit.
    Held,
    /// The process had already exited; nothing to do.
    Duplicate,
}

impl Process {
    /// A process in state CREATED.
    pub fn new(stdio: StdioPaths) -> Self {
        Self {
            pid: 0,
            sandbox_pid: 0,
            status: Status::CREATED,
            exit: None,
            exit_tx: watch::channel(None).0,
            starting: false,
            held_exit: None,
            helper_gone: false,
            stdio,
            io: IoHandles::default(),
        }
    }

    /// Current status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The exit, once there is one.
    pub fn exit(&self) -> Option<Exit> {
        self.exit
    }

    /// Whether the process has stopped.
    pub fn is_stopped(&self) -> bool {
        self.status == Status::STOPPED
    }

    /// Marks a start as begun; only a CREATED process that is not already
    /// starting may start.
    pub fn begin_start(&mut self, what: &str) -> Result<()> {
        if self.starting {
            return Err(Error::FailedPrecondition(format!(
                "{what} is already starting"
            )));
        }
        match self.status {
            Status::CREATED => {
                self.starting = true;
                Ok(())
            }
            Status::STOPPED => Err(Error::FailedPrecondition(format!(
                "{what} has already exited and cannot be started"
            ))),
            _ => Err(Error::FailedPrecondition(format!(
                "{what} is already started"
            ))),
        }
    }

    /// Ends a start. On success the process runs, unless it exited already.
    /// Returns an exit held back during the start, to be published now
    /// (after TaskStart).
    pub fn finish_start(&mut self, ok: bool) -> Option<Exit> {
        self.starting = false;
        if ok && self.status == Status::CREATED {
            self.status = Status::RUNNING;
        }
        let held = self.held_exit.take()?;
        self.record_exit(held);
        Some(held)
    }

    /// Records an exit reported by the reaper.
    pub fn exited(&mut self, exit: Exit) -> ExitOutcome {
        if self.exit.is_some() || self.held_exit.is_some() {
            return ExitOutcome::Duplicate;
        }
        if self.starting {
            self.held_exit = Some(exit);
            return ExitOutcome::Held;
        }
        self.record_exit(exit);
        ExitOutcome::Publish(exit)
    }

    fn record_exit(&mut self, exit: Exit) {
        self.status = Status::STOPPED;
        self.exit = Some(exit);
        self.io.close_stdin();
        self.exit_tx.send_replace(Some(exit));
    }

    /// Marks a paused or resumed process.
    pub fn set_paused(&mut self, paused: bool) {
        if !self.is_stopped() {
            self.status = if paused {
                Status::PAUSED
            } else {
                Status::RUNNING
            };
        }
    }

    /// A receiver that yields the exit once there is one.
    pub fn exit_watch(&self) -> watch::Receiver<Option<Exit>> {
        self.exit_tx.subscribe()
    }
}

/// Waits on a receiver from [`Process::exit_watch`].
pub async fn wait_exit(mut rx: watch::Receiver<Option<Exit>>) -> Exit {
    loop {
        if let Some(exit) = *rx.borrow_and_update() {
            return exit;
        }
        if rx.changed().await.is_err() {
            // The process was dropped without an exit: report it as killed.
            return Exit::now(137);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_during_start_is_held_until_the_start_is_reported() {
        let mut p = Process::new(StdioPaths::default());
        p.begin_start("c").unwrap();
        assert_eq!(p.exited(Exit::now(3)), ExitOutcome::Held);
        assert_eq!(p.status(), Status::CREATED);
        let held = p.finish_start(true).expect("held exit");
        assert_eq!(held.status, 3);
        assert_eq!(p.status(), Status::STOPPED);
        assert_eq!(p.exited(Exit::now(3)), ExitOutcome::Duplicate);
    }

    #[test]
    fn state_transitions() {
        let mut p = Process::new(StdioPaths::default());
        assert_eq!(p.status(), Status::CREATED);
        p.begin_start("c").unwrap();
        assert!(p.begin_start("c").is_err(), "double start");
        assert_eq!(p.finish_start(true), None);
        assert_eq!(p.status(), Status::RUNNING);
        assert!(matches!(
            p.begin_start("c"),
            Err(Error::FailedPrecondition(_))
        ));
        p.set_paused(true);
        assert_eq!(p.status(), Status::PAUSED);
        p.set_paused(false);
        assert_eq!(
            p.exited(Exit::now(137)),
            ExitOutcome::Publish(p.exit().unwrap())
        );
        assert!(p.is_stopped());
        p.set_paused(true);
        assert_eq!(
            p.status(),
            Status::STOPPED,
            "a stopped process stays stopped"
        );
        let err = p.begin_start("c").unwrap_err().to_string();
        assert!(err.contains("already exited"), "{err}");
    }

    #[test]
    fn failed_start_leaves_created() {
        let mut p = Process::new(StdioPaths::default());
        p.begin_start("c").unwrap();
        assert_eq!(p.finish_start(false), None);
        assert_eq!(p.status(), Status::CREATED);
    }

    #[tokio::test]
    async fn waiters_get_the_exit() {
        let mut p = Process::new(StdioPaths::default());
        let rx = p.exit_watch();
        let waiter = tokio::spawn(wait_exit(rx));
        tokio::task::yield_now().await;
        p.exited(Exit::now(143));
        assert_eq!(waiter.await.unwrap().status, 143);
        // A late waiter sees it at once.
        assert_eq!(wait_exit(p.exit_watch()).await.status, 143);
    }
}
