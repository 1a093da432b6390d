//! A CRI client for driving containerd's CRI plugin the way kubelet does, from
//! plain (synchronous) tests: [`Cri`] owns a small tokio runtime and blocks on
//! each `runtime.v1` call, with a deadline on every one.
//!
//! ```no_run
//! use std::time::Duration;
//! use harness::{Containerd, PodSpec};
//!
//! let containerd = Containerd::start().unwrap();
//! let cri = containerd.cri().unwrap();        // pause + busybox in k8s.io
//! let pod = cri.run_pod(&PodSpec::new("p", "runsc")).unwrap();
//! let id = cri.create_container(&pod, "hello", &["echo", "hi"]).unwrap();
//! cri.start_container(&id).unwrap();
//! let state = cri.wait_container_exited(&id, Duration::from_secs(30)).unwrap();
//! assert_eq!(state.exit_code, 0);
//! cri.remove_container(&id).unwrap();
//! cri.stop_pod(&pod).unwrap();
//! cri.remove_pod(&pod).unwrap();
//! drop(cri);
//! containerd.assert_no_leaks();
//! ```
//!
//! Pods get kubelet's cgroupfs parent `/kubepods/burstable/pod<uid>`; the harness
//! plays kubelet's part of removing that cgroup after RemovePodSandbox, and
//! records every pod cgroup in the instance directory so that leak checks and
//! teardown find them.

mod cleanup;
mod spec;

use std::fs;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

pub use k8s_cri::v1 as api;
pub use spec::{ContainerSpec, Pod, PodSpec, POD_NAMESPACE};

pub(crate) use cleanup::remove_all_pods;

use crate::config::PAUSE_IMAGE;
use crate::containerd::Containerd;
use crate::error::{Context, Error, Result};
use crate::images::{self, BUSYBOX_IMAGE};
use crate::layout::Layout;
use crate::teardown::cgroup_hierarchies;

/// containerd namespace of everything the CRI plugin creates.
pub const CRI_NAMESPACE: &str = "k8s.io";

/// Deadline of a CRI call unless the method says otherwise.
pub const CRI_TIMEOUT: Duration = Duration::from_secs(60);

/// Deadline of RunPodSandbox, StopPodSandbox and RemovePodSandbox.
const POD_TIMEOUT: Duration = Duration::from_secs(120);

/// How long the CRI plugin may take to see freshly imported images.
const IMAGE_TIMEOUT: Duration = Duration::from_secs(20);

/// Largest message accepted (ExecSync output, big lists).
const MAX_MESSAGE: usize = 64 << 20;

/// Lifecycle state of a CRI container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Created, not started.
    Created,
    /// Running.
    Running,
    /// Exited (see the exit code).
    Exited,
    /// The runtime does not know.
    Unknown,
}

impl State {
    fn from_api(state: i32) -> State {
        match api::ContainerState::try_from(state) {
            Ok(api::ContainerState::ContainerCreated) => State::Created,
            Ok(api::ContainerState::ContainerRunning) => State::Running,
            Ok(api::ContainerState::ContainerExited) => State::Exited,
            _ => State::Unknown,
        }
    }
}

/// What ContainerStatus says about a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    /// Lifecycle state.
    pub state: State,
    /// Exit code (meaningful once [`State::Exited`]).
    pub exit_code: i32,
    /// Short reason, e.g. `Completed`, `Error`, `OOMKilled`.
    pub reason: String,
    /// Longer message, if any.
    pub message: String,
}

/// What ExecSync returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit code of the command.
    pub exit_code: i32,
    /// Its stdout.
    pub stdout: Vec<u8>,
    /// Its stderr.
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    /// Stdout as (lossy) UTF-8 without surrounding whitespace.
    pub fn stdout_trimmed(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim().to_string()
    }

    /// Stderr as (lossy) UTF-8 without surrounding whitespace.
    pub fn stderr_trimmed(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_string()
    }
}

