//! Errors of runsc invocations.

use std::io;
use std::time::Duration;

/// Substrings of runsc's error messages that mean "already gone"; see
/// [`Error::is_gone`] for where each comes from.
const GONE_MESSAGES: &[&str] = &[
    "sandbox is not running",
    "sandbox no longer running",
    "file does not exist",
    "no such process",
    "in state stopped",
];

/// Why a runsc invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// runsc could not be started (binary missing, not executable, ...).
    #[error("runsc binary {binary:?} could not be started: {source}")]
    Spawn {
        /// The binary as given to the spawner.
        binary: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// runsc exited with a non-zero status.
    #[error("runsc {subcommand} failed (exit status {status}){}", detail(message, *status))]
    Command {
        /// The subcommand, e.g. `create`.
        subcommand: String,
        /// Exit code, or 128 + signal number when runsc was killed by a signal.
        status: i32,
        /// runsc's own explanation: its last error in the `--log` file written
        /// during this invocation, else the last line it printed on stderr
        /// (when captured), else `exit status N`.
        message: String,
    },
    /// runsc did not finish in time and was killed.
    #[error("runsc {subcommand} timed out after {after:?}")]
    Timeout {
        /// The subcommand, e.g. `kill`.
        subcommand: String,
        /// The deadline that passed.
        after: Duration,
    },
    /// runsc succeeded but printed something that is not the expected JSON.
    #[error("could not parse the output of runsc {subcommand}: {source}")]
    Parse {
        /// The subcommand whose output was parsed.
        subcommand: String,
        /// What the JSON parser found wrong.
        #[source]
        source: serde_json::Error,
    },
    /// Waiting for runsc or reading its output failed.
    #[error("I/O error while running runsc: {0}")]
    Io(#[from] io::Error),
}

impl Error {
    /// Whether runsc reported that the container, the process or the whole
    /// sandbox no longer exists or has already stopped. Only
    /// [`Error::Command`] can be. The message must contain one of these
    /// texts, each observed with runsc 0.0~20221219:
    ///
    /// - `sandbox is not running`: `kill` after the sandbox exited;
    /// - `sandbox no longer running`: `wait` after the sandbox exited
    ///   ("... and its exit status is unavailable");
    /// - `file does not exist`: any command on an unknown id, e.g.
    ///   `loading container "c1": file does not exist` (`delete`, `state`,
    ///   `kill`, `wait`, `start`, `pause`) or
    ///   `loading sandbox: file does not exist` (`ps`, `events`, `exec`);
    /// - `no such process`: `kill` of a stopped subcontainer, and
    ///   `kill --pid`/`wait --pid` of a process that already exited;
    /// - `in state stopped`: `ps` and `pause` of a stopped container.
    ///
    /// "no such file or directory" does not count: runsc also prints it for a
    /// missing bundle or a missing executable in `exec`.
    pub fn is_gone(&self) -> bool {
        match self {
            Error::Command { message, .. } => {
                GONE_MESSAGES.iter().any(|gone| message.contains(gone))
            }
            _ => false,
        }
    }
}

/// The message of a failed command, for display: empty when it would only
/// repeat the exit status.
fn detail(message: &str, status: i32) -> String {
    if message.is_empty() || message == exit_status_message(status) {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// The fallback message of a command that explained nothing.
pub(crate) fn exit_status_message(status: i32) -> String {
    format!("exit status {status}")
}

/// Result of runsc invocations.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    fn command_error(message: &str) -> Error {
        Error::Command {
            subcommand: "kill".into(),
            status: 128,
            message: message.into(),
        }
    }

    #[test]
    fn gone_messages_observed_from_runsc_20221219() {
        for message in [
            "sandbox is not running",
            "waiting on container \"c1\": sandbox no longer running and its exit status is unavailable",
            "loading container: file does not exist",
            "loading container \"c1\": file does not exist",
            "loading sandbox: file does not exist",
            "signaling container \"s1\": signaling process in container \"s1\" PID 0: no such process",
            "failed to signal pid 99: signaling container \"c2\" PID 99: signaling process in container \"c2\" PID 99: no such process with PID 99",
            "waiting on PID 99 in container \"c2\": waiting on PID 99 in sandbox \"c2\": waiting for PID 99: no such process",
            "getting processes for container: cannot get processes of container \"c1\" in state stopped",
            "pause failed: cannot pause container \"c1\" in state stopped",
        ] {
            assert!(command_error(message).is_gone(), "{message}");
        }
    }

    #[test]
    fn other_failures_are_not_gone() {
        for message in [
            "cannot signal container \"c2\" in state created",
            "executing processes for container: executing command \"/nope\" in sandbox: failed to load /nope: no such file or directory",
            "reading spec: error opening spec file \"/b/config.json\": open /b/config.json: no such file or directory",
            "exit status 128",
        ] {
            assert!(!command_error(message).is_gone(), "{message}");
        }
        let timeout = Error::Timeout {
            subcommand: "kill".into(),
            after: Duration::from_secs(30),
        };
        assert!(!timeout.is_gone());
    }

    #[test]
    fn display_names_the_problem() {
        assert_eq!(
            command_error("sandbox is not running").to_string(),
            "runsc kill failed (exit status 128): sandbox is not running"
        );
        assert_eq!(
            command_error("exit status 128").to_string(),
            "runsc kill failed (exit status 128)"
        );
        let timeout = Error::Timeout {
            subcommand: "kill".into(),
            after: Duration::from_secs(30),
        };
        assert_eq!(timeout.to_string(), "runsc kill timed out after 30s");
        let spawn = Error::Spawn {
            binary: "/nope/runsc".into(),
            source: io::Error::from_raw_os_error(2),
        };
        assert_eq!(
            spawn.to_string(),
            "runsc binary \"/nope/runsc\" could not be started: No such file or directory (os error 2)"
        );
    }
}
