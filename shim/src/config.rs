//! The runsc.toml configuration file (gVisor shim format) and how it turns
//! into runsc global options for one container.
//!
//! ```toml
//! binary_name = "/usr/bin/runsc"    # default: runsc from PATH
//! root = "/run/containerd/runsc"    # runsc gets --root=<root>/<namespace>/<pod id>
//! log_level = "debug"               # the shim's own log level
//! log_path = "/var/log/runsc/%ID%/shim.log"  # extra copy of the shim log
//! cgroup_metrics = "v2"             # Stats format; default: the host's
//! control_server = false            # always run the runsc CLI (default: talk
//!                                   # to the sandbox's control server in-process)
//! tty_relay = true                  # terminals get a pty of gVisor's own (see
//!                                   # `tty`; default: runsc's host pty)
//! [runsc_config]                    # each key = "value" becomes --key=value
//!   network = "none"
//!   debug-log = "/var/log/runsc/%ID%/"
//! ```

use std::{
    collections::BTreeMap,
    env,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use log::LevelFilter;
use serde::Deserialize;

use crate::{
    error::{Error, Result},
    ids,
    options::RuntimeOptions,
    stats::CgroupMode,
};

/// Default state root, one directory per containerd namespace below it.
pub const DEFAULT_ROOT: &str = "/run/containerd/runsc";
/// Default runsc binary, looked up in PATH.
pub const DEFAULT_BINARY: &str = "runsc";
/// Where kubelet keeps pod log directories by default.
pub const DEFAULT_POD_LOG_ROOT: &str = "/var/log/pods";
/// Where kubelet keeps pod volumes by default.
pub const DEFAULT_KUBELET_ROOT: &str = "/var/lib/kubelet";
/// The runsc.toml read when the runtime options name none (`ctr run
/// --runtime io.containerd.runsc.v1`, `docker run --runtime
/// io.containerd.runsc.v1`): where `scripts/install.sh` puts it. Absent,
/// the defaults apply.
pub const DEFAULT_CONFIG: &str = "/etc/containerd/runsc.toml";
/// Environment variable (of containerd or dockerd, which shims inherit)
/// naming another file than [`DEFAULT_CONFIG`]; that file must exist.
pub const CONFIG_ENV: &str = "RUNSC_SHIM_CONFIG";
/// Placeholder replaced by the container id in path values.
pub const ID_PLACEHOLDER: &str = "%ID%";

/// runsc flags that name files or directories: `%ID%` is expanded in them
/// and their parent directories are created before runsc runs.
const PATH_FLAGS: [&str; 9] = [
    "log",
    "panic-log",
    "debug-log",
    "coverage-report",
    "profile-block",
    "profile-cpu",
    "profile-heap",
    "profile-mutex",
    "trace",
];

/// Global flags the shim sets itself; they are configured elsewhere.
const RESERVED_FLAGS: [(&str, &str); 3] = [
    ("root", "use the top-level `root` key"),
    (
        "log",
        "the shim logs runsc errors to <bundle>/log.json; use `debug-log` for runsc's own log",
    ),
    ("log-format", "the shim reads runsc's log as JSON"),
];

/// The contents of runsc.toml.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ShimConfig {
    /// runsc binary: a path, or a name looked up in PATH.
    #[serde(default)]
    pub binary_name: String,
    /// State root; runsc runs with `--root=<root>/<namespace>/<pod sandbox id>`
    /// (the container's own id outside pods).
    #[serde(default)]
    pub root: String,
    /// Level of the shim's own log (error, warn, info, debug, trace).
    #[serde(default)]
    pub log_level: String,
    /// A file that receives a copy of the shim's log; `%ID%` is expanded.
    #[serde(default)]
    pub log_path: String,
    /// Deadline in seconds of runsc calls that only talk to a sandbox (kill,
    /// state, ps, events, pause, delete); calls that start something get
    /// four times as long, at least the default 120 s.
    #[serde(default)]
    pub runsc_timeout: Option<u64>,
    /// Where pod log directories must be for the sandbox's gvisor.log and
    /// gvisor_panic.log (default /var/log/pods): the annotation naming the
    /// directory is not trusted beyond that.
    #[serde(default)]
    pub pod_log_root: Option<PathBuf>,
    /// kubelet's root directory (its `--root-dir`), where pod volumes live;
    /// default /var/lib/kubelet.
    #[serde(default)]
    pub kubelet_root: Option<PathBuf>,
    /// Metrics message for Stats: "v1" or "v2" (default: the host's
    /// cgroup mode).
    #[serde(default)]
    pub cgroup_metrics: Option<String>,
    /// Whether waits, signals, process lists and stats go to the sandbox's
    /// control server in-process (default true); false runs the runsc CLI
    /// for each, as gVisor's Go shim does.
    #[serde(default)]
    pub control_server: Option<bool>,
    /// Whether terminal processes get a pty of gVisor's own through the
    /// terminal relay (default false: the host pty runsc passes in, where
    /// `tty` prints "not a tty"). Off by default because runsc 20221219
    /// cannot make that pty a controlling terminal, so ^C would reach nobody.
    #[serde(default)]
    pub tty_relay: Option<bool>,
    /// Extra runsc global flags.
    #[serde(default)]
    pub runsc_config: BTreeMap<String, toml::Value>,
    /// Keys of gVisor's Go shim that have no effect here (accepted so that
    /// existing files keep working; a warning names them).
    #[serde(default)]
    shim_cgroup: Option<String>,
    #[serde(default)]
    io_uid: Option<i64>,
    #[serde(default)]
    io_gid: Option<i64>,
    #[serde(default)]
    grouping: Option<bool>,
    #[serde(default)]
    enable_hibernate_server: Option<bool>,
}

