//! How runsc processes are run and waited for.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{ChildStderr, ChildStdout};

use crate::error::{Error, Result};

/// How long a killed runsc may take to be reaped.
const REAP_GRACE: Duration = Duration::from_secs(5);
/// How long captured output is still read after runsc exited (a process it
/// left behind might hold the pipes open).
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// How one runsc invocation ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit code, or 128 + signal number when runsc was killed by a signal.
    pub status: i32,
    /// runsc's host pid.
    pub pid: u32,
    /// What runsc printed on stdout, if it was piped (else empty).
    pub stdout: Vec<u8>,
    /// What runsc printed on stderr, if it was piped (else empty).
    pub stderr: Vec<u8>,
}

/// How runsc processes are run. The shim supplies an implementation that gets
/// exit statuses from containerd-shim's reaper; [`DirectSpawner`] waits with
/// tokio itself.
#[async_trait]
pub trait Spawner: Send + Sync {
    /// Spawns `cmd`, whose arguments, environment and stdio are already set,
    /// and waits for it to exit. An implementation must:
    ///
    /// - drop `cmd` right after spawning, so that this process's copies of
    ///   the stdio descriptors handed to runsc are closed;
    /// - read stdout and stderr, when they are piped, while waiting;
    /// - SIGKILL runsc when it outlives `timeout`, and then return
    ///   [`Error::Timeout`] with [`subcommand_of`]`(&cmd)` and `timeout`.
    ///   `runsc wait` runs with [`Duration::MAX`], which means no deadline;
    /// - return [`Error::Spawn`] with the program name when spawning fails;
    /// - return the exit status in [`Output::status`], not judge it.
    async fn run(&self, cmd: Command, timeout: Duration) -> Result<Output>;
}

/// A [`Spawner`] that waits for runsc with tokio itself, for use where no
/// global reaper runs (tests, command-line tools). Under a reaper that calls
/// `waitpid(-1)` it would race for the exit status.
#[derive(Clone, Copy, Debug, Default)]
pub struct DirectSpawner;

#[async_trait]
impl Spawner for DirectSpawner {
    async fn run(&self, cmd: Command, timeout: Duration) -> Result<Output> {
        let subcommand = subcommand_of(&cmd);
        let binary = cmd.get_program().to_string_lossy().into_owned();
        let mut cmd = tokio::process::Command::from(cmd);
        cmd.kill_on_drop(false);
        let mut child = cmd
            .spawn()
            .map_err(|source| Error::Spawn { binary, source })?;
        drop(cmd);
        let pid = child.id().unwrap_or_default();

        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let status = {
            let reading = read_both(
                child.stdout.take(),
                child.stderr.take(),
                &mut stdout,
                &mut stderr,
            );
            tokio::pin!(reading);
            let mut read = None;
            let waited = tokio::time::timeout(timeout, async {
                loop {
                    tokio::select! {
                        status = child.wait() => break status,
                        done = &mut reading, if read.is_none() => read = Some(done),
                    }
                }
            })
            .await;
            let Ok(status) = waited else {
                // An error means it is already gone; wait() then reaps it.
                let _ = child.start_kill();
                let _ = tokio::time::timeout(REAP_GRACE, child.wait()).await;
                return Err(Error::Timeout {
                    subcommand,
                    after: timeout,
                });
            };
            if read.is_none() {
                // Keep what was read if something else holds the pipes open.
                read = tokio::time::timeout(DRAIN_GRACE, &mut reading).await.ok();
            }
            read.transpose()?;
            exit_code(status?)
        };
        Ok(Output {
            status,
            pid,
            stdout,
            stderr,
        })
    }
}

/// The subcommand `cmd` runs, for messages: its first argument that is not a
/// flag (global flags are single `--key=value` words), else its last flag
/// without dashes (`version` for `runsc --version`).
pub fn subcommand_of(cmd: &Command) -> String {
    let mut last_flag = None;
    for arg in cmd.get_args().map(|arg| arg.to_string_lossy()) {
        if !arg.starts_with('-') {
            return arg.into_owned();
        }
        last_flag = Some(arg);
    }
    last_flag.map_or_else(String::new, |flag| flag.trim_start_matches('-').to_owned())
}

/// Exit code, or 128 + signal number.
fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or_default())
}

/// Appends what the pipes yield until end-of-file to `stdout` and `stderr`.
/// Bytes read stay in the buffers when the future is dropped early.
async fn read_both(
    stdout_pipe: Option<ChildStdout>,
    stderr_pipe: Option<ChildStderr>,
    stdout: &mut Vec<u8>,
    stderr: &mut Vec<u8>,
) -> io::Result<()> {
    tokio::try_join!(
        read_into(stdout_pipe, stdout),
        read_into(stderr_pipe, stderr)
    )?;
    Ok(())
}

/// Appends what `pipe` yields until end-of-file to `buf` (nothing when absent).
async fn read_into(pipe: Option<impl AsyncRead + Unpin>, buf: &mut Vec<u8>) -> io::Result<()> {
    if let Some(mut pipe) = pipe {
        pipe.read_to_end(buf).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommand_is_the_first_word_after_global_flags() {
        let mut cmd = Command::new("runsc");
        cmd.args(["--root=/r", "--log=/l", "kill", "--all", "c1", "9"]);
        assert_eq!(subcommand_of(&cmd), "kill");

        let mut version = Command::new("runsc");
        version.arg("--version");
        assert_eq!(subcommand_of(&version), "version");

        assert_eq!(subcommand_of(&Command::new("runsc")), "");
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(9)), 137);
    }

    #[tokio::test]
    async fn output_of_a_process_that_leaves_a_child_holding_stdout() {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "echo out; echo err >&2; sleep 3 & exit 4"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let started = std::time::Instant::now();
        let output = DirectSpawner
            .run(cmd, Duration::from_secs(30))
            .await
            .unwrap();
        // The background sleep holds the pipes: reading stops after the grace.
        assert!(started.elapsed() < Duration::from_millis(2900));
        assert_eq!(output.status, 4);
        assert!(output.pid > 0);
        assert_eq!(output.stdout, b"out\n");
        assert_eq!(output.stderr, b"err\n");
    }
}
