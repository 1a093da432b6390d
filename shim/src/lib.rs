//! The insides of `containerd-shim-runsc-v1`, a library so that fuzz
//! targets and tools can reach the parsers; the binary is `main.rs`.

pub mod bundle;
pub mod cleanup;
pub mod config;
pub mod console;
pub mod container;
pub mod error;
pub mod events;
pub mod ids;
pub mod launch;
pub mod logger;
pub mod mounts;
pub mod node;
pub mod oom;
pub mod options;
pub mod overhead;
pub mod pod;
pub mod process;
pub mod shim;
pub mod spawner;
pub mod stats;
pub mod stdio;
pub mod task;
pub mod tty;
pub mod typeurl;
pub mod volumes;

// The terminal relay runs inside containers as a program of its own
// (`build.rs` builds it); compiled here too for its unit tests and lints.
#[cfg(test)]
#[path = "../tty-relay/relay.rs"]
mod tty_relay_program;