/// Everything the shim needs from the configuration for one container.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Global options for every runsc call about this container.
    pub runsc: runsc::GlobalOptions,
    /// Extra shim log file, with `%ID%` expanded.
    pub log_path: Option<PathBuf>,
    /// Requested shim log level.
    pub log_level: Option<LevelFilter>,
    /// Requested metrics format, if not the host's.
    pub cgroup_metrics: Option<CgroupMode>,
    /// Deadlines of runsc calls: (short, long).
    pub timeouts: (Duration, Duration),
    /// Whether to talk to the sandbox's control server in-process.
    pub control_server: bool,
    /// Whether terminal processes start through the terminal relay.
    pub tty_relay: bool,
}

impl ShimConfig {
    /// Reads the configuration the runtime options point at; without a
    /// path or body in them, the file [`CONFIG_ENV`] names, else
    /// [`DEFAULT_CONFIG`] if it exists, else the defaults.
    pub fn load(opts: Option<&RuntimeOptions>) -> Result<Self> {
        let named = env::var_os(CONFIG_ENV).filter(|v| !v.is_empty());
        Self::load_from(opts, named.map(PathBuf::from), Path::new(DEFAULT_CONFIG))
    }

    fn load_from(
        opts: Option<&RuntimeOptions>,
        named: Option<PathBuf>,
        default: &Path,
    ) -> Result<Self> {
        let opts = opts.filter(|o| !o.config_body.is_empty() || !o.config_path.is_empty());
        let Some(opts) = opts else {
            if let Some(path) = named {
                return Self::read(&path, &format!("named by {CONFIG_ENV}"));
            }
            if default.exists() {
                return Self::read(default, "the default, as the runtime options name none");
            }
            return Ok(Self::default());
        };
        if !opts.config_body.is_empty() {
            let text = String::from_utf8(opts.config_body.clone()).map_err(|_| {
                Error::InvalidArgument("runtime options config_body is not UTF-8".into())
            })?;
            return Self::parse(&text, "config_body of the runtime options");
        }
        Self::read(
            Path::new(&opts.config_path),
            "ConfigPath of the runtime options",
        )
    }

