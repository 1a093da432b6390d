//! `ctr task metrics`: runsc's stats as cgroup v1 metrics on this (v1) host,
//! or as v2 metrics when runsc.toml asks for them.

use e2e::{gvisor_containerd, run_detached, shim_containerd};
use harness::{Run, Runtime};

/// The value of `metric` in `ctr task metrics` output.
fn value(table: &str, metric: &str) -> Option<u64> {
    table.lines().find_map(|l| {
        let mut cols = l.split_whitespace();
        (cols.next() == Some(metric)).then(|| cols.next()?.parse().ok())?
    })
}

#[test]
fn metrics_follow_the_host_or_the_config() {
    let Some(containerd) = gvisor_containerd("metrics_follow_the_host_or_the_config") else {
        return;
    };
    let ctr = containerd.namespace("metrics").unwrap();
    let v1 = ctr.new_id("m1");
    run_detached(&ctr, &v1, &["sleep", "600"]);
    let out = ctr.ctr(&["tasks", "metrics", &v1]);
    assert!(out.success(), "{out}");
    assert!(
        value(&out.stdout, "memory.usage_in_bytes") > Some(0),
        "{out}"
    );
    assert!(value(&out.stdout, "cpuacct.usage") > Some(0), "{out}");
    assert!(value(&out.stdout, "pids.current") >= Some(1), "{out}");
    // gVisor's stats carry no limit; the shim adds the host cgroup's (an
    // unlimited v1 cgroup's is its huge default), as `docker stats` needs.
    assert!(
        value(&out.stdout, "memory.limit_in_bytes") > Some(1 << 40),
        "{out}"
    );
    let limited = ctr.new_id("lim");
    let config = containerd.runsc_config().display().to_string();
    let started = ctr.ctr(&[
        "run",
        "-d",
        "--memory-limit",
        "268435456",
        "--runtime",
        "io.containerd.runsc.v1",
        "--runtime-config-path",
        &config,
        harness::BUSYBOX_IMAGE,
        &limited,
        "sleep",
        "600",
    ]);
    assert!(started.success(), "{started}");
    ctr.wait_for_status(&limited, "RUNNING", std::time::Duration::from_secs(10))
        .unwrap();
    let out = ctr.ctr(&["tasks", "metrics", &limited]);
    assert_eq!(
        value(&out.stdout, "memory.limit_in_bytes"),
        Some(268435456),
        "{out}"
    );
    ctr.remove(&limited);

    let base = std::fs::read_to_string(containerd.runsc_config()).unwrap();
    let v2_config = containerd
        .write_file(
            "runsc-v2.toml",
            &format!("cgroup_metrics = \"v2\"\n{base}"),
            0o644,
        )
        .unwrap();
    let v2 = ctr.new_id("m2");
    let run = Run::new(Runtime::RunscWithConfig(v2_config), &v2, &["sleep", "600"]).detach();
    let started = ctr.run(&run);
    assert!(started.success(), "{started}");
    ctr.wait_for_status(&v2, "RUNNING", std::time::Duration::from_secs(10))
        .unwrap();
    let out = ctr.ctr(&["tasks", "metrics", &v2]);
    assert!(out.success(), "{out}");
    assert!(value(&out.stdout, "memory.usage") > Some(0), "{out}");
    assert!(value(&out.stdout, "cpu.usage_usec") > Some(0), "{out}");
    assert!(
        value(&out.stdout, "memory.usage_limit") > Some(1 << 40),
        "{out}"
    );
    assert_eq!(value(&out.stdout, "memory.usage_in_bytes"), None, "{out}");

    // An exited container has no stats, and containerd's log says so.
    let kill = ctr.ctr(&["tasks", "kill", "-s", "SIGKILL", &v2]);
    assert!(kill.success(), "{kill}");
    ctr.wait_for_status(&v2, "STOPPED", std::time::Duration::from_secs(10))
        .unwrap();
    let out = ctr.ctr(&["tasks", "metrics", &v2]);
    assert!(!out.success(), "{out}");
    let why = format!("container \\\"{v2}\\\" has exited: it has no stats");
    assert!(
        containerd.log_tail(200).contains(&why),
        "{out}\n{}",
        containerd.log_tail(20)
    );

    ctr.remove(&v1);
    ctr.remove(&v2);
    containerd.assert_no_leaks();
}

