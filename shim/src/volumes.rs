//! gVisor mount hints for Kubernetes volumes: the pod annotations
//! `dev.gvisor.spec.mount.<volume>.{type,share,options}` (forwarded by
//! containerd's `pod_annotations = ["dev.gvisor.*"]`) ask runsc to back a
//! volume, e.g. an emptyDir, with one tmpfs shared by the pod's containers.
//! runsc 20221219 needs the volume's host path as `.source` on the sandbox,
//! and the mounts of that volume typed accordingly in each container.

use std::{
    fs,
    path::{Path, PathBuf},
};

use serde_json::{json, Value};

use crate::{
    error::{Error, Result},
    pod::Role,
};

const PREFIX: &str = "dev.gvisor.spec.mount.";

/// Applies the hints to a spec; `log_dir` gives the pod UID (kubelet names
/// it `<namespace>_<name>_<uid>`). Returns whether the spec changed.
pub fn apply(
    spec: &mut Value,
    role: &Role,
    log_dir: Option<&Path>,
    kubelet_root: &Path,
) -> Result<bool> {
    let hints = hinted_volumes(spec);
    if hints.is_empty() {
        return Ok(false);
    }
    match role {
        Role::Sandbox => {
            let Some(uid) = log_dir.and_then(pod_uid) else {
                return Ok(false);
            };
            let mut changed = false;
            for (volume, _) in &hints {
                let source = find_volume(kubelet_root, &uid, volume)?;
                let key = format!("{PREFIX}{volume}.source");
                let annotations = spec["annotations"].as_object_mut().expect("has hints");
                if annotations.get(&key).and_then(Value::as_str) != Some(&source) {
                    annotations.insert(key, json!(source));
                    changed = true;
                }
            }
            Ok(changed)
        }
        Role::Subcontainer { .. } => {
            let Some(mounts) = spec.get_mut("mounts").and_then(Value::as_array_mut) else {
                return Ok(false);
            };
            let pods = kubelet_root.join("pods");
            let mut changed = false;
            for m in mounts.iter_mut() {
                let Some(source) = m.get("source").and_then(Value::as_str).map(PathBuf::from)
                else {
                    continue;
                };
                let Some((_, kind)) = hints
                    .iter()
                    .find(|(volume, _)| is_volume_path(&source, &pods, volume))
                else {
                    continue;
                };
                if m.get("type").and_then(Value::as_str) != Some(kind) {
                    m["type"] = json!(kind);
                    if kind != "bind" {
                        if let Some(opts) = m.get_mut("options").and_then(Value::as_array_mut) {
                            opts.retain(|o| !matches!(o.as_str(), Some("bind" | "rbind")));
                        }
                    }
                    changed = true;
                }
            }
            Ok(changed)
        }
    }
}

/// (volume name, type) of every `dev.gvisor.spec.mount.<volume>.type`.
fn hinted_volumes(spec: &Value) -> Vec<(String, String)> {
    let Some(annotations) = spec.get("annotations").and_then(Value::as_object) else {
        return Vec::new();
    };
    annotations
        .iter()
        .filter_map(|(k, v)| {
            let volume = k.strip_prefix(PREFIX)?.strip_suffix(".type")?;
            let valid = !volume.is_empty() && !volume.contains(['/', '.']);
            valid.then(|| {
                (
                    volume.to_string(),
                    v.as_str().unwrap_or_default().to_string(),
                )
            })
        })
        .collect()
}

/// The pod UID: the last `_`-separated field of the log directory's name.
fn pod_uid(log_dir: &Path) -> Option<String> {
    let name = log_dir.file_name()?.to_str()?;
    let uid = name.rsplit('_').next()?;
    (!uid.is_empty() && !uid.contains(['/', '.'])).then(|| uid.to_string())
}

