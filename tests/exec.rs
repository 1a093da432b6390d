//! Exec'd processes: many at once, each with its own exit code, and their
//! exec ids in the task's process list.

use std::{
    thread,
    time::{Duration, Instant},
};

use e2e::{gvisor_containerd, run_detached, shim_containerd};

#[test]
fn twenty_parallel_execs_report_their_own_exit_codes() {
    let Some(containerd) = gvisor_containerd("twenty_parallel_execs_report_their_own_exit_codes")
    else {
        return;
    };
    let ctr = containerd.namespace("pexec").unwrap();
    let id = ctr.new_id("pe");
    run_detached(&ctr, &id, &["sleep", "600"]);
    let results: Vec<_> = thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let (ctr, id) = (&ctr, &id);
                s.spawn(move || {
                    let script = format!("echo out-{i}; exit {i}");
                    let exec_id = format!("x{i}");
                    (
                        i,
                        ctr.ctr(&[
                            "tasks",
                            "exec",
                            "--exec-id",
                            &exec_id,
                            id,
                            "sh",
                            "-c",
                            &script,
                        ]),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, out) in results {
        assert_eq!(out.code, Some(i), "exec {i}: {out}");
        assert_eq!(out.stdout, format!("out-{i}\n"), "exec {i}: {out}");
    }
    ctr.remove(&id);
    containerd.assert_no_leaks();
}

#[test]
fn task_ps_names_the_exec() {
    let Some(containerd) = gvisor_containerd("task_ps_names_the_exec") else {
        return;
    };
    let ctr = containerd.namespace("psexec").unwrap();
    let id = ctr.new_id("ps");
    run_detached(&ctr, &id, &["sleep", "600"]);
    let mut exec = ctr
        .command(&[
            "tasks",
            "exec",
            "--exec-id",
            "named-exec",
            &id,
            "sleep",
            "600",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let ps = loop {
        let ps = ctr.ctr(&["tasks", "ps", &id]);
        if ps.stdout.contains("named-exec") || Instant::now() > deadline {
            break ps;
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert!(ps.stdout.contains("named-exec"), "{ps}");
    // The init process (pid 1 in the sandbox) has no exec id.
    let init = ps
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some("1"));
    assert!(init.is_some_and(|l| !l.contains("named-exec")), "{ps}");
    // An exec may not take the container's id: its events would read as
    // the container's.
    let same = ctr.ctr(&["tasks", "exec", "--exec-id", &id, &id, "true"]);
    assert!(
        !same.success() && same.stderr.contains("is the container's own id"),
        "{same}"
    );
    ctr.remove(&id);
    let _ = exec.wait();
    containerd.assert_no_leaks();
}

/// runsc's exec helper (whose exit status is normally the exec's) killed
/// while the process runs on: the exit then comes from the sandbox's
/// control server, with the process's own status, when it really ends.
#[test]
fn exec_outlives_its_killed_runsc_helper() {
    let Some(containerd) = shim_containerd("exec_outlives_its_killed_runsc_helper") else {
        return;
    };
    let ctr = containerd.namespace("xhelper").unwrap();
    let id = ctr.new_id("xh");
    run_detached(&ctr, &id, &["sleep", "600"]);
    let exec = ctr
        .command(&[
            "tasks",
            "exec",
            "--exec-id",
            "survivor",
            &id,
            "sh",
            "-c",
            "sleep 3; exit 7",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Started: the exec is listed (runsc exec --detach has returned).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ctr.ctr(&["tasks", "ps", &id]).stdout.contains("survivor") {
        assert!(Instant::now() < deadline, "the exec did not start");
        thread::sleep(Duration::from_millis(50));
    }
    let helper = runsc_exec_helpers(&id);
    assert_eq!(helper.len(), 1, "runsc exec helpers of {id}: {helper:?}");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &helper[0].to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = exec.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert!(
        containerd
            .log_tail(200)
            .contains("runsc's exec helper died (137) before the process, which exited with 7"),
        "{}",
        containerd.log_tail(50)
    );
    ctr.remove(&id);
    containerd.assert_no_leaks();
}

/// Host pids of `runsc … exec …` processes about container `id`.
fn runsc_exec_helpers(id: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let raw = std::fs::read(e.path().join("cmdline")).ok()?;
            let args: Vec<String> = raw
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            // runsc re-executes itself as /proc/self/exe: check the binary.
            let exe = std::fs::read_link(e.path().join("exe")).ok()?;
            let is_helper = exe.file_name()? == "runsc"
                && args.iter().any(|a| a == "exec")
                && args.iter().any(|a| a == id);
            is_helper.then_some(pid)
        })
        .collect()
}
