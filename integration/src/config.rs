//! The files a private containerd instance is configured with: containerd's
//! config.toml, the runsc shim's runsc.toml, a CNI bridge network and the
//! `runsc` wrapper used when runsc is driven through the runc shim.

use std::path::Path;

use crate::layout::Layout;
use crate::versions;

/// The runsc binary every config points at.
pub const RUNSC_BINARY: &str = "/usr/bin/runsc";

/// Sandbox (pause) image of the CRI plugin; the harness builds and imports it.
pub const PAUSE_IMAGE: &str = "localhost/pause:local";

/// Runtime type that makes containerd run `containerd-shim-runsc-v1`.
pub const RUNSC_RUNTIME_TYPE: &str = "io.containerd.runsc.v1";

/// Renders containerd's config.toml for the containerd the harness runs (see
/// [`versions::containerd_major`]).
pub fn containerd_config(layout: &Layout) -> String {
    containerd_config_for(layout, versions::containerd_major())
}

/// Renders containerd's config.toml for containerd `major`: version 2 for
/// containerd 1.x, version 3 for 2.x. Every path is under the layout's
/// directory; the CRI plugin knows handlers `runc` (default), `runsc`, `runsc-cli` (the
/// shim with `control_server = false`) and `runsc-via-runc-shim`.
pub fn containerd_config_for(layout: &Layout, major: u32) -> String {
    if major >= 2 {
        return containerd_config_v3(layout);
    }
    let dir = layout.dir();
    let cri = r#"plugins."io.containerd.grpc.v1.cri""#;
    let rt = format!("{cri}.containerd.runtimes");
    format!(
        r#"# Private containerd for the containerd-shim-runsc-v1 test harness.
version = 2
root = {root}
state = {state}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = {grpc}
[ttrpc]
  address = {ttrpc}
[debug]
  address = {debug}
  level = "info"
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = {opt}

[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_tcp_service = true
  enable_selinux = false
  netns_mounts_under_state_dir = true
  # root lacks CAP_SYS_RESOURCE here: a sandbox oom_score_adj of -998 cannot be set.
  restrict_oom_score_adj = true
  [{cri}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = {cni_conf}
    max_conf_num = 1
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{rt}.runc]
      runtime_type = "io.containerd.runc.v2"
      [{rt}.runc.options]
        Root = {runc_root}
    [{rt}.runsc]
      runtime_type = "{RUNSC_RUNTIME_TYPE}"
      # gVisor's mount hints are pod annotations (dev.gvisor.spec.mount.*).
      pod_annotations = ["dev.gvisor.*"]
      [{rt}.runsc.options]
        TypeUrl = "io.containerd.runsc.v1.options"
        ConfigPath = {runsc_config}
    # The shim with control_server = false: every call through the runsc CLI.
    [{rt}.runsc-cli]
      runtime_type = "{RUNSC_RUNTIME_TYPE}"
      [{rt}.runsc-cli.options]
        TypeUrl = "io.containerd.runsc.v1.options"
        ConfigPath = {runsc_cli_config}
    # The Go peer: containerd's runc shim driving runsc through the wrapper
    # (benchmarks; app containers in its pods do not work).
    [{rt}.runsc-via-runc-shim]
      runtime_type = "io.containerd.runc.v2"
      [{rt}.runsc-via-runc-shim.options]
        BinaryName = {runsc_wrapper}
        Root = {runsc_peer_root}
"#,
        root = quote(&dir.join("root")),
        state = quote(&layout.state()),
        grpc = quote(&layout.socket()),
        ttrpc = quote(&layout.ttrpc_socket()),
        debug = quote(&dir.join("debug.sock")),
        opt = quote(&dir.join("opt")),
        cni_conf = quote(&layout.cni_conf_dir()),
        runc_root = quote(&layout.runc_root()),
        runsc_config = quote(&layout.runsc_config()),
        runsc_cli_config = quote(&layout.runsc_cli_config()),
        runsc_wrapper = quote(&layout.runsc_wrapper()),
        runsc_peer_root = quote(&layout.runsc_via_runc_shim_root()),
    )
}

/// containerd 2.x's config (version 3): the CRI plugin is split into
/// `io.containerd.cri.v1.images` (snapshotter, pause image) and
/// `io.containerd.cri.v1.runtime` (runtimes, CNI), the server settings stay
/// under `io.containerd.grpc.v1.cri`. NRI (enabled by default in 2.x, one
/// socket per host) is disabled so that instances run side by side.
fn containerd_config_v3(layout: &Layout) -> String {
    let dir = layout.dir();
    let images = r#"plugins."io.containerd.cri.v1.images""#;
    let runtime = r#"plugins."io.containerd.cri.v1.runtime""#;
    let rt = format!("{runtime}.containerd.runtimes");
    format!(
        r#"# Private containerd 2.x for the containerd-shim-runsc-v1 test harness.
version = 3
root = {root}
state = {state}
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.nri.v1.nri"]

[grpc]
  address = {grpc}
[ttrpc]
  address = {ttrpc}
[debug]
  address = {debug}
  level = "info"
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = {opt}

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_tcp_service = true

[{images}]
  snapshotter = "overlayfs"
  [{images}.pinned_images]
    sandbox = "{PAUSE_IMAGE}"

[{runtime}]
  enable_selinux = false
  netns_mounts_under_state_dir = true
  # root lacks CAP_SYS_RESOURCE here: a sandbox oom_score_adj of -998 cannot be set.
  restrict_oom_score_adj = true
  [{runtime}.cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = {cni_conf}
    max_conf_num = 1
  [{runtime}.containerd]
    default_runtime_name = "runc"
    [{rt}.runc]
      runtime_type = "io.containerd.runc.v2"
      [{rt}.runc.options]
        Root = {runc_root}
    [{rt}.runsc]
      runtime_type = "{RUNSC_RUNTIME_TYPE}"
      pod_annotations = ["dev.gvisor.*"]
      [{rt}.runsc.options]
        TypeUrl = "io.containerd.runsc.v1.options"
        ConfigPath = {runsc_config}
    # The shim with control_server = false: every call through the runsc CLI.
    [{rt}.runsc-cli]
      runtime_type = "{RUNSC_RUNTIME_TYPE}"
      [{rt}.runsc-cli.options]
        TypeUrl = "io.containerd.runsc.v1.options"
        ConfigPath = {runsc_cli_config}
    [{rt}.runsc-via-runc-shim]
      runtime_type = "io.containerd.runc.v2"
      [{rt}.runsc-via-runc-shim.options]
        BinaryName = {runsc_wrapper}
        Root = {runsc_peer_root}
"#,
        root = quote(&dir.join("root")),
        state = quote(&layout.state()),
        grpc = quote(&layout.socket()),
        ttrpc = quote(&layout.ttrpc_socket()),
        debug = quote(&dir.join("debug.sock")),
        opt = quote(&dir.join("opt")),
        cni_conf = quote(&layout.cni_conf_dir()),
        runc_root = quote(&layout.runc_root()),
        runsc_config = quote(&layout.runsc_config()),
        runsc_cli_config = quote(&layout.runsc_cli_config()),
        runsc_wrapper = quote(&layout.runsc_wrapper()),
        runsc_peer_root = quote(&layout.runsc_via_runc_shim_root()),
    )
}

/// Renders runsc.toml for the runsc shim. `extra` (raw TOML: top-level keys or
/// whole tables) goes before the `[runsc_config]` table.
pub fn runsc_config(layout: &Layout, extra: &str) -> String {
    let extra = if extra.is_empty() || extra.ends_with('\n') {
        extra.to_string()
    } else {
        format!("{extra}\n")
    };
    format!(
        r#"binary_name = {runsc}
root = {root}
log_level = "debug"
# kubelet would put pod logs under /var/log/pods; the harness's CRI client here.
pod_log_root = {pod_logs}
{extra}
# Passed to runsc as --key=value. runsc 20221219 cannot set up its sandbox network
# on kernels >= 6.10 (gVisor issue 10704), and its kvm platform hangs in this VM.
[runsc_config]
  network = "none"
  platform = "{platform}"
"#,
        runsc = quote(&versions::runsc_binary()),
        platform = versions::runsc_platform(),
        root = quote(&layout.runsc_root()),
        pod_logs = quote(&layout.pod_logs()),
    )
}

/// Renders the CNI network: a bridge unique to this instance with host-local IPAM;
/// no gateway and no masquerading, so nothing is routed off the machine.
pub fn cni_conflist(layout: &Layout) -> String {
    let bridge = layout.bridge_name();
    let ipam_dir = quote(&layout.dir().join("cni").join("ipam"));
    format!(
        r#"{{
  "cniVersion": "0.4.0",
  "name": "harness-{bridge}",
  "plugins": [
    {{
      "type": "bridge",
      "bridge": "{bridge}",
      "isGateway": false,
      "ipMasq": false,
      "hairpinMode": false,
      "ipam": {{
        "type": "host-local",
        "dataDir": {ipam_dir},
        "ranges": [[{{"subnet": "198.18.0.0/24"}}]]
      }}
    }}
  ]
}}
"#
    )
}

