//! Kubernetes pods through CRI: which container is the pod sandbox (the
//! pause container, which creates the gVisor sandbox) and which join it, and
//! how the sandbox is prepared from the pod's annotations.
//!
//! Sizing arithmetic (see the README): the sandbox's cgroup gets the pod's
//! memory limit and CPU quota unless kubelet already limits the pod cgroup
//! (then that limit, which includes the RuntimeClass overhead, stays).
//! runsc derives what the workload sees from that cgroup: MemTotal =
//! min(host memory, memory limit), and with `--cpu-num-from-quota` the CPU
//! count = max(2, ceil(quota / period)), at most the host's.

use std::{
    collections::HashMap,
    fs,
    path::{Component, Path, PathBuf},
};

use log::info;
use serde_json::{json, Value};

use crate::{
    error::{Error, Result},
    ids, volumes,
};

/// `sandbox` for the pause container, `container` for app containers.
pub const CONTAINER_TYPE: &str = "io.kubernetes.cri.container-type";
/// The pod sandbox's id, on every container of the pod.
pub const SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";
/// The pod's log directory (kubelet's /var/log/pods/<ns>_<name>_<uid>).
pub const LOG_DIRECTORY: &str = "io.kubernetes.cri.sandbox-log-directory";
/// Pod memory limit in bytes.
pub const SANDBOX_MEMORY: &str = "io.kubernetes.cri.sandbox-memory";
/// Pod CPU quota (µs per period).
pub const SANDBOX_CPU_QUOTA: &str = "io.kubernetes.cri.sandbox-cpu-quota";
/// Pod CPU period (µs).
pub const SANDBOX_CPU_PERIOD: &str = "io.kubernetes.cri.sandbox-cpu-period";
/// Pod CPU shares.
pub const SANDBOX_CPU_SHARES: &str = "io.kubernetes.cri.sandbox-cpu-shares";
/// runsc's annotation naming the cgroup to run the whole sandbox in.
pub const CGROUP_PARENT: &str = "dev.gvisor.spec.cgroup-parent";

/// Where the v1 hierarchies are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// A v1 memory limit at or above this means "no limit".
const UNLIMITED: u64 = 1 << 62;

/// A container's place in its pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// It creates a gVisor sandbox: the pause container of a pod, or any
    /// container started without CRI.
    Sandbox,
    /// It joins the sandbox of the pod with this id.
    Subcontainer {
        /// The pod sandbox's container id.
        sandbox_id: String,
    },
}

/// What the annotations say about a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodInfo {
    /// Sandbox or subcontainer.
    pub role: Role,
    /// The containers sharing one shim and one runsc root: the pod's
    /// sandbox id, else the container's own id.
    pub group: String,
    /// Whether this is a CRI pod sandbox (pause) container.
    pub pause: bool,
    /// The pod log directory, for the sandbox's gvisor.log/gvisor_panic.log.
    pub log_dir: Option<PathBuf>,
    memory: Option<i64>,
    cpu_quota: Option<i64>,
    cpu_period: Option<i64>,
    cpu_shares: Option<i64>,
}

