//! Other versions of Debian packages, through `scripts/versions.sh`: each
//! version is downloaded once and unpacked into a cache directory
//! (`~/.cache/runsc-shim-versions/<pkg>-<ver>/`), the system's packages
//! untouched.

use std::process::Command;
use std::time::Duration;

use crate::command;
use crate::error::{Error, Result};
use crate::locate::workspace_root;

/// How long versions.sh may take (`apt-get update` and downloads when the
/// cache is cold).
const FETCH_TIMEOUT: Duration = Duration::from_secs(600);

/// Fetches every `(package, version)` of `wanted` (e.g. `("docker", "28.5.2")`)
/// and returns what versions.sh provides for each, in the same order: the
/// directory or binary it printed. A version that cannot be downloaded is an
/// error carrying versions.sh's reason.
pub fn fetch(wanted: &[(&str, &str)]) -> Result<Vec<std::path::PathBuf>> {
    let script = workspace_root().join("scripts").join("versions.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script)
        .args(wanted.iter().map(|(pkg, ver)| format!("{pkg}={ver}")));
    let out = command::run(cmd, FETCH_TIMEOUT)?;
    if !out.success() {
        return Err(Error::msg(format!("{} failed: {out}", script.display())));
    }
    wanted
        .iter()
        .map(|(pkg, ver)| provided(&out.stdout, pkg, ver))
        .collect()
}

/// The path versions.sh printed for `pkg` `ver` (`pkg\tver\tpath` or
/// `pkg\tver\tUNAVAILABLE\twhy`).
fn provided(output: &str, pkg: &str, ver: &str) -> Result<std::path::PathBuf> {
    let line = output
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && f[0] == pkg && f[1] == ver)
        .ok_or_else(|| Error::msg(format!("versions.sh printed nothing for {pkg} {ver}")))?;
    match line[2] {
        "UNAVAILABLE" => Err(Error::msg(format!(
            "{pkg} {ver} cannot be fetched: {}",
            line.get(3).copied().unwrap_or("no reason given")
        ))),
        path => Ok(path.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_unavailable_versions() {
        let out = "docker\t28.5.2\t/c/docker-28.5.2/bin\n\
                   containerd\t2.1.9\tUNAVAILABLE\tapt-get update failed: offline\n";
        assert_eq!(
            provided(out, "docker", "28.5.2").unwrap(),
            std::path::Path::new("/c/docker-28.5.2/bin")
        );
        let err = provided(out, "containerd", "2.1.9")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "containerd 2.1.9 cannot be fetched: apt-get update failed: offline"
        );
        assert!(provided(out, "runsc", "20221219").is_err());
    }
}
