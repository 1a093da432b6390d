//! `ctr task metrics`: runsc's stats as cgroup v1 metrics on this (v1) host,
//! or as v2 metrics when runsc.toml asks for them.

use e2e::{gvisor_containerd, run_detached};
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
    assert_eq!(value(&out.stdout, "memory.usage_in_bytes"), None, "{out}");

    ctr.remove(&v1);
    ctr.remove(&v2);
    containerd.assert_no_leaks();
}
