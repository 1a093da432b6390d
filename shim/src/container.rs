//! Containers served by this shim and the table that holds them.

use std::{
    collections::{HashMap, VecDeque},
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use runsc::{ControlClient, Runsc};

use crate::{
    error::{Error, Result},
    oom::OomCounter,
    pod::Role,
    process::{Exit, Process},
    stats::CgroupMode,
};

/// Exits of pids not (yet) known are kept this many at most.
const UNMATCHED_CAP: usize = 256;
/// ... and for this long.
const UNMATCHED_TTL: Duration = Duration::from_secs(60);

/// One container: its runsc handle and the state of its processes.
pub struct Container {
    /// Container id.
    pub id: String,
    /// Bundle directory.
    pub bundle: PathBuf,
    /// runsc with this container's global options.
    pub runsc: Runsc,
    /// The metrics message Stats returns.
    pub metrics: CgroupMode,
    /// Whether it owns its gVisor sandbox or joined a pod's.
    pub role: Role,
    /// Whether it is a CRI pod sandbox (pause) container, whose stats
    /// report the sandbox overhead.
    pub pause: bool,
    /// Whether the sandbox's control server may be used instead of runsc.
    pub control_server: bool,
    /// Whether the terminal relay is mounted in it (exec'd terminal
    /// processes then start through it too).
    pub tty_relay: bool,
    state: Mutex<ContainerState>,
}

/// The processes of a container.
pub struct ContainerState {
    /// The container's init process (pid: the sandbox).
    pub init: Process,
    /// Whether the init's exit comes from the reaper (the sandbox process
    /// is its own); a subcontainer's comes from `runsc wait`.
    init_reaped: bool,
    /// Exec'd processes by exec id.
    pub execs: HashMap<String, Exec>,
    /// OOM kills of the sandbox's memory cgroup (containers that own one).
    pub oom: Option<OomCounter>,
}

/// An exec'd process and its process spec (JSON).
pub struct Exec {
    /// Its state.
    pub process: Process,
    /// The OCI process spec containerd sent, as JSON.
    pub spec: Vec<u8>,
}

impl Container {
    /// A container whose init process is `init`.
    pub fn new(
        id: String,
        bundle: PathBuf,
        runsc: Runsc,
        metrics: CgroupMode,
        role: Role,
        pause: bool,
        init: Process,
    ) -> Self {
        let role_owns_sandbox = role == Role::Sandbox;
        Self {
            id,
            bundle,
            runsc,
            metrics,
            role,
            pause,
            control_server: true,
            tty_relay: false,
            state: Mutex::new(ContainerState {
                init_reaped: role_owns_sandbox,
                init,
                execs: HashMap::new(),
                oom: None,
            }),
        }
    }

    /// The control server of the sandbox the container runs in, unless
    /// runsc.toml asks for the runsc CLI.
    pub fn control(&self) -> Option<ControlClient> {
        let sandbox = match &self.role {
            Role::Sandbox => &self.id,
            Role::Subcontainer { sandbox_id } => sandbox_id,
        };
        self.control_server.then(|| {
            ControlClient::locate(&self.runsc.options().root, sandbox)
                .with_deadline(self.runsc.short_timeout())
        })
    }

    /// Records whether the terminal relay is mounted in the container.
    pub fn with_tty_relay(self, tty_relay: bool) -> Self {
        Self { tty_relay, ..self }
    }

    /// Makes every call about the container run the runsc CLI.
    pub fn cli_only(self) -> Self {
        Self {
            control_server: false,
            ..self
        }
    }

    /// Locks the container's state. Never held across an await.
    pub fn state(&self) -> MutexGuard<'_, ContainerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether this container created its own gVisor sandbox.
    pub fn owns_sandbox(&self) -> bool {
        self.role == Role::Sandbox
    }

    /// Names a process in messages: the container, or an exec of it.
    pub fn describe(&self, exec_id: &str) -> String {
        if exec_id.is_empty() {
            format!("container {:?}", self.id)
        } else {
            format!("exec {:?} of container {:?}", exec_id, self.id)
        }
    }
}

impl ContainerState {
    /// The init process for an empty exec id, else that exec.
    pub fn process(&mut self, id: &str, exec_id: &str) -> Result<&mut Process> {
        if exec_id.is_empty() {
            return Ok(&mut self.init);
        }
        self.execs
            .get_mut(exec_id)
            .map(|e| &mut e.process)
            .ok_or_else(|| {
                Error::NotFound(format!("exec {exec_id:?} of container {id:?} not found"))
            })
    }

    /// The process with host pid `pid`, with its exec id ("" for init).
    pub fn by_pid(&mut self, pid: i32) -> Option<(String, &mut Process)> {
        if self.init_reaped && self.init.pid == pid {
            return Some((String::new(), &mut self.init));
        }
        self.execs
            .iter_mut()
            .find(|(_, e)| e.process.pid == pid && !e.process.helper_gone)
            .map(|(id, e)| (id.clone(), &mut e.process))
    }
}

/// All containers of the shim plus exits that arrived before their pid was
/// known. Lock order: the table first, then a container's state.
#[derive(Default)]
pub struct Table {
    containers: HashMap<String, Arc<Container>>,
    unmatched: VecDeque<(i32, Exit)>,
}

impl Table {
    /// Looks up a container.
    pub fn get(&self, id: &str) -> Result<Arc<Container>> {
        self.containers
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("container {id:?} not found")))
    }

    /// Whether a container exists.
    pub fn contains(&self, id: &str) -> bool {
        self.containers.contains_key(id)
    }

    /// Adds a container.
    pub fn insert(&mut self, c: Arc<Container>) {
        self.containers.insert(c.id.clone(), c);
    }

    /// Removes a container.
    pub fn remove(&mut self, id: &str) -> Option<Arc<Container>> {
        self.containers.remove(id)
    }

    /// Whether no container remains.
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty()
    }

    /// All containers.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Container>> {
        self.containers.values()
    }

    /// Keeps the exit of a pid nobody claimed yet.
    pub fn push_unmatched(&mut self, pid: i32, exit: Exit) {
        // Most are runsc commands the spawner already saw; a real claim comes
        // within one Create or Start, so old entries only risk pid reuse.
        let fresh = |e: &Exit| exit.at.duration_since(e.at).unwrap_or_default() < UNMATCHED_TTL;
        while self.unmatched.front().is_some_and(|(_, e)| !fresh(e)) {
            self.unmatched.pop_front();
        }
        if self.unmatched.len() == UNMATCHED_CAP {
            self.unmatched.pop_front();
        }
        self.unmatched.push_back((pid, exit));
    }

    /// Takes the kept exit of `pid`, if it came before the pid was known.
    pub fn take_unmatched(&mut self, pid: i32) -> Option<Exit> {
        let at = self.unmatched.iter().position(|(p, _)| *p == pid)?;
        self.unmatched.remove(at).map(|(_, e)| e)
    }
}

/// The shared, lockable table.
pub type SharedTable = Arc<Mutex<Table>>;

/// Locks the table.
pub fn lock(table: &SharedTable) -> MutexGuard<'_, Table> {
    table.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmatched_exits_are_bounded_and_taken_once() {
        let mut t = Table::default();
        for pid in 0..(UNMATCHED_CAP as i32 + 10) {
            t.push_unmatched(pid, Exit::now(pid));
        }
        assert_eq!(t.take_unmatched(3), None, "oldest dropped");
        assert_eq!(t.take_unmatched(20).unwrap().status, 20);
        assert_eq!(t.take_unmatched(20), None);
    }

    #[test]
    fn stale_unmatched_exits_expire() {
        let mut t = Table::default();
        let old = Exit {
            status: 1,
            at: std::time::SystemTime::now() - UNMATCHED_TTL * 2,
        };
        t.push_unmatched(7, old);
        t.push_unmatched(8, Exit::now(0));
        assert_eq!(t.take_unmatched(7), None, "expired");
        assert!(t.take_unmatched(8).is_some());
    }
}