/// The usage figures of ContainerStats (each `None` when not reported).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContainerStats {
    /// Cumulative CPU time in nanoseconds.
    pub cpu_core_nanos: Option<u64>,
    /// Memory working set in bytes.
    pub memory_working_set_bytes: Option<u64>,
    /// Memory usage in bytes.
    pub memory_usage_bytes: Option<u64>,
}

/// One line of a CRI log file: `<RFC 3339 time> <stream> <P|F> <text>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Timestamp as written.
    pub time: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// Whether the line is partial (tag `P`, continued by the next line).
    pub partial: bool,
    /// The text.
    pub text: String,
}

/// Parses the lines of a CRI log file; lines not in the format are skipped.
pub fn parse_log(text: &str) -> Vec<LogLine> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(4, ' ');
            let time = parts.next()?.to_string();
            let stream = parts.next()?.to_string();
            let partial = match parts.next()? {
                "P" => true,
                "F" => false,
                _ => return None,
            };
            let text = parts.next().unwrap_or("").to_string();
            Some(LogLine {
                time,
                stream,
                partial,
                text,
            })
        })
        .collect()
}

/// A connection to the CRI plugin of a [`Containerd`]; see the [module docs](self). Not
/// for use from inside an async runtime (every method blocks).
pub struct Cri<'a> {
    containerd: &'a Containerd,
    rt: tokio::runtime::Runtime,
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
}

impl Containerd {
    /// Connects to the CRI plugin. The first call imports the pause and busybox
    /// images into namespace `k8s.io` and waits until the plugin lists them.
    pub fn cri(&self) -> Result<Cri<'_>> {
        let layout = self.layout();
        if !layout.cri_pod_cgroups().exists() {
            fs::write(layout.cri_pod_cgroups(), "")
                .context(format!("creating {}", layout.cri_pod_cgroups().display()))?;
        }
        let cri = Cri::connect(self)?;
        self.cri_images_imported(|| {
            let archives = images::archives()?;
            let ctr = self.ctr(CRI_NAMESPACE);
            ctr.import(&archives.pause)?;
            ctr.import(&archives.busybox)
        })?;
        cri.wait_for_images(&[PAUSE_IMAGE, BUSYBOX_IMAGE])?;
        Ok(cri)
    }
}

