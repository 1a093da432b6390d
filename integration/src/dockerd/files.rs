//! Where a private dockerd keeps its files (all under one short directory)
//! and its daemon.json without the runtimes, which `containerd-shim-runsc-v1
//! config-docker` adds the way an operator would.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::layout::{Layout, MAX_SOCKET_PATH};

/// The file layout of one private dockerd rooted at `dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerLayout {
    dir: PathBuf,
}

impl DockerLayout {
    /// Describes the instance rooted at `dir` (absolute).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DockerLayout { dir: dir.into() }
    }

    /// The instance's root directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The shim's side of the instance: `bin/` (the shim symlink on
    /// dockerd's PATH) and `runsc-root/` (runsc's state, per runsc.toml).
    pub fn shim(&self) -> Layout {
        Layout::new(&self.dir)
    }

    /// dockerd's config file (`--config-file`).
    pub fn daemon_json(&self) -> PathBuf {
        self.dir.join("daemon.json")
    }

    /// dockerd's API socket (`docker -H unix://...`).
    pub fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    /// dockerd's `data-root` (images, containers, containerd's root).
    pub fn data_root(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// dockerd's `exec-root` (its managed containerd's state and sockets).
    pub fn exec_root(&self) -> PathBuf {
        self.dir.join("exec")
    }

    /// The grpc socket of dockerd's managed containerd: the `-address` of
    /// its shims.
    pub fn containerd_socket(&self) -> PathBuf {
        self.exec_root().join("containerd").join("containerd.sock")
    }

    /// dockerd's pid file.
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("docker.pid")
    }

    /// dockerd's (and its containerd's) combined stdout and stderr.
    pub fn log(&self) -> PathBuf {
        self.dir.join("dockerd.log")
    }

    /// The docker CLI's own config directory (`DOCKER_CONFIG`), so that it
    /// never writes to `~/.docker`.
    pub fn cli_config(&self) -> PathBuf {
        self.dir.join("cli")
    }

    /// Where `docker run --cidfile` records the id of container `name`.
    pub fn cid_file(&self, name: &str) -> PathBuf {
        self.dir.join("cids").join(name)
    }

    /// The runsc.toml of runtime `name` (its `options.ConfigPath`).
    pub fn runtime_config(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.toml"))
    }

    /// The cgroup (cgroupfs) Docker puts its containers under, unique to the
    /// instance: `rsd-XXXXXX`, the directory's name (Docker's own default is
    /// `docker`).
    pub fn cgroup_parent(&self) -> String {
        self.dir
            .file_name()
            .map_or_else(|| "rsd".to_string(), |n| n.to_string_lossy().into_owned())
    }

    /// Whether the longest socket path of the instance fits in `sun_path`.
    pub fn sockets_fit(&self) -> bool {
        let ttrpc = self.containerd_socket().with_extension("sock.ttrpc");
        ttrpc.as_os_str().len() <= MAX_SOCKET_PATH
    }
}

/// daemon.json with everything under the layout's directory and no host
/// networking: no bridge, no iptables, no userland proxy (containers run
/// with `--network none`: runsc's sandbox network cannot be set up on this
/// kernel), and containerd's image store (`containerd-snapshotter`).
pub fn daemon_json(layout: &DockerLayout) -> String {
    let path = |p: PathBuf| p.display().to_string();
    let config = json!({
        "data-root": path(layout.data_root()),
        "exec-root": path(layout.exec_root()),
        "pidfile": path(layout.pid_file()),
        "hosts": [format!("unix://{}", layout.socket().display())],
        "iptables": false,
        "ip6tables": false,
        "bridge": "none",
        "userland-proxy": false,
        "cgroup-parent": format!("/{}", layout.cgroup_parent()),
        "features": {"containerd-snapshotter": true},
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&config).expect("json serializes")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_json_keeps_everything_under_dir() {
        let layout = DockerLayout::new("/tmp/rsd-x");
        let v: serde_json::Value = serde_json::from_str(&daemon_json(&layout)).unwrap();
        assert_eq!(v["hosts"][0], "unix:///tmp/rsd-x/docker.sock");
        assert_eq!(v["bridge"], "none");
        assert_eq!(v["cgroup-parent"], "/rsd-x");
        assert!(v.get("runtimes").is_none());
        for key in ["data-root", "exec-root", "pidfile"] {
            assert!(v[key].as_str().unwrap().starts_with("/tmp/rsd-x/"), "{v}");
        }
        assert_eq!(
            layout.containerd_socket(),
            Path::new("/tmp/rsd-x/exec/containerd/containerd.sock")
        );
        assert!(layout.sockets_fit());
        assert!(!DockerLayout::new(format!("/tmp/{}", "x".repeat(80))).sockets_fit());
    }
}
