//! The Task API served to containerd over ttrpc.

use std::{
    os::fd::OwnedFd,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, SystemTime},
};

use async_trait::async_trait;
use containerd_shim::{
    api::{
        CloseIORequest, ConnectRequest, ConnectResponse, CreateTaskRequest, CreateTaskResponse,
        DeleteRequest, DeleteResponse, Empty, ExecProcessRequest, KillRequest, PauseRequest,
        PidsRequest, PidsResponse, ResizePtyRequest, ResumeRequest, ShutdownRequest, StartRequest,
        StartResponse, StateRequest, StateResponse, StatsRequest, StatsResponse, Status,
        UpdateTaskRequest, WaitRequest, WaitResponse,
    },
    asynchronous::{monitor::monitor_subscribe, ExitSignal},
    monitor::{Subject, Topic},
    protos::{
        events::task::{
            TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskIO, TaskOOM,
            TaskPaused, TaskResumed, TaskStart,
        },
        protobuf::MessageField,
        shim::oci::ProcessDetails,
        types::task::ProcessInfo,
    },
    Task, TtrpcContext, TtrpcResult,
};
use log::{debug, info, warn};
use nix::{sys::signal, unistd::Pid};
use runsc::{ControlClient, CreateOpts, ExecOpts, KillOpts, Runsc, Spawner};
use tokio::{io::unix::AsyncFd, sync::OnceCell};

use crate::{
    bundle, cleanup,
    config::ShimConfig,
    console::{Console, ConsoleSocket},
    container::{lock, Container, Exec, SharedTable},
    error::{Error, Result},
    events::EventSender,
    ids, logger, mounts,
    oom::OomCounter,
    options,
    overhead::{self, Usage},
    pod::{PodInfo, Role},
    process::{wait_exit, Exit, ExitOutcome, Process},
    stats::{self, CgroupMode},
    stdio::{self, IoHandles, StdioPaths},
    tty, typeurl,
};

/// How long Delete waits for a created (never started) sandbox to die.
const CREATED_KILL_WAIT: Duration = Duration::from_secs(10);
const SIGKILL: u32 = 9;
const SIGTERM: u32 = 15;

/// The Task service: every container of this shim.
pub struct TaskService {
    namespace: String,
    events: EventSender,
    exit_signal: Arc<ExitSignal>,
    spawner: Arc<dyn Spawner>,
    table: SharedTable,
    log_file_added: AtomicBool,
    cgroup_mode: CgroupMode,
    update_supported: OnceCell<bool>,
}

impl TaskService {
    /// A service for `namespace`, with exits taken from the shim's reaper.
    pub async fn new(
        namespace: String,
        events: EventSender,
        exit_signal: Arc<ExitSignal>,
        spawner: Arc<dyn Spawner>,
    ) -> Self {
        let table = SharedTable::default();
        match monitor_subscribe(Topic::Pid).await {
            Ok(mut sub) => {
                let (table, events) = (table.clone(), events.clone());
                tokio::spawn(async move {
                    while let Some(e) = sub.rx.recv().await {
                        if let Subject::Pid(pid) = e.subject {
                            handle_exit(&table, &events, pid, Exit::now(e.exit_code));
                        }
                    }
                });
            }
            Err(e) => warn!("cannot watch process exits: {e}"),
        }
        Self {
            namespace,
            events,
            exit_signal,
            spawner,
            table,
            log_file_added: AtomicBool::new(false),
            cgroup_mode: CgroupMode::detect(),
            update_supported: OnceCell::new(),
        }
    }

    fn container(&self, id: &str) -> Result<Arc<Container>> {
        lock(&self.table).get(id)
    }

