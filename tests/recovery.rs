//! containerd's cleanup of a shim that died: the `delete` action removes the
//! sandbox, its gofer, the rootfs mount and the socket, and the same id can
//! be used again.

use std::{
    thread,
    time::{Duration, Instant},
};

use e2e::{gvisor_containerd, runtime};
use harness::Run;

/// Pid of the shim daemon serving container `id` of the instance at `socket`.
fn shim_pid(socket: &str, id: &str) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let has = |flag: &str, value: &str| args.windows(2).any(|w| w[0] == flag && w[1] == value);
        (args[0].ends_with("containerd-shim-runsc-v1")
            && has("-address", socket)
            && has("-id", id)
            && args.iter().any(|a| a == "-socket"))
        .then_some(pid)
    })
}

#[test]
fn killed_shim_is_cleaned_up_and_the_id_reusable() {
    let Some(containerd) = gvisor_containerd("killed_shim_is_cleaned_up_and_the_id_reusable")
    else {
        return;
    };
    let ctr = containerd.namespace("shimkill").unwrap();
    let id = ctr.new_id("sk");
    e2e::run_detached(&ctr, &id, &["sleep", "600"]);
    let socket = containerd.socket().display().to_string();
    let pid = shim_pid(&socket, &id).expect("the shim daemon of the container");
    nix_kill(pid);
    // containerd notices, runs the `delete` action and drops the task.
    let deadline = Instant::now() + Duration::from_secs(20);
    while ctr.task(&id).unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "containerd still lists task {id}"
        );
        thread::sleep(Duration::from_millis(100));
    }
    let rm = ctr.ctr(&["containers", "delete", &id]);
    assert!(rm.success(), "{rm}");
    containerd.assert_no_leaks();

    let again = ctr.run(&Run::new(runtime(), &id, &["echo", "again"]));
    assert!(again.success() && again.stdout == "again\n", "{again}");
    containerd.assert_no_leaks();
}

fn nix_kill(pid: i32) {
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