    /// Reads and parses the file at `path`; `why` says where the path came
    /// from, for errors.
    fn read(path: &Path, why: &str) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::InvalidArgument(format!("cannot read runsc config {path:?} ({why}): {e}"))
        })?;
        Self::parse(&text, &path.to_string_lossy())
    }

    /// Parses and validates TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let cfg: ShimConfig = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| {
                let before = &text[..s.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(" (line {line}, column {col})")
            });
            Error::InvalidArgument(format!(
                "invalid runsc config {origin:?}{}: {}",
                at.unwrap_or_default(),
                e.message()
            ))
        })?;
        cfg.validate()
            .map_err(|e| Error::InvalidArgument(format!("invalid runsc config {origin:?}: {e}")))?;
        Ok(cfg)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if !self.log_level.is_empty() {
            parse_level(&self.log_level)?;
        }
        if let Some(m) = &self.cgroup_metrics {
            parse_metrics(m)?;
        }
        if !self.root.is_empty() && !Path::new(&self.root).is_absolute() {
            return Err(format!("root {:?} must be an absolute path", self.root));
        }
        if let Some(p) = self.pod_log_root.as_ref().filter(|p| !p.is_absolute()) {
            return Err(format!("pod_log_root {p:?} must be an absolute path"));
        }
        if self.runsc_timeout == Some(0) {
            return Err("runsc_timeout must be at least 1 second".into());
        }
        if let Some(k) = self.kubelet_root.as_ref().filter(|k| !k.is_absolute()) {
            return Err(format!("kubelet_root {k:?} must be an absolute path"));
        }
        for (key, value) in &self.runsc_config {
            flag_value(key, value)?;
        }
        Ok(())
    }

    /// Names of keys that are set but have no effect in this shim.
    pub fn ignored_keys(&self) -> Vec<&'static str> {
        let set = [
            ("shim_cgroup", self.shim_cgroup.is_some()),
            ("io_uid", self.io_uid.is_some()),
            ("io_gid", self.io_gid.is_some()),
            ("grouping", self.grouping.is_some()),
            (
                "enable_hibernate_server",
                self.enable_hibernate_server.is_some(),
            ),
        ];
        set.iter().filter(|(_, on)| *on).map(|(k, _)| *k).collect()
    }

    /// Deadlines of runsc calls: (short, long).
    fn timeouts(&self) -> (Duration, Duration) {
        match self.runsc_timeout {
            Some(s) => {
                let short = Duration::from_secs(s);
                (short, (short * 4).max(runsc::DEFAULT_LONG_TIMEOUT))
            }
            None => (runsc::DEFAULT_SHORT_TIMEOUT, runsc::DEFAULT_LONG_TIMEOUT),
        }
    }

    /// The directory pod log directories must be in.
    pub fn pod_log_root(&self) -> PathBuf {
        self.pod_log_root
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_POD_LOG_ROOT))
    }

    /// kubelet's root directory.
    pub fn kubelet_root(&self) -> PathBuf {
        self.kubelet_root
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_KUBELET_ROOT))
    }

    /// The configured state root (`root`, or the default).
    pub fn base_root(&self) -> &Path {
        Path::new(if self.root.is_empty() {
            DEFAULT_ROOT
        } else {
            &self.root
        })
    }

    /// The state root for a namespace: `<root>/<namespace>`.
    pub fn state_root(&self, namespace: &str) -> PathBuf {
        self.base_root().join(namespace)
    }

    /// Resolves the configuration for container `id` of `namespace` in pod
    /// (or lone container) `group`, whose bundle is `bundle`. Checks that the
    /// runsc binary can be run.
    pub fn resolve(
        &self,
        namespace: &str,
        id: &str,
        group: &str,
        bundle: &Path,
    ) -> Result<Resolved> {
        ids::validate("namespace", namespace)?;
        ids::validate("container id", id)?;
        ids::validate("pod sandbox id", group)?;
        let binary = find_binary(if self.binary_name.is_empty() {
            DEFAULT_BINARY
        } else {
            &self.binary_name
        })?;
        let mut flags = Vec::with_capacity(self.runsc_config.len());
        for (key, value) in &self.runsc_config {
            let value = flag_value(key, value).map_err(Error::InvalidArgument)?;
            flags.push((key.clone(), value.replace(ID_PLACEHOLDER, id)));
        }
        let log_path = (!self.log_path.is_empty())
            .then(|| PathBuf::from(self.log_path.replace(ID_PLACEHOLDER, id)));
        let log_level = if self.log_level.is_empty() {
            None
        } else {
            Some(parse_level(&self.log_level).map_err(Error::InvalidArgument)?)
        };
        Ok(Resolved {
            runsc: runsc::GlobalOptions {
                binary,
                // runsc matches ids by prefix ("c1" is ambiguous next to
                // "c10"): each pod (or lone container) gets a root of its own.
                root: self.state_root(namespace).join(group),
                log: Some(bundle.join("log.json")),
                flags,
            },
            log_path,
            log_level,
            timeouts: self.timeouts(),
            control_server: self.control_server.unwrap_or(true),
            tty_relay: self.tty_relay.unwrap_or(false),
            cgroup_metrics: match &self.cgroup_metrics {
                Some(m) => Some(parse_metrics(m).map_err(Error::InvalidArgument)?),
                None => None,
            },
        })
    }
}

