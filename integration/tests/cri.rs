//! Self-test of the CRI client against containerd's CRI plugin with handler
//! `runc` (known to work), with host networking and with a CNI pod network: if
//! these fail, the harness is broken, not the shim under test. The same scenario
//! runs with handler `runsc` (the shim under test); `--nocapture` prints the
//! step-by-step report.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use harness::{
    missing_requirements, parse_log, report_skip, Containerd, Cri, Error, Layout, Pod, PodSpec,
    Result, State, CRI_NAMESPACE,
};

fn start(test: &str) -> Option<Containerd> {
    let missing = missing_requirements();
    if !missing.is_empty() {
        report_skip(test, &format!("this machine lacks {}", missing.join(", ")));
        return None;
    }
    Some(Containerd::start().expect("private containerd starts"))
}

/// PASS/FAIL lines of a scenario that goes on after a failed step where it can,
/// so that one run shows every failure.
#[derive(Default)]
struct Report {
    lines: Vec<String>,
    failed: usize,
}

impl Report {
    /// Runs and times one step.
    fn step<T>(&mut self, what: &str, step: impl FnOnce() -> Result<T>) -> Option<T> {
        let started = Instant::now();
        let result = step();
        let took = started.elapsed();
        match result {
            Ok(value) => {
                self.lines.push(format!("PASS {what} ({took:.2?})"));
                Some(value)
            }
            Err(e) => {
                self.failed += 1;
                self.lines.push(format!("FAIL {what} ({took:.2?}): {e}"));
                None
            }
        }
    }

    fn text(&self) -> String {
        self.lines.join("\n")
    }
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::msg(what()))
    }
}