    async fn create(&self, req: CreateTaskRequest) -> Result<CreateTaskResponse> {
        ids::validate("container id", &req.id)?;
        if lock(&self.table).contains(&req.id) {
            return Err(Error::AlreadyExists(format!(
                "container {:?} already exists",
                req.id
            )));
        }
        if !req.checkpoint.is_empty() {
            return Err(Error::Unimplemented(
                "restoring from a checkpoint is not supported by io.containerd.runsc.v1".into(),
            ));
        }
        let bundle = PathBuf::from(&req.bundle);
        let opts = options::decode(req.options.as_ref())?;
        let cfg = ShimConfig::load(opts.as_ref())?;
        let mut spec = bundle::read_spec(&bundle)?;
        let pod = PodInfo::from_annotations(&req.id, &bundle::annotations(&spec))?;
        let mut resolved = cfg.resolve(&self.namespace, &req.id, &pod.group, &bundle)?;
        for key in cfg.ignored_keys() {
            warn!("runsc config key {key:?} has no effect in this shim");
        }
        let mut user_log = None;
        if pod.role == Role::Sandbox {
            let log_root = cfg.pod_log_root();
            let trusted_dir = pod.log_dir.as_ref().filter(|d| {
                let ok = d.starts_with(&log_root);
                if !ok {
                    warn!(
                        "pod log directory {} is outside pod_log_root {}: no gvisor.log there",
                        d.display(),
                        log_root.display()
                    );
                }
                ok
            });
            if let Some(dir) = trusted_dir {
                user_log = Some(dir.join("gvisor.log"));
                let panic_log = dir.join("gvisor_panic.log");
                resolved.default_flag("panic-log", &panic_log.to_string_lossy());
            }
            if pod.has_cpu_quota() {
                resolved.default_flag("cpu-num-from-quota", "true");
            }
        }
        let relay = if resolved.tty_relay {
            tty::install(cfg.base_root())
                .map_err(|e| warn!("{e}: terminals stay on the host pty runsc passes in"))
                .ok()
        } else {
            None
        };
        let mut changed = pod.prepare_spec(&mut spec, &cfg.kubelet_root())?;
        if let Some(relay) = &relay {
            changed |= tty::apply(&mut spec, relay);
        }
        if changed {
            bundle::write_spec(&bundle, &spec)?;
        }
        resolved.create_log_dirs()?;
        self.apply_logging(&resolved);
        cleanup::save(&bundle, &resolved.runsc)?;
        let metrics = resolved.cgroup_metrics.unwrap_or(self.cgroup_mode);
        let (short, long) = resolved.timeouts;
        let control_server = resolved.control_server;
        let runsc = Runsc::new(resolved.runsc, self.spawner.clone()).with_timeout(short, long);
        mounts::mount_all(&bundle, &req.rootfs).await?;
        let stdio = StdioPaths {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        let console_size = spec.get("process").and_then(bundle::console_size);
        let created = self
            .create_init(
                &req.id,
                &bundle,
                &runsc,
                &pod.role,
                user_log,
                stdio,
                console_size,
            )
            .await;
        match created {
            Ok(init) => {
                let pid = init.pid;
                let c = Container::new(
                    req.id.clone(),
                    bundle,
                    runsc,
                    metrics,
                    pod.role.clone(),
                    pod.pause,
                    init,
                );
                let c = c.with_tty_relay(relay.is_some());
                let c = Arc::new(if control_server { c } else { c.cli_only() });
                self.register(c, &req);
                match &pod.role {
                    Role::Sandbox => info!("created container {} (sandbox pid {pid})", req.id),
                    Role::Subcontainer { sandbox_id } => info!(
                        "created container {} in the sandbox of pod {sandbox_id}",
                        req.id
                    ),
                }
                Ok(CreateTaskResponse {
                    pid: pid as u32,
                    ..Default::default()
                })
            }
            Err(e) => {
                let e = explain_usage_error(e, &runsc).await;
                if let Err(d) = runsc.delete(&req.id, true).await {
                    if !d.is_gone() {
                        warn!("cleaning up failed create of {}: {d}", req.id);
                    }
                }
                let _ = mounts::unmount_all(&bundle).await;
                Err(e)
            }
        }
    }

    fn apply_logging(&self, resolved: &crate::config::Resolved) {
        if let Some(level) = resolved.log_level {
            logger::set_level(level);
        }
        if let Some(path) = &resolved.log_path {
            if !self.log_file_added.swap(true, Ordering::SeqCst) {
                if let Err(e) = logger::add_file(path) {
                    warn!("cannot open shim log file {}: {e}", path.display());
                }
            }
        }
    }

    /// `runsc create` of the container's init. A sandbox gets its stdio
    /// here; a subcontainer gets it at start (only its terminal is set up
    /// here, as runsc wants).
    #[allow(clippy::too_many_arguments)]
    async fn create_init(
        &self,
        id: &str,
        bundle: &Path,
        runsc: &Runsc,
        role: &Role,
        user_log: Option<PathBuf>,
        stdio: StdioPaths,
        console_size: Option<(u16, u16)>,
    ) -> Result<Process> {
        let pid_file = bundle.join("init.pid");
        let mut opts = CreateOpts {
            bundle: bundle.to_path_buf(),
            pid_file: pid_file.clone(),
            user_log,
            ..Default::default()
        };
        let handles = if stdio.terminal {
            let socket = ConsoleSocket::new()?;
            opts.console_socket = Some(socket.path());
            runsc.create(id, &opts, Default::default()).await?;
            let master = socket.receive().await?;
            IoHandles::with_console(Console::start(master, &stdio, console_size)?)
        } else if *role == Role::Sandbox {
            let (io, handles) = stdio::open(&stdio, &self.namespace, id)?;
            runsc.create(id, &opts, io).await?;
            handles
        } else {
            runsc.create(id, &opts, Default::default()).await?;
            IoHandles::default()
        };
        let pid = read_pid(&pid_file).await?;
        let mut init = Process::new(stdio);
        init.pid = pid;
        init.io = handles;
        Ok(init)
    }

    /// Adds a created container and publishes TaskCreate (and TaskExit if
    /// its sandbox already died).
    fn register(&self, c: Arc<Container>, req: &CreateTaskRequest) {
        let mut table = lock(&self.table);
        let mut st = c.state();
        let pid = st.init.pid;
        self.events.send(TaskCreate {
            container_id: c.id.clone(),
            bundle: req.bundle.clone(),
            rootfs: req.rootfs.clone(),
            io: MessageField::some(TaskIO {
                stdin: req.stdin.clone(),
                stdout: req.stdout.clone(),
                stderr: req.stderr.clone(),
                terminal: req.terminal,
                ..Default::default()
            }),
            checkpoint: req.checkpoint.clone(),
            pid: pid as u32,
            ..Default::default()
        });
        st.oom = OomCounter::for_pid(pid);
        let watch_oom_events = c.owns_sandbox();
        if let Some(efd) = st
            .oom
            .as_ref()
            .filter(|_| watch_oom_events)
            .and_then(OomCounter::eventfd)
        {
            tokio::spawn(watch_oom(
                self.table.clone(),
                self.events.clone(),
                c.id.clone(),
                efd,
            ));
        }
        if let Some(exit) = table.take_unmatched(pid) {
            if let ExitOutcome::Publish(e) = st.init.exited(exit) {
                self.events.send(exit_event(&c.id, &c.id, pid, e));
            }
        }
        drop(st);
        table.insert(c);
    }

    async fn start(&self, req: StartRequest) -> Result<StartResponse> {
        let c = self.container(&req.id)?;
        c.state()
            .process(&c.id, &req.exec_id)?
            .begin_start(&c.describe(&req.exec_id))?;
        let result = if req.exec_id.is_empty() && c.owns_sandbox() {
            c.runsc
                .start(&c.id, Default::default())
                .await
                .map(|()| c.state().init.pid)
                .map_err(Error::from)
        } else if req.exec_id.is_empty() {
            self.start_subcontainer(&c).await
        } else {
            self.start_exec(&c, &req.exec_id).await
        };
        let pid = match result {
            Ok(pid) => pid,
            Err(e) => {
                let held = {
                    let mut st = c.state();
                    let p = st.process(&c.id, &req.exec_id)?;
                    p.finish_start(false).map(|exit| (exit, p.pid))
                };
                // It died while starting: report that exit now.
                if let Some((exit, pid)) = held {
                    let id = if req.exec_id.is_empty() {
                        &c.id
                    } else {
                        &req.exec_id
                    };
                    self.events.send(exit_event(&c.id, id, pid, exit));
                }
                if req.exec_id.is_empty() && c.owns_sandbox() {
                    self.stop_failed_sandbox(&c).await;
                } else if req.exec_id.is_empty() {
                    // Nothing runs: report it exited so that it can be deleted.
                    self.exited_without_process(&c, 128);
                }
                return Err(e);
            }
        };
        let mut st = c.state();
        let held = st.process(&c.id, &req.exec_id)?.finish_start(true);
        if req.exec_id.is_empty() {
            self.events.send(TaskStart {
                container_id: c.id.clone(),
                pid: pid as u32,
                ..Default::default()
            });
        } else {
            self.events.send(TaskExecStarted {
                container_id: c.id.clone(),
                exec_id: req.exec_id.clone(),
                pid: pid as u32,
                ..Default::default()
            });
        }
        if let Some(exit) = held {
            let id = if req.exec_id.is_empty() {
                &c.id
            } else {
                &req.exec_id
            };
            self.events.send(exit_event(&c.id, id, pid, exit));
        }
        Ok(StartResponse {
            pid: pid as u32,
            ..Default::default()
        })
    }

    /// Starts a container that joins its pod's sandbox: its stdio goes to
    /// `runsc start`, and `runsc wait` reports its exit.
    async fn start_subcontainer(&self, c: &Arc<Container>) -> Result<i32> {
        let (stdio, pid) = {
            let st = c.state();
            (st.init.stdio.clone(), st.init.pid)
        };
        if stdio.terminal {
            c.runsc.start(&c.id, Default::default()).await?;
        } else {
            let (io, handles) = stdio::open(&stdio, &self.namespace, &c.id)?;
            c.runsc.start(&c.id, io).await?;
            c.state().init.io = handles;
        }
        if let Role::Subcontainer { sandbox_id } = &c.role {
            tokio::spawn(wait_subcontainer(
                self.events.clone(),
                c.clone(),
                sandbox_id.clone(),
            ));
        }
        Ok(pid)
    }

    /// Records an exit for a container init that has no process to reap
    /// (a subcontainer that never ran) and publishes it.
    fn exited_without_process(&self, c: &Container, status: i32) {
        let mut st = c.state();
        let pid = st.init.pid;
        if let ExitOutcome::Publish(e) = st.init.exited(Exit::now(status)) {
            self.events.send(exit_event(&c.id, &c.id, pid, e));
        }
    }

    /// After a failed `runsc start` the sandbox is useless: kill it and wait
    /// (briefly) for its exit, so that the task is stopped and `ctr run --rm`
    /// can delete it.
    async fn stop_failed_sandbox(&self, c: &Container) {
        let (pid, watch) = {
            let st = c.state();
            (st.init.pid, st.init.exit_watch())
        };
        let _ = signal::kill(Pid::from_raw(pid), signal::Signal::SIGKILL);
        if tokio::time::timeout(CREATED_KILL_WAIT, wait_exit(watch))
            .await
            .is_err()
        {
            warn!(
                "sandbox {pid} of {} did not exit after a failed start",
                c.id
            );
        }
    }

    /// Runs `runsc exec --detach` for a recorded exec; returns the host pid
    /// of runsc's exec helper, whose exit status is the process's.
    async fn start_exec(&self, c: &Container, exec_id: &str) -> Result<i32> {
        let (spec, stdio) = {
            let st = c.state();
            let e = &st.execs[exec_id];
            (e.spec.clone(), e.process.stdio.clone())
        };
        let files = ExecFiles::new(&c.bundle, exec_id);
        let result = async {
            let spec = if c.tty_relay && stdio.terminal {
                tty::wrap_exec_spec(&spec)?
            } else {
                spec
            };
            tokio::fs::write(&files.spec, &spec)
                .await
                .map_err(|e| Error::io("writing the exec process spec", e))?;
            let mut opts = ExecOpts {
                pid_file: files.pid.clone(),
                internal_pid_file: files.internal_pid.clone(),
                console_socket: None,
            };
            let handles = if stdio.terminal {
                let socket = ConsoleSocket::new()?;
                opts.console_socket = Some(socket.path());
                c.runsc
                    .exec(&c.id, &files.spec, &opts, Default::default())
                    .await?;
                let master = socket.receive().await?;
                let size = serde_json::from_slice(&spec)
                    .ok()
                    .as_ref()
                    .and_then(bundle::console_size);
                IoHandles::with_console(Console::start(master, &stdio, size)?)
            } else {
                let (io, handles) = stdio::open(&stdio, &self.namespace, &c.id)?;
                c.runsc.exec(&c.id, &files.spec, &opts, io).await?;
                handles
            };
            let pid = read_pid(&files.pid).await?;
            let sandbox_pid = read_pid(&files.internal_pid).await.unwrap_or(0);
            Ok::<_, Error>((pid, sandbox_pid, handles))
        }
        .await;
        files.remove().await;
        let (pid, sandbox_pid, handles) = result?;
        let mut table = lock(&self.table);
        let mut st = c.state();
        let p = st.process(&c.id, exec_id)?;
        p.pid = pid;
        p.sandbox_pid = sandbox_pid;
        p.io = handles;
        if let Some(exit) = table.take_unmatched(pid) {
            // The helper already exited: held until TaskExecStarted is out.
            p.exited(exit);
        }
        Ok(pid)
    }

    async fn delete(&self, req: DeleteRequest) -> Result<DeleteResponse> {
        let c = self.container(&req.id)?;
        if !req.exec_id.is_empty() {
            let mut st = c.state();
            let p = st.process(&c.id, &req.exec_id)?;
            if !matches!(p.status(), Status::STOPPED | Status::CREATED) {
                return Err(Error::FailedPrecondition(format!(
                    "{} is still running",
                    c.describe(&req.exec_id)
                )));
            }
            let resp = delete_response(p);
            st.execs.remove(&req.exec_id);
            return Ok(resp);
        }
        let (status, pid, watch) = {
            let st = c.state();
            (st.init.status(), st.init.pid, st.init.exit_watch())
        };
        match status {
            Status::RUNNING | Status::PAUSED | Status::PAUSING => {
                return Err(Error::FailedPrecondition(format!(
                    "container {:?} is running: kill it before deleting it",
                    c.id
                )))
            }
            Status::CREATED => {
                // Never started: it waits for a `runsc start`.
                self.kill_created(&c, pid).await;
                if tokio::time::timeout(CREATED_KILL_WAIT, wait_exit(watch))
                    .await
                    .is_err()
                {
                    warn!("sandbox {pid} of created container {} did not exit", c.id);
                }
            }
            _ => {}
        }
        match c.runsc.delete(&c.id, true).await {
            Ok(()) => {}
            Err(e) if e.is_gone() => {}
            Err(e) => return Err(e.into()),
        }
        cleanup::forget(&c.bundle);
        mounts::unmount_all(&c.bundle).await?;
        cleanup::remove_state_root(&c.runsc.options().root);
        let resp = {
            let mut table = lock(&self.table);
            table.remove(&c.id);
            let mut st = c.state();
            st.init.io.close_stdin();
            delete_response(&st.init)
        };
        self.events.send(TaskDelete {
            container_id: c.id.clone(),
            id: c.id.clone(),
            pid: resp.pid,
            exit_status: resp.exit_status,
            exited_at: resp.exited_at.clone(),
            ..Default::default()
        });
        info!("deleted container {}", c.id);
        Ok(resp)
    }

    async fn kill(&self, req: KillRequest) -> Result<()> {
        let c = self.container(&req.id)?;
        let what = c.describe(&req.exec_id);
        let (status, pid, sandbox_pid) = {
            let mut st = c.state();
            let p = st.process(&c.id, &req.exec_id)?;
            (p.status(), p.pid, p.sandbox_pid)
        };
        match status {
            Status::STOPPED => return already_finished(req.signal, &what),
            Status::CREATED if req.exec_id.is_empty() => {
                // runsc cannot signal a created container.
                self.kill_created(&c, pid).await;
                return Ok(());
            }
            Status::CREATED => {
                return Err(Error::FailedPrecondition(format!("{what} is not started")))
            }
            _ => {}
        }
        let opts = if req.exec_id.is_empty() {
            KillOpts {
                all: req.all,
                pid: None,
            }
        } else {
            KillOpts {
                all: false,
                pid: Some(sandbox_pid),
            }
        };
        self.signal(&c, &req, opts, pid).await?;
        if req.signal == SIGKILL && req.exec_id.is_empty() && status == Status::PAUSED {
            // As runc does: a paused container would hold SIGKILL until
            // resumed, and `ctr task rm -f` would wait for ever.
            // Marked running first: its exit follows the resume at once.
            info!("{what} is paused: resuming it so that SIGKILL takes effect");
            self.mark_paused(&c, false);
            if let Err(e) = c.runsc.resume(&c.id).await {
                warn!("{what}: resuming after SIGKILL: {e}");
            }
        }
        Ok(())
    }

    /// Delivers `req.signal`: through the sandbox's control server first
    /// (no runsc process), else `runsc kill`, which also gives runsc's own
    /// error texts.
    async fn signal(
        &self,
        c: &Container,
        req: &KillRequest,
        opts: KillOpts,
        pid: i32,
    ) -> Result<()> {
        let what = c.describe(&req.exec_id);
        if let Some(control) = c.control() {
            match control
                .signal(&c.id, req.signal as i32, opts.pid, opts.all)
                .await
            {
                Ok(()) => return Ok(()),
                Err(e) => debug!("{what}: signal through the control server: {e}"),
            }
        }
        match c.runsc.kill(&c.id, req.signal as i32, opts).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_gone() => already_finished(req.signal, &what),
            Err(e @ runsc::Error::Timeout { .. })
                if req.signal == SIGKILL && req.exec_id.is_empty() && c.owns_sandbox() =>
            {
                // A frozen sandbox cannot answer; SIGKILL reaches it anyway.
                warn!("{what}: {e}; killing its sandbox {pid}");
                signal::kill(Pid::from_raw(pid), signal::Signal::SIGKILL)
                    .map_err(|k| Error::Other(format!("{e}; killing sandbox {pid}: {k}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Ends a container that was created but never started: its own
    /// sandbox is killed (the reaper reports the exit); a subcontainer is
    /// removed from the pod's sandbox and reported killed.
    async fn kill_created(&self, c: &Container, pid: i32) {
        if c.owns_sandbox() {
            let _ = signal::kill(Pid::from_raw(pid), signal::Signal::SIGKILL);
            return;
        }
        if let Err(e) = c.runsc.delete(&c.id, true).await {
            if !e.is_gone() {
                warn!("removing created container {}: {e}", c.id);
            }
        }
        self.exited_without_process(c, 128 + signal::Signal::SIGKILL as i32);
    }

    async fn pause_resume(&self, id: &str, pause: bool) -> Result<()> {
        let c = self.container(id)?;
        if c.state().init.is_stopped() {
            return Err(Error::FailedPrecondition(format!(
                "container {id:?} is stopped"
            )));
        }
        if pause {
            c.runsc.pause(id).await?;
        } else {
            c.runsc.resume(id).await?;
        }
        self.mark_paused(&c, pause);
        Ok(())
    }

    /// Records that container `c` is paused or running again, and tells
    /// containerd.
    fn mark_paused(&self, c: &Container, pause: bool) {
        c.state().init.set_paused(pause);
        let container_id = c.id.clone();
        if pause {
            self.events.send(TaskPaused {
                container_id,
                ..Default::default()
            });
        } else {
            self.events.send(TaskResumed {
                container_id,
                ..Default::default()
            });
        }
    }

    fn exec(&self, req: ExecProcessRequest) -> Result<()> {
        ids::validate("exec id", &req.exec_id)?;
        if req.exec_id == req.id {
            // Its events would read as the container's own (`id` is the
            // exec id, or the container id for the init process).
            return Err(Error::InvalidArgument(format!(
                "exec id {:?} is the container's own id",
                req.exec_id
            )));
        }
        let c = self.container(&req.id)?;
        let mut st = c.state();
        if st.init.is_stopped() {
            return Err(Error::FailedPrecondition(format!(
                "container {:?} has exited: cannot exec in it",
                c.id
            )));
        }
        if st.execs.contains_key(&req.exec_id) {
            return Err(Error::AlreadyExists(format!(
                "{} already exists",
                c.describe(&req.exec_id)
            )));
        }
        let spec = req
            .spec
            .as_ref()
            .map(|a| a.value.clone())
            .unwrap_or_default();
        serde_json::from_slice::<serde_json::Value>(&spec).map_err(|e| {
            Error::InvalidArgument(format!("exec {:?}: invalid process spec: {e}", req.exec_id))
        })?;
        let stdio = StdioPaths {
            stdin: req.stdin,
            stdout: req.stdout,
            stderr: req.stderr,
            terminal: req.terminal,
        };
        st.execs.insert(
            req.exec_id.clone(),
            Exec {
                process: Process::new(stdio),
                spec,
            },
        );
        self.events.send(TaskExecAdded {
            container_id: c.id.clone(),
            exec_id: req.exec_id,
            ..Default::default()
        });
        Ok(())
    }

    /// Passes new resources to `runsc update` when the runsc at hand has
    /// that command (runsc 0.0~20221219 does not).
    async fn update(&self, req: UpdateTaskRequest) -> Result<()> {
        let c = self.container(&req.id)?;
        let supported = self
            .update_supported
            .get_or_try_init(|| c.runsc.has_subcommand("update"))
            .await?;
        if !supported {
            return Err(Error::Unimplemented(format!(
                "cannot update the resources of container {:?}: {} has no `update` command",
                c.id,
                c.runsc.options().binary.display()
            )));
        }
        let json = req
            .resources
            .as_ref()
            .map(|a| a.value.clone())
            .unwrap_or_default();
        serde_json::from_slice::<oci_spec::runtime::LinuxResources>(&json).map_err(|e| {
            Error::InvalidArgument(format!("update of {:?}: invalid resources: {e}", c.id))
        })?;
        let file = c.bundle.join("update-resources.json");
        tokio::fs::write(&file, &json)
            .await
            .map_err(|e| Error::io("writing the resources for runsc update", e))?;
        let result = c.runsc.update(&c.id, &file).await;
        let _ = tokio::fs::remove_file(&file).await;
        Ok(result?)
    }

    /// Container `c`'s statistics as `runsc events --stats` gives them:
    /// from the sandbox's control server (no runsc process), else from runsc.
    async fn stats_of(&self, c: &Container) -> Result<runsc::StatsEvent> {
        if c.state().init.is_stopped() {
            return Err(Error::FailedPrecondition(format!(
                "container {:?} has exited: it has no stats",
                c.id
            )));
        }
        if let Some(control) = c.control() {
            match control.event(&c.id).await {
                Ok(answer) => {
                    let host_cpu = overhead::host_usage(c.state().init.pid).map(|u| u.cpu_ns);
                    return Ok(answer.stats(&c.id, host_cpu));
                }
                Err(e) => debug!("container {}: stats through the control server: {e}", c.id),
            }
        }
        Ok(c.runsc.stats(&c.id).await?)
    }

    /// Turns a pod sandbox's stats into its overhead: the host cgroup's
    /// usage minus what every container of the pod uses inside gVisor.
    async fn report_overhead(&self, c: &Container, event: &mut runsc::StatsEvent) {
        let Some(host) = overhead::host_usage(c.state().init.pid) else {
            return;
        };
        let members: Vec<Arc<Container>> = lock(&self.table)
            .all()
            .filter(|o| o.id != c.id && o.runsc.options().root == c.runsc.options().root)
            .cloned()
            .collect();
        let mut inside = Usage {
            memory: event.data.memory.usage.usage,
            cpu_ns: event.data.cpu.usage.total,
        };
        for m in members {
            if m.state().init.status() != Status::RUNNING {
                continue;
            }
            if let Ok(e) = self.stats_of(&m).await {
                inside.memory += e.data.memory.usage.usage;
                inside.cpu_ns += e.data.cpu.usage.total;
            }
        }
        let over = host.minus(inside);
        info!(
            "pod sandbox {}: host memory {} B = containers {} B + overhead {} B; host CPU {} ns = \
             containers {} ns + overhead {} ns",
            c.id, host.memory, inside.memory, over.memory, host.cpu_ns, inside.cpu_ns, over.cpu_ns
        );
        event.data.memory.usage.usage = over.memory;
        event.data.cpu.usage.total = over.cpu_ns;
    }

    fn state(&self, req: &StateRequest) -> Result<StateResponse> {
        let c = self.container(&req.id)?;
        let mut st = c.state();
        let p = st.process(&c.id, &req.exec_id)?;
        let exit = p.exit();
        Ok(StateResponse {
            id: if req.exec_id.is_empty() {
                c.id.clone()
            } else {
                req.exec_id.clone()
            },
            bundle: c.bundle.to_string_lossy().into_owned(),
            pid: p.pid as u32,
            status: p.status().into(),
            stdin: p.stdio.stdin.clone(),
            stdout: p.stdio.stdout.clone(),
            stderr: p.stdio.stderr.clone(),
            terminal: p.stdio.terminal,
            exit_status: exit.map(|e| e.status).unwrap_or_default(),
            exited_at: exit.map(|e| typeurl::timestamp(e.at)).into(),
            exec_id: req.exec_id.clone(),
            ..Default::default()
        })
    }

    async fn pids(&self, id: &str) -> Result<PidsResponse> {
        let c = self.container(id)?;
        let via_control = match c.control() {
            Some(control) => control.processes(id).await.map_err(|e| {
                debug!("container {id}: processes through the control server: {e}");
            }),
            None => Err(()),
        };
        let pids = match via_control {
            Ok(pids) => pids,
            Err(()) => c.runsc.ps(id).await?,
        };
        let st = c.state();
        let mut processes = Vec::with_capacity(pids.len());
        for pid in pids {
            let exec_id = st
                .execs
                .iter()
                .find(|(_, e)| e.process.sandbox_pid == pid && pid != 0)
                .map(|(id, _)| id.clone());
            let info = match exec_id {
                Some(exec_id) => {
                    let details = ProcessDetails {
                        exec_id,
                        ..Default::default()
                    };
                    MessageField::some(typeurl::pack(&details)?)
                }
                None => MessageField::none(),
            };
            processes.push(ProcessInfo {
                pid: pid as u32,
                info,
                ..Default::default()
            });
        }
        Ok(PidsResponse {
            processes,
            ..Default::default()
        })
    }
}

/// Routes an exit from the reaper to the process with that host pid.
fn handle_exit(table: &SharedTable, events: &EventSender, pid: i32, exit: Exit) {
    let mut t = lock(table);
    for c in t.all() {
        let mut st = c.state();
        let is_init = st.init.pid == pid;
        if is_init && st.oom.as_mut().is_some_and(OomCounter::new_kills) {
            info!("container {} was OOM-killed", c.id);
            events.send(TaskOOM {
                container_id: c.id.clone(),
                ..Default::default()
            });
        }
        if let Some((exec_id, p)) = st.by_pid(pid) {
            // runsc's exec helper exits with the process's status, 128 + n
            // for a signal; it may also have been killed itself while the
            // process runs on. The control server knows which.
            let helper_killed = !exec_id.is_empty()
                && exit.status > 128
                && p.sandbox_pid > 0
                && p.status() == Status::RUNNING;
            if let Some(control) = c.control().filter(|_| helper_killed) {
                p.helper_gone = true;
                let job = confirm_exec_exit(control, events.clone(), c.clone(), exec_id, exit);
                tokio::spawn(job);
                return;
            }
            if let ExitOutcome::Publish(e) = p.exited(exit) {
                let id = if exec_id.is_empty() {
                    c.id.clone()
                } else {
                    exec_id
                };
                info!(
                    "{} exited with status {}",
                    c.describe(if id == c.id { "" } else { &id }),
                    e.status
                );
                events.send(exit_event(&c.id, &id, pid, e));
            }
            return;
        }
    }
    t.push_unmatched(pid, exit);
}

/// Publishes an exec's exit after its exec helper ended with a signal
/// status: the control server's WaitPID gives the real status (waiting
/// for the process if it still runs); when it knows no such process any
/// more, the helper's status stands.
async fn confirm_exec_exit(
    control: ControlClient,
    events: EventSender,
    c: Arc<Container>,
    exec_id: String,
    helper_exit: Exit,
) {
    let Ok(sandbox_pid) = c.state().process(&c.id, &exec_id).map(|p| p.sandbox_pid) else {
        return;
    };
    let exit = match control.wait_pid(&c.id, sandbox_pid).await {
        Ok(status) => {
            if status as u32 != helper_exit.status {
                warn!(
                    "{}: runsc's exec helper died ({}) before the process, which exited with {status}",
                    c.describe(&exec_id),
                    helper_exit.status
                );
            }
            Exit::now(status)
        }
        Err(e) => {
            debug!("{}: WaitPID: {e}", c.describe(&exec_id));
            helper_exit
        }
    };
    let mut st = c.state();
    let Ok(p) = st.process(&c.id, &exec_id) else {
        return;
    };
    if let ExitOutcome::Publish(e) = p.exited(exit) {
        info!("{} exited with status {}", c.describe(&exec_id), e.status);
        events.send(exit_event(&c.id, &exec_id, p.pid, e));
    }
}

/// runsc exits with 2 on a usage error, printing it where the shim does not
/// read (create's stderr is the container's): find out whether the
/// configured global flags are the cause, and say which one.
async fn explain_usage_error(e: Error, runsc: &Runsc) -> Error {
    if !matches!(&e, Error::Runsc(runsc::Error::Command { status: 2, .. })) {
        return e;
    }
    match runsc.check_global_flags().await {
        Err(runsc::Error::Command { message, .. }) => Error::InvalidArgument(format!(
            "runsc rejects the flags configured in [runsc_config]: {message}"
        )),
        _ => e,
    }
}

/// Logs, once per sandbox, how its containers' exits are learnt.
fn log_wait_path(sandbox_id: &str, how: impl FnOnce() -> String) {
    static LOGGED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut logged = LOGGED.lock().unwrap_or_else(|e| e.into_inner());
    if !logged.iter().any(|s| s == sandbox_id) {
        info!("sandbox {sandbox_id}: container exits by {}", how());
        logged.push(sandbox_id.to_string());
    }
}

/// Waits for a subcontainer and publishes its exit: through the sandbox's
/// control server when the runsc at hand has one the shim understands (no
/// process needed), else with `runsc wait`. When the wait fails (the
/// sandbox died), the container counts as killed.
async fn wait_subcontainer(events: EventSender, c: Arc<Container>, sandbox_id: String) {
    let killed = 128 + signal::Signal::SIGKILL as i32;
    let connected = if c.control_server {
        ControlClient::connect(&c.runsc.options().root, &sandbox_id).await
    } else {
        Err(std::io::Error::other(
            "runsc.toml sets control_server = false",
        ))
    };
    let via_control = match connected {
        Ok(control) => {
            log_wait_path(&sandbox_id, || {
                format!(
                    "in-process wait through its control server {:?}",
                    control.address()
                )
            });
            control.wait(&c.id).await.map_err(|e| e.to_string())
        }
        Err(e) => {
            log_wait_path(&sandbox_id, || {
                format!("`runsc wait` (its control server is not usable here: {e})")
            });
            Err(e.to_string())
        }
    };
    // Whatever the control path could not tell, runsc can (it also knows
    // when the sandbox is gone).
    let status = match via_control {
        Ok(status) => status,
        Err(why) => {
            info!(
                "container {}: control wait failed ({why}); runsc wait",
                c.id
            );
            match c.runsc.wait(&c.id, None).await {
                Ok(w) => w.exit_status,
                Err(e) => {
                    warn!("waiting for container {}: {e}", c.id);
                    killed
                }
            }
        }
    };
    let mut st = c.state();
    if st.oom.as_mut().is_some_and(OomCounter::new_kills) {
        info!("container {} was OOM-killed", c.id);
        events.send(TaskOOM {
            container_id: c.id.clone(),
            ..Default::default()
        });
    }
    let pid = st.init.pid;
    if let ExitOutcome::Publish(e) = st.init.exited(Exit::now(status)) {
        info!("container {} exited with status {}", c.id, e.status);
        events.send(exit_event(&c.id, &c.id, pid, e));
    }
}

/// Publishes TaskOOM for OOM kills that the kernel signals on `efd`, until
/// the container or its cgroup is gone.
async fn watch_oom(table: SharedTable, events: EventSender, id: String, efd: OwnedFd) {
    // SAFETY: the eventfd is owned here and registered once.
    let Ok(efd) = (unsafe { AsyncFd::register(efd) }) else {
        return;
    };
    loop {
        let Ok(mut guard) = efd.readable().await else {
            return;
        };
        let mut buf = [0u8; 8];
        if let Ok(Err(e)) =
            guard.try_io(|fd| nix::unistd::read(fd.get_ref(), &mut buf).map_err(Into::into))
        {
            warn!("reading OOM events of {id}: {e}");
            return;
        }
        let Ok(c) = lock(&table).get(&id) else {
            return;
        };
        let mut st = c.state();
        let Some(counter) = st.oom.as_mut() else {
            return;
        };
        if counter.new_kills() {
            info!("OOM kill in the sandbox of container {id}");
            events.send(TaskOOM {
                container_id: id.clone(),
                ..Default::default()
            });
        }
        if !counter.exists() {
            return;
        }
    }
}

/// A signal to a process that has exited: SIGKILL and SIGTERM have nothing
/// left to do, any other signal is an error.
fn already_finished(signal: u32, what: &str) -> Result<()> {
    if matches!(signal, SIGKILL | SIGTERM) {
        Ok(())
    } else {
        Err(Error::NotFound(format!("{what}: process already finished")))
    }
}

fn exit_event(container_id: &str, id: &str, pid: i32, exit: Exit) -> TaskExit {
    TaskExit {
        container_id: container_id.to_string(),
        id: id.to_string(),
        pid: pid as u32,
        exit_status: exit.status,
        exited_at: MessageField::some(typeurl::timestamp(exit.at)),
        ..Default::default()
    }
}

fn delete_response(p: &Process) -> DeleteResponse {
    let exit = p.exit();
    DeleteResponse {
        pid: p.pid as u32,
        exit_status: exit.map(|e| e.status).unwrap_or(128 + SIGKILL),
        exited_at: MessageField::some(typeurl::timestamp(
            exit.map(|e| e.at).unwrap_or_else(SystemTime::now),
        )),
        ..Default::default()
    }
}

async fn read_pid(path: &Path) -> Result<i32> {
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| Error::io(format!("reading pid file {}", path.display()), e))?;
    text.trim()
        .parse()
        .map_err(|_| Error::Other(format!("pid file {} holds {text:?}", path.display())))
}

/// Temporary files of one exec in the bundle, removed after the start.
struct ExecFiles {
    spec: PathBuf,
    pid: PathBuf,
    internal_pid: PathBuf,
}

impl ExecFiles {
    fn new(bundle: &Path, exec_id: &str) -> Self {
        Self {
            spec: bundle.join(format!("exec-{exec_id}.json")),
            pid: bundle.join(format!("exec-{exec_id}.pid")),
            internal_pid: bundle.join(format!("exec-{exec_id}.internal.pid")),
        }
    }

    async fn remove(&self) {
        for f in [&self.spec, &self.pid, &self.internal_pid] {
            let _ = tokio::fs::remove_file(f).await;
        }
    }
}

#[async_trait]
impl Task for TaskService {
    async fn create(
        &self,
        _ctx: &TtrpcContext,
        req: CreateTaskRequest,
    ) -> TtrpcResult<CreateTaskResponse> {
        let id = req.id.clone();
        self.create(req).await.map_err(|e| {
            warn!("create {id}: {e}");
            e.into()
        })
    }

    async fn start(&self, _ctx: &TtrpcContext, req: StartRequest) -> TtrpcResult<StartResponse> {
        Ok(self.start(req).await?)
    }

    async fn state(&self, _ctx: &TtrpcContext, req: StateRequest) -> TtrpcResult<StateResponse> {
        Ok(TaskService::state(self, &req)?)
    }

    async fn wait(&self, _ctx: &TtrpcContext, req: WaitRequest) -> TtrpcResult<WaitResponse> {
        let c = self.container(&req.id)?;
        let watch = c.state().process(&c.id, &req.exec_id)?.exit_watch();
        let exit = wait_exit(watch).await;
        Ok(WaitResponse {
            exit_status: exit.status,
            exited_at: MessageField::some(typeurl::timestamp(exit.at)),
            ..Default::default()
        })
    }

    async fn kill(&self, _ctx: &TtrpcContext, req: KillRequest) -> TtrpcResult<Empty> {
        self.kill(req).await?;
        Ok(Empty::new())
    }

    async fn delete(&self, _ctx: &TtrpcContext, req: DeleteRequest) -> TtrpcResult<DeleteResponse> {
        Ok(self.delete(req).await?)
    }

    async fn pids(&self, _ctx: &TtrpcContext, req: PidsRequest) -> TtrpcResult<PidsResponse> {
        Ok(self.pids(&req.id).await?)
    }

    async fn pause(&self, _ctx: &TtrpcContext, req: PauseRequest) -> TtrpcResult<Empty> {
        self.pause_resume(&req.id, true).await?;
        Ok(Empty::new())
    }

    async fn resume(&self, _ctx: &TtrpcContext, req: ResumeRequest) -> TtrpcResult<Empty> {
        self.pause_resume(&req.id, false).await?;
        Ok(Empty::new())
    }

    async fn exec(&self, _ctx: &TtrpcContext, req: ExecProcessRequest) -> TtrpcResult<Empty> {
        TaskService::exec(self, req)?;
        Ok(Empty::new())
    }

    async fn resize_pty(&self, _ctx: &TtrpcContext, req: ResizePtyRequest) -> TtrpcResult<Empty> {
        let c = self.container(&req.id)?;
        let mut st = c.state();
        // Without a terminal there is nothing to resize.
        if let Some(console) = &st.process(&c.id, &req.exec_id)?.io.console {
            console.resize(req.width, req.height)?;
        }
        Ok(Empty::new())
    }

    async fn close_io(&self, _ctx: &TtrpcContext, req: CloseIORequest) -> TtrpcResult<Empty> {
        let c = self.container(&req.id)?;
        if req.stdin {
            c.state().process(&c.id, &req.exec_id)?.io.close_stdin();
        }
        Ok(Empty::new())
    }

    async fn update(&self, _ctx: &TtrpcContext, req: UpdateTaskRequest) -> TtrpcResult<Empty> {
        self.update(req).await?;
        Ok(Empty::new())
    }

    async fn stats(&self, _ctx: &TtrpcContext, req: StatsRequest) -> TtrpcResult<StatsResponse> {
        let c = self.container(&req.id)?;
        let mut event = self.stats_of(&c).await?;
        // gVisor reports usage without the limit; clients such as
        // `docker stats` show the limit the host enforces.
        if event.data.memory.usage.limit == 0 {
            if let Some(limit) = overhead::memory_limit(c.state().init.pid) {
                event.data.memory.usage.limit = limit;
            }
        }
        if c.pause {
            self.report_overhead(&c, &mut event).await;
        }
        Ok(StatsResponse {
            stats: MessageField::some(stats::to_any(&event, c.metrics)?),
            ..Default::default()
        })
    }

    async fn connect(
        &self,
        _ctx: &TtrpcContext,
        req: ConnectRequest,
    ) -> TtrpcResult<ConnectResponse> {
        let task_pid = self
            .container(&req.id)
            .map(|c| c.state().init.pid as u32)
            .unwrap_or_default();
        Ok(ConnectResponse {
            shim_pid: std::process::id(),
            task_pid,
            ..Default::default()
        })
    }

    async fn shutdown(&self, _ctx: &TtrpcContext, _req: ShutdownRequest) -> TtrpcResult<Empty> {
        if lock(&self.table).is_empty() {
            info!("no container left: shutting down");
            self.exit_signal.signal();
        }
        Ok(Empty::new())
    }
}
