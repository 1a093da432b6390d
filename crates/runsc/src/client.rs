//! [`Runsc`]: one typed async method per runsc subcommand.

use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::error::{exit_status_message, Error, Result};
use crate::logfile::LogCursor;
use crate::options::{Args, CreateOpts, ExecOpts, GlobalOptions, KillOpts};
use crate::spawn::{Output, Spawner};
use crate::stdio::ProcessIo;
use crate::types::{State, StatsEvent, WaitStatus};

/// Default deadline of commands that return at once: state, kill, ps,
/// events, pause, resume, delete, version, help.
pub const DEFAULT_SHORT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default deadline of commands that start sandboxes or processes: create,
/// start, exec.
pub const DEFAULT_LONG_TIMEOUT: Duration = Duration::from_secs(120);

/// runsc's reply to `help <name>` when it knows no such subcommand.
const UNKNOWN_SUBCOMMAND: &str = "not understood";

/// The runsc command line, driven through a [`Spawner`].
///
/// Each method runs one runsc process with the global options first. When
/// runsc fails, the error carries runsc's own message (see
/// [`Error::Command`]). Commands that start processes (`create`, `start`,
/// `exec`) get the caller's [`ProcessIo`]; all others run with stdin on
/// `/dev/null` and their output captured.
#[derive(Clone)]
pub struct Runsc {
    options: GlobalOptions,
    spawner: Arc<dyn Spawner>,
    short_timeout: Duration,
    long_timeout: Duration,
}

/// Where a runsc process's standard streams go.
enum Streams {
    /// stdin from `/dev/null`, stdout and stderr piped and returned.
    Capture,
    /// The caller's streams, inherited by what runsc starts.
    Give(ProcessIo),
}

impl Runsc {
    /// A runsc with these global options, run by `spawner`, and the default
    /// deadlines ([`DEFAULT_SHORT_TIMEOUT`], [`DEFAULT_LONG_TIMEOUT`]).
    pub fn new(options: GlobalOptions, spawner: Arc<dyn Spawner>) -> Self {
        Self {
            options,
            spawner,
            short_timeout: DEFAULT_SHORT_TIMEOUT,
            long_timeout: DEFAULT_LONG_TIMEOUT,
        }
    }

    /// Sets the deadlines: `short` for state, kill, ps, events, pause,
    /// resume, delete, version and help; `long` for create, start and exec.
    /// `wait` never has one.
    pub fn with_timeout(self, short: Duration, long: Duration) -> Self {
        Self {
            short_timeout: short,
            long_timeout: long,
            ..self
        }
    }

    /// The deadline of short calls (see [`Runsc::with_timeout`]).
    pub fn short_timeout(&self) -> Duration {
        self.short_timeout
    }

    /// The global options.
    pub fn options(&self) -> &GlobalOptions {
        &self.options
    }

    /// The global flags placed before every subcommand: `--root=<root>`,
    /// `--log=<log>`, `--log-format=json`, then the extra flags in order.
    pub fn global_args(&self) -> Vec<OsString> {
        self.options.args()
    }

    /// `runsc create --bundle B --pid-file P [--console-socket S]
    /// [--user-log L] <id>`: creates the container (for the first container,
    /// its sandbox), which inherits `io`.
    pub async fn create(&self, id: &str, opts: &CreateOpts, io: ProcessIo) -> Result<()> {
        let args = opts.args(id);
        self.run("create", args, Streams::Give(io), self.long_timeout)
            .await
            .map(drop)
    }

    /// `runsc start <id>`: starts a created container. A subcontainer gets
    /// `io` as its stdio; for the sandbox's own container `io` is unused.
    pub async fn start(&self, id: &str, io: ProcessIo) -> Result<()> {
        let args = subcommand("start", id);
        self.run("start", args, Streams::Give(io), self.long_timeout)
            .await
            .map(drop)
    }

    /// `runsc state <id>`.
    pub async fn state(&self, id: &str) -> Result<State> {
        self.json("state", subcommand("state", id)).await
    }

    /// `runsc wait [--pid N] <id>`: waits, without deadline, for the
    /// container's root process or, with `pid`, for the process with that
    /// pid inside the sandbox. runsc cannot report a root container that
    /// exited before the call ("sandbox no longer running and its exit
    /// status is unavailable").
    pub async fn wait(&self, id: &str, pid: Option<i32>) -> Result<WaitStatus> {
        let mut args = Args::new("wait");
        if let Some(pid) = pid {
            args.word("--pid").word(pid.to_string());
        }
        args.word(id);
        let output = self
            .run("wait", args.0, Streams::Capture, Duration::MAX)
            .await?;
        parse("wait", &output)
    }