/// Polls the CRI log of `name` until it holds both lines (the log may be
/// flushed a moment after the exit is reported).
fn wait_for_log(cri: &Cri, pod: &Pod, name: &str) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = cri.read_log(pod, name)?;
        let lines = parse_log(&text);
        let has = |stream: &str, text: &str| {
            lines
                .iter()
                .any(|l| l.stream == stream && !l.partial && l.text == text)
        };
        if has("stdout", "hello-cri") && has("stderr", "err") {
            return Ok(text);
        }
        if Instant::now() >= deadline {
            return Err(Error::msg(format!(
                "{} lacks `stdout F hello-cri` / `stderr F err`: {text:?}",
                pod.log_path(name).display()
            )));
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// The cri-smoke scenario: a pod, a container that prints and exits 7, a
/// long-running container with ExecSync and stats, stop and removal of
/// everything. Returns the report; `containerd` is left for the leak check.
fn scenario(containerd: &Containerd, handler: &str, host_network: bool) -> Report {
    let mut report = Report::default();
    let Some(cri) = report.step("connect + import images", || containerd.cri()) else {
        return report;
    };
    report.step("Version", || {
        let v = cri.version()?;
        ensure(v.starts_with("containerd "), || format!("version {v:?}"))
    });

    let mut spec = PodSpec::new("smoke", handler);
    spec.host_network = host_network;
    let Some(pod) = report.step("RunPodSandbox", || cri.run_pod(&spec)) else {
        return report;
    };
    if !host_network {
        report.step("pod IP from CNI", || {
            let status = cri.pod_status(&pod.id, false)?.status;
            let ip = status.and_then(|s| s.network).map(|n| n.ip);
            let ip = ip.unwrap_or_default();
            ensure(ip.starts_with("198.18.0."), || format!("pod IP {ip:?}"))
        });
    }

    let args = ["sh", "-c", "echo hello-cri; echo err >&2; exit 7"];
    if let Some(id) = report.step("CreateContainer hello", || {
        cri.create_container(&pod, "hello", &args)
    }) {
        report.step("hello exits 7, log has stdout and stderr", || {
            cri.start_container(&id)?;
            let state = cri.wait_container_exited(&id, Duration::from_secs(30))?;
            ensure(state.exit_code == 7, || format!("exit status {state:?}"))?;
            wait_for_log(&cri, &pod, "hello")
        });
        report.step("RemoveContainer hello", || cri.remove_container(&id));
    }

    if let Some(id) = report.step("CreateContainer sleeper", || {
        cri.create_container(&pod, "sleeper", &["sleep", "600"])
    }) {
        let running = report.step("sleeper RUNNING", || {
            cri.start_container(&id)?;
            let state = cri.container_status(&id)?;
            ensure(state.state == State::Running, || format!("{state:?}"))
        });
        if running.is_some() {
            report.step("ExecSync exit 3 with stdout", || {
                let cmd = ["sh", "-c", "echo out; exit 3"];
                let out = cri.exec_sync(&id, &cmd, Duration::from_secs(20))?;
                let ok = out.exit_code == 3 && out.stdout_trimmed() == "out";
                ensure(ok, || format!("{out:?}"))
            });
            report.step("ContainerStats", || {
                let stats = cri.container_stats(&id)?;
                let ok = stats.memory_working_set_bytes.is_some();
                ensure(ok, || format!("{stats:?}"))
            });
            report.step("StopContainer -> EXITED", || {
                cri.stop_container(&id, Duration::from_secs(2))?;
                let state = cri.container_status(&id)?;
                ensure(state.state == State::Exited, || format!("{state:?}"))
            });
        }
        report.step("RemoveContainer sleeper", || cri.remove_container(&id));
    }

    report.step("no containers left", || {
        let left = cri.list_containers()?;
        ensure(left.is_empty(), || format!("{left:?}"))
    });
    report.step("StopPodSandbox", || cri.stop_pod(&pod));
    report.step("RemovePodSandbox", || cri.remove_pod(&pod));
    report.step("no pods left", || {
        let left = cri.list_pods()?;
        ensure(left.is_empty(), || format!("{left:?}"))
    });
    drop(cri);
    report.step("no leaks", || {
        let leaks = containerd.leaks_after_grace();
        ensure(leaks.is_empty(), || leaks.join("; "))
    });
    report
}

fn run_scenario(test: &str, handler: &str, host_network: bool) {
    let Some(containerd) = start(test) else {
        return;
    };
    let report = scenario(&containerd, handler, host_network);
    eprintln!(
        "{test} (handler {handler}, host network {host_network}):\n{}",
        report.text()
    );
    assert!(
        report.failed == 0,
        "{} step(s) failed:\n{}\ncontainerd log tail:\n{}",
        report.failed,
        report.text(),
        containerd.log_tail(30)
    );
}

#[test]
fn cri_runc_host_network() {
    run_scenario("cri_runc_host_network", "runc", true);
}

#[test]
fn cri_runc_pod_network() {
    run_scenario("cri_runc_pod_network", "runc", false);
}

#[test]
fn cri_runsc_host_network() {
    run_scenario("cri_runsc_host_network", "runsc", true);
}

#[test]
fn cri_runsc_pod_network() {
    run_scenario("cri_runsc_pod_network", "runsc", false);
}

/// Whether any hierarchy still has the pod's cgroup.
fn pod_cgroup_exists(pod: &Pod) -> bool {
    let relative = pod.cgroup_parent.trim_start_matches('/');
    std::fs::read_dir("/sys/fs/cgroup")
        .map(|it| it.flatten().any(|h| h.path().join(relative).exists()))
        .unwrap_or(false)
        || Path::new("/sys/fs/cgroup").join(relative).exists()
}

#[test]
fn running_pods_are_leaks_that_teardown_removes() {
    let Some(containerd) = start("running_pods_are_leaks_that_teardown_removes") else {
        return;
    };
    let cri = containerd.cri().unwrap();
    let pod = cri.run_pod(&PodSpec::new("left", "runc")).unwrap();
    let id = cri
        .create_container(&pod, "sleeper", &["sleep", "600"])
        .unwrap();
    cri.start_container(&id).unwrap();
    drop(cri);

    let leaks = containerd.leaks().join("\n");
    assert!(
        leaks.contains(&format!("task {CRI_NAMESPACE}/{id}")),
        "{leaks}"
    );
    assert!(leaks.contains("of a CRI pod"), "{leaks}");
    assert!(leaks.contains("CNI address still allocated"), "{leaks}");
    assert!(pod_cgroup_exists(&pod));

    let layout: Layout = containerd.layout().clone();
    let socket = layout.shim_socket(CRI_NAMESPACE, &pod.id);
    assert!(socket.exists(), "{}", socket.display());
    let bridge = Path::new("/sys/class/net").join(layout.bridge_name());

    // What teardown does first: through the CRI plugin, so CNI DEL runs too.
    assert_eq!(containerd.remove_cri_pods(), Vec::<String>::new());
    containerd.assert_no_leaks();
    assert!(
        !pod_cgroup_exists(&pod),
        "cgroup {} remains",
        pod.cgroup_parent
    );
    drop(containerd);
    assert!(
        !layout.dir().exists(),
        "{} still exists",
        layout.dir().display()
    );
    assert!(!socket.exists(), "{} still exists", socket.display());
    assert!(!bridge.exists(), "{} still exists", bridge.display());
    assert!(
        !pod_cgroup_exists(&pod),
        "cgroup {} remains",
        pod.cgroup_parent
    );
}
