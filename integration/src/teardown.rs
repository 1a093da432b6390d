//! Stopping a private containerd and removing every trace of it. While containerd
//! answers, CRI pods are stopped and removed through the CRI plugin (which also
//! runs CNI DEL), then whatever tasks are left are killed with `ctr`. Only
//! processes tied to the instance are signalled: shims whose `-address` is its
//! socket and runsc processes whose arguments point into its directory.

use std::fs;
use std::path::Path;
use std::process::{Child, Command};
use std::thread;
use std::time::{Duration, Instant};

use nix::mount::{umount2, MntFlags};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use crate::command;
use crate::cri;
use crate::ctr::parse_tasks;
use crate::layout::{shim_socket_of, Layout};
use crate::procfs::{self, Process};

/// How long containerd gets to exit after SIGTERM before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(10);

/// The containerd process to stop.
pub(crate) enum Daemon {
    /// Started by this process (reaped with `wait`).
    Child(Child),
    /// Started elsewhere (`harness up`); only signalled while its command line
    /// still names the instance's config file.
    Pid(i32),
}

/// Tears the instance down and returns what could not be cleaned up, for the
/// caller to report. `ids` are the (namespace, id) pairs handed out,
/// `own_namespaces` the namespaces created for this instance only.
pub fn run(
    layout: &Layout,
    daemon: Option<Daemon>,
    ids: &[(String, String)],
    own_namespaces: &[String],
) -> Vec<String> {
    let mut problems = cri::remove_all_pods(layout);
    let pod_cgroups = cri::recorded_pod_cgroups(layout);
    remove_containers(layout);
    if let Some(daemon) = daemon {
        stop_daemon(layout, daemon, &mut problems);
    }
    let mut sockets: Vec<_> = ids
        .iter()
        .map(|(ns, id)| layout.shim_socket(ns, id))
        .collect();
    sockets.extend(kill_leftovers(&layout.socket(), layout.dir()));
    thread::sleep(Duration::from_millis(200));
    for socket in sockets {
        let _ = fs::remove_file(socket);
    }
    unmount_all(layout.dir(), &mut problems);
    delete_bridge(layout);
    remove_cgroups(ids, own_namespaces);
    for parent in &pod_cgroups {
        cri::remove_pod_cgroup(parent);
    }
    remove_dir_unless_mounted(layout.dir(), &mut problems);
    problems
}

/// Tears down the instance in `dir` that `harness up` left running (containerd
/// found through its pid file); returns what could not be cleaned up.
pub fn down(dir: &Path) -> Vec<String> {
    let layout = Layout::new(dir);
    let pid = fs::read_to_string(layout.pid_file())
        .ok()
        .and_then(|s| s.trim().parse().ok());
    run(&layout, pid.map(Daemon::Pid), &[], &[])
}

/// SIGKILLs and deletes every task and container in every namespace, while
/// containerd still answers; this lets the shims clean up after themselves.
fn remove_containers(layout: &Layout) {
    let ctr = |args: &[&str]| {
        let mut cmd = Command::new(crate::versions::ctr_binary());
        cmd.arg("--address").arg(layout.socket()).args(args);
        command::run(cmd, Duration::from_secs(30))
            .ok()
            .filter(|out| out.success())
            .map(|out| out.stdout)
            .unwrap_or_default()
    };
    for ns in ctr(&["namespaces", "ls", "-q"]).split_whitespace() {
        let tasks = ctr(&["-n", ns, "tasks", "ls", "-q"]);
        for id in tasks.split_whitespace() {
            ctr(&["-n", ns, "tasks", "kill", "-a", "-s", "SIGKILL", id]);
        }
        for id in tasks.split_whitespace() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                let running = parse_tasks(&ctr(&["-n", ns, "tasks", "ls"]))
                    .into_iter()
                    .any(|t| t.id == id && matches!(t.status.as_str(), "RUNNING" | "PAUSED"));
                if !running {
                    break;
                }
                thread::sleep(Duration::from_millis(100));
            }
            ctr(&["-n", ns, "tasks", "delete", "-f", id]);
        }
        for id in ctr(&["-n", ns, "containers", "ls", "-q"]).split_whitespace() {
            ctr(&["-n", ns, "containers", "delete", id]);
        }
    }
}

fn stop_daemon(layout: &Layout, daemon: Daemon, problems: &mut Vec<String>) {
    match daemon {
        Daemon::Child(mut child) => stop_child(&mut child, "containerd", TERM_GRACE, problems),
        Daemon::Pid(raw) => {
            let config = layout.config().display().to_string();
            let ours = |pid: i32| procfs::process(pid).is_some_and(|p| p.args.contains(&config));
            if !ours(raw) {
                return;
            }
            let pid = Pid::from_raw(raw);
            let _ = kill(pid, Signal::SIGTERM);
            let deadline = Instant::now() + TERM_GRACE;
            while Instant::now() < deadline {
                if !ours(raw) {
                    return;
                }
                thread::sleep(Duration::from_millis(50));
            }
            problems.push(format!("containerd {pid} ignored SIGTERM; sent SIGKILL"));
            let _ = kill(pid, Signal::SIGKILL);
        }
    }
}

