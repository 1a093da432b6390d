//! Adds (or updates) a runtime that runs containers through
//! `containerd-shim-runsc-v1` in Docker Engine's `daemon.json`, keeping every
//! other key and their order:
//!
//! ```json
//! "runtimes": {
//!   "gvisor": {
//!     "runtimeType": "io.containerd.runsc.v1",
//!     "options": {
//!       "TypeUrl": "io.containerd.runsc.v1.options",
//!       "ConfigPath": "/etc/containerd/runsc.toml"
//!     }
//!   }
//! }
//! ```
//!
//! dockerd (23+) hands `options` to a shim v2 runtime as containerd's
//! `runtimeoptions.v1.Options` (the message CRI sends), so the shim reads the
//! same runsc.toml as under Kubernetes. `path` and `runtimeArgs` (an OCI
//! runtime binary, e.g. what `runsc install` writes) cannot be combined with
//! `runtimeType` and are removed from the runtime's entry.

use std::path::Path;

use serde_json::{Map, Value};

use crate::{
    file_diff, read_if_exists, write_atomic, Error, Handler, Result, RUNTIME_TYPE, TYPE_URL,
};

/// The runtime name `config-docker` adds by default (`docker run --runtime gvisor`).
pub const DEFAULT_DOCKER_RUNTIME: &str = "gvisor";

/// Keys of an OCI runtime entry that dockerd refuses next to `runtimeType`.
const OCI_RUNTIME_KEYS: [&str; 2] = ["path", "runtimeArgs"];

/// The result of [`configure_docker`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerEdited {
    /// The new text (equal to the input when nothing changed).
    pub text: String,
    /// Whether the configuration changed.
    pub changed: bool,
}

/// Sets runtime `runtime.name` in the daemon.json `text` (read from `origin`,
/// which names it in errors; empty text counts as `{}`) to the shim with
/// `runtime.config_path` as its runsc.toml. Other keys of the runtime's
/// `options` are kept. The text is only rewritten when the configuration
/// changes; then it is pretty-printed with the keys in their original order.
pub fn configure_docker(text: &str, origin: &str, runtime: &Handler) -> Result<DockerEdited> {
    runtime.validate()?;
    let mut root: Value = if text.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_str(text).map_err(|e| Error::ParseJson {
            origin: origin.to_string(),
            message: e.to_string(),
        })?
    };
    let before = root.clone();
    let entry = object_at(&mut root, origin, &["runtimes", &runtime.name])?;
    for key in OCI_RUNTIME_KEYS {
        entry.remove(key);
    }
    entry.insert("runtimeType".into(), RUNTIME_TYPE.into());
    let options = entry
        .entry("options")
        .or_insert_with(|| Value::Object(Map::new()));
    let found = json_kind(options);
    let options = options.as_object_mut().ok_or_else(|| Error::NotAnObject {
        origin: origin.to_string(),
        key: format!("runtimes.{}.options", runtime.name),
        found: found.into(),
    })?;
    options.insert("TypeUrl".into(), TYPE_URL.into());
    options.insert("ConfigPath".into(), runtime.config_path.clone().into());
    if root == before && !text.trim().is_empty() {
        return Ok(DockerEdited {
            text: text.to_string(),
            changed: false,
        });
    }
    let mut pretty = serde_json::to_string_pretty(&root).expect("JSON values serialize");
    pretty.push('\n');
    Ok(DockerEdited {
        text: pretty,
        changed: true,
    })
}