/// A `runc`-compatible wrapper around runsc with the flags this machine needs, for
/// driving runsc through containerd's runc shim (`ctr run --runc-binary`), which
/// cannot pass extra global flags itself.
pub fn runsc_via_runc_shim_wrapper() -> String {
    format!(
        "#!/bin/sh\nexec {} --network=none --platform={} \"$@\"\n",
        versions::runsc_binary().display(),
        versions::runsc_platform()
    )
}

/// A path as a TOML/JSON basic string (the escaping rules coincide for paths).
fn quote(path: &Path) -> String {
    serde_json::to_string(&path.display().to_string()).expect("strings serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containerd_config_keeps_everything_under_dir() {
        let text = containerd_config(&Layout::new("/tmp/rsc-x"));
        assert!(text.contains(r#"address = "/tmp/rsc-x/containerd.sock""#));
        assert!(text.contains(r#"ConfigPath = "/tmp/rsc-x/runsc.toml""#));
        assert!(text.contains(r#"runtime_type = "io.containerd.runsc.v1""#));
        assert!(text.contains("restrict_oom_score_adj = true"));
        for line in text.lines().filter(|l| l.contains("= \"/")) {
            assert!(
                line.contains("\"/tmp/rsc-x/") || line.contains("\"/usr/lib/cni\""),
                "path outside the instance dir: {line}"
            );
        }
    }

    #[test]
    fn containerd_2_gets_a_version_3_config_with_the_split_cri_plugins() {
        let text = containerd_config_for(&Layout::new("/tmp/rsc-x"), 2);
        assert!(text.contains("version = 3"));
        let rt = r#"[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runsc]"#;
        assert!(text.contains(rt), "{text}");
        assert!(text.contains(r#"ConfigPath = "/tmp/rsc-x/runsc.toml""#));
        assert!(text.contains(r#"sandbox = "localhost/pause:local""#));
        assert!(!text.contains(r#"io.containerd.grpc.v1.cri".containerd"#));
        for line in text.lines().filter(|l| l.contains("\"/")) {
            assert!(
                line.contains("\"/tmp/rsc-x/") || line.contains("\"/usr/lib/cni\""),
                "path outside the instance dir: {line}"
            );
        }
        let v1 = containerd_config_for(&Layout::new("/tmp/rsc-x"), 1);
        assert!(v1.contains("version = 2"));
    }

    #[test]
    fn runsc_config_puts_extra_before_the_flags_table() {
        let text = runsc_config(&Layout::new("/tmp/rsc-x"), "log_path = \"/tmp/l\"");
        let extra = text.find("log_path").unwrap();
        let table = text.find("[runsc_config]").unwrap();
        assert!(extra < table, "{text}");
        assert!(text.contains(r#"root = "/tmp/rsc-x/runsc-root""#));
        assert!(text.contains(r#"network = "none""#));
    }

    #[test]
    fn cni_conflist_is_json_naming_the_bridge() {
        let layout = Layout::new("/tmp/rsc-x");
        let v: serde_json::Value = serde_json::from_str(&cni_conflist(&layout)).unwrap();
        assert_eq!(v["plugins"][0]["bridge"], layout.bridge_name().as_str());
    }
}
