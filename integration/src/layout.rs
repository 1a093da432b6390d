//! Where a private containerd instance keeps its files: everything lives under one
//! short directory, so that sockets fit in `sun_path` and cleanup is a single `rm -rf`.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// unix socket paths (`sun_path`) hold at most 107 bytes plus the NUL.
pub(crate) const MAX_SOCKET_PATH: usize = 107;

/// Directory where containerd 1.6 puts shim sockets (not configurable).
pub const SHIM_SOCKET_DIR: &str = "/run/containerd/s";

/// The file layout of one private containerd instance rooted at `dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// Describes the instance rooted at `dir` (which must be absolute).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Layout { dir: dir.into() }
    }

    /// The instance's root directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// containerd's grpc socket (the `--address` of `ctr`).
    pub fn socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }

    /// containerd's ttrpc socket (used by shims to publish events).
    pub fn ttrpc_socket(&self) -> PathBuf {
        self.dir.join("containerd.sock.ttrpc")
    }

    /// Whether the longest socket path of this layout fits in `sun_path`.
    pub fn sockets_fit(&self) -> bool {
        self.ttrpc_socket().as_os_str().len() <= MAX_SOCKET_PATH
    }

    /// containerd's config file.
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    /// The options file handed to the runsc shim (`--runtime-config-path`, `ConfigPath`).
    pub fn runsc_config(&self) -> PathBuf {
        self.dir.join("runsc.toml")
    }

    /// The same options with `control_server = false` (runtime handler
    /// `runsc-cli`: the shim runs the runsc CLI for every call).
    pub fn runsc_cli_config(&self) -> PathBuf {
        self.dir.join("runsc-cli.toml")
    }

    /// containerd's combined stdout/stderr.
    pub fn log(&self) -> PathBuf {
        self.dir.join("containerd.log")
    }

    /// File holding containerd's pid (read by `harness down`).
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("containerd.pid")
    }

    /// Directory prepended to containerd's PATH; holds the shim symlink.
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.join("bin")
    }

    /// The runsc wrapper used as `--runc-binary` of containerd's runc shim.
    pub fn runsc_wrapper(&self) -> PathBuf {
        self.bin_dir().join("runsc-peer")
    }

    /// runsc's state root when runsc is driven through the runc shim.
    pub fn runsc_via_runc_shim_root(&self) -> PathBuf {
        self.dir.join("runsc-via-runc-shim-root")
    }

    /// containerd's state directory.
    pub fn state(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// Directory holding one directory of task bundles per namespace.
    pub fn task_bundles(&self) -> PathBuf {
        self.state().join("io.containerd.runtime.v2.task")
    }

    /// The runsc state root configured in runsc.toml (the shim gives runsc
    /// `<this>/<namespace>/<container id>`).
    pub fn runsc_root(&self) -> PathBuf {
        self.dir.join("runsc-root")
    }

    /// runc's state root (`--runc-root` of ctr, `Root` of the CRI runc handler).
    pub fn runc_root(&self) -> PathBuf {
        self.dir.join("runc-root")
    }

    /// Directory of the CNI network config.
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.dir.join("cni").join("net.d")
    }

    /// Root of the CRI pods' log directories.
    pub fn pod_logs(&self) -> PathBuf {
        self.dir.join("pods")
    }

    /// The cgroup parents of the CRI pods run so far, one a line; exists once
    /// the CRI client was used.
    pub fn cri_pod_cgroups(&self) -> PathBuf {
        self.dir.join("cri-pod-cgroups")
    }

    /// host-local IPAM state of the CNI network (one file per allocated address).
    pub fn cni_ipam_dir(&self) -> PathBuf {
        self.dir.join("cni").join("ipam")
    }

    /// Name of the CNI bridge: `cl` + 6 hex digits of sha256(dir), unique per instance
    /// and within the 15-byte limit of interface names.
    pub fn bridge_name(&self) -> String {
        let hash = hex_sha256(self.dir.as_os_str().as_encoded_bytes());
        format!("cl{}", &hash[..6])
    }

    /// The socket containerd 1.6 gives the shim of container `id` in namespace `ns`:
    /// `/run/containerd/s/<sha256("<grpc address>/<ns>/<id>")>`.
    pub fn shim_socket(&self, ns: &str, id: &str) -> PathBuf {
        shim_socket_of(&self.socket(), ns, id)
    }
}

/// The socket a containerd serving grpc on `address` gives the shim of
/// container `id` in namespace `ns` (containerd 1.6 through 2.x):
/// `/run/containerd/s/<sha256("<address>/<ns>/<id>")>`.
pub fn shim_socket_of(address: &Path, ns: &str, id: &str) -> PathBuf {
    let key = format!("{}/{ns}/{id}", address.display());
    Path::new(SHIM_SOCKET_DIR).join(hex_sha256(key.as_bytes()))
}

/// Lower-case hex sha256 of `data`.
pub fn hex_sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shim_socket_hashes_address_namespace_and_id() {
        let l = Layout::new("/tmp/rsc-abc");
        // printf '%s' /tmp/rsc-abc/containerd.sock/default/c1 | sha256sum
        assert_eq!(
            l.shim_socket("default", "c1"),
            Path::new(
                "/run/containerd/s/4779713c31189abf983deaace4f798cde1b7c392673a2c3b056670286d08b9f6"
            )
        );
    }

    #[test]
    fn bridge_name_fits_interface_name_limit() {
        // printf '%s' /tmp/rsc-abc | sha256sum | cut -c1-6
        assert_eq!(Layout::new("/tmp/rsc-abc").bridge_name(), "clef8b46");
    }

    #[test]
    fn long_dirs_do_not_fit_sockets() {
        assert!(Layout::new("/tmp/rsc-abc").sockets_fit());
        assert!(!Layout::new(format!("/tmp/{}", "x".repeat(100))).sockets_fit());
    }
}
