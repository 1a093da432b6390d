//! Kubernetes pods through containerd's CRI plugin with handler `runsc`:
//! one shim and one gVisor sandbox per pod, each container with its own
//! logs and exit code, pod sizing, prompt and clean pod removal.

use std::{
    collections::HashMap,
    thread,
    time::{Duration, Instant},
};

use e2e::{shim_containerd, shim_containerd_with};
use harness::{parse_log, ContainerSpec, Containerd, Cri, Pod, PodSpec, State};

const WAIT: Duration = Duration::from_secs(30);

/// (pid, argument list) of live processes.
fn processes() -> Vec<(u32, Vec<String>)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let raw = std::fs::read(e.path().join("cmdline")).ok()?;
            let args: Vec<String> = raw
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            (!args.is_empty()).then_some((pid, args))
        })
        .collect()
}

/// Pids of the runsc sandbox processes of `pod`.
fn sandbox_pids(pod: &Pod) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(_, a)| a[0].contains("runsc-sandbox") && a.iter().any(|x| x.contains(&pod.id)))
        .map(|(pid, _)| pid)
        .collect()
}

/// (shim daemons of this containerd, runsc sandbox processes of `pod`).
fn count_shims_and_sandboxes(containerd: &Containerd, pod: &Pod) -> (usize, usize) {
    let socket = containerd.socket().display().to_string();
    let shims = processes()
        .into_iter()
        .filter(|(_, a)| a[0].ends_with("containerd-shim-runsc-v1"))
        .filter(|(_, a)| a.windows(2).any(|w| w[0] == "-address" && w[1] == socket))
        .filter(|(_, a)| a.iter().any(|x| x == "-socket"))
        .count();
    (shims, sandbox_pids(pod).len())
}

/// The pod's log of `name`, once it holds `want` lines.
fn log_lines(cri: &Cri, pod: &Pod, name: &str, want: usize) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = cri.read_log(pod, name).unwrap_or_default();
        let lines: Vec<_> = parse_log(&text)
            .into_iter()
            .map(|l| (l.stream, l.text))
            .collect();
        if lines.len() >= want || Instant::now() > deadline {
            return lines;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

fn remove_pod(cri: &Cri, pod: &Pod) {
    let started = Instant::now();
    cri.stop_pod(pod).unwrap();
    cri.remove_pod(pod).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "pod stop+remove took {:?}",
        started.elapsed()
    );
}

#[test]
fn pod_shares_one_shim_and_sandbox_with_own_logs_and_exits() {
    let Some(containerd) =
        shim_containerd("pod_shares_one_shim_and_sandbox_with_own_logs_and_exits")
    else {
        return;
    };
    let cri = containerd.cri().unwrap();
    let pod = cri
        .run_pod(&PodSpec::new("two", "runsc").host_network())
        .unwrap();
    let first = cri
        .create_container(
            &pod,
            "first",
            &["sh", "-c", "echo one-out; echo one-err >&2; exit 3"],
        )
        .unwrap();
    let second = cri
        .create_container(&pod, "second", &["sh", "-c", "echo two-out; sleep 600"])
        .unwrap();
    cri.start_container(&first).unwrap();
    cri.start_container(&second).unwrap();

    let done = cri.wait_container_exited(&first, WAIT).unwrap();
    assert_eq!((done.state, done.exit_code), (State::Exited, 3), "{done:?}");
    let mut first_log = log_lines(&cri, &pod, "first", 2);
    first_log.sort();
    assert_eq!(
        first_log,
        [
            ("stderr".to_string(), "one-err".to_string()),
            ("stdout".to_string(), "one-out".to_string())
        ]
    );
    assert_eq!(
        log_lines(&cri, &pod, "second", 1),
        [("stdout".to_string(), "two-out".to_string())]
    );
    assert_eq!(count_shims_and_sandboxes(&containerd, &pod), (1, 1));

    // The running container still answers, the exited one can go.
    let exec = cri
        .exec_sync(&second, &["sh", "-c", "echo exec-out; exit 4"], WAIT)
        .unwrap();
    assert_eq!(
        (exec.exit_code, exec.stdout_trimmed()),
        (4, "exec-out".into())
    );
    cri.remove_container(&first).unwrap();

    // Stopping one container leaves the pod running.
    cri.stop_container(&second, Duration::from_secs(2)).unwrap();
    let stopped = cri.container_status(&second).unwrap();
    assert_eq!(stopped.state, State::Exited, "{stopped:?}");
    assert_eq!(count_shims_and_sandboxes(&containerd, &pod), (1, 1));
    cri.remove_container(&second).unwrap();

    assert!(
        pod.log_directory.join("gvisor.log").exists(),
        "runsc's user log belongs in the pod log directory"
    );
    remove_pod(&cri, &pod);
    assert_eq!(count_shims_and_sandboxes(&containerd, &pod), (0, 0));
    containerd.assert_no_leaks();
}

