//! Container lifecycle through the shim: output, exit codes, signals, detached
//! tasks and many containers at once.

use std::thread;
use std::time::Duration;

use e2e::{containerd, gvisor_containerd, runtime};
use harness::Run;

/// The build string gVisor's Sentry reports as its kernel version.
const GVISOR_KERNEL: &str = "#1 SMP Sun Jan 10 15:06:54 PST 2016";

#[test]
fn echo_prints_hello_and_exits_0() {
    let Some(containerd) = containerd("echo_prints_hello_and_exits_0") else {
        return;
    };
    let ctr = containerd.namespace("echo").unwrap();
    let id = ctr.new_id("echo");
    let out = ctr.run(&Run::new(runtime(), &id, &["echo", "hello"]));
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout, "hello\n", "{out}");
    containerd.assert_no_leaks();
}

#[test]
fn proc_version_is_gvisors_kernel() {
    let Some(containerd) = gvisor_containerd("proc_version_is_gvisors_kernel") else {
        return;
    };
    let ctr = containerd.namespace("version").unwrap();
    let id = ctr.new_id("version");
    let out = ctr.run(&Run::new(runtime(), &id, &["cat", "/proc/version"]));
    assert!(out.success(), "{out}");
    assert!(
        out.stdout.starts_with("Linux version ") && out.stdout.contains(GVISOR_KERNEL),
        "not gVisor's kernel: {out}"
    );
    let host = std::fs::read_to_string("/proc/version").unwrap();
    assert_ne!(out.stdout, host, "the container saw the host kernel");
    containerd.assert_no_leaks();
}

#[test]
fn dmesg_shows_gvisor_booting() {
    let Some(containerd) = gvisor_containerd("dmesg_shows_gvisor_booting") else {
        return;
    };
    let ctr = containerd.namespace("dmesg").unwrap();
    let id = ctr.new_id("dmesg");
    let out = ctr.run(&Run::new(runtime(), &id, &["dmesg"]));
    assert!(out.success(), "{out}");
    assert!(out.stdout.contains("Starting gVisor..."), "{out}");
    containerd.assert_no_leaks();
}

#[test]
fn true_exits_0_five_times() {
    let Some(containerd) = containerd("true_exits_0_five_times") else {
        return;
    };
    let ctr = containerd.namespace("true").unwrap();
    for _ in 0..5 {
        let id = ctr.new_id("true");
        let out = ctr.run(&Run::new(runtime(), &id, &["true"]));
        assert!(out.success(), "{out}");
    }
    containerd.assert_no_leaks();
}

#[test]
fn exit_3_is_reported() {
    let Some(containerd) = containerd("exit_3_is_reported") else {
        return;
    };
    let ctr = containerd.namespace("exit").unwrap();
    let id = ctr.new_id("exit3");
    let out = ctr.run(&Run::new(runtime(), &id, &["sh", "-c", "exit 3"]));
    assert_eq!(out.code, Some(3), "{out}");
    containerd.assert_no_leaks();
}

/// A PID-1 shell that SIGKILLs itself: Linux protects a namespace's init from
/// that (so not under runc), gVisor lets it die.
#[test]
fn self_kill_exits_137() {
    let Some(containerd) = gvisor_containerd("self_kill_exits_137") else {
        return;
    };
    let ctr = containerd.namespace("selfkill").unwrap();
    let id = ctr.new_id("selfkill");
    let out = ctr.run(&Run::new(runtime(), &id, &["sh", "-c", "kill -9 $$"]));
    assert_eq!(out.code, Some(137), "{out}");
    containerd.assert_no_leaks();
}