    /// `runsc kill [--all] [--pid N] <id> <signal>`.
    pub async fn kill(&self, id: &str, signal: i32, opts: KillOpts) -> Result<()> {
        self.short("kill", opts.args(id, signal)).await.map(drop)
    }

    /// `runsc delete [--force] <id>`. With `force` an unknown id is not an
    /// error and a running container is killed first.
    pub async fn delete(&self, id: &str, force: bool) -> Result<()> {
        let mut args = Args::new("delete");
        if force {
            args.word("--force");
        }
        args.word(id);
        self.short("delete", args.0).await.map(drop)
    }

    /// `runsc exec --process F [--console-socket S] --detach --pid-file P
    /// --internal-pid-file Q <id>`: starts the process described by the OCI
    /// process JSON in `process_json`, which inherits `io`, and returns once
    /// it runs.
    pub async fn exec(
        &self,
        id: &str,
        process_json: &Path,
        opts: &ExecOpts,
        io: ProcessIo,
    ) -> Result<()> {
        let args = opts.args(id, process_json);
        self.run("exec", args, Streams::Give(io), self.long_timeout)
            .await
            .map(drop)
    }

    /// `runsc ps --format json <id>`: the container's pids, as seen inside
    /// the sandbox.
    pub async fn ps(&self, id: &str) -> Result<Vec<i32>> {
        let mut args = Args::new("ps");
        args.word("--format").word("json").word(id);
        let pids: Option<Vec<i32>> = self.json("ps", args.0).await?;
        Ok(pids.unwrap_or_default())
    }

    /// `runsc events --stats <id>`: one statistics sample.
    pub async fn stats(&self, id: &str) -> Result<StatsEvent> {
        let mut args = Args::new("events");
        args.word("--stats").word(id);
        self.json("events", args.0).await
    }

    /// `runsc pause <id>`.
    pub async fn pause(&self, id: &str) -> Result<()> {
        self.short("pause", subcommand("pause", id)).await.map(drop)
    }

    /// `runsc resume <id>`.
    pub async fn resume(&self, id: &str) -> Result<()> {
        self.short("resume", subcommand("resume", id))
            .await
            .map(drop)
    }

    /// `runsc update --resources <file> <id>`: applies the OCI
    /// `LinuxResources` JSON in `resources` (runc's form of the command;
    /// runsc 0.0~20221219 has no `update`, see [`Runsc::has_subcommand`]).
    pub async fn update(&self, id: &str, resources: &Path) -> Result<()> {
        let args = vec![
            "update".into(),
            "--resources".into(),
            resources.into(),
            id.into(),
        ];
        self.short("update", args).await.map(drop)
    }

    /// Checks that runsc accepts the global flags (`runsc <globals> help`):
    /// a bad flag fails with Go's flag message, e.g. `flag provided but not
    /// defined: -no-such-flag`.
    pub async fn check_global_flags(&self) -> Result<()> {
        self.short("help", vec!["help".into()]).await.map(drop)
    }

    /// The first line of `runsc --version` (run without global flags), e.g.
    /// `runsc version 0.0~20221219.0`.
    pub async fn version(&self) -> Result<String> {
        let output = self
            .spawn(
                vec!["--version".into()],
                Streams::Capture,
                self.short_timeout,
            )
            .await?;
        check("version", &output, None).await?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        Ok(stdout.lines().next().unwrap_or_default().trim().to_owned())
    }

    /// Whether runsc has the subcommand `name`, by running
    /// `runsc help <name>` (without global flags): runsc 0.0~20221219 exits 0
    /// for a known subcommand or help topic, and 128 with
    /// `Subcommand <name> not understood` on stderr otherwise.
    pub async fn has_subcommand(&self, name: &str) -> Result<bool> {
        let args = subcommand("help", name);
        let output = self
            .spawn(args, Streams::Capture, self.short_timeout)
            .await?;
        if output.status != 0 && contains(&output.stderr, UNKNOWN_SUBCOMMAND) {
            return Ok(false);
        }
        check("help", &output, None).await?;
        Ok(true)
    }