/// 256 MiB and 1.5 CPUs for the pod: gVisor shows MemTotal = 256 MiB and
/// max(2, ceil(1.5)) = 2 CPUs (see the README's arithmetic).
#[test]
fn pod_limits_size_the_sandbox() {
    let Some(containerd) = shim_containerd("pod_limits_size_the_sandbox") else {
        return;
    };
    let cri = containerd.cri().unwrap();
    let spec = PodSpec::new("sized", "runsc")
        .host_network()
        .memory_limit(256 << 20)
        .cpu(150_000, 100_000);
    let pod = cri.run_pod(&spec).unwrap();
    // The sandbox (sentry) runs in the pod's cgroup, where kubelet accounts
    // the RuntimeClass overhead.
    let sandbox = sandbox_pids(&pod);
    assert_eq!(sandbox.len(), 1, "{sandbox:?}");
    let cgroups = std::fs::read_to_string(format!("/proc/{}/cgroup", sandbox[0])).unwrap();
    let memory = cgroups.lines().find(|l| l.contains(":memory:")).unwrap();
    assert!(
        memory.ends_with(&format!(":memory:{}", pod.cgroup_parent)),
        "{cgroups}"
    );
    let c = cri
        .create_container(
            &pod,
            "probe",
            &["sh", "-c", "grep MemTotal /proc/meminfo; nproc"],
        )
        .unwrap();
    cri.start_container(&c).unwrap();
    let done = cri.wait_container_exited(&c, WAIT).unwrap();
    assert_eq!(done.exit_code, 0, "{done:?}");
    let out: Vec<String> = log_lines(&cri, &pod, "probe", 2)
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let mem_kb: u64 = out[0]
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no MemTotal in {out:?}"));
    assert_eq!(mem_kb, 256 * 1024, "{out:?}");
    let host_cpus = thread::available_parallelism().unwrap().get();
    assert_eq!(out[1], 2.min(host_cpus).to_string(), "{out:?}");
    cri.remove_container(&c).unwrap();
    remove_pod(&cri, &pod);
    containerd.assert_no_leaks();
}