/// The grouping key for `start` from the `config.json` of `bundle`: the
/// pod's sandbox id, else `id` (also when the spec cannot be read; Create
/// reports that). Reads the file in one go and decodes only the
/// annotations: `start` is on the path of every container start.
pub fn group_of_bundle(bundle: &Path, id: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Annotated {
        #[serde(default)]
        annotations: HashMap<String, String>,
    }
    fs::read(bundle.join("config.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Annotated>(&bytes).ok())
        .map(|spec| group_of(&spec.annotations, id))
        .unwrap_or_else(|| id.to_string())
}

/// The grouping key for `start`: the pod's sandbox id, else `id`.
pub fn group_of(annotations: &HashMap<String, String>, id: &str) -> String {
    annotations
        .get(SANDBOX_ID)
        .filter(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| id.to_string())
}

impl PodInfo {
    /// Reads the CRI annotations of container `id`.
    pub fn from_annotations(id: &str, annotations: &HashMap<String, String>) -> Result<Self> {
        let sandbox_id = annotations.get(SANDBOX_ID).filter(|s| !s.is_empty());
        if let Some(s) = sandbox_id {
            ids::validate(&format!("annotation {SANDBOX_ID}"), s)?;
        }
        let role = match annotations.get(CONTAINER_TYPE).map(String::as_str) {
            None | Some("sandbox") => Role::Sandbox,
            Some("container") => Role::Subcontainer {
                sandbox_id: sandbox_id.cloned().filter(|s| s != id).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "container {id:?} has {CONTAINER_TYPE}=container but no \
                             {SANDBOX_ID} naming another container"
                    ))
                })?,
            },
            Some(other) => {
                return Err(Error::InvalidArgument(format!(
                    "annotation {CONTAINER_TYPE}={other:?} is neither \"sandbox\" nor \
                     \"container\""
                )))
            }
        };
        let log_dir = match annotations.get(LOG_DIRECTORY).filter(|s| !s.is_empty()) {
            Some(dir) => Some(safe_dir(dir)?),
            None => None,
        };
        Ok(Self {
            pause: annotations
                .get(CONTAINER_TYPE)
                .is_some_and(|t| t == "sandbox"),
            group: group_of(annotations, id),
            role,
            log_dir,
            memory: number(annotations, SANDBOX_MEMORY)?,
            cpu_quota: number(annotations, SANDBOX_CPU_QUOTA)?,
            cpu_period: number(annotations, SANDBOX_CPU_PERIOD)?,
            cpu_shares: number(annotations, SANDBOX_CPU_SHARES)?,
        })
    }

    /// Whether the pod asks for a CPU quota (then runsc should size its
    /// CPU count from it).
    pub fn has_cpu_quota(&self) -> bool {
        self.role == Role::Sandbox
            && self.cpu_quota.is_some_and(|q| q > 0)
            && self.cpu_period.is_some_and(|p| p > 0)
    }

    /// Prepares a container's `config.json` for runsc: for a sandbox, the
    /// pod cgroup as runsc's cgroup parent and the pod's limits as the
    /// sandbox's resources where neither the spec nor kubelet set them;
    /// for every container, gVisor's mount hints of the pod's volumes under
    /// `kubelet_root`. Returns whether the spec changed.
    pub fn prepare_spec(&self, spec: &mut Value, kubelet_root: &Path) -> Result<bool> {
        let changed = self.role == Role::Sandbox && self.edit_spec(spec, Path::new(CGROUP_ROOT));
        Ok(volumes::apply(spec, &self.role, self.log_dir.as_deref(), kubelet_root)? | changed)
    }

    fn edit_spec(&self, spec: &mut Value, cgroup_root: &Path) -> bool {
        let mut changed = false;
        let cgroups_path = spec
            .pointer("/linux/cgroupsPath")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let parent = cgroups_path.as_deref().and_then(pod_cgroup);
        if let Some(parent) = &parent {
            let annotations = ensure_object(spec, "annotations");
            if !annotations.contains_key(CGROUP_PARENT) {
                annotations.insert(CGROUP_PARENT.into(), json!(parent));
                changed = true;
            }
        }
        let kubelet_limits = |controller: &str, file: &str, unlimited: fn(&str) -> bool| {
            parent.as_ref().is_some_and(|p| {
                let f = cgroup_root
                    .join(controller)
                    .join(p.trim_start_matches('/'))
                    .join(file);
                fs::read_to_string(f).is_ok_and(|v| !unlimited(v.trim()))
            })
        };
        if let Some(limit) = self.memory.filter(|m| *m > 0) {
            let set = spec.pointer("/linux/resources/memory/limit").is_some();
            let by_kubelet = kubelet_limits("memory", "memory.limit_in_bytes", |v| {
                v.parse::<u64>().map_or(true, |n| n >= UNLIMITED)
            });
            if !set && !by_kubelet {
                let r = resources_of(spec);
                set_field(r, "memory", "limit", json!(limit));
                info!("sandbox memory limit {limit} bytes from {SANDBOX_MEMORY}");
                changed = true;
            }
        }
        if self.has_cpu_quota() {
            let set = spec.pointer("/linux/resources/cpu/quota").is_some();
            let by_kubelet = kubelet_limits("cpu", "cpu.cfs_quota_us", |v| v == "-1");
            if !set && !by_kubelet {
                let r = resources_of(spec);
                set_field(r, "cpu", "quota", json!(self.cpu_quota));
                set_field(r, "cpu", "period", json!(self.cpu_period));
                changed = true;
            }
        }
        if let Some(shares) = self.cpu_shares.filter(|s| *s > 0) {
            if spec.pointer("/linux/resources/cpu/shares").is_none() {
                set_field(resources_of(spec), "cpu", "shares", json!(shares));
                changed = true;
            }
        }
        changed
    }
}