/// Stats come from the sandbox's control server: no `runsc events` process
/// per call (each is a ~17 MB Go process), and the same figures runsc gives.
#[test]
fn metrics_need_no_runsc_process() {
    let Some(containerd) = shim_containerd("metrics_need_no_runsc_process") else {
        return;
    };
    let calls = containerd.dir().join("runsc-calls");
    let wrapper = containerd
        .write_file(
            "runsc-recording",
            &format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
                calls.display(),
                harness::runsc_binary().display()
            ),
            0o755,
        )
        .unwrap();
    let base = std::fs::read_to_string(containerd.runsc_config()).unwrap();
    let (_, rest) = base.split_once('\n').unwrap();
    assert!(base.starts_with("binary_name"), "{base}");
    let config = containerd
        .write_file(
            "runsc-recording.toml",
            &format!("binary_name = \"{}\"\n{rest}", wrapper.display()),
            0o644,
        )
        .unwrap();
    let ctr = containerd.namespace("metrics").unwrap();
    let id = ctr.new_id("ctl");
    let run = Run::new(
        Runtime::RunscWithConfig(config),
        &id,
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 600",
        ],
    )
    .detach();
    let started = ctr.run(&run);
    assert!(started.success(), "{started}");
    ctr.wait_for_status(&id, "RUNNING", std::time::Duration::from_secs(10))
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    let before = std::fs::read_to_string(&calls).unwrap();
    let out = ctr.ctr(&["tasks", "metrics", &id]);
    assert!(out.success(), "{out}");
    let after = std::fs::read_to_string(&calls).unwrap();
    let new_calls = &after[before.len()..];
    assert!(
        !new_calls.contains("events"),
        "metrics ran runsc: {new_calls}"
    );
    let memory = value(&out.stdout, "memory.usage_in_bytes").unwrap_or_default();
    let cpu = value(&out.stdout, "cpuacct.usage").unwrap_or_default();
    assert!(memory > 0 && cpu > 0, "{out}");
    assert!(value(&out.stdout, "pids.current") >= Some(1), "{out}");
    // runsc's own figures for the same container agree in magnitude (the
    // sandbox runs on, so they are not equal).
    let root = containerd
        .dir()
        .join("runsc-root")
        .join(ctr.namespace())
        .join(&id);
    let cli = std::process::Command::new(harness::runsc_binary())
        .arg("--root")
        .arg(root)
        .args(["events", "--stats", &id])
        .output()
        .unwrap();
    let printed: serde_json::Value = serde_json::from_slice(&cli.stdout)
        .unwrap_or_else(|e| panic!("runsc events: {e}: {cli:?}"));
    let cli_cpu = printed["data"]["cpu"]["usage"]["total"].as_u64().unwrap();
    let cli_memory = printed["data"]["memory"]["usage"]["usage"]
        .as_u64()
        .unwrap();
    assert!(
        cli_cpu >= cpu && cli_cpu < cpu * 2,
        "cpu: shim {cpu}, runsc {cli_cpu}"
    );
    assert!(
        cli_memory < memory * 2 && memory < cli_memory * 2,
        "memory: shim {memory}, runsc {cli_memory}"
    );
    // With the control server turned off, runsc answers.
    let cli_config = containerd
        .write_file(
            "runsc-cli.toml",
            &format!(
                "binary_name = \"{}\"\ncontrol_server = false\n{rest}",
                wrapper.display()
            ),
            0o644,
        )
        .unwrap();
    let cli_id = ctr.new_id("cli");
    let run = Run::new(
        Runtime::RunscWithConfig(cli_config),
        &cli_id,
        &["sleep", "600"],
    )
    .detach();
    let started = ctr.run(&run);
    assert!(started.success(), "{started}");
    ctr.wait_for_status(&cli_id, "RUNNING", std::time::Duration::from_secs(10))
        .unwrap();
    let before = std::fs::read_to_string(&calls).unwrap();
    let out = ctr.ctr(&["tasks", "metrics", &cli_id]);
    assert!(out.success(), "{out}");
    assert!(
        value(&out.stdout, "memory.usage_in_bytes") > Some(0),
        "{out}"
    );
    let after = std::fs::read_to_string(&calls).unwrap();
    assert!(
        after[before.len()..].contains(&format!("events --stats {cli_id}")),
        "runsc events should have run: {}",
        &after[before.len()..]
    );
    ctr.remove(&id);
    ctr.remove(&cli_id);
    containerd.assert_no_leaks();
}