/// Sends SIGTERM to `child` (a daemon called `what` in messages), waits up to
/// `grace` for it to exit, then SIGKILLs and reaps it, noting that in `problems`.
pub(crate) fn stop_child(
    child: &mut Child,
    what: &str,
    grace: Duration,
    problems: &mut Vec<String>,
) {
    let pid = Pid::from_raw(child.id() as i32);
    let _ = kill(pid, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    problems.push(format!("{what} {pid} ignored SIGTERM; sent SIGKILL"));
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether `p` is a shim serving this instance (`-address <our socket>`).
pub fn is_our_shim(layout: &Layout, p: &Process) -> bool {
    serves(p, &layout.socket())
}

/// Whether `p` is a shim of the containerd whose grpc socket is `address`.
pub(crate) fn serves(p: &Process, address: &Path) -> bool {
    p.program().starts_with("containerd-shim") && p.flag("address") == address.to_str()
}

/// Whether `p` is a runsc process (runsc, runsc-sandbox, runsc-gofer, ...) whose
/// arguments point into the instance directory.
pub fn is_our_runsc(layout: &Layout, p: &Process) -> bool {
    is_runsc_under(p, layout.dir())
}

/// Whether `p` is a runsc process whose arguments point into `dir`.
pub(crate) fn is_runsc_under(p: &Process, dir: &Path) -> bool {
    p.program().starts_with("runsc") && p.mentions_dir(dir)
}

/// SIGKILLs leftover shims of the containerd at `address` (with their process
/// group when they lead one) and runsc processes pointing into `dir`; returns
/// the sockets of the killed shims.
pub(crate) fn kill_leftovers(address: &Path, dir: &Path) -> Vec<std::path::PathBuf> {
    let mut sockets = Vec::new();
    for p in procfs::processes() {
        if serves(&p, address) {
            eprintln!(
                "harness teardown: killing leftover shim {} ({})",
                p.pid,
                p.cmdline()
            );
            if let (Some(ns), Some(id)) = (p.flag("namespace"), p.flag("id")) {
                sockets.push(shim_socket_of(address, ns, id));
            }
            let pid = Pid::from_raw(p.pid);
            if p.pgid() == Some(p.pid) {
                let _ = killpg(pid, Signal::SIGKILL);
            } else {
                let _ = kill(pid, Signal::SIGKILL);
            }
        } else if is_runsc_under(&p, dir) {
            eprintln!(
                "harness teardown: killing leftover runsc {} ({})",
                p.pid,
                p.cmdline()
            );
            let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
        }
    }
    sockets
}

/// Removes the instance directory `dir`, unless something is still mounted
/// below it (removing would reach into the mount); notes that in `problems`.
pub(crate) fn remove_dir_unless_mounted(dir: &Path, problems: &mut Vec<String>) {
    if !procfs::mounts_under(dir).is_empty() {
        problems.push("mounts remain, so the directory was kept".to_string());
    } else if let Err(e) = fs::remove_dir_all(dir) {
        problems.push(format!("removing {}: {e}", dir.display()));
    }
}

/// Unmounts everything at or below `dir`, deepest first (lazily if busy).
pub(crate) fn unmount_all(dir: &Path, problems: &mut Vec<String>) {
    for mount in procfs::mounts_under(dir) {
        if umount2(&mount, MntFlags::empty()).is_err() {
            if let Err(e) = umount2(&mount, MntFlags::MNT_DETACH) {
                problems.push(format!("cannot unmount {}: {e}", mount.display()));
            }
        }
    }
}

fn delete_bridge(layout: &Layout) {
    let bridge = layout.bridge_name();
    if Path::new("/sys/class/net").join(&bridge).exists() {
        let mut cmd = Command::new("ip");
        cmd.args(["link", "del", &bridge]);
        let _ = command::run(cmd, Duration::from_secs(10));
    }
}

/// Removes the (empty) cgroups `/<ns>/<id>` of handed-out ids and `/<ns>` of the
/// instance's own namespaces in every v1 hierarchy. `rmdir` only: a cgroup that
/// still has processes or children stays.
pub(crate) fn remove_cgroups(ids: &[(String, String)], own_namespaces: &[String]) {
    for hierarchy in cgroup_hierarchies() {
        for (ns, id) in ids {
            let _ = fs::remove_dir(hierarchy.join(ns).join(id));
        }
        for ns in own_namespaces {
            let _ = fs::remove_dir(hierarchy.join(ns));
        }
    }
}

/// The mounted cgroup hierarchies: /sys/fs/cgroup itself on a pure cgroup v2
/// host, else its subdirectories (symlinked aliases such as `cpu -> cpu,cpuacct`
/// skipped).
pub fn cgroup_hierarchies() -> Vec<std::path::PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        return vec![root.to_path_buf()];
    }
    let Ok(entries) = fs::read_dir("/sys/fs/cgroup") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}