#[test]
fn task_kill_sigkill_ends_foreground_run_with_137() {
    let Some(containerd) = containerd("task_kill_sigkill_ends_foreground_run_with_137") else {
        return;
    };
    let ctr = containerd.namespace("fgkill").unwrap();
    let id = ctr.new_id("fgkill");
    let run = Run::new(runtime(), &id, &["sleep", "600"]);
    let foreground = ctr.spawn(&run).unwrap();
    let running = ctr.wait_for_status(&id, "RUNNING", Duration::from_secs(30));
    let kill = ctr.ctr(&["tasks", "kill", "-s", "SIGKILL", &id]);
    let out = foreground.wait(Duration::from_secs(30));
    running.unwrap();
    assert!(kill.success(), "{kill}");
    assert_eq!(out.code, Some(137), "{out}");
    containerd.assert_no_leaks();
}

#[test]
fn detached_sigkill_is_stopped_with_137() {
    let Some(containerd) = containerd("detached_sigkill_is_stopped_with_137") else {
        return;
    };
    let ctr = containerd.namespace("dkill").unwrap();
    let id = ctr.new_id("dkill");
    e2e::run_detached(&ctr, &id, &["sleep", "600"]);
    let kill = ctr.ctr(&["tasks", "kill", "-s", "SIGKILL", &id]);
    assert!(kill.success(), "{kill}");
    ctr.wait_for_status(&id, "STOPPED", Duration::from_secs(10))
        .unwrap();
    assert_eq!(ctr.delete_task(&id).unwrap(), 137);
    let out = ctr.ctr(&["containers", "delete", &id]);
    assert!(out.success(), "{out}");
    containerd.assert_no_leaks();
}

/// `ctr task kill` sends SIGTERM; a PID-1 `sleep` without a handler dies of it
/// in gVisor (runc's kernel would ignore it).
#[test]
fn detached_sleep_task_kill_ls_stopped_delete_143() {
    let Some(containerd) = gvisor_containerd("detached_sleep_task_kill_ls_stopped_delete_143")
    else {
        return;
    };
    let ctr = containerd.namespace("dterm").unwrap();
    let id = ctr.new_id("dterm");
    e2e::run_detached(&ctr, &id, &["sleep", "600"]);
    let kill = ctr.ctr(&["tasks", "kill", &id]);
    assert!(kill.success(), "{kill}");
    let stopped = ctr.wait_for_status(&id, "STOPPED", Duration::from_secs(10));
    assert!(stopped.is_ok(), "{stopped:?}; tasks: {:?}", ctr.tasks());
    assert_eq!(ctr.delete_task(&id).unwrap(), 143);
    let out = ctr.ctr(&["containers", "delete", &id]);
    assert!(out.success(), "{out}");
    containerd.assert_no_leaks();
}

