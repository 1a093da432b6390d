//! Runs runsc (and other helpers) so that their exit status comes from the
//! shim library's reaper, which reaps every child of the shim: subscribe to
//! exits first, spawn, then wait for the exit of that pid.

use std::{
    io,
    os::fd::OwnedFd,
    process::{Child, Command},
    time::Duration,
};

use async_trait::async_trait;
use containerd_shim::{
    asynchronous::monitor::{monitor_subscribe, monitor_unsubscribe, Subscription},
    monitor::{Subject, Topic},
};
use nix::{sys::signal, unistd::Pid};
use tokio::io::AsyncReadExt;

/// How long a killed child may take to be reaped.
const REAP_GRACE: Duration = Duration::from_secs(5);
/// How long output pipes are drained after the child exited (a grandchild
/// may hold them open).
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// A [`runsc::Spawner`] that works under the shim library's reaper.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReaperSpawner;

/// Why a monitored run failed.
#[derive(Debug)]
pub enum RunError {
    /// The process could not be started.
    Spawn(io::Error),
    /// The process outlived its deadline and was killed.
    Timeout,
}

/// The result of a monitored run.
#[derive(Debug, Default)]
pub struct Finished {
    /// Exit code, 128 + signal when killed.
    pub status: i32,
    /// Host pid it had.
    pub pid: u32,
    /// Captured stdout (empty unless piped).
    pub stdout: Vec<u8>,
    /// Captured stderr (empty unless piped).
    pub stderr: Vec<u8>,
}

/// Spawns `cmd` and waits for its exit through the reaper, killing it when
/// it outlives `timeout`.
pub async fn run_monitored(mut cmd: Command, timeout: Duration) -> Result<Finished, RunError> {
    let sub = monitor_subscribe(Topic::Pid)
        .await
        .map_err(|e| RunError::Spawn(io::Error::other(e.to_string())))?;
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = monitor_unsubscribe(sub.id).await;
            return Err(RunError::Spawn(e));
        }
    };
    // Drop our copies of descriptors handed to the child right away.
    drop(cmd);
    let pid = child.id();
    let (out, err) = take_pipes(&mut child);
    // `child` is dropped without wait(): std never reaps on drop.
    drop(child);
    let readers = tokio::spawn(async move { tokio::join!(drain(out), drain(err)) });
    let (status, timed_out) = wait_pid(sub, pid, timeout).await;
    let (stdout, stderr) = tokio::time::timeout(DRAIN_GRACE, readers)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    if timed_out {
        return Err(RunError::Timeout);
    }
    Ok(Finished {
        status,
        pid,
        stdout,
        stderr,
    })
}

fn take_pipes(child: &mut Child) -> (Option<OwnedFd>, Option<OwnedFd>) {
    (
        child.stdout.take().map(OwnedFd::from),
        child.stderr.take().map(OwnedFd::from),
    )
}

async fn drain(fd: Option<OwnedFd>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(fd) = fd {
        if let Ok(mut rx) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) {
            let _ = rx.read_to_end(&mut buf).await;
        }
    }
    buf
}

/// Waits for the reaper to report `pid`; returns (status, timed_out).
async fn wait_pid(mut sub: Subscription, pid: u32, timeout: Duration) -> (i32, bool) {
    let wanted = pid as i32;
    let result = match tokio::time::timeout(timeout, recv_exit(&mut sub, wanted)).await {
        Ok(status) => (status, false),
        Err(_) => {
            let _ = signal::kill(Pid::from_raw(wanted), signal::Signal::SIGKILL);
            let status = tokio::time::timeout(REAP_GRACE, recv_exit(&mut sub, wanted))
                .await
                .unwrap_or(128 + signal::Signal::SIGKILL as i32);
            (status, true)
        }
    };
    let _ = monitor_unsubscribe(sub.id).await;
    result
}

async fn recv_exit(sub: &mut Subscription, pid: i32) -> i32 {
    while let Some(e) = sub.rx.recv().await {
        if matches!(e.subject, Subject::Pid(p) if p == pid) {
            return e.exit_code;
        }
    }
    // The monitor never closes a subscription while it is held.
    128 + signal::Signal::SIGKILL as i32
}

#[async_trait]
impl runsc::Spawner for ReaperSpawner {
    async fn run(&self, cmd: Command, timeout: Duration) -> runsc::Result<runsc::Output> {
        let program = cmd.get_program().to_string_lossy().into_owned();
        let subcommand = runsc::subcommand_of(&cmd);
        match run_monitored(cmd, timeout).await {
            Ok(f) => Ok(runsc::Output {
                status: f.status,
                pid: f.pid,
                stdout: f.stdout,
                stderr: f.stderr,
            }),
            Err(RunError::Spawn(source)) => Err(runsc::Error::Spawn {
                binary: program,
                source,
            }),
            Err(RunError::Timeout) => Err(runsc::Error::Timeout {
                subcommand,
                after: timeout,
            }),
        }
    }
}
