//! Standard streams of runsc processes.

use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};

/// stdio handed to a runsc process and inherited by what it starts (the
/// sandbox for `create`, a subcontainer for `start`, the exec'd process for
/// `exec`). `None` means `/dev/null`.
///
/// runsc's children keep these descriptors open long after runsc exits, so
/// they must never be pipes that the caller reads to end-of-file while
/// waiting for runsc.
#[derive(Debug, Default)]
pub struct ProcessIo {
    /// Standard input.
    pub stdin: Option<OwnedFd>,
    /// Standard output.
    pub stdout: Option<OwnedFd>,
    /// Standard error.
    pub stderr: Option<OwnedFd>,
}

impl ProcessIo {
    /// Gives these streams to `cmd`.
    pub(crate) fn attach(self, cmd: &mut Command) {
        cmd.stdin(stdio(self.stdin))
            .stdout(stdio(self.stdout))
            .stderr(stdio(self.stderr));
    }
}

/// The descriptor, or `/dev/null`.
fn stdio(fd: Option<OwnedFd>) -> Stdio {
    fd.map_or_else(Stdio::null, Stdio::from)
}