impl<'a> Cri<'a> {
    fn connect(containerd: &'a Containerd) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("harness-cri")
            .enable_all()
            .build()
            .context("starting a tokio runtime for the CRI client")?;
        let channel = rt.block_on(connect(containerd.socket()))?;
        Ok(Cri {
            containerd,
            rt,
            runtime: RuntimeServiceClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE),
            images: ImageServiceClient::new(channel).max_decoding_message_size(MAX_MESSAGE),
        })
    }

    /// A clone of the generated RuntimeService client, for calls this type
    /// does not wrap; run them with [`Cri::block_on`].
    pub fn runtime_client(&self) -> RuntimeServiceClient<Channel> {
        self.runtime.clone()
    }

    /// A clone of the generated ImageService client.
    pub fn image_client(&self) -> ImageServiceClient<Channel> {
        self.images.clone()
    }

    /// Runs a future on the client's runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.rt.block_on(future)
    }

    /// Calls RuntimeService method `name` with `message` and a deadline, both
    /// sent to containerd (grpc-timeout) and enforced here.
    fn call<M, T, F, Fut>(&self, name: &str, timeout: Duration, message: M, f: F) -> Result<T>
    where
        F: FnOnce(RuntimeServiceClient<Channel>, tonic::Request<M>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
    {
        let mut request = tonic::Request::new(message);
        request.set_timeout(timeout);
        let call = f(self.runtime.clone(), request);
        finish(
            name,
            timeout,
            self.rt.block_on(with_deadline(timeout, call)),
        )
    }

    /// `<runtime name> <runtime version> (CRI <api version>)`, e.g.
    /// `containerd 1.6.20~ds1 (CRI v1)`.
    pub fn version(&self) -> Result<String> {
        let request = api::VersionRequest {
            version: "v1".to_string(),
        };
        let v = self.call("Version", CRI_TIMEOUT, request, |mut c, r| async move {
            c.version(r).await
        })?;
        Ok(format!(
            "{} {} (CRI {})",
            v.runtime_name, v.runtime_version, v.runtime_api_version
        ))
    }

    /// The runtime's Status (conditions RuntimeReady and NetworkReady).
    pub fn status(&self) -> Result<api::StatusResponse> {
        let request = api::StatusRequest { verbose: false };
        self.call("Status", CRI_TIMEOUT, request, |mut c, r| async move {
            c.status(r).await
        })
    }

    /// RunPodSandbox of `spec` with a fresh uid, its log directory
    /// `<instance dir>/pods/harness_<name>_<uid>` (created here, like kubelet
    /// does) and cgroup parent `/kubepods/burstable/pod<uid>`.
    pub fn run_pod(&self, spec: &PodSpec) -> Result<Pod> {
        let layout = self.containerd.layout();
        let uid = spec
            .uid
            .clone()
            .unwrap_or_else(|| spec::new_uid(&layout.dir().display().to_string()));
        let log_directory = spec::pod_log_directory(&layout.pod_logs(), &spec.name, &uid);
        fs::create_dir_all(&log_directory)
            .context(format!("creating {}", log_directory.display()))?;
        let config = spec::pod_config(spec, &uid, &log_directory);
        let cgroup_parent = spec::pod_cgroup_parent(&uid);
        record_pod_cgroup(layout, &cgroup_parent)?;
        let request = api::RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: spec.handler.clone(),
        };
        let response = self.call(
            "RunPodSandbox",
            POD_TIMEOUT,
            request,
            |mut c, r| async move { c.run_pod_sandbox(r).await },
        )?;
        self.containerd
            .register_cri_id(CRI_NAMESPACE, &response.pod_sandbox_id);
        Ok(Pod {
            id: response.pod_sandbox_id,
            name: spec.name.clone(),
            uid,
            namespace: POD_NAMESPACE.to_string(),
            handler: spec.handler.clone(),
            host_network: spec.host_network,
            log_directory,
            cgroup_parent,
            config,
        })
    }

    /// PodSandboxStatus (verbose: `info` holds containerd's view as JSON).
    pub fn pod_status(&self, pod_id: &str, verbose: bool) -> Result<api::PodSandboxStatusResponse> {
        let request = api::PodSandboxStatusRequest {
            pod_sandbox_id: pod_id.to_string(),
            verbose,
        };
        self.call(
            "PodSandboxStatus",
            CRI_TIMEOUT,
            request,
            |mut c, r| async move { c.pod_sandbox_status(r).await },
        )
    }

    /// StopPodSandbox: stops every container of the pod and the sandbox, tears
    /// down its network.
    pub fn stop_pod(&self, pod: &Pod) -> Result<()> {
        self.stop_pod_id(&pod.id)
    }

    /// StopPodSandbox by sandbox id.
    pub fn stop_pod_id(&self, pod_id: &str) -> Result<()> {
        let request = api::StopPodSandboxRequest {
            pod_sandbox_id: pod_id.to_string(),
        };
        self.call(
            "StopPodSandbox",
            POD_TIMEOUT,
            request,
            |mut c, r| async move { c.stop_pod_sandbox(r).await },
        )
        .map(drop)
    }

    /// RemovePodSandbox, then (kubelet's part) removal of the pod's cgroups.
    pub fn remove_pod(&self, pod: &Pod) -> Result<()> {
        self.remove_pod_id(&pod.id)?;
        remove_pod_cgroup(&pod.cgroup_parent);
        Ok(())
    }

    /// RemovePodSandbox by sandbox id (the pod cgroup stays).
    pub fn remove_pod_id(&self, pod_id: &str) -> Result<()> {
        let request = api::RemovePodSandboxRequest {
            pod_sandbox_id: pod_id.to_string(),
        };
        self.call(
            "RemovePodSandbox",
            POD_TIMEOUT,
            request,
            |mut c, r| async move { c.remove_pod_sandbox(r).await },
        )
        .map(drop)
    }

    /// ListPodSandbox without a filter.
    pub fn list_pods(&self) -> Result<Vec<api::PodSandbox>> {
        let request = api::ListPodSandboxRequest { filter: None };
        self.call(
            "ListPodSandbox",
            CRI_TIMEOUT,
            request,
            |mut c, r| async move { c.list_pod_sandbox(r).await },
        )
        .map(|r| r.items)
    }

    /// CreateContainer of `args` (the whole command line) from the busybox
    /// image in `pod`, logging to `<log_directory>/<name>/0.log`.
    pub fn create_container(&self, pod: &Pod, name: &str, args: &[&str]) -> Result<String> {
        self.create_container_with(pod, &ContainerSpec::new(name, args))
    }

    /// CreateContainer of `spec` in `pod`.
    pub fn create_container_with(&self, pod: &Pod, spec: &ContainerSpec) -> Result<String> {
        let log_dir = pod.log_directory.join(&spec.name);
        fs::create_dir_all(&log_dir).context(format!("creating {}", log_dir.display()))?;
        let request = api::CreateContainerRequest {
            pod_sandbox_id: pod.id.clone(),
            config: Some(spec::container_config(pod, spec)),
            sandbox_config: Some(pod.config.clone()),
        };
        let response = self.call(
            "CreateContainer",
            CRI_TIMEOUT,
            request,
            |mut c, r| async move { c.create_container(r).await },
        )?;
        self.containerd
            .register_cri_id(CRI_NAMESPACE, &response.container_id);
        Ok(response.container_id)
    }

    /// StartContainer.
    pub fn start_container(&self, id: &str) -> Result<()> {
        let request = api::StartContainerRequest {
            container_id: id.to_string(),
        };
        self.call(
            "StartContainer",
            CRI_TIMEOUT,
            request,
            |mut c, r| async move { c.start_container(r).await },
        )
        .map(drop)
    }

    /// ContainerStatus, reduced to state, exit code, reason and message.
    pub fn container_status(&self, id: &str) -> Result<ContainerState> {
        let status = self.container_status_full(id, false)?;
        let status = status.status.ok_or_else(|| {
            Error::msg(format!("ContainerStatus of {id}: the answer has no status"))
        })?;
        Ok(ContainerState {
            state: State::from_api(status.state),
            exit_code: status.exit_code,
            reason: status.reason,
            message: status.message,
        })
    }

    /// The whole ContainerStatus answer (verbose: `info` holds containerd's view).
    pub fn container_status_full(
        &self,
        id: &str,
        verbose: bool,
    ) -> Result<api::ContainerStatusResponse> {
        let request = api::ContainerStatusRequest {
            container_id: id.to_string(),
            verbose,
        };
        self.call(
            "ContainerStatus",
            CRI_TIMEOUT,
            request,
            |mut c, r| async move { c.container_status(r).await },
        )
    }

    /// Polls ContainerStatus until the container has exited; fails after
    /// `timeout`, naming the last state seen.
    pub fn wait_container_exited(&self, id: &str, timeout: Duration) -> Result<ContainerState> {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.container_status(id)?;
            if state.state == State::Exited {
                return Ok(state);
            }
            if Instant::now() >= deadline {
                return Err(Error::msg(format!(
                    "container {id} did not exit within {timeout:?} (last: {state:?})"
                )));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// ExecSync of `cmd` in container `id`; `timeout` goes to the runtime (which
    /// kills the command then) and bounds the call.
    pub fn exec_sync(&self, id: &str, cmd: &[&str], timeout: Duration) -> Result<ExecOutput> {
        let request = api::ExecSyncRequest {
            container_id: id.to_string(),
            cmd: cmd.iter().map(|c| c.to_string()).collect(),
            timeout: timeout.as_secs().max(1) as i64,
        };
        let deadline = timeout + Duration::from_secs(10);
        let response = self.call("ExecSync", deadline, request, |mut c, r| async move {
            c.exec_sync(r).await
        })?;
        Ok(ExecOutput {
            exit_code: response.exit_code,
            stdout: response.stdout,
            stderr: response.stderr,
        })
    }

    /// ContainerStats: CPU and memory usage.
    pub fn container_stats(&self, id: &str) -> Result<ContainerStats> {
        let request = api::ContainerStatsRequest {
            container_id: id.to_string(),
        };
        let response = self.call(
            "ContainerStats",
            CRI_TIMEOUT,
            request,
            |mut c, r| async move { c.container_stats(r).await },
        )?;
        let stats = response.stats.unwrap_or_default();
        let cpu = stats.cpu.unwrap_or_default();
        let memory = stats.memory.unwrap_or_default();
        Ok(ContainerStats {
            cpu_core_nanos: cpu.usage_core_nano_seconds.map(|v| v.value),
            memory_working_set_bytes: memory.working_set_bytes.map(|v| v.value),
            memory_usage_bytes: memory.usage_bytes.map(|v| v.value),
        })
    }

    /// StopContainer: SIGTERM, then SIGKILL after `grace`.
    pub fn stop_container(&self, id: &str, grace: Duration) -> Result<()> {
        let request = api::StopContainerRequest {
            container_id: id.to_string(),
            timeout: grace.as_secs() as i64,
        };
        let deadline = grace + CRI_TIMEOUT;
        self.call("StopContainer", deadline, request, |mut c, r| async move {
            c.stop_container(r).await
        })
        .map(drop)
    }

    /// RemoveContainer (kills it first if it still runs).
    pub fn remove_container(&self, id: &str) -> Result<()> {
        let request = api::RemoveContainerRequest {
            container_id: id.to_string(),
        };
        self.call(
            "RemoveContainer",
            CRI_TIMEOUT,
            request,
            |mut c, r| async move { c.remove_container(r).await },
        )
        .map(drop)
    }

    /// ListContainers without a filter.
    pub fn list_containers(&self) -> Result<Vec<api::Container>> {
        let request = api::ListContainersRequest { filter: None };
        self.call(
            "ListContainers",
            CRI_TIMEOUT,
            request,
            |mut c, r| async move { c.list_containers(r).await },
        )
        .map(|r| r.containers)
    }

    /// The CRI log file of container `name` of `pod` (empty if not yet written).
    pub fn read_log(&self, pod: &Pod, name: &str) -> Result<String> {
        let path = pod.log_path(name);
        match fs::read(&path) {
            Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(Error::msg(format!("reading {}: {e}", path.display()))),
        }
    }

    /// Whether the CRI plugin knows image `reference`.
    pub fn has_image(&self, reference: &str) -> Result<bool> {
        let mut request = tonic::Request::new(api::ImageStatusRequest {
            image: Some(api::ImageSpec {
                image: reference.to_string(),
                ..Default::default()
            }),
            verbose: false,
        });
        request.set_timeout(CRI_TIMEOUT);
        let mut client = self.images.clone();
        let answer = self.rt.block_on(with_deadline(CRI_TIMEOUT, async move {
            client.image_status(request).await
        }));
        finish("ImageStatus", CRI_TIMEOUT, answer).map(|r| r.image.is_some())
    }

    fn wait_for_images(&self, references: &[&str]) -> Result<()> {
        let deadline = Instant::now() + IMAGE_TIMEOUT;
        for reference in references {
            while !self.has_image(reference)? {
                if Instant::now() >= deadline {
                    return Err(Error::msg(format!(
                        "the CRI plugin did not list {reference} within {IMAGE_TIMEOUT:?} \
                         after its import into {CRI_NAMESPACE}"
                    )));
                }
                thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(())
    }
}

/// Connects to containerd's grpc socket (the CRI services live there too).
pub(crate) async fn connect(socket: PathBuf) -> Result<Channel> {
    let connector = tower::service_fn(move |_: Uri| {
        let socket = socket.clone();
        async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(socket).await?)) }
    });
    // The URI is a placeholder: the connector above ignores it.
    Endpoint::from_static("http://[::]:50051")
        .connect_timeout(Duration::from_secs(5))
        .connect_with_connector(connector)
        .await
        .context("connecting to containerd's CRI plugin")
}

