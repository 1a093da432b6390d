//! Which containerd, ctr and runsc a test run uses (the compatibility matrix):
//!
//! - `E2E_CONTAINERD=<dir>`: containerd, ctr and containerd-shim-runc-v2 from
//!   this directory (e.g. a package unpacked by `scripts/versions.sh`);
//!   default: `containerd` and `ctr` on `PATH`.
//! - `E2E_RUNSC=<path>`: the runsc binary runsc.toml names; default
//!   `/usr/bin/runsc`.
//! - `E2E_RUNSC_PLATFORM=<platform>`: runsc's `--platform`; default: the
//!   runsc binary's own default (`runsc flags`): ptrace for 20221219, systrap
//!   for 20240729 (whose ptrace works too); the kvm platform hangs in this VM.
//!
//! The containerd's major version decides the config format it gets
//! (version 3 with the `io.containerd.cri.v1.*` plugins from containerd 2).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::command;
use crate::config::RUNSC_BINARY;

/// Directory with the containerd binaries to use instead of those on `PATH`.
pub const CONTAINERD_DIR_ENV: &str = "E2E_CONTAINERD";
/// The runsc binary to use instead of [`RUNSC_BINARY`].
pub const RUNSC_ENV: &str = "E2E_RUNSC";
/// runsc's platform instead of `ptrace`.
pub const RUNSC_PLATFORM_ENV: &str = "E2E_RUNSC_PLATFORM";

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `$E2E_CONTAINERD`, if set.
pub fn containerd_dir() -> Option<PathBuf> {
    env_path(CONTAINERD_DIR_ENV)
}

/// The containerd binary: `$E2E_CONTAINERD/containerd`, else `containerd`.
pub fn containerd_binary() -> PathBuf {
    containerd_dir().map_or_else(|| "containerd".into(), |d| d.join("containerd"))
}

/// The ctr binary of the same package: `$E2E_CONTAINERD/ctr`, else `ctr`.
pub fn ctr_binary() -> PathBuf {
    containerd_dir().map_or_else(|| "ctr".into(), |d| d.join("ctr"))
}

/// The runsc binary: `$E2E_RUNSC`, else [`RUNSC_BINARY`].
pub fn runsc_binary() -> PathBuf {
    env_path(RUNSC_ENV).unwrap_or_else(|| RUNSC_BINARY.into())
}

/// runsc's platform: `$E2E_RUNSC_PLATFORM`, else the default platform the
/// runsc binary names in `runsc flags` (ptrace up to 2023, then systrap; runsc
/// 20240729's ptrace panics on this host's kernel), else `ptrace`.
pub fn runsc_platform() -> String {
    if let Some(p) = std::env::var(RUNSC_PLATFORM_ENV)
        .ok()
        .filter(|p| !p.is_empty())
    {
        return p;
    }
    static DEFAULT: OnceLock<String> = OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            let mut cmd = Command::new(runsc_binary());
            cmd.arg("flags");
            command::run(cmd, Duration::from_secs(10))
                .ok()
                .and_then(|out| default_platform(&format!("{}{}", out.stdout, out.stderr)))
                .unwrap_or_else(|| "ptrace".to_string())
        })
        .clone()
}

/// The default of `-platform` in `runsc flags` (Go's flag usage:
/// `specifies which platform to use: systrap (default), ptrace, kvm. (default "systrap")`).
fn default_platform(flags: &str) -> Option<String> {
    let mut lines = flags.lines();
    lines.find(|l| l.trim_start().starts_with("-platform string"))?;
    let usage = lines.next()?;
    let start = usage.find("(default \"")? + "(default \"".len();
    let len = usage[start..].find('"')?;
    Some(usage[start..start + len].to_string()).filter(|p| !p.is_empty())
}

/// The version `containerd --version` prints (e.g. `2.1.9+unknown`,
/// `1.6.20~ds1`); `None` if it cannot be run.
pub fn containerd_version() -> Option<String> {
    static VERSION: OnceLock<Option<String>> = OnceLock::new();
    VERSION
        .get_or_init(|| {
            let mut cmd = Command::new(containerd_binary());
            cmd.arg("--version");
            let out = command::run(cmd, Duration::from_secs(10)).ok()?;
            out.success()
                .then(|| parse_containerd_version(&out.stdout))
                .flatten()
        })
        .clone()
}

/// containerd's major version; 1 if it cannot be told.
pub fn containerd_major() -> u32 {
    containerd_version().and_then(|v| major_of(&v)).unwrap_or(1)
}

/// The version field of `containerd --version`:
/// `containerd github.com/containerd/containerd/v2 2.1.9+unknown`.
fn parse_containerd_version(out: &str) -> Option<String> {
    out.split_whitespace()
        .nth(2)
        .map(|v| v.trim_start_matches('v').to_string())
}

fn major_of(version: &str) -> Option<u32> {
    version.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        let v2 = parse_containerd_version(
            "containerd github.com/containerd/containerd/v2 2.1.9+unknown \n",
        )
        .unwrap();
        assert_eq!(v2, "2.1.9+unknown");
        assert_eq!(major_of(&v2), Some(2));
        let v1 = parse_containerd_version(
            "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3",
        )
        .unwrap();
        assert_eq!(major_of(&v1), Some(1));
        assert_eq!(parse_containerd_version("containerd"), None);
    }

    #[test]
    fn default_platform_from_runsc_flags() {
        let y2024 = "  -pidns string\n  -platform string\n    \tspecifies which platform \
                     to use: systrap (default), ptrace, kvm. (default \"systrap\")\n  \
                     -platform_device_path string\n";
        assert_eq!(default_platform(y2024).as_deref(), Some("systrap"));
        let y2022 = "  -platform string\n    \tspecifies which platform to use: \
                     ptrace (default), kvm. (default \"ptrace\")\n";
        assert_eq!(default_platform(y2022).as_deref(), Some("ptrace"));
        assert_eq!(default_platform("  -network string\n"), None);
    }
}
