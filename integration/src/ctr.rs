//! Driving one containerd namespace with `ctr`: plain commands with a deadline,
//! `ctr run` in its usual shapes, and reading task states.

use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::command::{self, CmdOutput, Running};
use crate::config::RUNSC_RUNTIME_TYPE;
use crate::containerd::Containerd;
use crate::error::{Error, Result};
use crate::images::BUSYBOX_IMAGE;
use crate::layout::Layout;

/// Deadline of a `ctr` command unless a [`Run`] says otherwise.
pub const CTR_TIMEOUT: Duration = Duration::from_secs(60);

/// Which shim and runtime `ctr run` uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// containerd's runc shim with runc (state under the instance dir).
    Runc,
    /// The shim under test with the instance's runsc.toml.
    Runsc,
    /// The shim under test with another options file (`--runtime-config-path`).
    RunscWithConfig(PathBuf),
    /// containerd's runc shim driving runsc through a wrapper: a reference for
    /// comparing behaviour, not the shim under test.
    RunscViaRuncShim,
}

impl Runtime {
    /// The `ctr run` flags selecting this runtime.
    pub fn flags(&self, layout: &Layout) -> Vec<String> {
        let runc_shim = "io.containerd.runc.v2".to_string();
        let path = |p: PathBuf| p.display().to_string();
        match self {
            Runtime::Runc => vec![
                "--runtime".into(),
                runc_shim,
                "--runc-root".into(),
                path(layout.runc_root()),
            ],
            Runtime::Runsc => Runtime::RunscWithConfig(layout.runsc_config()).flags(layout),
            Runtime::RunscWithConfig(config) => vec![
                "--runtime".into(),
                RUNSC_RUNTIME_TYPE.into(),
                "--runtime-config-path".into(),
                path(config.clone()),
            ],
            Runtime::RunscViaRuncShim => vec![
                "--runtime".into(),
                runc_shim,
                "--runc-binary".into(),
                path(layout.runsc_wrapper()),
                "--runc-root".into(),
                path(layout.runsc_via_runc_shim_root()),
            ],
        }
    }

    /// Whether containers of this runtime run inside gVisor.
    pub fn is_gvisor(&self) -> bool {
        !matches!(self, Runtime::Runc)
    }
}

/// A `ctr run` invocation of the busybox image. By default `--rm`, in the
/// foreground, stdin from /dev/null, with [`CTR_TIMEOUT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    runtime: Runtime,
    id: String,
    args: Vec<String>,
    rm: bool,
    detach: bool,
    log_uri: Option<String>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
}

impl Run {
    /// `ctr run --rm <runtime flags> busybox <id> <args...>`.
    pub fn new(runtime: Runtime, id: &str, args: &[&str]) -> Self {
        Run {
            runtime,
            id: id.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            rm: true,
            detach: false,
            log_uri: None,
            stdin: None,
            timeout: CTR_TIMEOUT,
        }
    }

    /// Runs detached (`-d`, without `--rm`): ctr returns once the task started.
    pub fn detach(mut self) -> Self {
        self.detach = true;
        self.rm = false;
        self
    }

    /// Keeps the container after it exits (no `--rm`).
    pub fn keep(mut self) -> Self {
        self.rm = false;
        self
    }

    /// Sends the container's output to `uri` (`--log-uri`).
    pub fn log_uri(mut self, uri: &str) -> Self {
        self.log_uri = Some(uri.to_string());
        self
    }

    /// Feeds `data` to ctr's stdin (ctr never passes EOF on: read lines, not to EOF).
    pub fn stdin(mut self, data: &[u8]) -> Self {
        self.stdin = Some(data.to_vec());
        self
    }