/// `call` within `timeout`, `None` when it did not answer in time.
pub(crate) async fn with_deadline<T>(
    timeout: Duration,
    call: impl Future<Output = T>,
) -> Option<T> {
    tokio::time::timeout(timeout, call).await.ok()
}

/// The message of a CRI call's outcome, as an error if it failed.
pub(crate) fn finish<T>(
    name: &str,
    timeout: Duration,
    answer: Option<std::result::Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T> {
    match answer {
        Some(Ok(response)) => Ok(response.into_inner()),
        Some(Err(status)) => Err(Error::msg(format!(
            "CRI {name} failed: {:?}: {}",
            status.code(),
            status.message()
        ))),
        None => Err(Error::msg(format!(
            "CRI {name}: no answer within {timeout:?}"
        ))),
    }
}

/// Appends a pod cgroup parent to the instance's record of them.
fn record_pod_cgroup(layout: &Layout, cgroup_parent: &str) -> Result<()> {
    let path = layout.cri_pod_cgroups();
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .context(format!("opening {}", path.display()))?;
    writeln!(file, "{cgroup_parent}").context(format!("writing {}", path.display()))
}

/// The pod cgroup parents recorded for the instance.
pub(crate) fn recorded_pod_cgroups(layout: &Layout) -> Vec<String> {
    fs::read_to_string(layout.cri_pod_cgroups())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with('/'))
        .map(str::to_string)
        .collect()
}

