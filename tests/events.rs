//! What containerd hears from the shim besides output: task events in the
//! right order with the right exit status, and the shim's own log.

use std::{
    io::Read,
    process::{Child, Stdio},
    thread,
    time::{Duration, Instant},
};

use e2e::{containerd, gvisor_containerd, runtime};
use harness::{Ctr, Run};

/// `ctr events` running in the background until dropped.
struct EventStream(Child);

impl EventStream {
    fn start(ctr: &Ctr<'_>) -> Self {
        let mut cmd = ctr.command(&["events"]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        let stream = EventStream(cmd.spawn().expect("ctr events"));
        // Let it subscribe before anything happens.
        thread::sleep(Duration::from_millis(500));
        stream
    }

    /// Stops the stream and returns the task events that mention `id`.
    fn finish(mut self, id: &str) -> Vec<String> {
        thread::sleep(Duration::from_millis(500));
        let _ = self.0.kill();
        let mut text = String::new();
        if let Some(mut out) = self.0.stdout.take() {
            let _ = out.read_to_string(&mut text);
        }
        let _ = self.0.wait();
        text.lines()
            .filter(|l| l.contains(&format!("\"{id}\"")) && !topic(l).is_empty())
            .map(str::to_owned)
            .collect()
    }
}

fn topic(line: &str) -> &str {
    line.split_whitespace()
        .find(|w| w.starts_with("/tasks/"))
        .unwrap_or("")
}

#[test]
fn task_events_arrive_in_order_with_exit_status() {
    let Some(containerd) = gvisor_containerd("task_events_arrive_in_order_with_exit_status") else {
        return;
    };
    let ctr = containerd.namespace("events").unwrap();
    let id = ctr.new_id("ev");
    let events = EventStream::start(&ctr);
    let out = ctr.run(&Run::new(runtime(), &id, &["sh", "-c", "exit 3"]));
    assert_eq!(out.code, Some(3), "{out}");
    let lines = events.finish(&id);
    let topics: Vec<&str> = lines.iter().map(|l| topic(l)).collect();
    assert_eq!(
        topics,
        [
            "/tasks/create",
            "/tasks/start",
            "/tasks/exit",
            "/tasks/delete"
        ],
        "events: {lines:#?}"
    );
    assert!(lines[2].contains("\"exit_status\":3"), "{}", lines[2]);
    assert!(lines[3].contains("\"exit_status\":3"), "{}", lines[3]);
    let pid = |l: &str| {
        l.split("\"pid\":")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .map(str::to_owned)
    };
    assert!(pid(&lines[0]).is_some(), "create has a pid: {}", lines[0]);
    assert_eq!(
        pid(&lines[0]),
        pid(&lines[2]),
        "exit pid is the created pid"
    );
    containerd.assert_no_leaks();
}

#[test]
fn exec_events_and_exit_codes() {
    let Some(containerd) = gvisor_containerd("exec_events_and_exit_codes") else {
        return;
    };
    let ctr = containerd.namespace("exec").unwrap();
    let id = ctr.new_id("ex");
    e2e::run_detached(&ctr, &id, &["sleep", "600"]);
    let events = EventStream::start(&ctr);
    let echo = ctr.ctr(&["tasks", "exec", "--exec-id", "e1", &id, "echo", "exec-ok"]);
    assert!(echo.success() && echo.stdout == "exec-ok\n", "{echo}");
    let five = ctr.ctr(&[
        "tasks",
        "exec",
        "--exec-id",
        "e2",
        &id,
        "sh",
        "-c",
        "exit 5",
    ]);
    assert_eq!(five.code, Some(5), "{five}");
    let lines = events.finish(&id);
    let e2: Vec<&str> = lines
        .iter()
        .filter(|l| l.contains("\"e2\""))
        .map(|l| topic(l))
        .collect();
    assert_eq!(
        e2,
        ["/tasks/exec-added", "/tasks/exec-started", "/tasks/exit"],
        "events: {lines:#?}"
    );
    // The exec helper's files do not pile up in the bundle.
    let bundle = containerd
        .layout()
        .task_bundles()
        .join(ctr.namespace())
        .join(&id);
    let leftovers: Vec<_> = std::fs::read_dir(&bundle)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("exec-"))
        .collect();
    assert!(leftovers.is_empty(), "exec files left: {leftovers:?}");
    ctr.remove(&id);
    containerd.assert_no_leaks();
}

#[test]
fn exec_into_stopped_container_fails() {
    let Some(containerd) = containerd("exec_into_stopped_container_fails") else {
        return;
    };
    let ctr = containerd.namespace("exstop").unwrap();
    let id = ctr.new_id("exs");
    let out = ctr.run(&Run::new(runtime(), &id, &["true"]).detach());
    assert!(out.success(), "{out}");
    ctr.wait_for_status(&id, "STOPPED", Duration::from_secs(10))
        .unwrap();
    let exec = ctr.ctr(&["tasks", "exec", "--exec-id", "late", &id, "true"]);
    assert!(!exec.success(), "{exec}");
    assert!(exec.stderr.contains("has exited"), "{exec}");
    ctr.remove(&id);
    containerd.assert_no_leaks();
}