/// `linux.resources` of a spec, created if missing.
fn resources_of(spec: &mut Value) -> &mut serde_json::Map<String, Value> {
    ensure_object(ensure_object_value(spec, "linux"), "resources")
}

fn ensure_object_value<'a>(v: &'a mut Value, key: &str) -> &'a mut Value {
    ensure_object(v, key);
    &mut v[key]
}

fn ensure_object<'a>(v: &'a mut Value, key: &str) -> &'a mut serde_json::Map<String, Value> {
    let map = v.as_object_mut().expect("the spec is a JSON object");
    if !map.get(key).is_some_and(Value::is_object) {
        map.insert(key.into(), json!({}));
    }
    map[key].as_object_mut().expect("object")
}

fn set_field(r: &mut serde_json::Map<String, Value>, section: &str, key: &str, value: Value) {
    if !r.get(section).is_some_and(Value::is_object) {
        r.insert(section.into(), json!({}));
    }
    r[section]
        .as_object_mut()
        .expect("object")
        .insert(key.into(), value);
}

/// The pod-level cgroup of a pause container's cgroupsPath: the path up to
/// the last component starting with `pod` (not the last component itself).
fn pod_cgroup(cgroups_path: &str) -> Option<String> {
    let parts: Vec<&str> = cgroups_path.split('/').collect();
    let at = parts[..parts.len().saturating_sub(1)]
        .iter()
        .rposition(|p| p.starts_with("pod"))?;
    let joined = parts[..=at].join("/");
    (!joined.is_empty()).then_some(joined)
}

fn number(annotations: &HashMap<String, String>, key: &str) -> Result<Option<i64>> {
    match annotations
        .get(key)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            Error::InvalidArgument(format!("annotation {key}={v:?} is not an integer"))
        }),
    }
}

