//! What the harness asks the CRI plugin for, in kubelet's shapes: pod and
//! container descriptions and the `runtime.v1` configs built from them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_cri::v1 as api;

use crate::images::BUSYBOX_IMAGE;
use crate::layout::hex_sha256;

/// Kubernetes namespace of every pod the harness runs (part of the sandbox name).
pub const POD_NAMESPACE: &str = "harness";

/// A pod to run; see [`crate::Cri::run_pod`]. Resource fields left `None` are not
/// sent; if all are `None` the sandbox gets no `linux.resources` at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodSpec {
    /// Pod name (metadata and, without host networking, hostname).
    pub name: String,
    /// CRI runtime handler: `runc` or `runsc` in the harness's config.
    pub handler: String,
    /// Network namespace NODE (no CNI, no hostname) instead of POD.
    pub host_network: bool,
    /// Pod memory limit in bytes (`linux.resources.memory_limit_in_bytes`).
    pub memory_limit: Option<i64>,
    /// Pod CFS quota in microseconds per period.
    pub cpu_quota: Option<i64>,
    /// Pod CFS period in microseconds.
    pub cpu_period: Option<i64>,
    /// Pod CPU shares.
    pub cpu_shares: Option<i64>,
    /// Sandbox annotations (returned unchanged by the runtime).
    pub annotations: HashMap<String, String>,
    /// Extra sandbox labels (kubelet's `io.kubernetes.pod.*` labels are always set).
    pub labels: HashMap<String, String>,
    /// Pod UID; a fresh one when `None`.
    pub uid: Option<String>,
}

impl PodSpec {
    /// A pod with its own network namespace (CNI) and no resources.
    pub fn new(name: &str, handler: &str) -> Self {
        PodSpec {
            name: name.to_string(),
            handler: handler.to_string(),
            ..PodSpec::default()
        }
    }

    /// Uses the host's network namespace.
    pub fn host_network(mut self) -> Self {
        self.host_network = true;
        self
    }

    /// Sets the pod memory limit in bytes.
    pub fn memory_limit(mut self, bytes: i64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Sets the pod CFS quota and period (microseconds).
    pub fn cpu(mut self, quota: i64, period: i64) -> Self {
        self.cpu_quota = Some(quota);
        self.cpu_period = Some(period);
        self
    }

    /// Sets the pod CPU shares.
    pub fn cpu_shares(mut self, shares: i64) -> Self {
        self.cpu_shares = Some(shares);
        self
    }

    /// Uses `uid` as the pod UID (e.g. to prepare its volumes first).
    pub fn uid(mut self, uid: &str) -> Self {
        self.uid = Some(uid.to_string());
        self
    }

    /// Adds a sandbox annotation.
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.to_string(), value.to_string());
        self
    }
}

/// A container of a pod, always from the busybox image; see
/// [`crate::Cri::create_container_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Container name, unique within the pod; also its log directory's name.
    pub name: String,
    /// The whole command line (sent as `command`, replacing the image's).
    pub args: Vec<String>,
    /// Environment variables.
    pub envs: Vec<(String, String)>,
    /// Container annotations.
    pub annotations: HashMap<String, String>,
    /// Memory limit in bytes.
    pub memory_limit: Option<i64>,
    /// CFS quota in microseconds per period.
    pub cpu_quota: Option<i64>,
    /// CFS period in microseconds.
    pub cpu_period: Option<i64>,
    /// CPU shares.
    pub cpu_shares: Option<i64>,
    /// Bind mounts: (host path, container path).
    pub mounts: Vec<(PathBuf, String)>,
}

impl ContainerSpec {
    /// A container named `name` running `args`, without resources.
    pub fn new(name: &str, args: &[&str]) -> Self {
        ContainerSpec {
            name: name.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            ..ContainerSpec::default()
        }
    }

    /// Bind-mounts host directory `host` at `container_path`.
    pub fn mount(mut self, host: &Path, container_path: &str) -> Self {
        self.mounts
            .push((host.to_path_buf(), container_path.to_string()));
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_string(), value.to_string()));
        self
    }

    /// Sets the memory limit in bytes.
    pub fn memory_limit(mut self, bytes: i64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Sets the CFS quota and period (microseconds).
    pub fn cpu(mut self, quota: i64, period: i64) -> Self {
        self.cpu_quota = Some(quota);
        self.cpu_period = Some(period);
        self
    }

    /// Sets the CPU shares.
    pub fn cpu_shares(mut self, shares: i64) -> Self {
        self.cpu_shares = Some(shares);
        self
    }

    /// Adds a container annotation.
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.to_string(), value.to_string());
        self
    }
}

