//! Faults a busy node meets: containerd restarting under running
//! containers, a sandbox killed behind the shim's back, a frozen sandbox.

use std::{
    thread,
    time::{Duration, Instant},
};

use e2e::{gvisor_containerd, run_detached, shim_containerd};
use harness::{Containerd, PodSpec, State};

/// Pids of runsc sandbox processes whose arguments mention `needle`.
fn sandbox_pids(needle: &str) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            (cmd.starts_with("runsc-sandbox") && cmd.contains(needle)).then_some(pid)
        })
        .collect()
}

fn signal(pid: i32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

fn runsc_root(containerd: &Containerd, ns: &str, group: &str) -> String {
    containerd
        .layout()
        .runsc_root()
        .join(ns)
        .join(group)
        .display()
        .to_string()
}

#[test]
fn containers_survive_a_containerd_restart() {
    let Some(containerd) = gvisor_containerd("containers_survive_a_containerd_restart") else {
        return;
    };
    let ctr = containerd.namespace("restart").unwrap();
    let (long, short) = (ctr.new_id("long"), ctr.new_id("short"));
    run_detached(&ctr, &long, &["sleep", "600"]);
    run_detached(&ctr, &short, &["sh", "-c", "sleep 2; exit 5"]);
    // `short` exits while containerd is down.
    containerd
        .restart(|| thread::sleep(Duration::from_secs(4)))
        .unwrap();
    let tasks = ctr.tasks().unwrap();
    let status = |id: &str| tasks.iter().find(|t| t.id == id).map(|t| t.status.clone());
    assert_eq!(status(&long).as_deref(), Some("RUNNING"), "{tasks:?}");
    assert_eq!(status(&short).as_deref(), Some("STOPPED"), "{tasks:?}");
    // Its TaskExit failed to reach containerd; the shim kept it and tried
    // again until containerd was back (CRI learns of exits from it).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !containerd
        .log_tail(2000)
        .contains("published /tasks/exit after")
    {
        assert!(
            Instant::now() < deadline,
            "the exit event was not published after the restart:\n{}",
            containerd.log_tail(60)
        );
        thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(ctr.delete_task(&short).unwrap(), 5);
    let rm = ctr.ctr(&["containers", "delete", &short]);
    assert!(rm.success(), "{rm}");
    let exec = ctr.ctr(&[
        "tasks",
        "exec",
        "--exec-id",
        "after",
        &long,
        "echo",
        "still-here",
    ]);
    assert!(exec.success() && exec.stdout == "still-here\n", "{exec}");
    let kill = ctr.ctr(&["tasks", "kill", "-s", "SIGKILL", &long]);
    assert!(kill.success(), "{kill}");
    ctr.wait_for_status(&long, "STOPPED", Duration::from_secs(10))
        .unwrap();
    assert_eq!(ctr.delete_task(&long).unwrap(), 137);
    let rm = ctr.ctr(&["containers", "delete", &long]);
    assert!(rm.success(), "{rm}");
    containerd.assert_no_leaks();
}

#[test]
fn killed_sandbox_is_reported_137_and_deletable() {
    let Some(containerd) = gvisor_containerd("killed_sandbox_is_reported_137_and_deletable") else {
        return;
    };
    let ctr = containerd.namespace("sbkill").unwrap();
    let id = ctr.new_id("sb");
    run_detached(&ctr, &id, &["sleep", "600"]);
    let pids = sandbox_pids(&runsc_root(&containerd, ctr.namespace(), &id));
    assert_eq!(pids.len(), 1, "{pids:?}");
    signal(pids[0], "KILL");
    ctr.wait_for_status(&id, "STOPPED", Duration::from_secs(10))
        .unwrap();
    assert_eq!(ctr.delete_task(&id).unwrap(), 137);
    let rm = ctr.ctr(&["containers", "delete", &id]);
    assert!(rm.success(), "{rm}");
    containerd.assert_no_leaks();
}

#[test]
fn pod_with_a_killed_sandbox_can_be_stopped_and_removed() {
    let Some(containerd) = shim_containerd("pod_with_a_killed_sandbox_can_be_stopped_and_removed")
    else {
        return;
    };
    let cri = containerd.cri().unwrap();
    let pod = cri
        .run_pod(&PodSpec::new("sbdeath", "runsc").host_network())
        .unwrap();
    let app = cri
        .create_container(&pod, "app", &["sleep", "600"])
        .unwrap();
    cri.start_container(&app).unwrap();
    let pids = sandbox_pids(&pod.id);
    assert_eq!(pids.len(), 1, "{pids:?}");
    signal(pids[0], "KILL");
    let state = cri
        .wait_container_exited(&app, Duration::from_secs(20))
        .unwrap();
    assert_eq!(
        (state.state, state.exit_code),
        (State::Exited, 137),
        "{state:?}"
    );
    let started = Instant::now();
    cri.stop_pod(&pod).unwrap();
    cri.remove_pod(&pod).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    containerd.assert_no_leaks();
}

/// Every runsc call has a deadline: with the sandbox frozen (SIGSTOP), a
/// kill fails within `runsc_timeout` saying what timed out, and SIGKILL
/// still ends the container, so that it can be deleted.
#[test]
fn frozen_sandbox_cannot_hang_kill_or_delete() {
    let Some(containerd) = gvisor_containerd("frozen_sandbox_cannot_hang_kill_or_delete") else {
        return;
    };
    let base = std::fs::read_to_string(containerd.runsc_config()).unwrap();
    let config = containerd
        .write_file("quick.toml", &format!("runsc_timeout = 2\n{base}"), 0o644)
        .unwrap();
    let ctr = containerd.namespace("frozen").unwrap();
    let id = ctr.new_id("fz");
    let run = harness::Run::new(
        harness::Runtime::RunscWithConfig(config),
        &id,
        &["sleep", "600"],
    )
    .detach();
    let out = ctr.run(&run);
    assert!(out.success(), "{out}");
    ctr.wait_for_status(&id, "RUNNING", Duration::from_secs(10))
        .unwrap();
    let root = runsc_root(&containerd, ctr.namespace(), &id);
    let frozen = sandbox_pids(&root);
    assert_eq!(frozen.len(), 1, "{frozen:?}");
    signal(frozen[0], "STOP");

    let started = Instant::now();
    let term = ctr.ctr(&["tasks", "kill", "-s", "SIGTERM", &id]);
    assert!(!term.success(), "{term}");
    assert!(term.stderr.contains("runsc kill timed out"), "{term}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(ctr.task(&id).unwrap().unwrap().status, "RUNNING");

    let kill = ctr.ctr(&["tasks", "kill", "-s", "SIGKILL", &id]);
    assert!(kill.success(), "{kill}");
    ctr.wait_for_status(&id, "STOPPED", Duration::from_secs(10))
        .unwrap();
    assert_eq!(ctr.delete_task(&id).unwrap(), 137);
    let rm = ctr.ctr(&["containers", "delete", &id]);
    assert!(rm.success(), "{rm}");
    containerd.assert_no_leaks();
}
