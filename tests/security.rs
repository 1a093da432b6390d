//! What the shim exposes to other users of the node, and where pod
//! annotations can make it write: only containerd (root) may reach its
//! socket, and a pod log directory outside `pod_log_root` is not used.

use std::os::unix::fs::PermissionsExt;

use e2e::{gvisor_containerd, run_detached, shim_containerd};
use harness::PodSpec;

#[test]
fn socket_and_state_files_are_private() {
    let Some(containerd) = gvisor_containerd("socket_and_state_files_are_private") else {
        return;
    };
    let ctr = containerd.namespace("private").unwrap();
    let id = ctr.new_id("pv");
    run_detached(&ctr, &id, &["sleep", "600"]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let socket = containerd.layout().shim_socket(ctr.namespace(), &id);
    assert_eq!(mode(&socket), 0o600, "{}", socket.display());
    let bundle = containerd
        .layout()
        .task_bundles()
        .join(ctr.namespace())
        .join(&id);
    assert_eq!(mode(&bundle.join("runsc-shim.json")), 0o600);
    ctr.remove(&id);
    containerd.assert_no_leaks();
}

/// The log directory annotation comes from the pod's side of CRI: a
/// directory outside `pod_log_root` gets no gvisor.log, and the pod runs.
#[test]
fn pod_log_directory_outside_the_log_root_is_not_written() {
    let Some(containerd) = shim_containerd("pod_log_directory_outside_the_log_root_is_not_written")
    else {
        return;
    };
    let elsewhere = containerd.dir().join("elsewhere");
    let config = containerd.runsc_config();
    let text = std::fs::read_to_string(&config).unwrap();
    // Narrow the trusted root to a directory the harness's pods are not in.
    let narrowed = text
        .lines()
        .map(|l| {
            if l.starts_with("pod_log_root") {
                format!("pod_log_root = {:?}", elsewhere.display().to_string())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&config, narrowed + "\n").unwrap();
    let cri = containerd.cri().unwrap();
    let pod = cri
        .run_pod(&PodSpec::new("outside", "runsc").host_network())
        .unwrap();
    assert!(
        !pod.log_directory.join("gvisor.log").exists(),
        "gvisor.log written outside pod_log_root"
    );
    assert!(containerd.log_tail(300).contains("is outside pod_log_root"));
    cri.stop_pod(&pod).unwrap();
    cri.remove_pod(&pod).unwrap();
    containerd.assert_no_leaks();
}
