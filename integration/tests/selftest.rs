//! Self-test of the harness against containerd's runc shim, which is known to
//! work: if these fail, the harness is broken, not the shim under test.

use std::path::Path;
use std::time::Duration;

use harness::{missing_requirements, report_skip, Containerd, Run, Runtime};

fn start() -> Option<Containerd> {
    let missing = missing_requirements();
    if !missing.is_empty() {
        let why = format!("this machine lacks {}", missing.join(", "));
        report_skip("harness self-test", &why);
        return None;
    }
    Some(Containerd::start().expect("private containerd starts"))
}

/// Whether `pid` is a live (non-zombie) process.
fn alive(pid: &str) -> bool {
    std::fs::read(Path::new("/proc").join(pid.trim()).join("cmdline")).is_ok_and(|c| !c.is_empty())
}

#[test]
fn runc_lifecycle_without_leaks_then_full_teardown() {
    let Some(containerd) = start() else { return };
    let ctr = containerd.namespace("self").unwrap();

    let id = ctr.new_id("echo");
    let out = ctr.run(&Run::new(Runtime::Runc, &id, &["echo", "hi"]));
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout_trimmed(), "hi");

    let id = ctr.new_id("stdin");
    let run = Run::new(
        Runtime::Runc,
        &id,
        &["sh", "-c", "read x; echo got:$x; exit 3"],
    )
    .stdin(b"line\n");
    let out = ctr.run(&run);
    assert_eq!(
        (out.code, out.stdout_trimmed()),
        (Some(3), "got:line"),
        "{out}"
    );

    let id = ctr.new_id("sleep");
    let out = ctr.run(&Run::new(Runtime::Runc, &id, &["sleep", "600"]).detach());
    assert!(out.success(), "{out}");
    ctr.wait_for_status(&id, "RUNNING", Duration::from_secs(10))
        .unwrap();
    assert!(ctr.ctr(&["tasks", "kill", "-s", "SIGKILL", &id]).success());
    ctr.wait_for_status(&id, "STOPPED", Duration::from_secs(10))
        .unwrap();
    assert_eq!(ctr.delete_task(&id).unwrap(), 137);
    assert!(ctr.ctr(&["containers", "delete", &id]).success());
    containerd.assert_no_leaks();

    let dir = containerd.dir().to_path_buf();
    let pid = std::fs::read_to_string(containerd.layout().pid_file()).unwrap();
    drop(containerd);
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(!alive(&pid), "containerd {pid} still runs");
}

#[test]
fn leak_check_sees_a_running_container_and_teardown_removes_it() {
    let Some(containerd) = start() else { return };
    let ctr = containerd.namespace("self").unwrap();
    let id = ctr.new_id("left");
    let out = ctr.run(&Run::new(Runtime::Runc, &id, &["sleep", "600"]).detach());
    assert!(out.success(), "{out}");

    let leaks = containerd.leaks().join("\n");
    assert!(leaks.contains("shim process"), "{leaks}");
    assert!(
        leaks.contains(&format!("task {}/{id}", ctr.namespace())),
        "{leaks}"
    );
    assert!(leaks.contains("shim socket"), "{leaks}");

    let socket = containerd.layout().shim_socket(ctr.namespace(), &id);
    let dir = containerd.dir().to_path_buf();
    assert!(socket.exists());
    drop(containerd);
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(!socket.exists(), "{} still exists", socket.display());
}
