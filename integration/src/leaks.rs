//! Finding what containers of a private containerd left behind on the host.

use std::fs;
use std::path::Path;

use crate::cri;
use crate::layout::Layout;
use crate::procfs;
use crate::teardown::{cgroup_hierarchies, is_our_runsc, is_our_shim};

/// Everything that should be gone once all containers of the instance are deleted:
/// shim, runsc and other processes pointing into the directory, mounts under the
/// directory (containerd mounts nothing there at rest), shim sockets and cgroups of the handed-out `ids`, task bundles,
/// runsc state files (in the shim's runsc root and the runc-shim reference's),
/// cgroups of CRI pods, and CNI interfaces and addresses still in use.
/// Each entry says what and where.
pub fn find(layout: &Layout, ids: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for p in procfs::processes() {
        if is_our_shim(layout, &p) {
            found.push(format!("shim process {}: {}", p.pid, p.cmdline()));
        } else if is_our_runsc(layout, &p) {
            found.push(format!("runsc process {}: {}", p.pid, p.cmdline()));
        } else if p.program() != "containerd" && p.mentions_dir(layout.dir()) {
            // e.g. a logging binary that never saw EOF on the container's output
            found.push(format!("process {}: {}", p.pid, p.cmdline()));
        }
    }
    found.extend(
        procfs::mounts_under(layout.dir())
            .into_iter()
            .map(|m| format!("mount point {}", m.display())),
    );
    for (ns, id) in ids {
        let socket = layout.shim_socket(ns, id);
        if socket.exists() {
            found.push(format!("shim socket {} of {ns}/{id}", socket.display()));
        }
        for hierarchy in cgroup_hierarchies() {
            let cgroup = hierarchy.join(ns).join(id);
            if cgroup.exists() {
                found.push(format!("cgroup {} of {ns}/{id}", cgroup.display()));
            }
        }
    }
    for parent in cri::recorded_pod_cgroups(layout) {
        for dir in cri::pod_cgroup_dirs(&parent) {
            if dir.exists() {
                found.push(format!("cgroup {} of a CRI pod", dir.display()));
            }
        }
    }
    found.extend(cni_leaks(layout));
    found.extend(
        entries_two_deep(&layout.task_bundles())
            .into_iter()
            .map(|p| format!("task bundle {p}")),
    );
    for root in [layout.runsc_root(), layout.runsc_via_runc_shim_root()] {
        found.extend(
            entries_two_deep(&root)
                .into_iter()
                .map(|p| format!("runsc state {p}")),
        );
    }
    found
}

/// Interfaces still attached to the instance's CNI bridge (a pod's veth whose
/// netns lives on) and addresses host-local IPAM still has allocated (CNI DEL
/// never ran).
fn cni_leaks(layout: &Layout) -> Vec<String> {
    let bridge = layout.bridge_name();
    let ports = Path::new("/sys/class/net").join(&bridge).join("brif");
    let mut found: Vec<String> = fs::read_dir(ports)
        .map(|it| {
            it.flatten()
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    format!("interface {name} still on bridge {bridge}")
                })
                .collect()
        })
        .unwrap_or_default();
    for allocation in entries_two_deep(&layout.cni_ipam_dir()) {
        let name = Path::new(&allocation)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name != "lock" && !name.starts_with("last_reserved_ip") {
            found.push(format!("CNI address still allocated: {allocation}"));
        }
    }
    found
}

/// `dir/<a>/<b>` for every entry `b` of every subdirectory `a` of `dir`.
fn entries_two_deep(dir: &Path) -> Vec<String> {
    let list = |d: &Path| -> Vec<std::path::PathBuf> {
        fs::read_dir(d)
            .map(|it| it.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    list(dir)
        .into_iter()
        .filter(|sub| sub.is_dir())
        .flat_map(|sub| list(&sub))
        .map(|p| p.display().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_files_two_levels_down_are_leaks() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        fs::create_dir_all(layout.runsc_root().join("ns1")).unwrap();
        fs::create_dir_all(layout.task_bundles().join("ns1")).unwrap();
        assert!(find(&layout, &[]).is_empty());
        fs::write(
            layout.runsc_root().join("ns1").join("c1_sandbox:c1.state"),
            "",
        )
        .unwrap();
        fs::create_dir(layout.task_bundles().join("ns1").join("c1")).unwrap();
        let found = find(&layout, &[]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("task bundle ") && found[0].ends_with("/ns1/c1"));
        assert!(found[1].starts_with("runsc state ") && found[1].ends_with("c1.state"));
    }
}
