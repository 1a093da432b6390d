//! Stopping a private dockerd and removing every trace of it: its containers
//! (`docker rm -f`, while it answers), dockerd (SIGTERM, then SIGKILL), its
//! managed containerd, shim and runsc processes tied to the instance, mounts
//! under the directory, shim sockets, cgroups, and the directory itself.

use std::fs;
use std::path::Path;
use std::process::Child;
use std::thread;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::layout::shim_socket_of;
use crate::procfs;
use crate::teardown::{
    kill_leftovers, remove_cgroups, remove_dir_unless_mounted, stop_child, unmount_all,
};

use super::files::DockerLayout;
use super::leaks::Container;
use super::{Dockerd, DOCKER_NAMESPACE};

/// How long dockerd gets to exit after SIGTERM (it stops its containerd
/// first) before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(30);

/// How long `docker rm -f` of all containers may take.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(120);

/// Daemons that run with the instance's files in their arguments.
const DAEMONS: [&str; 2] = ["dockerd", "containerd"];

/// Tears the instance down and returns what could not be cleaned up.
/// `created_run_docker`: `/run/docker` did not exist before dockerd started
/// (dockerd creates `/run/docker/plugins`, a fixed path).
pub(crate) fn run(
    dockerd: &Dockerd,
    child: Child,
    recorded: &[Container],
    created_run_docker: bool,
) -> Vec<String> {
    let layout = dockerd.layout();
    let mut problems = remove_containers(dockerd);
    let mut child = child;
    stop_child(&mut child, "dockerd", TERM_GRACE, &mut problems);
    kill_daemons(layout);
    let address = layout.containerd_socket();
    let mut sockets = kill_leftovers(&address, layout.dir());
    let ids: Vec<&str> = recorded.iter().filter_map(|c| c.id.as_deref()).collect();
    sockets.extend(
        ids.iter()
            .map(|id| shim_socket_of(&address, DOCKER_NAMESPACE, id)),
    );
    thread::sleep(Duration::from_millis(200));
    for socket in sockets {
        let _ = fs::remove_file(socket);
    }
    unmount_all(layout.dir(), &mut problems);
    let cgroups: Vec<(String, String)> = ids
        .iter()
        .map(|id| (layout.cgroup_parent(), id.to_string()))
        .collect();
    remove_cgroups(&cgroups, &[layout.cgroup_parent()]);
    if created_run_docker {
        let run_docker = Path::new("/run/docker");
        let _ = fs::remove_dir(run_docker.join("plugins"));
        let _ = fs::remove_dir(run_docker);
    }
    remove_dir_unless_mounted(layout.dir(), &mut problems);
    problems
}

/// `docker rm -f` of every container dockerd lists; returns what failed.
fn remove_containers(dockerd: &Dockerd) -> Vec<String> {
    let listed = dockerd.docker(&["ps", "-aq", "--no-trunc"]);
    if !listed.success() {
        return vec![format!("listing containers: {listed}")];
    }
    let ids: Vec<&str> = listed.stdout.split_whitespace().collect();
    if ids.is_empty() {
        return Vec::new();
    }
    let mut args = vec!["rm", "-f"];
    args.extend(&ids);
    let out = dockerd.docker_with_timeout(&args, REMOVE_TIMEOUT);
    if out.success() {
        Vec::new()
    } else {
        vec![format!("removing containers: {out}")]
    }
}

/// SIGKILLs dockerd and containerd processes that still run with the
/// instance's files (a managed containerd outliving a killed dockerd), and
/// waits a moment for them to go.
fn kill_daemons(layout: &DockerLayout) {
    let mut killed = false;
    for p in procfs::processes() {
        if DAEMONS.contains(&p.program()) && p.mentions_dir(layout.dir()) {
            eprintln!(
                "harness teardown: killing leftover {} {} ({})",
                p.program(),
                p.pid,
                p.cmdline()
            );
            let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
            killed = true;
        }
    }
    if killed {
        thread::sleep(Duration::from_millis(500));
    }
}