/// The directories of pod cgroup `parent` in every hierarchy (existing or not).
pub(crate) fn pod_cgroup_dirs(parent: &str) -> Vec<PathBuf> {
    let relative = Path::new(parent.trim_start_matches('/'));
    cgroup_hierarchies()
        .into_iter()
        .map(|h| h.join(relative))
        .collect()
}

/// Removes the (empty) cgroups of a pod: its children (containers whose runtime
/// left them behind, empty only), then the pod cgroup itself. `rmdir` only.
pub(crate) fn remove_pod_cgroup(parent: &str) {
    for dir in pod_cgroup_dirs(parent) {
        if let Ok(entries) = fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    let _ = fs::remove_dir(entry.path());
                }
            }
        }
        let _ = fs::remove_dir(&dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cri_log_lines() {
        let text = "2026-01-02T03:04:05.000000001Z stdout F hello-cri\n\
                    2026-01-02T03:04:05.000000002Z stderr P par\n\
                    2026-01-02T03:04:05.000000003Z stderr F tial with spaces\n\
                    garbage\n";
        let lines = parse_log(text);
        assert_eq!(lines.len(), 3);
        assert_eq!(
            (
                lines[0].stream.as_str(),
                lines[0].partial,
                lines[0].text.as_str()
            ),
            ("stdout", false, "hello-cri")
        );
        assert!(lines[1].partial);
        assert_eq!(lines[2].text, "tial with spaces");
    }

    #[test]
    fn pod_cgroup_dirs_are_below_every_hierarchy() {
        for dir in pod_cgroup_dirs("/kubepods/burstable/podx") {
            assert!(dir.starts_with("/sys/fs/cgroup"), "{}", dir.display());
            assert!(
                dir.ends_with("kubepods/burstable/podx"),
                "{}",
                dir.display()
            );
        }
    }
}
