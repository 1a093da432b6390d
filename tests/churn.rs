//! Churn: many container and pod lifecycles, then nothing may be left and
//! a long-lived pod shim must not grow. CI runs a scaled-down size; the full
//! size from the issue is
//! `CHURN_CONTAINERS=1000 CHURN_PODS=50 cargo test -p e2e --test churn`.

use std::{thread, time::Duration};

use e2e::{gvisor_containerd, run_detached, shim_containerd};
use harness::PodSpec;

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Container lifecycles (run -d, exec, kill, delete), 20 at a time at most.
#[test]
fn container_churn_leaves_nothing() {
    let Some(containerd) = gvisor_containerd("container_churn_leaves_nothing") else {
        return;
    };
    let total = size("CHURN_CONTAINERS", 40);
    let parallel = 20.min(total).max(1);
    let ctr = containerd.namespace("churn").unwrap();
    thread::scope(|s| {
        for worker in 0..parallel {
            let ctr = &ctr;
            s.spawn(move || {
                for _ in (worker..total).step_by(parallel) {
                    let id = ctr.new_id("ch");
                    run_detached(ctr, &id, &["sleep", "600"]);
                    let exec = ctr.ctr(&["tasks", "exec", "--exec-id", "e", &id, "true"]);
                    assert!(exec.success(), "{exec}");
                    let kill = ctr.ctr(&["tasks", "kill", "-s", "SIGKILL", &id]);
                    assert!(kill.success(), "{kill}");
                    ctr.wait_for_status(&id, "STOPPED", Duration::from_secs(30))
                        .unwrap();
                    assert_eq!(ctr.delete_task(&id).unwrap(), 137);
                    let rm = ctr.ctr(&["containers", "delete", &id]);
                    assert!(rm.success(), "{rm}");
                }
            });
        }
    });
    containerd.assert_no_leaks();
}

/// VmRSS in KiB of the shim daemon whose arguments name `group`.
fn shim_rss_kib(group_socket_hint: &str) -> u64 {
    let dir = std::fs::read_dir("/proc").unwrap();
    dir.flatten()
        .filter_map(|e| {
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if !(cmd.contains("containerd-shim-runsc-v1") && cmd.contains(group_socket_hint)) {
                return None;
            }
            let status = std::fs::read_to_string(e.path().join("status")).ok()?;
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .max()
        .expect("the pod's shim")
}

/// Pod lifecycles through CRI, and one pod whose containers come and go:
/// its shim's memory must not grow with them.
#[test]
fn pod_churn_leaves_nothing_and_the_shim_does_not_grow() {
    let Some(containerd) = shim_containerd("pod_churn_leaves_nothing_and_the_shim_does_not_grow")
    else {
        return;
    };
    let cri = containerd.cri().unwrap();
    for i in 0..size("CHURN_PODS", 5) {
        let pod = cri
            .run_pod(&PodSpec::new(&format!("churn{i}"), "runsc").host_network())
            .unwrap();
        let c = cri.create_container(&pod, "c", &["sleep", "600"]).unwrap();
        cri.start_container(&c).unwrap();
        let out = cri
            .exec_sync(&c, &["true"], Duration::from_secs(30))
            .unwrap();
        assert_eq!(out.exit_code, 0);
        cri.stop_pod(&pod).unwrap();
        cri.remove_pod(&pod).unwrap();
    }

    let pod = cri
        .run_pod(&PodSpec::new("longlived", "runsc").host_network())
        .unwrap();
    let cycle = |n: usize| {
        let c = cri
            .create_container(&pod, &format!("c{n}"), &["sleep", "600"])
            .unwrap();
        cri.start_container(&c).unwrap();
        let out = cri
            .exec_sync(&c, &["true"], Duration::from_secs(30))
            .unwrap();
        assert_eq!(out.exit_code, 0);
        cri.stop_container(&c, Duration::from_secs(2)).unwrap();
        cri.remove_container(&c).unwrap();
    };
    let rounds = size("CHURN_POD_CONTAINERS", 30);
    let warmup = 5.min(rounds);
    (0..warmup).for_each(cycle);
    let before = shim_rss_kib(&pod.id);
    (warmup..rounds).for_each(cycle);
    let after = shim_rss_kib(&pod.id);
    eprintln!("pod shim VmRSS: {before} KiB after {warmup} containers, {after} KiB after {rounds}");
    assert!(
        after <= before + 512,
        "the pod shim grew from {before} KiB to {after} KiB over {} containers",
        rounds - warmup
    );
    cri.stop_pod(&pod).unwrap();
    cri.remove_pod(&pod).unwrap();
    containerd.assert_no_leaks();
}
