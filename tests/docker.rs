//! Docker Engine as a client: a private dockerd (Debian's docker.io 28.5.2
//! with its managed containerd 2.1.9, fetched by `scripts/versions.sh`) whose
//! daemon.json names the shim as runtime `gvisor` (written by the shim's
//! `config-docker`), driven with the docker CLI. One dockerd serves all the
//! cases, run one after another; then nothing of them may be left on the host,
//! and the fixture removes the dockerd itself.
//!
//! Skipped with a message when Docker cannot be fetched (offline).

use std::time::{Duration, Instant};

use harness::dockerd::{self, Dockerd, DOCKER_TIMEOUT};
use harness::{report_skip as skip, CmdOutput, Runtime, BUSYBOX_IMAGE};

/// A window size the terminal cases set on their outer terminal.
const ROWS: u16 = 30;
const COLS: u16 = 100;

#[test]
fn docker_runs_containers_in_gvisor_through_the_shim() {
    let test = "docker_runs_containers_in_gvisor_through_the_shim";
    if e2e::runtime() != Runtime::Runsc {
        skip(test, "needs the runsc shim (E2E_RUNTIME is set)");
        return;
    }
    let missing = harness::missing_requirements();
    if !missing.is_empty() {
        let why = format!("this machine lacks {}", missing.join(", "));
        assert!(std::env::var_os("CI").is_none(), "{test}: {why}");
        skip(test, &why);
        return;
    }
    let binaries = match dockerd::fetch() {
        Ok(b) => b,
        Err(e) => {
            skip(test, &format!("Docker cannot be fetched: {e}"));
            return;
        }
    };
    let docker = Dockerd::start(&binaries).expect("starting dockerd");
    let started = Instant::now();
    for (case, run) in [
        (
            "run",
            run_prints_gvisors_kernel_and_exit_codes as fn(&Dockerd),
        ),
        ("stdin", run_interactive_passes_stdin),
        ("tty", run_and_exec_with_a_terminal),
        ("exec", exec_exit_codes_and_stdin),
        ("stop", stop_sends_term_then_kill_after_the_timeout),
        ("kill", kill_with_the_default_and_another_signal),
        ("logs", logs_of_a_detached_container),
        ("memory", memory_limit_in_meminfo_and_stats),
        ("pause", pause_and_unpause),
        ("bad config", a_missing_runsc_toml_is_reported),
        ("tty relay", the_relay_names_the_terminal),
    ] {
        let at = Instant::now();
        run(&docker);
        eprintln!("docker case {case}: {:.1?}", at.elapsed());
    }
    docker.assert_no_leaks();
    eprintln!("docker cases: {:.1?}", started.elapsed());
}

fn assert_code(out: &CmdOutput, code: i32) {
    assert_eq!(out.code, Some(code), "{out}");
}

/// `docker <args>`, which must succeed; returns its trimmed stdout.
fn ok(docker: &Dockerd, args: &[&str]) -> String {
    let out = docker.docker(args);
    assert!(out.success(), "{out}");
    out.stdout_trimmed().to_string()
}

/// A detached container `prefix-…` running `script` in sh; returns its name.
fn detached(docker: &Dockerd, prefix: &str, flags: &[&str], script: &str) -> String {
    let name = docker.new_name(prefix);
    let mut all = vec!["-d"];
    all.extend(flags);
    let out = docker.run(&name, &all, &["sh", "-c", script]);
    assert!(out.success(), "{out}");
    name
}