    /// Overrides the deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The arguments after `ctr --address .. -n ..`.
    pub fn ctr_args(&self, layout: &Layout) -> Vec<String> {
        let mut args = vec!["run".to_string()];
        if self.rm {
            args.push("--rm".into());
        }
        if self.detach {
            args.push("-d".into());
        }
        if let Some(uri) = &self.log_uri {
            args.extend(["--log-uri".into(), uri.clone()]);
        }
        args.extend(self.runtime.flags(layout));
        args.extend([BUSYBOX_IMAGE.to_string(), self.id.clone()]);
        args.extend(self.args.iter().cloned());
        args
    }
}

/// One row of `ctr tasks ls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    /// Container id.
    pub id: String,
    /// Pid the shim reported.
    pub pid: u32,
    /// `CREATED`, `RUNNING`, `PAUSED`, `STOPPED`, ...
    pub status: String,
}

/// Parses the table `ctr tasks ls` prints (`TASK PID STATUS`).
pub fn parse_tasks(text: &str) -> Vec<TaskInfo> {
    text.lines()
        .skip_while(|l| !l.starts_with("TASK"))
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split_whitespace();
            Some(TaskInfo {
                id: cols.next()?.to_string(),
                pid: cols.next()?.parse().ok()?,
                status: cols.next()?.to_string(),
            })
        })
        .collect()
}

/// The exit status ctr 1.6 reports when `tasks delete` removes a task that exited
/// non-zero (a warning "... exit with non-zero exit code N"); 0 without it.
pub fn deleted_exit_code(stderr: &str) -> i32 {
    stderr
        .split("non-zero exit code ")
        .nth(1)
        .and_then(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .unwrap_or(0)
}

/// `ctr` bound to one namespace of a [`Containerd`].
pub struct Ctr<'a> {
    containerd: &'a Containerd,
    namespace: String,
}

impl<'a> Ctr<'a> {
    pub(crate) fn new(containerd: &'a Containerd, namespace: &str) -> Self {
        Ctr {
            containerd,
            namespace: namespace.to_string(),
        }
    }