/// `<kubelet root>/pods/<uid>/volumes/<plugin>/<volume>`: exactly one.
fn find_volume(kubelet_root: &Path, uid: &str, volume: &str) -> Result<String> {
    let dir = kubelet_root.join("pods").join(uid).join("volumes");
    let found: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|it| {
            it.flatten()
                .map(|e| e.path().join(volume))
                .filter(|p| p.exists())
                .collect()
        })
        .unwrap_or_default();
    match found.as_slice() {
        [one] => Ok(one.to_string_lossy().into_owned()),
        [] => Err(Error::InvalidArgument(format!(
            "mount hint {PREFIX}{volume}.*: no volume {volume:?} under {}",
            dir.display()
        ))),
        many => Err(Error::InvalidArgument(format!(
            "mount hint {PREFIX}{volume}.*: volume {volume:?} is ambiguous: {many:?}"
        ))),
    }
}

/// Whether `path` is `<pods>/<uid>/volumes/<plugin>/<volume>`.
fn is_volume_path(path: &Path, pods: &Path, volume: &str) -> bool {
    let Ok(rest) = path.strip_prefix(pods) else {
        return false;
    };
    let parts: Vec<_> = rest.components().collect();
    parts.len() == 4 && parts[1].as_os_str() == "volumes" && parts[3].as_os_str() == volume
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hinted(extra: Value) -> Value {
        let mut spec = json!({"annotations": {
            "dev.gvisor.spec.mount.cache.type": "tmpfs",
            "dev.gvisor.spec.mount.cache.share": "pod",
        }});
        if let (Some(a), Some(b)) = (spec.as_object_mut(), extra.as_object()) {
            a.extend(b.clone());
        }
        spec
    }

    #[test]
    fn sandbox_gets_the_volume_source() {
        let root = tempfile::tempdir().unwrap();
        let vol = root
            .path()
            .join("pods/uid-1/volumes/kubernetes.io~empty-dir/cache");
        fs::create_dir_all(&vol).unwrap();
        let mut spec = hinted(json!({}));
        let log = Path::new("/var/log/pods/default_web_uid-1");
        assert!(apply(&mut spec, &Role::Sandbox, Some(log), root.path()).unwrap());
        assert_eq!(
            spec["annotations"]["dev.gvisor.spec.mount.cache.source"],
            vol.to_string_lossy().as_ref()
        );
        assert!(!apply(&mut spec, &Role::Sandbox, Some(log), root.path()).unwrap());
    }

    #[test]
    fn a_missing_volume_is_named() {
        let root = tempfile::tempdir().unwrap();
        let mut spec = hinted(json!({}));
        let log = Path::new("/var/log/pods/default_web_uid-2");
        let err = apply(&mut spec, &Role::Sandbox, Some(log), root.path()).unwrap_err();
        assert!(err.to_string().contains("no volume \"cache\""), "{err}");
    }

    #[test]
    fn subcontainer_mounts_of_the_volume_are_retyped() {
        let root = Path::new("/var/lib/kubelet");
        let src = "/var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/cache";
        let mut spec = hinted(json!({"mounts": [
            {"destination": "/cache", "type": "bind", "source": src, "options": ["rbind", "rw"]},
            {"destination": "/other", "type": "bind", "source": "/srv/other", "options": ["rbind"]},
        ]}));
        let role = Role::Subcontainer {
            sandbox_id: "p".into(),
        };
        assert!(apply(&mut spec, &role, None, root).unwrap());
        assert_eq!(spec["mounts"][0]["type"], "tmpfs");
        assert_eq!(spec["mounts"][0]["options"], json!(["rw"]));
        assert_eq!(spec["mounts"][1]["type"], "bind");
    }

    #[test]
    fn no_hints_no_change_and_bad_names_ignored() {
        let mut spec = json!({"annotations": {"dev.gvisor.spec.mount.../x.type": "tmpfs"}});
        assert!(!apply(&mut spec, &Role::Sandbox, None, Path::new("/k")).unwrap());
        assert_eq!(
            pod_uid(Path::new("/var/log/pods/ns_name_abc")).as_deref(),
            Some("abc")
        );
    }
}
