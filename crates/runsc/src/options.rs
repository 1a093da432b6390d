//! Options of runsc invocations and how they become command-line arguments.
//!
//! Global flags are rendered as single `--key=value` words; subcommand flags
//! as `--flag value` pairs. Empty paths are left out.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// Global options placed before every subcommand.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GlobalOptions {
    /// The runsc binary. A bare name such as `runsc` is looked up in `PATH`
    /// when spawned; empty means `runsc`.
    pub binary: PathBuf,
    /// State directory, `--root=<root>`; left out when empty (runsc then
    /// uses its default).
    pub root: PathBuf,
    /// runsc's log file, `--log=<path> --log-format=json`. Error messages are
    /// read back from it.
    pub log: Option<PathBuf>,
    /// Extra global flags in order, each rendered `--key=value` (the
    /// `[runsc_config]` table of runsc.toml).
    pub flags: Vec<(String, String)>,
}

impl GlobalOptions {
    /// The binary to spawn.
    pub(crate) fn binary(&self) -> &Path {
        if self.binary.as_os_str().is_empty() {
            Path::new("runsc")
        } else {
            &self.binary
        }
    }

    /// The global flags, in the order runsc gets them.
    pub(crate) fn args(&self) -> Vec<OsString> {
        let mut args = Vec::new();
        if !self.root.as_os_str().is_empty() {
            args.push(global_flag("root", &self.root));
        }
        if let Some(log) = &self.log {
            args.push(global_flag("log", log));
            args.push(global_flag("log-format", "json"));
        }
        for (key, value) in &self.flags {
            args.push(global_flag(key, value));
        }
        args
    }
}

/// `--key=value` as one word.
fn global_flag(key: &str, value: impl AsRef<OsStr>) -> OsString {
    let mut flag = OsString::from(format!("--{key}="));
    flag.push(value);
    flag
}

/// Options of `runsc create`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateOpts {
    /// Bundle directory (`--bundle`).
    pub bundle: PathBuf,
    /// Where runsc writes the sandbox's host pid (`--pid-file`).
    pub pid_file: PathBuf,
    /// Socket that receives the pty master for a terminal (`--console-socket`).
    pub console_socket: Option<PathBuf>,
    /// File for the sandbox's user-visible log (`--user-log`).
    pub user_log: Option<PathBuf>,
}

impl CreateOpts {
    /// `create ... <id>`.
    pub(crate) fn args(&self, id: &str) -> Vec<OsString> {
        let mut args = Args::new("create");
        args.path("bundle", &self.bundle)
            .path("pid-file", &self.pid_file)
            .optional_path("console-socket", self.console_socket.as_deref())
            .optional_path("user-log", self.user_log.as_deref())
            .word(id);
        args.0
    }
}

/// Options of `runsc exec`, which always runs detached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecOpts {
    /// Where runsc writes the host pid of its `exec` helper (`--pid-file`).
    pub pid_file: PathBuf,
    /// Where runsc writes the process's pid inside the sandbox
    /// (`--internal-pid-file`), the pid `wait --pid` and `kill --pid` take.
    pub internal_pid_file: PathBuf,
    /// Socket that receives the pty master for a terminal (`--console-socket`).
    pub console_socket: Option<PathBuf>,
}

impl ExecOpts {
    /// `exec ... <id>` for the process described in `process_json`.
    pub(crate) fn args(&self, id: &str, process_json: &Path) -> Vec<OsString> {
        let mut args = Args::new("exec");
        args.path("process", process_json)
            .optional_path("console-socket", self.console_socket.as_deref())
            .word("--detach")
            .path("pid-file", &self.pid_file)
            .path("internal-pid-file", &self.internal_pid_file)
            .word(id);
        args.0
    }
}

/// Options of `runsc kill`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KillOpts {
    /// Signal every process of the container (`--all`).
    pub all: bool,
    /// Signal only this process, a pid inside the sandbox (`--pid`).
    pub pid: Option<i32>,
}

impl KillOpts {
    /// `kill ... <id> <signal>`.
    pub(crate) fn args(&self, id: &str, signal: i32) -> Vec<OsString> {
        let mut args = Args::new("kill");
        if self.all {
            args.word("--all");
        }
        if let Some(pid) = self.pid {
            args.word("--pid").word(pid.to_string());
        }
        args.word(id).word(signal.to_string());
        args.0
    }
}

/// Builder of a subcommand's arguments.
pub(crate) struct Args(pub(crate) Vec<OsString>);

impl Args {
    /// Starts with the subcommand's name.
    pub(crate) fn new(subcommand: &str) -> Self {
        Self(vec![subcommand.into()])
    }

    /// Appends one word.
    pub(crate) fn word(&mut self, word: impl Into<OsString>) -> &mut Self {
        self.0.push(word.into());
        self
    }

    /// Appends `--flag <path>` unless `path` is empty.
    fn path(&mut self, flag: &str, path: &Path) -> &mut Self {
        if !path.as_os_str().is_empty() {
            self.word(format!("--{flag}")).word(path);
        }
        self
    }

    /// Appends `--flag <path>` when there is a path.
    fn optional_path(&mut self, flag: &str, path: Option<&Path>) -> &mut Self {
        match path {
            Some(path) => self.path(flag, path),
            None => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_flags_in_order() {
        let options = GlobalOptions {
            binary: "/usr/bin/runsc".into(),
            root: "/run/containerd/runsc/default".into(),
            log: Some("/b/log.json".into()),
            flags: vec![
                ("network".into(), "none".into()),
                ("debug".into(), "true".into()),
                ("debug-log".into(), "/var/log/runsc/c1/".into()),
            ],
        };
        assert_eq!(options.binary(), Path::new("/usr/bin/runsc"));
        assert_eq!(
            options.args(),
            [
                "--root=/run/containerd/runsc/default",
                "--log=/b/log.json",
                "--log-format=json",
                "--network=none",
                "--debug=true",
                "--debug-log=/var/log/runsc/c1/",
            ]
        );
    }

    #[test]
    fn empty_options_render_nothing() {
        let options = GlobalOptions::default();
        assert_eq!(options.binary(), Path::new("runsc"));
        assert!(options.args().is_empty());
        assert_eq!(CreateOpts::default().args("c1"), ["create", "c1"]);
    }
}
