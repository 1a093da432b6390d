//! Running external commands with a deadline and capturing what they printed.

use std::fmt;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Context, Error, Result};

/// What a finished (or timed-out) command left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdOutput {
    /// The command line, for messages.
    pub command: String,
    /// Exit code; `None` if it was killed by a signal (including on timeout).
    pub code: Option<i32>,
    /// Everything written to stdout (lossy UTF-8).
    pub stdout: String,
    /// Everything written to stderr (lossy UTF-8).
    pub stderr: String,
    /// Whether the deadline passed and the command was killed.
    pub timed_out: bool,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
}

impl CmdOutput {
    /// True if the command exited with code 0 in time.
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }

    /// The output of a command that could not be started: no exit code, the
    /// reason as stderr.
    pub fn not_started(command: String, error: &Error) -> Self {
        CmdOutput {
            command,
            code: None,
            stdout: String::new(),
            stderr: format!("not started: {error}"),
            timed_out: false,
            elapsed: Duration::ZERO,
        }
    }

    /// Stdout with surrounding whitespace removed.
    pub fn stdout_trimmed(&self) -> &str {
        self.stdout.trim()
    }
}

impl fmt::Display for CmdOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = match (self.timed_out, self.code) {
            (true, _) => "timed out (killed)".to_string(),
            (false, Some(c)) => format!("exit code {c}"),
            (false, None) => "killed by a signal".to_string(),
        };
        write!(
            f,
            "`{}`: {code} after {:.1?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.elapsed,
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
}

/// A command that has been spawned with piped stdio; [`Running::wait`] collects it.
pub struct Running {
    command: String,
    child: Child,
    started: Instant,
    stdout: Capture,
    stderr: Capture,
}

impl Running {
    /// Waits for the command to exit; after `timeout` it is SIGKILLed and reported
    /// as timed out.
    pub fn wait(mut self, timeout: Duration) -> CmdOutput {
        let deadline = self.started + timeout;
        let mut timed_out = false;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() >= deadline => {
                    timed_out = true;
                    let _ = self.child.kill();
                    break self.child.wait().ok();
                }
                Ok(None) => thread::sleep(Duration::from_millis(20)),
                Err(_) => break None,
            }
        };
        let elapsed = self.started.elapsed();
        CmdOutput {
            command: self.command,
            code: status.and_then(|s| s.code()),
            stdout: self.stdout.finish(),
            stderr: self.stderr.finish(),
            timed_out,
            elapsed,
        }
    }
}

/// Spawns `cmd` with stdout/stderr piped, feeding it `stdin` (then closing it) or
/// `/dev/null` when `stdin` is `None`.
pub fn spawn(mut cmd: Command, stdin: Option<Vec<u8>>) -> Result<Running> {
    let command = describe(&cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().context(format!("spawning `{command}`"))?;
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    let stdout = Capture::start(child.stdout.take());
    let stderr = Capture::start(child.stderr.take());
    Ok(Running {
        command,
        child,
        started,
        stdout,
        stderr,
    })
}

/// Runs `cmd` to completion (or until `timeout`), without stdin.
pub fn run(cmd: Command, timeout: Duration) -> Result<CmdOutput> {
    Ok(spawn(cmd, None)?.wait(timeout))
}

/// A shell-like rendering of `cmd` for messages.
pub fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// How long to wait for a pipe's EOF after the command exited: a grandchild that
/// inherited the pipe may keep it open forever.
const PIPE_GRACE: Duration = Duration::from_secs(5);

/// A pipe drained by a thread into a shared buffer.
struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    eof: Receiver<()>,
}

impl Capture {
    fn start(mut pipe: Option<impl Read + Send + 'static>) -> Self {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let (tx, eof) = mpsc::channel();
        let sink = Arc::clone(&buf);
        thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Some(p) = pipe.as_mut() {
                match p.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink.lock().unwrap().extend_from_slice(&chunk[..n]),
                }
            }
            let _ = tx.send(());
        });
        Capture { buf, eof }
    }

    /// What was read, after EOF or after [`PIPE_GRACE`], whichever comes first.
    fn finish(self) -> String {
        let _ = self.eof.recv_timeout(PIPE_GRACE);
        let bytes = self.buf.lock().unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_exit_code() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let out = run(cmd, Duration::from_secs(10)).unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
        assert!(!out.success());
    }

    #[test]
    fn feeds_stdin() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "read x; echo got:$x"]);
        let out = spawn(cmd, Some(b"line\n".to_vec()))
            .unwrap()
            .wait(Duration::from_secs(10));
        assert!(out.success(), "{out}");
        assert_eq!(out.stdout_trimmed(), "got:line");
    }

    #[test]
    fn kills_on_timeout() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let out = run(cmd, Duration::from_millis(200)).unwrap();
        assert!(out.timed_out && out.code.is_none(), "{out}");
        assert!(out.elapsed < Duration::from_secs(5));
    }
}
