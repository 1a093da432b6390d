//! Finding the shim binary under test and cargo's target directory.

use std::env;
use std::path::{Path, PathBuf};

/// File name containerd resolves for runtime `io.containerd.runsc.v1`.
pub const SHIM_NAME: &str = "containerd-shim-runsc-v1";

/// Environment variable that overrides the shim binary's location.
pub const SHIM_BINARY_ENV: &str = "SHIM_BINARY";

/// The cargo workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// cargo's target directory: `$CARGO_TARGET_DIR` (relative to the workspace root
/// if relative), else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace_root().join(dir),
        _ => workspace_root().join("target"),
    }
}

/// The shim binary to test: `$SHIM_BINARY` if set; else the shim next to the
/// running executable's cargo profile directory (`target/<profile>/`, which also
/// covers test binaries in `target/<profile>/deps/`); else
/// `<target dir>/debug/containerd-shim-runsc-v1`. The path may not exist yet.
pub fn shim_binary() -> PathBuf {
    if let Some(path) = env::var_os(SHIM_BINARY_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    env::current_exe()
        .ok()
        .and_then(|exe| profile_dir_of(&exe))
        .map(|dir| dir.join(SHIM_NAME))
        .filter(|shim| shim.exists())
        .unwrap_or_else(|| target_dir().join("debug").join(SHIM_NAME))
}

/// `target/<profile>` for an executable at `target/<profile>/x` or
/// `target/<profile>/deps/x`.
fn profile_dir_of(exe: &Path) -> Option<PathBuf> {
    let dir = exe.parent()?;
    if dir.file_name()? == "deps" {
        dir.parent().map(Path::to_path_buf)
    } else {
        Some(dir.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_dir_skips_deps() {
        assert_eq!(
            profile_dir_of(Path::new("/w/target/debug/deps/e2e-123")),
            Some(PathBuf::from("/w/target/debug"))
        );
        assert_eq!(
            profile_dir_of(Path::new("/w/target/release/harness")),
            Some(PathBuf::from("/w/target/release"))
        );
    }
}