/// The object at `path` below `root`, creating missing objects on the way.
fn object_at<'a>(
    root: &'a mut Value,
    origin: &str,
    path: &[&str],
) -> Result<&'a mut Map<String, Value>> {
    let mut current = root;
    let mut walked = Vec::new();
    for key in std::iter::once(None).chain(path.iter().map(Some)) {
        if let Some(key) = key {
            walked.push(*key);
            let map = current.as_object_mut().expect("checked to be an object");
            current = map
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        if !current.is_object() {
            return Err(Error::NotAnObject {
                origin: origin.to_string(),
                key: if walked.is_empty() {
                    "the top level".into()
                } else {
                    walked.join(".")
                },
                found: json_kind(current).into(),
            });
        }
    }
    Ok(current.as_object_mut().expect("checked to be an object"))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What [`apply_docker_file`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerApplied {
    /// The edit.
    pub edited: DockerEdited,
    /// The file's text before (empty if it did not exist).
    pub before: String,
    /// Whether the file existed.
    pub existed: bool,
}

impl DockerApplied {
    /// A human summary: `unchanged`, or a unified diff of the change.
    pub fn summary(&self, path: &Path) -> String {
        if !self.edited.changed {
            return format!("{}: unchanged\n", path.display());
        }
        file_diff(path, self.existed, &self.before, &self.edited.text)
    }
}

/// Configures `runtime` in the daemon.json at `path` (a missing file counts
/// as `{}`). Unless `dry_run`, a changed file is replaced atomically, keeping
/// its permissions.
pub fn apply_docker_file(path: &Path, runtime: &Handler, dry_run: bool) -> Result<DockerApplied> {
    let (before, existed) = read_if_exists(path)?;
    let edited = configure_docker(&before, &path.display().to_string(), runtime)?;
    if edited.changed && !dry_run {
        write_atomic(path, &edited.text)?;
    }
    Ok(DockerApplied {
        edited,
        before,
        existed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gvisor() -> Handler {
        Handler::new("gvisor", "/etc/containerd/runsc.toml")
    }

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn empty_file_gets_the_runtime() {
        let e = configure_docker("", "daemon.json", &gvisor()).unwrap();
        assert!(e.changed);
        assert_eq!(
            parse(&e.text),
            parse(
                r#"{"runtimes": {"gvisor": {"runtimeType": "io.containerd.runsc.v1",
                    "options": {"TypeUrl": "io.containerd.runsc.v1.options",
                                "ConfigPath": "/etc/containerd/runsc.toml"}}}}"#
            )
        );
    }

    #[test]
    fn other_keys_and_their_order_are_kept() {
        let text = r#"{
  "log-level": "warn",
  "runtimes": {"crun": {"path": "/usr/bin/crun"}},
  "features": {"containerd-snapshotter": true},
  "data-root": "/srv/docker"
}"#;
        let e = configure_docker(text, "daemon.json", &gvisor()).unwrap();
        let v = parse(&e.text);
        assert_eq!(v["log-level"], "warn");
        assert_eq!(v["runtimes"]["crun"]["path"], "/usr/bin/crun");
        assert_eq!(v["features"]["containerd-snapshotter"], true);
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["log-level", "runtimes", "features", "data-root"]);
        let runtimes: Vec<&String> = v["runtimes"].as_object().unwrap().keys().collect();
        assert_eq!(runtimes, ["crun", "gvisor"]);
    }

    #[test]
    fn second_run_is_unchanged_and_keeps_the_text() {
        let once = configure_docker("{}", "daemon.json", &gvisor()).unwrap();
        let compact = serde_json::to_string(&parse(&once.text)).unwrap();
        let twice = configure_docker(&compact, "daemon.json", &gvisor()).unwrap();
        assert!(!twice.changed);
        assert_eq!(twice.text, compact);
    }

    #[test]
    fn an_oci_runtime_entry_is_converted_keeping_other_options() {
        let text = r#"{"runtimes": {"gvisor": {"path": "/usr/bin/runsc",
            "runtimeArgs": ["--platform=kvm"],
            "options": {"ConfigPath": "/old.toml", "Other": 1}}}}"#;
        let e = configure_docker(text, "daemon.json", &gvisor()).unwrap();
        let entry = &parse(&e.text)["runtimes"]["gvisor"];
        assert!(entry.get("path").is_none() && entry.get("runtimeArgs").is_none());
        assert_eq!(entry["runtimeType"], RUNTIME_TYPE);
        assert_eq!(entry["options"]["ConfigPath"], "/etc/containerd/runsc.toml");
        assert_eq!(entry["options"]["Other"], 1);
    }

    #[test]
    fn bad_input_is_refused_with_where_and_why() {
        let err = configure_docker("{\"a\": ", "/etc/docker/daemon.json", &gvisor()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/etc/docker/daemon.json is not valid JSON: "),
            "{err}"
        );
        let err = configure_docker("[]", "d.json", &gvisor()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "d.json: `the top level` is an array, not an object; fix it by hand"
        );
        let err = configure_docker(r#"{"runtimes": 3}"#, "d.json", &gvisor()).unwrap_err();
        assert!(err.to_string().contains("`runtimes` is a number"), "{err}");
        let err = configure_docker(
            r#"{"runtimes": {"gvisor": {"options": "x"}}}"#,
            "d.json",
            &gvisor(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("`runtimes.gvisor.options` is a string"),
            "{err}"
        );
        let err = configure_docker("{}", "d.json", &Handler::new("a b", "/x")).unwrap_err();
        assert!(matches!(err, Error::Handler(_)));
    }

    #[test]
    fn apply_writes_once_and_keeps_the_mode() {
        use std::{fs, os::unix::fs::PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker/daemon.json");
        let dry = apply_docker_file(&path, &gvisor(), true).unwrap();
        assert!(dry.edited.changed && !dry.existed && !path.exists());
        assert!(dry.summary(&path).starts_with("--- /dev/null"));
        apply_docker_file(&path, &gvisor(), false).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let again = apply_docker_file(&path, &gvisor(), false).unwrap();
        assert!(!again.edited.changed);
        assert!(again.summary(&path).ends_with("unchanged\n"));
        let other = Handler::new("gvisor", "/srv/runsc.toml");
        assert!(
            apply_docker_file(&path, &other, false)
                .unwrap()
                .edited
                .changed
        );
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