/// Waits until `docker logs name` shows `text`.
fn wait_for_log(docker: &Dockerd, name: &str, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = docker.docker(&["logs", name]);
        if out.stdout.contains(text) {
            return;
        }
        assert!(Instant::now() < deadline, "no {text:?} in the logs: {out}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn inspect(docker: &Dockerd, name: &str, format: &str) -> String {
    ok(docker, &["inspect", "--format", format, name])
}

fn run_prints_gvisors_kernel_and_exit_codes(docker: &Dockerd) {
    let name = docker.new_name("version");
    let out = docker.run(&name, &["--rm"], &["cat", "/proc/version"]);
    assert!(out.success(), "{out}");
    // gVisor's own kernel version, not the host's.
    assert!(out.stdout.starts_with("Linux version 4.4.0"), "{out}");
    let host = std::fs::read_to_string("/proc/version").unwrap();
    assert_ne!(out.stdout, host);

    // The runtime type itself, without a daemon.json entry: no options
    // reach the shim, which reads the runsc.toml its environment names
    // (dockerd's RUNSC_SHIM_CONFIG; /etc/containerd/runsc.toml by default).
    let name = docker.new_name("bytype");
    let mut args = docker.run_args(&name, &["--rm"]);
    let at = args.iter().position(|a| a == "--runtime").unwrap();
    args[at + 1] = "io.containerd.runsc.v1".into();
    args.extend([BUSYBOX_IMAGE, "cat", "/proc/version"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = docker.docker(&args);
    assert!(out.success(), "{out}");
    assert!(out.stdout.starts_with("Linux version 4.4.0"), "{out}");

    let name = docker.new_name("dmesg");
    let out = docker.run(&name, &["--rm"], &["dmesg"]);
    assert!(out.stdout.contains("Starting gVisor"), "{out}");

    for code in [0, 3, 255] {
        let name = docker.new_name("code");
        let out = docker.run(&name, &["--rm"], &["sh", "-c", &format!("exit {code}")]);
        assert_code(&out, code);
    }
    // A missing executable is runsc's error, reported by docker run (127).
    let name = docker.new_name("missing");
    let out = docker.run(&name, &["--rm"], &["/no/such/binary"]);
    assert!(!out.success(), "{out}");
    assert!(out.stderr.contains("/no/such/binary"), "{out}");
}

fn run_interactive_passes_stdin(docker: &Dockerd) {
    let name = docker.new_name("stdin");
    let out = docker.run_input(
        &name,
        &["--rm", "-i"],
        &["sh", "-c", "tr a-z A-Z; exit 5"],
        Some(b"hello from stdin\n"),
    );
    assert_code(&out, 5);
    assert_eq!(out.stdout, "HELLO FROM STDIN\n", "{out}");
}

/// `docker <args>` under a terminal of [`ROWS`] x [`COLS`].
fn in_terminal(docker: &Dockerd, args: &[&str]) -> CmdOutput {
    docker.docker_in_pty(args, (ROWS, COLS), DOCKER_TIMEOUT)
}

fn run_and_exec_with_a_terminal(docker: &Dockerd) {
    let script = "test -t 0 && test -t 1 && echo TTY-YES; sleep 1; stty size; exit 4";
    let name = docker.new_name("tty");
    let mut args = docker.run_args(&name, &["--rm", "-t"]);
    args.extend([BUSYBOX_IMAGE, "sh", "-c", script].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = in_terminal(docker, &args);
    let assert_terminal = |out: &CmdOutput| {
        assert_code(out, 4);
        assert!(out.stdout.contains("TTY-YES"), "{out}");
        // docker sends the terminal's size after the start.
        assert!(
            out.stdout.contains(&format!("{ROWS} {COLS}")),
            "window size: {out}"
        );
    };
    assert_terminal(&out);

    let name = detached(docker, "ttyexec", &[], "sleep 600");
    assert_terminal(&in_terminal(
        docker,
        &["exec", "-it", &name, "sh", "-c", script],
    ));
    ok(docker, &["rm", "-f", &name]);
}

fn exec_exit_codes_and_stdin(docker: &Dockerd) {
    let name = detached(docker, "exec", &[], "sleep 600");
    assert_code(&docker.docker(&["exec", &name, "sh", "-c", "exit 7"]), 7);
    assert_eq!(
        ok(docker, &["exec", &name, "cat", "/proc/version"])[..19],
        *"Linux version 4.4.0"
    );
    let out = docker.docker_input(
        &["exec", "-i", &name, "sh", "-c", "cat; exit 2"],
        Some(b"to exec\n"),
        DOCKER_TIMEOUT,
    );
    assert_code(&out, 2);
    assert_eq!(out.stdout, "to exec\n", "{out}");
    // An exec sees the container's processes (one sandbox).
    let ps = ok(docker, &["exec", &name, "ps"]);
    assert!(ps.contains("sleep 600"), "{ps}");
    ok(docker, &["rm", "-f", &name]);
}

fn stop_sends_term_then_kill_after_the_timeout(docker: &Dockerd) {
    // Ignores SIGTERM: killed after the 2 s timeout.
    let name = detached(
        docker,
        "stopkill",
        &[],
        "trap 'echo got TERM' TERM; echo ready; while true; do sleep 0.1; done",
    );
    wait_for_log(docker, &name, "ready");
    let at = Instant::now();
    ok(docker, &["stop", "-t", "2", &name]);
    let took = at.elapsed();
    assert!(took >= Duration::from_secs(2), "stopped after {took:?}");
    assert!(took < Duration::from_secs(15), "stopped after {took:?}");
    assert_eq!(inspect(docker, &name, "{{.State.ExitCode}}"), "137");
    wait_for_log(docker, &name, "got TERM");
    ok(docker, &["rm", &name]);

    // Exits on SIGTERM: stopped long before the 30 s timeout.
    let name = detached(
        docker,
        "stopterm",
        &[],
        "trap 'exit 42' TERM; echo ready; while true; do sleep 0.1; done",
    );
    wait_for_log(docker, &name, "ready");
    let at = Instant::now();
    ok(docker, &["stop", "-t", "30", &name]);
    assert!(at.elapsed() < Duration::from_secs(10), "{:?}", at.elapsed());
    assert_eq!(inspect(docker, &name, "{{.State.ExitCode}}"), "42");
    ok(docker, &["rm", &name]);
}

fn kill_with_the_default_and_another_signal(docker: &Dockerd) {
    let name = detached(docker, "kill", &[], "sleep 600");
    ok(docker, &["kill", &name]);
    assert_eq!(
        inspect(docker, &name, "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    ok(docker, &["rm", &name]);

    let name = detached(
        docker,
        "usr1",
        &[],
        "trap 'echo got USR1; exit 9' USR1; echo ready; while true; do sleep 0.1; done",
    );
    wait_for_log(docker, &name, "ready");
    ok(docker, &["kill", "--signal", "USR1", &name]);
    assert_code(&docker.docker(&["wait", &name]), 0);
    assert_eq!(inspect(docker, &name, "{{.State.ExitCode}}"), "9");
    wait_for_log(docker, &name, "got USR1");
    ok(docker, &["rm", &name]);
}

fn logs_of_a_detached_container(docker: &Dockerd) {
    let name = detached(
        docker,
        "logs",
        &[],
        "echo out-1; echo err-1 >&2; echo out-2; exit 0",
    );
    assert_eq!(ok(docker, &["wait", &name]), "0");
    let out = docker.docker(&["logs", &name]);
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout, "out-1\nout-2\n", "{out}");
    assert_eq!(out.stderr, "err-1\n", "{out}");
    ok(docker, &["rm", &name]);
}

fn memory_limit_in_meminfo_and_stats(docker: &Dockerd) {
    let name = docker.new_name("meminfo");
    let out = docker.run(
        &name,
        &["--rm", "--memory", "256m"],
        &["grep", "MemTotal", "/proc/meminfo"],
    );
    assert!(out.success(), "{out}");
    assert!(out.stdout.contains("262144 kB"), "{out}");

    let name = detached(docker, "stats", &["--memory", "256m"], "sleep 600");
    let stats = ok(
        docker,
        &[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.MemUsage}} {{.PIDs}}",
            &name,
        ],
    );
    // e.g. "stats-… 2.4MiB / 256MiB 2": the limit the container was given.
    assert!(stats.starts_with(&name), "{stats}");
    assert!(stats.contains(" / 256MiB "), "{stats}");
    assert!(!stats.contains(" 0B / "), "{stats}");
    ok(docker, &["rm", "-f", &name]);
}

fn pause_and_unpause(docker: &Dockerd) {
    let name = detached(
        docker,
        "pause",
        &[],
        "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.1; done",
    );
    ok(docker, &["pause", &name]);
    assert_eq!(inspect(docker, &name, "{{.State.Status}}"), "paused");
    ok(docker, &["unpause", &name]);
    assert_eq!(inspect(docker, &name, "{{.State.Status}}"), "running");
    let first = ok(docker, &["exec", &name, "cat", "/tmp/n"]);
    std::thread::sleep(Duration::from_millis(500));
    let later = ok(docker, &["exec", &name, "cat", "/tmp/n"]);
    assert_ne!(first, later, "the loop runs again after unpause");
    ok(docker, &["rm", "-f", &name]);
}

/// A runtime whose runsc.toml turns the terminal relay on: `tty` names a
/// pty of gVisor's own in `docker run -t`.
fn the_relay_names_the_terminal(docker: &Dockerd) {
    let base = std::fs::read_to_string(docker.dir().join("gvisor.toml")).unwrap();
    let relay = docker.dir().join("gvisor-pts.toml");
    std::fs::write(&relay, format!("tty_relay = true\n{base}")).unwrap();
    docker
        .add_runtime("gvisor-pts", &relay)
        .expect("adding a runtime");
    let name = docker.new_name("pts");
    let mut args = docker.run_args(&name, &["--rm", "-t"]);
    // The last --runtime wins.
    args.extend(
        [
            "--runtime",
            "gvisor-pts",
            BUSYBOX_IMAGE,
            "sh",
            "-c",
            "tty; exit 3",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = in_terminal(docker, &args);
    assert_code(&out, 3);
    assert!(out.stdout.contains("/dev/pts/"), "tty: {out}");
}

fn a_missing_runsc_toml_is_reported(docker: &Dockerd) {
    let missing = docker.dir().join("no-such-runsc.toml");
    docker
        .add_runtime("gvisor-missing", &missing)
        .expect("adding a runtime");
    let name = docker.new_name("badcfg");
    let mut args = docker.run_args(&name, &["--rm"]);
    // The last --runtime wins.
    args.extend(["--runtime", "gvisor-missing", BUSYBOX_IMAGE, "true"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = docker.docker(&args);
    assert!(!out.success(), "{out}");
    // The shim's own error, naming the file, reaches the docker CLI.
    assert!(out.stderr.contains(&missing.display().to_string()), "{out}");
    // The failed container is still known to dockerd (created, not started).
    let _ = docker.docker(&["rm", "-f", &name]);
}