#[test]
fn shim_log_reaches_containerd() {
    let Some(containerd) = containerd("shim_log_reaches_containerd") else {
        return;
    };
    let ctr = containerd.namespace("shimlog").unwrap();
    let id = ctr.new_id("log");
    let out = ctr.run(&Run::new(runtime(), &id, &["true"]));
    assert!(out.success(), "{out}");
    let want = format!("created container {id}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !containerd.log_tail(500).contains(&want) {
        assert!(
            Instant::now() < deadline,
            "containerd's log lacks {want:?}:\n{}",
            containerd.log_tail(40)
        );
        thread::sleep(Duration::from_millis(100));
    }
    containerd.assert_no_leaks();
}

/// A container that allocates past its memory limit is OOM-killed by the
/// host in the sandbox's cgroup: TaskOOM arrives before its TaskExit (137),
/// which is what lets CRI report the reason OOMKilled.
#[test]
fn oom_kill_is_published_before_exit() {
    let Some(containerd) = gvisor_containerd("oom_kill_is_published_before_exit") else {
        return;
    };
    let ctr = containerd.namespace("oom").unwrap();
    let id = ctr.new_id("oom");
    let events = EventStream::start(&ctr);
    let config = containerd.runsc_config().display().to_string();
    let out = ctr.ctr(&[
        "run",
        "--rm",
        "--runtime",
        "io.containerd.runsc.v1",
        "--runtime-config-path",
        &config,
        "--memory-limit",
        "67108864",
        "docker.io/library/busybox:local",
        &id,
        "sh",
        "-c",
        "tail /dev/zero",
    ]);
    assert_eq!(out.code, Some(137), "{out}");
    let lines = events.finish(&id);
    let topics: Vec<&str> = lines.iter().map(|l| topic(l)).collect();
    assert_eq!(
        topics,
        [
            "/tasks/create",
            "/tasks/start",
            "/tasks/oom",
            "/tasks/exit",
            "/tasks/delete"
        ],
        "events: {lines:#?}"
    );
    containerd.assert_no_leaks();
}

#[test]
fn pause_and_resume_are_published_and_reported() {
    let Some(containerd) = gvisor_containerd("pause_and_resume_are_published_and_reported") else {
        return;
    };
    let ctr = containerd.namespace("pause").unwrap();
    let id = ctr.new_id("pz");
    e2e::run_detached(&ctr, &id, &["sleep", "600"]);
    let events = EventStream::start(&ctr);
    let pause = ctr.ctr(&["tasks", "pause", &id]);
    assert!(pause.success(), "{pause}");
    assert_eq!(ctr.task(&id).unwrap().unwrap().status, "PAUSED");
    let resume = ctr.ctr(&["tasks", "resume", &id]);
    assert!(resume.success(), "{resume}");
    assert_eq!(ctr.task(&id).unwrap().unwrap().status, "RUNNING");
    let lines = events.finish(&id);
    let topics: Vec<&str> = lines.iter().map(|l| topic(l)).collect();
    assert_eq!(topics, ["/tasks/paused", "/tasks/resumed"], "{lines:#?}");
    ctr.remove(&id);
    containerd.assert_no_leaks();
}

#[test]
fn sigkill_ends_a_paused_container() {
    let Some(containerd) = gvisor_containerd("sigkill_ends_a_paused_container") else {
        return;
    };
    let ctr = containerd.namespace("pausekill").unwrap();
    let id = ctr.new_id("pk");
    e2e::run_detached(&ctr, &id, &["sleep", "600"]);
    let pause = ctr.ctr(&["tasks", "pause", &id]);
    assert!(pause.success(), "{pause}");
    let events = EventStream::start(&ctr);
    // As with runc: the container is resumed so that SIGKILL takes effect.
    let kill = ctr.ctr(&["tasks", "kill", "-s", "SIGKILL", &id]);
    assert!(kill.success(), "{kill}");
    ctr.wait_for_status(&id, "STOPPED", Duration::from_secs(10))
        .unwrap();
    assert_eq!(ctr.delete_task(&id).unwrap(), 137);
    let lines = events.finish(&id);
    let topics: Vec<&str> = lines.iter().map(|l| topic(l)).collect();
    assert_eq!(
        topics,
        ["/tasks/resumed", "/tasks/exit", "/tasks/delete"],
        "{lines:#?}"
    );
    ctr.remove(&id);
    containerd.assert_no_leaks();
}