#[test]
fn five_pods_in_parallel_keep_their_logs_apart() {
    let Some(containerd) = shim_containerd("five_pods_in_parallel_keep_their_logs_apart") else {
        return;
    };
    let cri = containerd.cri().unwrap();
    let results: HashMap<usize, Vec<(String, String)>> = thread::scope(|s| {
        let handles: Vec<_> = (0..5)
            .map(|i| {
                let cri = &cri;
                s.spawn(move || {
                    let pod = cri
                        .run_pod(&PodSpec::new(&format!("par{i}"), "runsc").host_network())
                        .unwrap();
                    let script = format!("echo pod-{i}; echo err-{i} >&2");
                    let c = cri
                        .create_container(&pod, "c", &["sh", "-c", &script])
                        .unwrap();
                    cri.start_container(&c).unwrap();
                    let done = cri.wait_container_exited(&c, WAIT).unwrap();
                    assert_eq!(done.exit_code, 0, "pod {i}: {done:?}");
                    let lines = log_lines(cri, &pod, "c", 2);
                    cri.remove_container(&c).unwrap();
                    remove_pod(cri, &pod);
                    (i, lines)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, mut lines) in results {
        // The two streams are copied independently: compare as sets.
        lines.sort();
        assert_eq!(
            lines,
            [
                ("stderr".to_string(), format!("err-{i}")),
                ("stdout".to_string(), format!("pod-{i}"))
            ],
            "pod {i}"
        );
    }
    containerd.assert_no_leaks();
}

#[test]
fn stopping_the_pod_stops_its_running_containers() {
    let Some(containerd) = shim_containerd("stopping_the_pod_stops_its_running_containers") else {
        return;
    };
    let cri = containerd.cri().unwrap();
    let pod = cri
        .run_pod(&PodSpec::new("stopall", "runsc").host_network())
        .unwrap();
    for i in 0..2 {
        let id = cri
            .create_container(&pod, &format!("s{i}"), &["sleep", "600"])
            .unwrap();
        cri.start_container(&id).unwrap();
    }
    remove_pod(&cri, &pod);
    assert!(cri.list_containers().unwrap().is_empty());
    assert_eq!(count_shims_and_sandboxes(&containerd, &pod), (0, 0));
    containerd.assert_no_leaks();
}

/// The pod's containers share /dev/shm, as on runc.
#[test]
fn containers_of_a_pod_share_dev_shm() {
    let Some(containerd) = shim_containerd("containers_of_a_pod_share_dev_shm") else {
        return;
    };
    let cri = containerd.cri().unwrap();
    let pod = cri
        .run_pod(&PodSpec::new("shm", "runsc").host_network())
        .unwrap();
    let writer = cri
        .create_container(
            &pod,
            "writer",
            &["sh", "-c", "echo shared > /dev/shm/x; sleep 600"],
        )
        .unwrap();
    cri.start_container(&writer).unwrap();
    let reader = cri
        .create_container(&pod, "reader", &["sleep", "600"])
        .unwrap();
    cri.start_container(&reader).unwrap();
    let deadline = Instant::now() + WAIT;
    let out = loop {
        let out = cri
            .exec_sync(&reader, &["cat", "/dev/shm/x"], WAIT)
            .unwrap();
        if out.exit_code == 0 || Instant::now() > deadline {
            break out;
        }
        thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        (out.exit_code, out.stdout_trimmed()),
        (0, "shared".into()),
        "{out:?}"
    );
    remove_pod(&cri, &pod);
    containerd.assert_no_leaks();
}

/// The pause container's stats are the sandbox's overhead: host cgroup
/// usage minus the containers' usage inside gVisor; the shim logs the sum.
#[test]
fn pause_stats_report_the_sandbox_overhead() {
    let Some(containerd) = shim_containerd("pause_stats_report_the_sandbox_overhead") else {
        return;
    };
    let cri = containerd.cri().unwrap();
    let pod = cri
        .run_pod(&PodSpec::new("overhead", "runsc").host_network())
        .unwrap();
    let app = cri
        .create_container(&pod, "app", &["sleep", "600"])
        .unwrap();
    cri.start_container(&app).unwrap();
    let metrics = containerd
        .ctr(harness::CRI_NAMESPACE)
        .ctr(&["tasks", "metrics", &pod.id]);
    assert!(metrics.success(), "{metrics}");
    let reported: u64 = metrics
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("memory.usage_in_bytes"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    let line = containerd
        .log_tail(400)
        .lines()
        .rev()
        .find(|l| l.contains(&format!("pod sandbox {}: host memory", pod.id)))
        .map(str::to_owned)
        .expect("the shim logs the overhead");
    // "... host memory H B = containers C B + overhead O B; host CPU ..."
    let memory_part = line.split("host memory").nth(1).unwrap();
    let numbers: Vec<u64> = memory_part
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let (host, inside, over) = (numbers[0], numbers[1], numbers[2]);
    assert_eq!(host, inside + over, "{line}");
    assert_eq!(reported, over, "{line}\n{metrics}");
    assert!(over > 0 && inside > 0, "{line}");
    remove_pod(&cri, &pod);
    containerd.assert_no_leaks();
}

/// gVisor mount hints: an emptyDir annotated `dev.gvisor.spec.mount.<vol>.
/// type=tmpfs, share=pod` is one tmpfs inside the sandbox, shared by the
/// pod's containers and never written to the host directory.
#[test]
fn mount_hint_makes_an_empty_dir_a_shared_tmpfs() {
    let Some(containerd) = shim_containerd("mount_hint_makes_an_empty_dir_a_shared_tmpfs") else {
        return;
    };
    // A kubelet root of the test's own, with the pod's emptyDir in it.
    let kubelet = containerd.dir().join("kubelet");
    let uid = format!("uid-{}", std::process::id());
    let volume = kubelet.join(format!("pods/{uid}/volumes/kubernetes.io~empty-dir/cache"));
    std::fs::create_dir_all(&volume).unwrap();
    let config = containerd.runsc_config();
    let base = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("kubelet_root = {:?}\n{base}", kubelet.display().to_string()),
    )
    .unwrap();

    let cri = containerd.cri().unwrap();
    let spec = PodSpec::new("vol", "runsc")
        .host_network()
        .uid(&uid)
        .annotation("dev.gvisor.spec.mount.cache.type", "tmpfs")
        .annotation("dev.gvisor.spec.mount.cache.share", "pod");
    let pod = cri.run_pod(&spec).unwrap();
    let mut ids = Vec::new();
    for (name, script) in [
        (
            "writer",
            "echo hinted > /cache/x; grep ' /cache ' /proc/mounts; sleep 600",
        ),
        ("reader", "sleep 600"),
    ] {
        let c = ContainerSpec::new(name, &["sh", "-c", script]).mount(&volume, "/cache");
        let id = cri.create_container_with(&pod, &c).unwrap();
        cri.start_container(&id).unwrap();
        ids.push(id);
    }
    let mounts = log_lines(&cri, &pod, "writer", 1);
    assert!(
        mounts.iter().any(|(_, l)| l.contains("tmpfs")),
        "/cache should be a tmpfs in the sandbox: {mounts:?}"
    );
    let out = cri.exec_sync(&ids[1], &["cat", "/cache/x"], WAIT).unwrap();
    assert_eq!(
        (out.exit_code, out.stdout_trimmed()),
        (0, "hinted".into()),
        "{out:?}"
    );
    assert!(
        !volume.join("x").exists(),
        "the file went to the host directory: the hint was not applied"
    );
    remove_pod(&cri, &pod);
    containerd.assert_no_leaks();
}

/// UpdateContainerResources: runsc 20221219 has no `update` command, and
/// the shim says so (Unimplemented) instead of pretending.
#[test]
fn update_resources_without_runsc_support_is_unimplemented() {
    let Some(containerd) =
        shim_containerd("update_resources_without_runsc_support_is_unimplemented")
    else {
        return;
    };
    let cri = containerd.cri().unwrap();
    let pod = cri
        .run_pod(&PodSpec::new("update", "runsc").host_network())
        .unwrap();
    let c = cri
        .create_container(&pod, "app", &["sleep", "600"])
        .unwrap();
    cri.start_container(&c).unwrap();
    let mut client = cri.runtime_client();
    let request = harness::cri_api::UpdateContainerResourcesRequest {
        container_id: c.clone(),
        linux: Some(harness::cri_api::LinuxContainerResources {
            memory_limit_in_bytes: 128 << 20,
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = cri
        .block_on(client.update_container_resources(request))
        .unwrap_err();
    assert!(
        err.message().contains("has no `update` command"),
        "{:?}: {}",
        err.code(),
        err.message()
    );
    assert_eq!(cri.container_status(&c).unwrap().state, State::Running);
    remove_pod(&cri, &pod);
    containerd.assert_no_leaks();
}

/// Exits of a pod's containers come from the sandbox's control server: no
/// `runsc wait` process per container (gVisor's Go shim keeps one each).
#[test]
fn pod_containers_need_no_runsc_wait_process() {
    let Some(containerd) = shim_containerd("pod_containers_need_no_runsc_wait_process") else {
        return;
    };
    let cri = containerd.cri().unwrap();
    let pod = cri
        .run_pod(&PodSpec::new("nowait", "runsc").host_network())
        .unwrap();
    for i in 0..3 {
        let c = cri
            .create_container(&pod, &format!("c{i}"), &["sleep", "600"])
            .unwrap();
        cri.start_container(&c).unwrap();
    }
    let waits: Vec<_> = processes()
        .into_iter()
        .filter(|(_, a)| a[0].contains("runsc") && a.iter().any(|x| x == "wait"))
        .filter(|(_, a)| a.iter().any(|x| x.contains(&pod.id)))
        .collect();
    assert!(waits.is_empty(), "runsc wait processes: {waits:?}");
    assert!(
        containerd.log_tail(400).contains(&format!(
            "sandbox {}: container exits by in-process wait",
            pod.id
        )),
        "the shim should say which path it took"
    );
    // The exit still arrives when a container stops.
    let c = cri
        .create_container(&pod, "short", &["sh", "-c", "exit 6"])
        .unwrap();
    cri.start_container(&c).unwrap();
    let done = cri.wait_container_exited(&c, WAIT).unwrap();
    assert_eq!(done.exit_code, 6, "{done:?}");
    remove_pod(&cri, &pod);
    containerd.assert_no_leaks();
}

/// With `control_server = false` in runsc.toml every wait, signal, process
/// list and stats call runs the runsc CLI instead, and pods work the same.
#[test]
fn pod_containers_through_the_runsc_cli() {
    let Some(containerd) = shim_containerd_with(
        "pod_containers_through_the_runsc_cli",
        "control_server = false",
    ) else {
        return;
    };
    let cri = containerd.cri().unwrap();
    let pod = cri
        .run_pod(&PodSpec::new("cli", "runsc").host_network())
        .unwrap();
    // Some CPU work first: gVisor can account a bare `sleep` no CPU time.
    let busy_then_sleep = "i=0; while [ $i -lt 5000 ]; do i=$((i+1)); done; exec sleep 600";
    let long = cri
        .create_container(&pod, "long", &["sh", "-c", busy_then_sleep])
        .unwrap();
    cri.start_container(&long).unwrap();
    // The shim starts the `runsc wait` right after the start; give it a
    // moment to appear (and the log line to arrive).
    let deadline = Instant::now() + Duration::from_secs(10);
    let waits = loop {
        let waits: Vec<_> = processes()
            .into_iter()
            .filter(|(_, a)| a[0].contains("runsc") && a.iter().any(|x| x == "wait"))
            .filter(|(_, a)| a.iter().any(|x| x == &long))
            .collect();
        if !waits.is_empty() || Instant::now() > deadline {
            break waits;
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(waits.len(), 1, "one runsc wait for {long}: {waits:?}");
    let said = format!(
        "sandbox {}: container exits by `runsc wait` (its control server is not usable \
         here: runsc.toml sets control_server = false)",
        pod.id
    );
    while !containerd.log_tail(400).contains(&said) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    assert!(
        containerd.log_tail(400).contains(&said),
        "the shim should say which path it took"
    );
    let out = cri
        .exec_sync(&long, &["sh", "-c", "echo hi; exit 4"], WAIT)
        .unwrap();
    assert_eq!((out.exit_code, out.stdout_trimmed().as_str()), (4, "hi"));
    let stats = cri.container_stats(&long).unwrap();
    assert!(stats.cpu_core_nanos > Some(0), "{stats:?}");
    assert!(stats.memory_usage_bytes > Some(0), "{stats:?}");
    let short = cri
        .create_container(&pod, "short", &["sh", "-c", "exit 6"])
        .unwrap();
    cri.start_container(&short).unwrap();
    assert_eq!(
        cri.wait_container_exited(&short, WAIT).unwrap().exit_code,
        6
    );
    cri.stop_container(&long, Duration::from_secs(5)).unwrap();
    let stopped = cri.container_status(&long).unwrap();
    assert_eq!(stopped.exit_code, 143, "{stopped:?}");
    remove_pod(&cri, &pod);
    containerd.assert_no_leaks();
}