/// A pod sandbox the CRI plugin runs (or ran).
#[derive(Debug, Clone, PartialEq)]
pub struct Pod {
    /// Sandbox id returned by RunPodSandbox.
    pub id: String,
    /// Pod name.
    pub name: String,
    /// Pod uid (unique per pod).
    pub uid: String,
    /// Kubernetes namespace ([`POD_NAMESPACE`]).
    pub namespace: String,
    /// Runtime handler the pod runs with.
    pub handler: String,
    /// Whether the pod uses the host's network namespace.
    pub host_network: bool,
    /// Where the CRI plugin writes container logs.
    pub log_directory: PathBuf,
    /// cgroupfs-style parent cgroup of the pod (`/kubepods/burstable/pod<uid>`).
    pub cgroup_parent: String,
    pub(crate) config: api::PodSandboxConfig,
}

impl Pod {
    /// The config the pod was run with (sent again with each CreateContainer).
    pub fn config(&self) -> &api::PodSandboxConfig {
        &self.config
    }

    /// The CRI log file of container `name`: `<log_directory>/<name>/0.log`.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.log_directory.join(container_log_path(name))
    }
}

/// A pod uid in the usual UUID shape, unique on this host: hashed from the
/// process id, a counter, the time and `salt`.
pub fn new_uid(salt: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let hash = hex_sha256(format!("{}/{n}/{nanos}/{salt}", std::process::id()).as_bytes());
    format!(
        "{}-{}-{}-{}-{}",
        &hash[..8],
        &hash[8..12],
        &hash[12..16],
        &hash[16..20],
        &hash[20..32]
    )
}

/// kubelet's cgroupfs parent of a burstable pod.
pub fn pod_cgroup_parent(uid: &str) -> String {
    format!("/kubepods/burstable/pod{uid}")
}

/// kubelet's log directory of a pod: `<root>/<namespace>_<name>_<uid>`.
pub fn pod_log_directory(root: &Path, name: &str, uid: &str) -> PathBuf {
    root.join(format!("{POD_NAMESPACE}_{name}_{uid}"))
}

/// A container's log path relative to the pod's log directory.
pub fn container_log_path(name: &str) -> String {
    format!("{name}/0.log")
}

/// `LinuxContainerResources` with the given values, `None` if none is given.
fn resources(
    memory_limit: Option<i64>,
    cpu_quota: Option<i64>,
    cpu_period: Option<i64>,
    cpu_shares: Option<i64>,
) -> Option<api::LinuxContainerResources> {
    if [memory_limit, cpu_quota, cpu_period, cpu_shares]
        .iter()
        .all(Option::is_none)
    {
        return None;
    }
    Some(api::LinuxContainerResources {
        memory_limit_in_bytes: memory_limit.unwrap_or(0),
        cpu_quota: cpu_quota.unwrap_or(0),
        cpu_period: cpu_period.unwrap_or(0),
        cpu_shares: cpu_shares.unwrap_or(0),
        ..Default::default()
    })
}

/// Namespaces as kubelet sets them for a pod and its containers: network POD or
/// NODE, pid CONTAINER (the v1 PodSpec default), ipc POD.
fn namespace_options(host_network: bool) -> api::NamespaceOption {
    let network = if host_network {
        api::NamespaceMode::Node
    } else {
        api::NamespaceMode::Pod
    };
    api::NamespaceOption {
        network: network as i32,
        pid: api::NamespaceMode::Container as i32,
        ipc: api::NamespaceMode::Pod as i32,
        ..Default::default()
    }
}

