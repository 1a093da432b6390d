//! Whether this machine can run a private containerd with runsc at all.

use std::path::Path;

use crate::versions;

/// Commands the harness runs, looked up on PATH.
const COMMANDS: [&str; 2] = ["cc", "busybox"];

/// What is missing for end-to-end tests (root, containerd, ctr, runsc, a C
/// compiler, busybox); empty when everything is there.
pub fn missing_requirements() -> Vec<String> {
    let mut missing = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        missing.push("root privileges".to_string());
    }
    for command in COMMANDS {
        if !on_path(command) {
            missing.push(format!("`{command}` on PATH"));
        }
    }
    // containerd and ctr: on PATH, or in $E2E_CONTAINERD.
    for binary in [versions::containerd_binary(), versions::ctr_binary()] {
        let found = match binary.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(_) => binary.is_file(),
            None => on_path(&binary.to_string_lossy()),
        };
        if !found {
            missing.push(format!("`{}`", binary.display()));
        }
    }
    let runsc = versions::runsc_binary();
    if !Path::new(&runsc).exists() {
        missing.push(runsc.display().to_string());
    }
    missing
}

/// Prints `SKIP <test>: <why>` straight to file descriptor 2, so that the line
/// shows up even while libtest captures the test's output.
pub fn report_skip(test: &str, why: &str) {
    let line = format!("SKIP {test}: {why}\n");
    let _ = nix::unistd::write(std::io::stderr(), line.as_bytes());
}

pub(crate) fn on_path(command: &str) -> bool {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .any(|dir| dir.join(command).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_is_on_path_and_nonsense_is_not() {
        assert!(on_path("sh"));
        assert!(!on_path("no-such-command-harness"));
    }
}