    /// The containerd instance it talks to.
    pub fn containerd(&self) -> &'a Containerd {
        self.containerd
    }

    /// The namespace name.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// A container id unique on this host, registered with the fixture so that
    /// leak checks and teardown know about it.
    pub fn new_id(&self, prefix: &str) -> String {
        self.containerd.register_id(&self.namespace, prefix)
    }

    /// `ctr --address <sock> -n <ns> <args>` as a command.
    pub fn command<S: AsRef<str>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(crate::versions::ctr_binary());
        cmd.arg("--address")
            .arg(self.containerd.layout().socket())
            .args(["-n", &self.namespace])
            .args(args.iter().map(AsRef::as_ref));
        cmd
    }

    /// Runs `ctr <args>` in this namespace with [`CTR_TIMEOUT`]. A ctr that cannot
    /// be started shows up as a failed output whose stderr says why.
    pub fn ctr<S: AsRef<str>>(&self, args: &[S]) -> CmdOutput {
        let cmd = self.command(args);
        let description = command::describe(&cmd);
        command::run(cmd, CTR_TIMEOUT).unwrap_or_else(|e| CmdOutput::not_started(description, &e))
    }

    /// Starts `run` without waiting for it.
    pub fn spawn(&self, run: &Run) -> Result<Running> {
        let cmd = self.command(&run.ctr_args(self.containerd.layout()));
        command::spawn(cmd, run.stdin.clone())
    }

    /// Runs `run` to completion (or its deadline).
    pub fn run(&self, run: &Run) -> CmdOutput {
        match self.spawn(run) {
            Ok(running) => running.wait(run.timeout),
            Err(e) => {
                let args = run.ctr_args(self.containerd.layout());
                CmdOutput::not_started(format!("ctr {}", args.join(" ")), &e)
            }
        }
    }

    /// `ctr run --rm` of `args` in gVisor through the shim under test.
    pub fn run_runsc(&self, id: &str, args: &[&str]) -> CmdOutput {
        self.run(&Run::new(Runtime::Runsc, id, args))
    }

    /// Imports an image archive into this namespace.
    pub fn import(&self, archive: &std::path::Path) -> Result<()> {
        let archive = archive.display().to_string();
        let out = self.ctr(&["images", "import", &archive]);
        if out.success() {
            Ok(())
        } else {
            Err(Error::msg(format!("image import failed: {out}")))
        }
    }

    /// The tasks of this namespace.
    pub fn tasks(&self) -> Result<Vec<TaskInfo>> {
        let out = self.ctr(&["tasks", "ls"]);
        if out.success() {
            Ok(parse_tasks(&out.stdout))
        } else {
            Err(Error::msg(format!("listing tasks failed: {out}")))
        }
    }

    /// The task of container `id`, if there is one.
    pub fn task(&self, id: &str) -> Result<Option<TaskInfo>> {
        Ok(self.tasks()?.into_iter().find(|t| t.id == id))
    }

    /// Polls `ctr tasks ls` until the task of `id` has `status`; fails after
    /// `timeout`, naming the last status seen.
    pub fn wait_for_status(&self, id: &str, status: &str, timeout: Duration) -> Result<TaskInfo> {
        let deadline = Instant::now() + timeout;
        loop {
            let task = self.task(id)?;
            match task {
                Some(t) if t.status == status => return Ok(t),
                _ if Instant::now() >= deadline => {
                    let seen = task.map_or("no task".to_string(), |t| t.status);
                    return Err(Error::msg(format!(
                        "task {id} did not reach {status} within {timeout:?} (last: {seen})"
                    )));
                }
                _ => thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// `ctr tasks delete <id>`; returns the exit status containerd had recorded.
    pub fn delete_task(&self, id: &str) -> Result<i32> {
        let out = self.ctr(&["tasks", "delete", id]);
        if out.success() {
            Ok(deleted_exit_code(&out.stderr))
        } else {
            Err(Error::msg(format!("task delete failed: {out}")))
        }
    }

    /// Best-effort removal of container `id`: SIGKILL its task, wait for it to stop,
    /// delete the task and the container. For cleaning up after a failed test step.
    pub fn remove(&self, id: &str) {
        self.ctr(&["tasks", "kill", "-a", "-s", "SIGKILL", id]);
        let _ = self.wait_for_status(id, "STOPPED", Duration::from_secs(5));
        self.ctr(&["tasks", "delete", "-f", id]);
        self.ctr(&["containers", "delete", id]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tasks_table() {
        let text = "TASK    PID     STATUS    \nx2      6857    RUNNING\nx3      0       STOPPED\n";
        assert_eq!(
            parse_tasks(text),
            vec![
                TaskInfo {
                    id: "x2".into(),
                    pid: 6857,
                    status: "RUNNING".into()
                },
                TaskInfo {
                    id: "x3".into(),
                    pid: 0,
                    status: "STOPPED".into()
                },
            ]
        );
        assert!(parse_tasks("TASK    PID     STATUS    \n").is_empty());
    }

    #[test]
    fn reads_exit_code_from_delete_warning() {
        let warning = "time=\"2026-12-03T17:32:42Z\" level=warning msg=\"task x2 exit with non-zero exit code 137\"\n";
        assert_eq!(deleted_exit_code(warning), 137);
        assert_eq!(deleted_exit_code(""), 0);
    }

    #[test]
    fn run_args_select_runtime_and_image() {
        let layout = Layout::new("/tmp/rsc-x");
        let args = Run::new(Runtime::Runsc, "c1", &["echo", "hi"])
            .log_uri("file:///tmp/o")
            .ctr_args(&layout);
        assert_eq!(
            args.join(" "),
            "run --rm --log-uri file:///tmp/o --runtime io.containerd.runsc.v1 \
             --runtime-config-path /tmp/rsc-x/runsc.toml docker.io/library/busybox:local c1 echo hi"
        );
        let detached = Run::new(Runtime::Runc, "c2", &["true"])
            .detach()
            .ctr_args(&layout);
        assert_eq!(&detached[..2], ["run", "-d"]);
    }
}