/// The RunPodSandbox config of `spec` with pod uid `uid`.
pub fn pod_config(spec: &PodSpec, uid: &str, log_directory: &Path) -> api::PodSandboxConfig {
    let mut labels = spec.labels.clone();
    labels.extend([
        ("io.kubernetes.pod.name".to_string(), spec.name.clone()),
        (
            "io.kubernetes.pod.namespace".to_string(),
            POD_NAMESPACE.to_string(),
        ),
        ("io.kubernetes.pod.uid".to_string(), uid.to_string()),
    ]);
    api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: spec.name.clone(),
            uid: uid.to_string(),
            namespace: POD_NAMESPACE.to_string(),
            attempt: 0,
        }),
        // runc: "unable to set hostname without a private UTS namespace"
        hostname: if spec.host_network {
            String::new()
        } else {
            spec.name.clone()
        },
        log_directory: log_directory.display().to_string(),
        labels,
        annotations: spec.annotations.clone(),
        linux: Some(api::LinuxPodSandboxConfig {
            cgroup_parent: pod_cgroup_parent(uid),
            security_context: Some(api::LinuxSandboxSecurityContext {
                namespace_options: Some(namespace_options(spec.host_network)),
                ..Default::default()
            }),
            resources: resources(
                spec.memory_limit,
                spec.cpu_quota,
                spec.cpu_period,
                spec.cpu_shares,
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The CreateContainer config of `spec` in `pod`.
pub fn container_config(pod: &Pod, spec: &ContainerSpec) -> api::ContainerConfig {
    let labels = HashMap::from([
        (
            "io.kubernetes.container.name".to_string(),
            spec.name.clone(),
        ),
        ("io.kubernetes.pod.name".to_string(), pod.name.clone()),
        (
            "io.kubernetes.pod.namespace".to_string(),
            pod.namespace.clone(),
        ),
        ("io.kubernetes.pod.uid".to_string(), pod.uid.clone()),
    ]);
    api::ContainerConfig {
        metadata: Some(api::ContainerMetadata {
            name: spec.name.clone(),
            attempt: 0,
        }),
        image: Some(api::ImageSpec {
            image: BUSYBOX_IMAGE.to_string(),
            ..Default::default()
        }),
        command: spec.args.clone(),
        envs: spec
            .envs
            .iter()
            .map(|(key, value)| api::KeyValue {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
        labels,
        annotations: spec.annotations.clone(),
        mounts: spec
            .mounts
            .iter()
            .map(|(host, path)| api::Mount {
                container_path: path.clone(),
                host_path: host.display().to_string(),
                ..Default::default()
            })
            .collect(),
        log_path: container_log_path(&spec.name),
        linux: Some(api::LinuxContainerConfig {
            resources: resources(
                spec.memory_limit,
                spec.cpu_quota,
                spec.cpu_period,
                spec.cpu_shares,
            ),
            security_context: Some(api::LinuxContainerSecurityContext {
                namespace_options: Some(namespace_options(pod.host_network)),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: &PodSpec) -> Pod {
        let uid = "u-1";
        let log_directory = pod_log_directory(Path::new("/tmp/rsc-x/pods"), &spec.name, uid);
        Pod {
            id: "sb".into(),
            name: spec.name.clone(),
            uid: uid.into(),
            namespace: POD_NAMESPACE.into(),
            handler: spec.handler.clone(),
            host_network: spec.host_network,
            config: pod_config(spec, uid, &log_directory),
            log_directory,
            cgroup_parent: pod_cgroup_parent(uid),
        }
    }

    #[test]
    fn pod_config_is_kubelet_shaped() {
        let spec = PodSpec::new("web", "runsc")
            .memory_limit(1 << 28)
            .cpu(50_000, 100_000)
            .annotation("a", "b");
        let config = pod_config(&spec, "u-1", Path::new("/tmp/rsc-x/pods/l"));
        assert_eq!(config.hostname, "web");
        assert_eq!(config.log_directory, "/tmp/rsc-x/pods/l");
        assert_eq!(config.annotations["a"], "b");
        assert_eq!(config.labels["io.kubernetes.pod.uid"], "u-1");
        let linux = config.linux.unwrap();
        assert_eq!(linux.cgroup_parent, "/kubepods/burstable/podu-1");
        let ns = linux.security_context.unwrap().namespace_options.unwrap();
        assert_eq!(ns.network, api::NamespaceMode::Pod as i32);
        assert_eq!(ns.pid, api::NamespaceMode::Container as i32);
        let res = linux.resources.unwrap();
        assert_eq!(
            (
                res.memory_limit_in_bytes,
                res.cpu_quota,
                res.cpu_period,
                res.cpu_shares
            ),
            (1 << 28, 50_000, 100_000, 0)
        );
    }

    #[test]
    fn host_network_pods_have_no_hostname_and_no_resources_unless_asked() {
        let config = pod_config(
            &PodSpec::new("h", "runc").host_network(),
            "u",
            Path::new("/l"),
        );
        assert_eq!(config.hostname, "");
        let linux = config.linux.unwrap();
        assert!(linux.resources.is_none());
        let ns = linux.security_context.unwrap().namespace_options.unwrap();
        assert_eq!(ns.network, api::NamespaceMode::Node as i32);
    }

    #[test]
    fn container_config_uses_busybox_and_the_log_path() {
        let pod = pod(&PodSpec::new("p", "runc").host_network());
        let spec = ContainerSpec::new("hello", &["sh", "-c", "exit 7"])
            .env("A", "1")
            .memory_limit(1 << 26);
        let config = container_config(&pod, &spec);
        assert_eq!(config.image.unwrap().image, BUSYBOX_IMAGE);
        assert_eq!(config.command, ["sh", "-c", "exit 7"]);
        assert!(config.args.is_empty());
        assert_eq!(config.log_path, "hello/0.log");
        assert_eq!(config.envs[0].key, "A");
        let linux = config.linux.unwrap();
        assert_eq!(linux.resources.unwrap().memory_limit_in_bytes, 1 << 26);
        let ns = linux.security_context.unwrap().namespace_options.unwrap();
        assert_eq!(ns.network, api::NamespaceMode::Node as i32);
        assert_eq!(
            pod.log_path("hello"),
            Path::new("/tmp/rsc-x/pods/harness_p_u-1/hello/0.log")
        );
    }

    #[test]
    fn uids_are_unique_and_uuid_shaped() {
        let (a, b) = (new_uid("x"), new_uid("x"));
        assert_ne!(a, b);
        let lens: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(lens, [8, 4, 4, 4, 12]);
    }
}
