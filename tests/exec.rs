//! Exec'd processes: many at once, each with its own exit code, and their
//! exec ids in the task's process list.

use std::thread;

use e2e::{gvisor_containerd, run_detached};

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
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let ps = loop {
        let ps = ctr.ctr(&["tasks", "ps", &id]);
        if ps.stdout.contains("named-exec") || std::time::Instant::now() > deadline {
            break ps;
        }
        thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(ps.stdout.contains("named-exec"), "{ps}");
    // The init process (pid 1 in the sandbox) has no exec id.
    let init = ps
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some("1"));
    assert!(init.is_some_and(|l| !l.contains("named-exec")), "{ps}");
    ctr.remove(&id);
    let _ = exec.wait();
    containerd.assert_no_leaks();
}
