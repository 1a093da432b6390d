//! Terminals: `ctr run -t` and `ctr task exec -t` get a pty through the
//! shim, with exit codes intact.

use std::process::Command;

use e2e::gvisor_containerd;
use harness::Ctr;

const ROWS: u16 = 30;
const COLS: u16 = 100;

/// Runs a ctr command line under `script`, which gives it a terminal;
/// returns (exit code, output).
fn under_pty(ctr: &Ctr<'_>, args: &[&str]) -> (Option<i32>, String) {
    let cmd = ctr.command(args);
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        line.push_str(&format!(
            " '{}'",
            a.to_string_lossy().replace('\'', "'\\''")
        ));
    }
    // A known window size, which ctr passes on to the container.
    let line = format!("stty rows {ROWS} cols {COLS}; {line}");
    let out = Command::new("timeout")
        .args(["60", "script", "-qec", &line, "/dev/null"])
        .output()
        .expect("script");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn run_and_exec_with_a_terminal() {
    let Some(containerd) = gvisor_containerd("run_and_exec_with_a_terminal") else {
        return;
    };
    let ctr = containerd.namespace("tty").unwrap();
    let id = ctr.new_id("tty");
    let config = containerd.runsc_config().display().to_string();
    // ctr applies the window size with a ResizePty right after the start
    // (its specs carry none): give it a moment, then the size must be there.
    let script = "test -t 0 && test -t 1 && echo TTY-YES; sleep 2; echo size; stty size; exit 4";
    let (code, out) = under_pty(
        &ctr,
        &[
            "run",
            "-t",
            "--rm",
            "--runtime",
            "io.containerd.runsc.v1",
            "--runtime-config-path",
            &config,
            "docker.io/library/busybox:local",
            &id,
            "sh",
            "-c",
            script,
        ],
    );
    assert_eq!(code, Some(4), "{out}");
    assert!(out.contains("TTY-YES"), "{out}");
    assert!(
        out.contains(&format!("{ROWS} {COLS}")),
        "window size: {out}"
    );

    let long = ctr.new_id("ttyexec");
    e2e::run_detached(&ctr, &long, &["sleep", "600"]);
    let (code, out) = under_pty(
        &ctr,
        &[
            "tasks",
            "exec",
            "-t",
            "--exec-id",
            "t1",
            &long,
            "sh",
            "-c",
            script,
        ],
    );
    assert_eq!(code, Some(4), "{out}");
    assert!(out.contains("TTY-YES"), "{out}");
    assert!(
        out.contains(&format!("{ROWS} {COLS}")),
        "window size: {out}"
    );
    ctr.remove(&long);
    containerd.assert_no_leaks();
}