impl Resolved {
    /// Adds a runsc global flag unless runsc.toml already sets it.
    pub fn default_flag(&mut self, key: &str, value: &str) {
        if !self.runsc.flags.iter().any(|(k, _)| k == key) {
            self.runsc.flags.push((key.into(), value.into()));
        }
    }

    /// Creates the directories that runsc's path flags and the shim log file
    /// need. A value ending in `/` names a directory.
    pub fn create_log_dirs(&self) -> Result<()> {
        let flag_paths = self
            .runsc
            .flags
            .iter()
            .filter(|(k, _)| PATH_FLAGS.contains(&k.as_str()))
            .map(|(_, v)| PathBuf::from(v));
        for path in flag_paths.chain(self.log_path.clone()) {
            let dir = if path.as_os_str().to_string_lossy().ends_with('/') {
                path.as_path()
            } else {
                match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => continue,
                }
            };
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating log directory {}", dir.display()), e))?;
        }
        Ok(())
    }
}

/// Renders one `[runsc_config]` entry as the flag value, or says why not.
fn flag_value(key: &str, value: &toml::Value) -> std::result::Result<String, String> {
    let valid_key = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid_key {
        return Err(format!(
            "runsc_config key {key:?} is not a valid runsc flag name"
        ));
    }
    if let Some((_, hint)) = RESERVED_FLAGS.iter().find(|(k, _)| *k == key) {
        return Err(format!("runsc_config must not set {key:?}: {hint}"));
    }
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        other => Err(format!(
            "runsc_config.{key} must be a string, boolean or number, not {}",
            other.type_str()
        )),
    }
}

fn parse_metrics(value: &str) -> std::result::Result<CgroupMode, String> {
    match value {
        "v1" => Ok(CgroupMode::V1),
        "v2" => Ok(CgroupMode::V2),
        _ => Err(format!("cgroup_metrics {value:?} is not \"v1\" or \"v2\"")),
    }
}

fn parse_level(level: &str) -> std::result::Result<LevelFilter, String> {
    match level.to_ascii_lowercase().as_str() {
        "trace" => Ok(LevelFilter::Trace),
        "debug" => Ok(LevelFilter::Debug),
        "info" => Ok(LevelFilter::Info),
        "warn" | "warning" => Ok(LevelFilter::Warn),
        "error" | "fatal" | "panic" => Ok(LevelFilter::Error),
        "off" => Ok(LevelFilter::Off),
        _ => Err(format!(
            "log_level {level:?} is not one of trace, debug, info, warn, error, off"
        )),
    }
}