    /// Runs a short command that prints JSON and parses the JSON.
    async fn json<T: DeserializeOwned>(&self, name: &str, args: Vec<OsString>) -> Result<T> {
        let output = self.short(name, args).await?;
        parse(name, &output)
    }

    /// Runs a short command with captured output.
    async fn short(&self, name: &str, args: Vec<OsString>) -> Result<Output> {
        self.run(name, args, Streams::Capture, self.short_timeout)
            .await
    }

    /// Runs subcommand `name` with `args` after the global flags; a non-zero
    /// exit becomes [`Error::Command`].
    async fn run(
        &self,
        name: &str,
        args: Vec<OsString>,
        streams: Streams,
        timeout: Duration,
    ) -> Result<Output> {
        let log = match &self.options.log {
            Some(path) => Some(LogCursor::at_end(path).await),
            None => None,
        };
        let mut all = self.global_args();
        all.extend(args);
        let output = self.spawn(all, streams, timeout).await?;
        check(name, &output, log.as_ref()).await?;
        Ok(output)
    }

    /// Runs the binary with exactly `args`.
    async fn spawn(
        &self,
        args: Vec<OsString>,
        streams: Streams,
        timeout: Duration,
    ) -> Result<Output> {
        let cmd = self.command(args, streams);
        log::debug!("running {cmd:?}");
        self.spawner.run(cmd, timeout).await
    }

    /// The command running the binary with `args`, without `NOTIFY_SOCKET`.
    fn command(&self, args: Vec<OsString>, streams: Streams) -> Command {
        let mut cmd = Command::new(self.options.binary());
        cmd.args(args).env_remove("NOTIFY_SOCKET");
        match streams {
            Streams::Capture => {
                cmd.stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
            }
            Streams::Give(io) => io.attach(&mut cmd),
        }
        cmd
    }
}

impl fmt::Debug for Runsc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runsc")
            .field("options", &self.options)
            .field("short_timeout", &self.short_timeout)
            .field("long_timeout", &self.long_timeout)
            .finish_non_exhaustive()
    }
}

/// `<name> <id>`.
fn subcommand(name: &str, id: &str) -> Vec<OsString> {
    vec![name.into(), id.into()]
}

/// Fails with runsc's explanation when it exited non-zero: the last error it
/// appended to its log since `log` was taken, else its last stderr line,
/// else the exit status.
async fn check(name: &str, output: &Output, log: Option<&LogCursor>) -> Result<()> {
    if output.status == 0 {
        return Ok(());
    }
    let logged = match log {
        Some(log) => log.last_error().await,
        None => None,
    };
    let message = logged
        .or_else(|| flag_error(&output.stderr))
        .or_else(|| last_line(&output.stderr))
        .unwrap_or_else(|| exit_status_message(output.status));
    Err(Error::Command {
        subcommand: name.to_owned(),
        status: output.status,
        message,
    })
}

/// Go's flag package reports a bad flag on the first line and then prints
/// the whole usage text: that first line is the message.
fn flag_error(text: &[u8]) -> Option<String> {
    String::from_utf8_lossy(text)
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("flag provided but not defined") || l.starts_with("invalid value"))
        .map(str::to_owned)
}

/// The last non-blank line of `text`.
fn last_line(text: &[u8]) -> Option<String> {
    String::from_utf8_lossy(text)
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(str::to_owned)
}

/// Whether `haystack` contains `needle`.
fn contains(haystack: &[u8], needle: &str) -> bool {
    String::from_utf8_lossy(haystack).contains(needle)
}

/// Parses what subcommand `name` printed on stdout.
fn parse<T: DeserializeOwned>(name: &str, output: &Output) -> Result<T> {
    serde_json::from_slice(&output.stdout).map_err(|source| Error::Parse {
        subcommand: name.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spawn::DirectSpawner;

    #[test]
    fn commands_run_the_binary_without_notify_socket() {
        let runsc = Runsc::new(GlobalOptions::default(), Arc::new(DirectSpawner));
        let cmd = runsc.command(subcommand("state", "c1"), Streams::Capture);
        assert_eq!(cmd.get_program(), "runsc");
        assert!(cmd
            .get_envs()
            .any(|(key, value)| key == "NOTIFY_SOCKET" && value.is_none()));
    }

    #[test]
    fn last_stderr_line() {
        assert_eq!(
            last_line(b"usage\nflag provided but not defined: -x\n\n").as_deref(),
            Some("flag provided but not defined: -x")
        );
        assert_eq!(last_line(b" \n"), None);
    }
}