/// An absolute directory without `..` (annotations come from pods).
fn safe_dir(dir: &str) -> Result<PathBuf> {
    let path = PathBuf::from(dir);
    if !path.is_absolute() || path.components().any(|c| c == Component::ParentDir) {
        return Err(Error::InvalidArgument(format!(
            "annotation {LOG_DIRECTORY}={dir:?} must be an absolute path without '..'"
        )));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn start_groups_by_the_bundles_sandbox_id() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(group_of_bundle(dir.path(), "c1"), "c1", "no config.json");
        let spec = dir.path().join("config.json");
        fs::write(&spec, "{").unwrap();
        assert_eq!(group_of_bundle(dir.path(), "c1"), "c1", "broken JSON");
        fs::write(
            &spec,
            r#"{"ociVersion":"1.0.2","process":{"args":["true"]}}"#,
        )
        .unwrap();
        assert_eq!(group_of_bundle(dir.path(), "c1"), "c1", "no annotations");
        let annotated = json!({"process": {}, "annotations": {SANDBOX_ID: "pod1", "x": "y"}});
        fs::write(&spec, annotated.to_string()).unwrap();
        assert_eq!(group_of_bundle(dir.path(), "c1"), "pod1");
    }

    #[test]
    fn roles_and_groups() {
        let plain = PodInfo::from_annotations("c1", &HashMap::new()).unwrap();
        assert_eq!((&plain.role, plain.group.as_str()), (&Role::Sandbox, "c1"));
        let pause = PodInfo::from_annotations(
            "p1",
            &ann(&[(CONTAINER_TYPE, "sandbox"), (SANDBOX_ID, "p1")]),
        )
        .unwrap();
        assert_eq!((pause.role, pause.group.as_str()), (Role::Sandbox, "p1"));
        assert!(pause.pause && !plain.pause);
        let app = PodInfo::from_annotations(
            "a1",
            &ann(&[(CONTAINER_TYPE, "container"), (SANDBOX_ID, "p1")]),
        )
        .unwrap();
        assert_eq!(
            app.role,
            Role::Subcontainer {
                sandbox_id: "p1".into()
            }
        );
        assert_eq!(app.group, "p1");
        assert_eq!(group_of(&HashMap::new(), "x"), "x");
    }

    #[test]
    fn bad_annotations_are_named() {
        let cases = [
            (
                ann(&[(CONTAINER_TYPE, "container")]),
                "no io.kubernetes.cri.sandbox-id",
            ),
            (ann(&[(CONTAINER_TYPE, "vm")]), "neither"),
            (ann(&[(SANDBOX_ID, "../x")]), "invalid annotation"),
            (ann(&[(LOG_DIRECTORY, "relative/dir")]), "absolute"),
            (
                ann(&[(LOG_DIRECTORY, "/var/log/../../etc")]),
                "without '..'",
            ),
            (ann(&[(SANDBOX_MEMORY, "lots")]), "sandbox-memory=\"lots\""),
        ];
        for (a, want) in cases {
            let err = PodInfo::from_annotations("c1", &a).unwrap_err().to_string();
            assert!(err.contains(want), "{a:?}: {err}");
        }
    }

    #[test]
    fn pod_cgroup_is_the_pod_level() {
        assert_eq!(
            pod_cgroup("/kubepods/burstable/pod123/abc").as_deref(),
            Some("/kubepods/burstable/pod123")
        );
        assert_eq!(
            pod_cgroup("kubepods/pod1/c").as_deref(),
            Some("kubepods/pod1")
        );
        assert_eq!(pod_cgroup("/default/c1"), None);
        assert_eq!(pod_cgroup("/kubepods/pod123"), None);
    }

    fn pause(pairs: &[(&str, &str)]) -> PodInfo {
        let mut a = ann(&[(CONTAINER_TYPE, "sandbox"), (SANDBOX_ID, "p1")]);
        a.extend(ann(pairs));
        PodInfo::from_annotations("p1", &a).unwrap()
    }

    #[test]
    fn sandbox_spec_gets_parent_and_pod_limits() {
        let info = pause(&[
            (SANDBOX_MEMORY, "268435456"),
            (SANDBOX_CPU_QUOTA, "150000"),
            (SANDBOX_CPU_PERIOD, "100000"),
            (SANDBOX_CPU_SHARES, "1536"),
        ]);
        let mut spec = json!({"linux": {"cgroupsPath": "/kubepods/burstable/podU/p1"}});
        let empty = tempfile::tempdir().unwrap();
        assert!(info.edit_spec(&mut spec, empty.path()));
        assert_eq!(
            spec["annotations"][CGROUP_PARENT],
            "/kubepods/burstable/podU"
        );
        let r = &spec["linux"]["resources"];
        assert_eq!(r["memory"]["limit"], 268435456);
        assert_eq!(
            (r["cpu"]["quota"].clone(), r["cpu"]["period"].clone()),
            (json!(150000), json!(100000))
        );
        assert_eq!(r["cpu"]["shares"], 1536);
        assert!(info.has_cpu_quota());
        assert!(
            !info.edit_spec(&mut spec, empty.path()),
            "a second pass changes nothing"
        );
    }

    #[test]
    fn kubelet_limits_and_spec_values_win() {
        let info = pause(&[
            (SANDBOX_MEMORY, "268435456"),
            (SANDBOX_CPU_QUOTA, "150000"),
            (SANDBOX_CPU_PERIOD, "100000"),
        ]);
        let root = tempfile::tempdir().unwrap();
        let mem = root.path().join("memory/kubepods/podU");
        fs::create_dir_all(&mem).unwrap();
        fs::write(mem.join("memory.limit_in_bytes"), "335544320\n").unwrap();
        let cpu = root.path().join("cpu/kubepods/podU");
        fs::create_dir_all(&cpu).unwrap();
        fs::write(cpu.join("cpu.cfs_quota_us"), "-1\n").unwrap();
        let mut spec = json!({"linux": {"cgroupsPath": "/kubepods/podU/p1",
                                        "resources": {"cpu": {"quota": 50000, "period": 100000}}}});
        assert!(info.edit_spec(&mut spec, root.path()));
        let r = &spec["linux"]["resources"];
        assert!(
            r.get("memory").is_none(),
            "kubelet's pod limit (with overhead) stays: {r}"
        );
        assert_eq!(r["cpu"]["quota"], 50000, "the spec's own quota stays");
    }

    #[test]
    fn subcontainers_and_plain_containers_keep_their_spec() {
        let dir = tempfile::tempdir().unwrap();
        let app = PodInfo::from_annotations(
            "a1",
            &ann(&[
                (CONTAINER_TYPE, "container"),
                (SANDBOX_ID, "p1"),
                (SANDBOX_MEMORY, "1"),
            ]),
        )
        .unwrap();
        let mut app_spec = json!({"linux": {}});
        assert!(!app.prepare_spec(&mut app_spec, dir.path()).unwrap());
        assert_eq!(app_spec, json!({"linux": {}}));
        let mut spec = json!({"linux": {"cgroupsPath": "/default/c1"}});
        let plain = PodInfo::from_annotations("c1", &HashMap::new()).unwrap();
        assert!(!plain.edit_spec(&mut spec, dir.path()));
    }
}