/// Finds the runsc binary: a name with a `/` must be an executable file, a
/// bare name is looked up in PATH.
pub fn find_binary(name: &str) -> Result<PathBuf> {
    let executable = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if name.contains('/') {
        let path = PathBuf::from(name);
        return match path.metadata() {
            Err(e) => Err(Error::InvalidArgument(format!(
                "runsc binary {name:?} (binary_name in the runsc config) cannot be used: {e}"
            ))),
            Ok(_) if !executable(&path) => Err(Error::InvalidArgument(format!(
                "runsc binary {name:?} (binary_name in the runsc config) is not an executable file"
            ))),
            Ok(_) => Ok(path),
        };
    }
    let path_var = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path_var)
        .map(|dir| dir.join(name))
        .find(|p| executable(p))
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "runsc binary {name:?} not found in PATH ({}); install gVisor's runsc or set \
                 binary_name in the runsc config",
                path_var.to_string_lossy()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str) -> Resolved {
        ShimConfig::parse(text, "test")
            .unwrap()
            .resolve("k8s.io", "abc", "abc", Path::new("/b"))
            .unwrap()
    }

    #[test]
    fn defaults_use_runsc_from_path_and_per_namespace_root() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("runsc");
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let found = find_binary("runsc");
        // PATH on a node may or may not have runsc; the explicit path always works.
        if let Ok(p) = found {
            assert!(p.ends_with("runsc"));
        }
        let cfg = ShimConfig {
            binary_name: bin.to_string_lossy().into(),
            ..Default::default()
        };
        let r = cfg
            .resolve("default", "c1", "c1", Path::new("/bundle"))
            .unwrap();
        assert_eq!(r.runsc.root, Path::new("/run/containerd/runsc/default/c1"));
        assert_eq!(r.runsc.log, Some(PathBuf::from("/bundle/log.json")));
        assert_eq!(r.runsc.binary, bin);
        assert!(r.runsc.flags.is_empty());
        assert_eq!(r.log_path, None);
        assert!(r.control_server);
        assert!(!r.tty_relay);
    }

    #[test]
    fn control_server_off_and_tty_relay_on() {
        let r = resolve("binary_name = \"/bin/sh\"\ncontrol_server = false\n");
        assert!(!r.control_server);
        let r = resolve("binary_name = \"/bin/sh\"\ntty_relay = true\n");
        assert!(r.tty_relay);
    }

    #[test]
    fn flags_are_sorted_stringified_and_id_expanded() {
        let r = resolve(
            r#"
            binary_name = "/bin/sh"
            root = "/var/run/rsc"
            log_level = "debug"
            log_path = "/var/log/shim/%ID%.log"
            cgroup_metrics = "v2"
            runsc_timeout = 50
            [runsc_config]
            network = "none"
            debug = true
            watchdog-action = "panic"
            num-network-channels = 2
            debug-log = "/var/log/runsc/%ID%/"
            "#,
        );
        assert_eq!(r.runsc.root, Path::new("/var/run/rsc/k8s.io/abc"));
        assert_eq!(r.log_level, Some(LevelFilter::Debug));
        assert_eq!(r.cgroup_metrics, Some(CgroupMode::V2));
        assert_eq!(
            r.timeouts,
            (Duration::from_secs(50), Duration::from_secs(200))
        );
        assert_eq!(r.log_path, Some(PathBuf::from("/var/log/shim/abc.log")));
        let flags: Vec<_> = r
            .runsc
            .flags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            flags,
            [
                "debug=true",
                "debug-log=/var/log/runsc/abc/",
                "network=none",
                "num-network-channels=2",
                "watchdog-action=panic"
            ]
        );
    }

    #[test]
    fn default_flags_do_not_override_the_config() {
        let mut r = resolve("binary_name = \"/bin/sh\"\n[runsc_config]\npanic-log = \"/x\"");
        r.default_flag("panic-log", "/pod/gvisor_panic.log");
        r.default_flag("cpu-num-from-quota", "true");
        let flags: Vec<_> = r
            .runsc
            .flags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(flags, ["panic-log=/x", "cpu-num-from-quota=true"]);
    }

    #[test]
    fn log_dirs_are_created() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let r = resolve(&format!(
            r#"
            binary_name = "/bin/sh"
            log_path = "{d}/shim/%ID%/shim.log"
            [runsc_config]
            debug-log = "{d}/dbg/%ID%/"
            panic-log = "{d}/panic/%ID%/panic.log"
            network = "none"
            "#
        ));
        r.create_log_dirs().unwrap();
        for sub in ["shim/abc", "dbg/abc", "panic/abc"] {
            assert!(dir.path().join(sub).is_dir(), "{sub} missing");
        }
        assert!(!dir.path().join("panic/abc/panic.log").exists());
    }

    #[test]
    fn invalid_toml_names_file_and_problem() {
        let err = ShimConfig::parse("binary_name = ", "/etc/containerd/runsc.toml").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/etc/containerd/runsc.toml"), "{msg}");
        assert!(msg.contains("invalid runsc config"), "{msg}");
        let err = ShimConfig::parse("log_level = \"x\"\nroot = [", "f").unwrap_err();
        assert!(err.to_string().contains("(line 2, column"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        let cases = [
            ("binary = \"x\"", "unknown field `binary`"),
            ("log_level = \"loud\"", "log_level \"loud\""),
            ("cgroup_metrics = \"v3\"", "cgroup_metrics \"v3\""),
            ("root = \"relative\"", "absolute"),
            (
                "kubelet_root = \"k\"",
                "kubelet_root \"k\" must be an absolute",
            ),
            ("runsc_timeout = 0", "at least 1 second"),
            ("[runsc_config]\nroot = \"/x\"", "must not set \"root\""),
            (
                "[runsc_config]\n\"--net\" = \"x\"",
                "not a valid runsc flag name",
            ),
            (
                "[runsc_config]\nnetwork = [\"a\"]",
                "runsc_config.network must be",
            ),
        ];
        for (text, want) in cases {
            let err = ShimConfig::parse(text, "t").unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn go_shim_keys_are_accepted_and_reported() {
        let cfg = ShimConfig::parse("shim_cgroup = \"x\"\ngrouping = true", "t").unwrap();
        assert_eq!(cfg.ignored_keys(), ["shim_cgroup", "grouping"]);
    }

    #[test]
    fn missing_or_unusable_binary_is_named() {
        let err = find_binary("/nonexistent/runsc").unwrap_err().to_string();
        assert!(err.contains("\"/nonexistent/runsc\""), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("runsc");
        std::fs::write(&f, "x").unwrap();
        let err = find_binary(f.to_str().unwrap()).unwrap_err().to_string();
        assert!(err.contains("not an executable"), "{err}");
        let err = find_binary("no-such-runsc-binary").unwrap_err().to_string();
        assert!(err.contains("not found in PATH"), "{err}");
    }

    #[test]
    fn load_reads_path_body_or_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let absent = dir.path().join("absent.toml");
        let load = |opts| ShimConfig::load_from(opts, None, &absent);
        assert_eq!(load(None).unwrap(), ShimConfig::default());
        let p = dir.path().join("runsc.toml");
        std::fs::write(&p, "log_level = \"warn\"").unwrap();
        let opts = RuntimeOptions {
            config_path: p.to_string_lossy().into(),
            ..Default::default()
        };
        assert_eq!(load(Some(&opts)).unwrap().log_level, "warn");
        let body = RuntimeOptions {
            config_body: b"log_level = \"error\"".to_vec(),
            ..Default::default()
        };
        assert_eq!(ShimConfig::load(Some(&body)).unwrap().log_level, "error");
        let missing = RuntimeOptions {
            config_path: "/nonexistent/runsc.toml".into(),
            ..Default::default()
        };
        let err = ShimConfig::load(Some(&missing)).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/runsc.toml"), "{err}");
        assert!(err.contains("ConfigPath"), "{err}");
    }

    #[test]
    fn without_a_named_config_the_default_file_or_the_env_one_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let default = dir.path().join("default.toml");
        std::fs::write(&default, "log_level = \"warn\"").unwrap();
        let named = dir.path().join("named.toml");
        std::fs::write(&named, "log_level = \"error\"").unwrap();
        let empty = RuntimeOptions::default();
        for opts in [None, Some(&empty)] {
            let cfg = ShimConfig::load_from(opts, None, &default).unwrap();
            assert_eq!(cfg.log_level, "warn");
            let cfg = ShimConfig::load_from(opts, Some(named.clone()), &default).unwrap();
            assert_eq!(cfg.log_level, "error");
        }
        let gone = dir.path().join("gone.toml");
        let err = ShimConfig::load_from(None, Some(gone), &default)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("gone.toml") && err.contains(CONFIG_ENV),
            "{err}"
        );
    }
}
