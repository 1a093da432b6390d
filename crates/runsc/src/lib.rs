//! A typed async wrapper of gVisor's `runsc` command line, for the
//! `containerd-shim-runsc-v1` shim.
//!
//! [`Runsc`] runs one runsc process per call through a [`Spawner`]: the shim
//! plugs in one that learns exit statuses from its reaper, while
//! [`DirectSpawner`] waits with tokio itself. Errors carry runsc's own message,
//! read back from its JSON `--log` file, and [`Error::is_gone`] recognises the
//! "container already gone" family of failures.
//!
//! Checked against runsc 0.0~20221219 (Debian).

mod client;
mod control;
mod error;
mod logfile;
mod options;
mod spawn;
mod stdio;
mod types;

pub use client::{Runsc, DEFAULT_LONG_TIMEOUT, DEFAULT_SHORT_TIMEOUT};
pub use control::{ControlAddress, ControlClient, SandboxEvent};
pub use error::{Error, Result};
pub use options::{CreateOpts, ExecOpts, GlobalOptions, KillOpts};
pub use spawn::{subcommand_of, DirectSpawner, Output, Spawner};
pub use stdio::ProcessIo;
pub use types::{
    Cpu, CpuUsage, Memory, MemoryEntry, Pids, State, Stats, StatsEvent, Throttling, WaitStatus,
};