#[test]
fn ten_containers_in_parallel_exit_0() {
    let Some(containerd) = containerd("ten_containers_in_parallel_exit_0") else {
        return;
    };
    let ctr = containerd.namespace("par").unwrap();
    let ids: Vec<String> = (0..10).map(|_| ctr.new_id("par")).collect();
    let outputs: Vec<_> = thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .map(|id| {
                let ctr = &ctr;
                let run = Run::new(runtime(), id, &["true"]).timeout(Duration::from_secs(180));
                s.spawn(move || ctr.run(&run))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let failed: Vec<String> = outputs
        .iter()
        .filter(|o| !o.success())
        .map(ToString::to_string)
        .collect();
    assert!(
        failed.is_empty(),
        "{} of 10 failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    containerd.assert_no_leaks();
}

/// Guards the leak check itself: while a sandbox runs, it must see the shim, the
/// runsc processes, the rootfs mount, the socket, the bundle and runsc's state.
#[test]
fn leak_check_sees_a_running_sandbox_until_it_is_deleted() {
    let Some(containerd) =
        gvisor_containerd("leak_check_sees_a_running_sandbox_until_it_is_deleted")
    else {
        return;
    };
    let ctr = containerd.namespace("leak").unwrap();
    let id = ctr.new_id("leak");
    e2e::run_detached(&ctr, &id, &["sleep", "600"]);
    let leaks = containerd.leaks().join("\n");
    for expected in [
        "shim process",
        "runsc process",
        "mount point",
        "shim socket",
        "task bundle",
        "runsc state",
        "still known to containerd",
    ] {
        assert!(leaks.contains(expected), "no {expected:?} in:\n{leaks}");
    }
    let kill = ctr.ctr(&["tasks", "kill", "-s", "SIGKILL", &id]);
    assert!(kill.success(), "{kill}");
    ctr.wait_for_status(&id, "STOPPED", Duration::from_secs(10))
        .unwrap();
    assert_eq!(ctr.delete_task(&id).unwrap(), 137);
    assert!(ctr.ctr(&["containers", "delete", &id]).success());
    containerd.assert_no_leaks();
}

/// `ctr task kill -a` signals every process of the container, not only its
/// init: a shell whose children ignore nothing dies with all of them.
#[test]
fn kill_all_stops_every_process() {
    let Some(containerd) = gvisor_containerd("kill_all_stops_every_process") else {
        return;
    };
    let ctr = containerd.namespace("killall").unwrap();
    let id = ctr.new_id("ka");
    let script = "trap '' TERM; sleep 600 & sleep 600 & wait";
    e2e::run_detached(&ctr, &id, &["sh", "-c", script]);
    let ps = ctr.ctr(&["tasks", "ps", &id]);
    assert!(
        ps.stdout.lines().count() >= 4,
        "three processes expected: {ps}"
    );
    let kill = ctr.ctr(&["tasks", "kill", "-a", "-s", "SIGKILL", &id]);
    assert!(kill.success(), "{kill}");
    ctr.wait_for_status(&id, "STOPPED", Duration::from_secs(10))
        .unwrap();
    assert_eq!(ctr.delete_task(&id).unwrap(), 137);
    let rm = ctr.ctr(&["containers", "delete", &id]);
    assert!(rm.success(), "{rm}");
    containerd.assert_no_leaks();
}

/// runsc resolves ids by prefix; with one runsc root per container, an id
/// that prefixes a running container's id still starts and deletes.
#[test]
fn id_that_prefixes_another_works() {
    let Some(containerd) = containerd("id_that_prefixes_another_works") else {
        return;
    };
    let ctr = containerd.namespace("prefix").unwrap();
    let short = ctr.new_id("p");
    let long = format!("{short}0");
    e2e::run_detached(&ctr, &long, &["sleep", "600"]);
    let out = ctr.run(&Run::new(runtime(), &short, &["echo", "short"]));
    assert!(out.success() && out.stdout == "short\n", "{out}");
    ctr.remove(&long);
    containerd.assert_no_leaks();
}

/// Like the runc shim: once a container has exited, SIGKILL and SIGTERM
/// still succeed, other signals report that the process is gone.
#[test]
fn kill_after_exit_follows_the_runc_shim() {
    let Some(containerd) = containerd("kill_after_exit_follows_the_runc_shim") else {
        return;
    };
    let ctr = containerd.namespace("killexit").unwrap();
    let id = ctr.new_id("ke");
    let out = ctr.run(&Run::new(runtime(), &id, &["true"]).detach());
    assert!(out.success(), "{out}");
    ctr.wait_for_status(&id, "STOPPED", Duration::from_secs(10))
        .unwrap();
    for sig in ["SIGKILL", "SIGTERM"] {
        let out = ctr.ctr(&["tasks", "kill", "-s", sig, &id]);
        assert!(out.success(), "{sig}: {out}");
    }
    let usr1 = ctr.ctr(&["tasks", "kill", "-s", "SIGUSR1", &id]);
    // The shim answers NotFound; ctr 2.x words it "process already finished".
    assert!(
        !usr1.success()
            && (usr1.stderr.contains("not found")
                || usr1.stderr.contains("process already finished")),
        "{usr1}"
    );
    assert_eq!(ctr.delete_task(&id).unwrap(), 0);
    let rm = ctr.ctr(&["containers", "delete", &id]);
    assert!(rm.success(), "{rm}");
    containerd.assert_no_leaks();
}
