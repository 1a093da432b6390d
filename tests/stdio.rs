//! The container's stdin, stdout and stderr through the shim.

use e2e::{containerd, runtime};
use harness::Run;

#[test]
fn stdin_line_reaches_the_container() {
    let Some(containerd) = containerd("stdin_line_reaches_the_container") else {
        return;
    };
    let ctr = containerd.namespace("stdin").unwrap();
    let id = ctr.new_id("stdin");
    // ctr never closes the task's stdin on EOF, so read one line instead of to EOF.
    let run = Run::new(runtime(), &id, &["sh", "-c", "read x; echo got:$x"]).stdin(b"line\n");
    let out = ctr.run(&run);
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout, "got:line\n", "{out}");
    containerd.assert_no_leaks();
}

#[test]
fn stdout_and_stderr_stay_apart() {
    let Some(containerd) = containerd("stdout_and_stderr_stay_apart") else {
        return;
    };
    let ctr = containerd.namespace("streams").unwrap();
    let id = ctr.new_id("streams");
    let run = Run::new(
        runtime(),
        &id,
        &["sh", "-c", "echo to-out; echo to-err >&2"],
    );
    let out = ctr.run(&run);
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout, "to-out\n", "{out}");
    assert!(out.stderr.contains("to-err"), "{out}");
    assert!(!out.stdout.contains("to-err"), "{out}");
    containerd.assert_no_leaks();
}

#[test]
fn large_output_arrives_complete() {
    let Some(containerd) = containerd("large_output_arrives_complete") else {
        return;
    };
    let ctr = containerd.namespace("bulk").unwrap();
    let id = ctr.new_id("bulk");
    let out = ctr.run(&Run::new(runtime(), &id, &["seq", "1", "50000"]));
    assert!(out.success(), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 50000, "stderr: {}", out.stderr);
    assert_eq!((lines[0], lines[49999]), ("1", "50000"));
    containerd.assert_no_leaks();
}
