//! Terminals: `ctr run -t` and `ctr task exec -t` get a pty through the
//! shim, with exit codes intact and ^C delivered; with `tty_relay = true`
//! it is a `/dev/pts/N` of gVisor's own (`tty` names it), which runsc's
//! host pty is not.

use std::{process::Command, time::Duration};

use e2e::{gvisor_containerd, shim_containerd, shim_containerd_with};
use harness::{Containerd, Ctr};

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

/// `ctr run -t --rm <runtime> busybox <id> args...` under a terminal.
fn run_with_tty(ctr: &Ctr<'_>, config: &str, id: &str, args: &[&str]) -> (Option<i32>, String) {
    let mut line = vec![
        "run",
        "-t",
        "--rm",
        "--runtime",
        "io.containerd.runsc.v1",
        "--runtime-config-path",
        config,
        harness::BUSYBOX_IMAGE,
        id,
    ];
    line.extend_from_slice(args);
    under_pty(ctr, &line)
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

/// By default the process sits on runsc's host pty: a terminal for
/// `test -t`, but without a name, and no relay is mounted.
#[test]
fn by_default_the_terminal_has_no_name() {
    let Some(containerd) = shim_containerd("by_default_the_terminal_has_no_name") else {
        return;
    };
    let ctr = containerd.namespace("tty").unwrap();
    let config = containerd.runsc_config().display().to_string();
    let id = ctr.new_id("plain");
    let (code, out) = run_with_tty(
        &ctr,
        &config,
        &id,
        &["sh", "-c", "test -t 0 && echo TTY-YES; tty; exit 5"],
    );
    assert_eq!(code, Some(5), "{out}");
    assert!(
        out.contains("TTY-YES") && out.contains("not a tty"),
        "{out}"
    );
    let long = ctr.new_id("plainexec");
    e2e::run_detached(&ctr, &long, &["sleep", "600"]);
    let out = ctr.ctr(&[
        "tasks",
        "exec",
        "--exec-id",
        "x",
        &long,
        "sh",
        "-c",
        "test -e /dev/.runsc-tty-relay && echo MOUNTED || echo ABSENT",
    ]);
    assert!(out.stdout.contains("ABSENT"), "{out}");
    ctr.remove(&long);
    containerd.assert_no_leaks();
}

/// Waits until `id`'s processes include `comm` (busybox applet names).
fn wait_for_process(ctr: &Ctr<'_>, id: &str, comm: &str) {
    for _ in 0..100 {
        let out = ctr.ctr(&[
            "tasks",
            "exec",
            "--exec-id",
            "probe",
            id,
            "ps",
            "-o",
            "comm",
        ]);
        if out.stdout.lines().any(|l| l.trim() == comm) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{comm} never ran in {id}");
}

/// ^C typed on the terminal interrupts the container's process (130).
#[test]
fn ctrl_c_interrupts_the_process() {
    let Some(containerd) = shim_containerd("ctrl_c_interrupts_the_process") else {
        return;
    };
    let ctr = containerd.namespace("tty").unwrap();
    let config = containerd.runsc_config().display().to_string();
    let id = ctr.new_id("intr");
    let (ctr_bin, address, ns) = ctr_parts(&containerd, &ctr);
    let line = format!(
        "{ctr_bin} --address {address} -n {ns} run -t --rm --runtime io.containerd.runsc.v1 \
         --runtime-config-path {config} {} {id} sleep 100",
        harness::BUSYBOX_IMAGE
    );
    let mut child = Command::new("timeout")
        .args(["60", "script", "-qec", &line, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script");
    ctr.wait_for_status(&id, "RUNNING", Duration::from_secs(20))
        .unwrap();
    wait_for_process(&ctr, &id, "sleep");
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"\x03").unwrap();
    stdin.flush().unwrap();
    let done = child.wait_with_output().unwrap();
    drop(stdin);
    assert_eq!(
        done.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&done.stdout)
    );
    containerd.assert_no_leaks();
}

/// With `tty_relay = true`: `tty` names a `/dev/pts/N`, signals reach the
/// process behind the relay, its status is the container's, and a killed
/// terminal exec takes its process with it.
#[test]
fn signals_and_kills_through_the_relay() {
    let Some(containerd) =
        shim_containerd_with("signals_and_kills_through_the_relay", "tty_relay = true")
    else {
        return;
    };
    {
        let ctr = containerd.namespace("tty").unwrap();
        let config = containerd.runsc_config().display().to_string();
        let id = ctr.new_id("name");
        let (code, out) = run_with_tty(&ctr, &config, &id, &["sh", "-c", "tty; exit 3"]);
        assert_eq!(code, Some(3), "{out}");
        assert!(out.contains("/dev/pts/"), "tty: {out}");
    }
    let ctr = containerd.namespace("tty").unwrap();
    let config = containerd.runsc_config().display().to_string();
    let id = ctr.new_id("trap");
    let runner = {
        let (ctr_bin, address, ns) = ctr_parts(&containerd, &ctr);
        let config = config.clone();
        let id = id.clone();
        std::thread::spawn(move || {
            let line = format!(
                "{ctr_bin} --address {address} -n {ns} run -t --rm --runtime io.containerd.runsc.v1 \
                 --runtime-config-path {config} {} {id} sh -c \"trap 'echo got-term; exit 9' TERM; \
                 echo ready; while true; do sleep 0.1; done\"",
                harness::BUSYBOX_IMAGE
            );
            Command::new("timeout")
                .args(["60", "script", "-qec", &line, "/dev/null"])
                .output()
                .expect("script")
        })
    };
    ctr.wait_for_status(&id, "RUNNING", Duration::from_secs(20))
        .unwrap();
    wait_for_process(&ctr, &id, "sleep");
    let out = ctr.ctr(&["tasks", "kill", "-s", "SIGTERM", &id]);
    assert!(out.success(), "{out}");
    let done = runner.join().unwrap();
    let printed = String::from_utf8_lossy(&done.stdout);
    assert_eq!(done.status.code(), Some(9), "{printed}");
    assert!(printed.contains("got-term"), "{printed}");

    let long = ctr.new_id("tkill");
    e2e::run_detached(&ctr, &long, &["sleep", "600"]);
    let exec_with_tty = |exec_id: &str, script: &str| {
        let (ctr_bin, address, ns) = ctr_parts(&containerd, &ctr);
        let line = format!(
            "{ctr_bin} --address {address} -n {ns} tasks exec -t --exec-id {exec_id} {long} \
             sh -c '{script}'"
        );
        std::thread::spawn(move || {
            Command::new("timeout")
                .args(["60", "script", "-qec", &line, "/dev/null"])
                .output()
                .expect("script")
        })
    };
    let exec = exec_with_tty("t1", "sleep 1000; echo never");
    wait_for_process(&ctr, &long, "sleep");
    let before = ctr.ctr(&["tasks", "ps", &long]);
    let out = ctr.ctr(&["tasks", "kill", "--exec-id", "t1", "-s", "SIGKILL", &long]);
    assert!(out.success(), "{out}");
    let done = exec.join().unwrap();
    assert_eq!(done.status.code(), Some(137), "{:?}", done);
    // The relay takes the shell with it (a zombie of init's at most).
    // Its `sleep 1000` stays, as it does without the relay: gVisor does
    // not hang up a session whose leader was killed.
    wait_until_gone(&ctr, &long, "sh -c sleep 1000", &before.to_string());

    // A shell that exits normally hangs up its terminal: the job it left
    // in the foreground group goes (as on Linux, not on runsc's host pty).
    let exec = exec_with_tty("t2", "sleep 2000 & echo started; exit 3");
    let done = exec.join().unwrap();
    let printed = String::from_utf8_lossy(&done.stdout);
    assert_eq!(done.status.code(), Some(3), "{printed}");
    assert!(printed.contains("started"), "{printed}");
    wait_until_gone(&ctr, &long, "sleep 2000", &printed);
    ctr.remove(&long);
    containerd.assert_no_leaks();
}

/// Waits until no process of `id` has `args` in its command line; `context`
/// goes into the failure message.
fn wait_until_gone(ctr: &Ctr<'_>, id: &str, args: &str, context: &str) {
    let mut left = String::new();
    for n in 0..50 {
        let out = ctr.ctr(&[
            "tasks",
            "exec",
            "--exec-id",
            &format!("gone{n}"),
            id,
            "ps",
            "-o",
            "args",
        ]);
        left = out.stdout.lines().filter(|l| l.contains(args)).collect();
        if left.is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("`{args}` outlived its terminal: {left} ({context})");
}

/// The ctr binary, containerd address and namespace of `ctr`, for command
/// lines run under `script`.
fn ctr_parts(containerd: &Containerd, ctr: &Ctr<'_>) -> (String, String, String) {
    let cmd = ctr.command(&["version"]);
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let address = args
        .iter()
        .position(|a| a == "--address")
        .map(|i| args[i + 1].clone())
        .unwrap_or_else(|| {
            containerd
                .dir()
                .join("containerd.sock")
                .display()
                .to_string()
        });
    (
        cmd.get_program().to_string_lossy().into_owned(),
        address,
        ctr.namespace().to_string(),
    )
}
