//! `containerd-shim-runsc-v1 check`: diagnoses a node for running pods in
//! gVisor through this shim. Each check reports what it found and, when it
//! fails, the cause and the fix. The exit status is non-zero if any failed.
//!
//! The fixes cover the usual problems of a gVisor node: a handler (or
//! RuntimeClass) that is not found, pods stuck in ContainerCreating because
//! the handler is misconfigured, apps failing on unsupported syscalls (runsc's
//! debug log), network performance and volume/overlay issues.

use std::{
    fs,
    io::Read,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde::Serialize;

use super::{args::Args, DEFAULT_CONTAINERD_CONFIG, DEFAULT_RUNSC_TOML};
use crate::config::{self, ShimConfig};

/// The shim's own binary name, as containerd looks it up.
pub const SHIM_NAME: &str = "containerd-shim-runsc-v1";
/// How long the smoke sandbox may take.
const SMOKE_TIMEOUT: Duration = Duration::from_secs(60);

const USAGE: &str = "usage: containerd-shim-runsc-v1 check [--json] [--config PATH] \
                     [--runsc-toml PATH] [--handler NAME] [--no-smoke]";

/// Debug settings to suggest for apps that fail in gVisor.
const DEBUG_HINT: &str = "set debug = \"true\" and debug-log = \"/var/log/runsc/%ID%/\" in \
                          [runsc_config] of runsc.toml, reproduce, then look for \
                          \"Unsupported syscall\" in /var/log/runsc/<container id>/ (pods also \
                          get gvisor.log in their kubelet log directory)";

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Short name.
    pub name: &'static str,
    /// Whether the node passes it.
    pub ok: bool,
    /// What was found (and why it fails).
    pub detail: String,
    /// How to fix a failure (empty when ok).
    pub fix: String,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            ok: true,
            detail: detail.into(),
            fix: String::new(),
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name,
            ok: false,
            detail: detail.into(),
            fix: fix.into(),
        }
    }
}

/// What to check.
#[derive(Debug, Clone)]
pub struct Options {
    /// containerd's config.toml.
    pub config: PathBuf,
    /// runsc.toml; default: the handler's ConfigPath, else /etc/containerd/runsc.toml.
    pub runsc_toml: Option<PathBuf>,
    /// Runtime handler name.
    pub handler: String,
    /// Whether to run a sandbox.
    pub smoke: bool,
    /// PATH to find the shim in (containerd's).
    pub path_var: String,
}

/// Entry point of `check`; returns the exit status.
pub fn main(argv: &[String]) -> i32 {
    let mut args = match Args::parse(
        argv,
        &["--config", "--runsc-toml", "--handler"],
        &["--json", "--no-smoke"],
    ) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return 2;
        }
    };
    let opts = Options {
        config: args
            .value("--config")
            .unwrap_or(DEFAULT_CONTAINERD_CONFIG.into())
            .into(),
        runsc_toml: args.value("--runsc-toml").map(PathBuf::from),
        handler: args
            .value("--handler")
            .unwrap_or(nodecfg::DEFAULT_HANDLER.into()),
        smoke: !args.flag("--no-smoke"),
        path_var: std::env::var("PATH").unwrap_or_default(),
    };
    let checks = run(&opts);
    if args.flag("--json") {
        println!(
            "{}",
            serde_json::to_string_pretty(&checks).expect("checks serialize")
        );
    } else {
        print!("{}", render(&checks));
    }
    if checks.iter().all(|c| c.ok) {
        0
    } else {
        1
    }
}

/// Human-readable report.
pub fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        out.push_str(&format!(
            "[{}] {}: {}\n",
            if c.ok { " ok " } else { "FAIL" },
            c.name,
            c.detail
        ));
        if !c.ok {
            out.push_str(&format!("       fix: {}\n", c.fix));
        }
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed == 0 {
        out.push_str("all checks passed\n");
    } else {
        out.push_str(&format!("{failed} of {} checks failed\n", checks.len()));
    }
    out
}

/// Runs every check.
pub fn run(opts: &Options) -> Vec<Check> {
    let mut checks = Vec::new();
    let (handler_check, handler) = containerd_handler(opts);
    checks.push(handler_check);
    let runsc_toml = opts
        .runsc_toml
        .clone()
        .or_else(|| {
            handler
                .as_ref()
                .and_then(|h| h.config_path.clone())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| DEFAULT_RUNSC_TOML.into());
    let (toml_check, cfg) = runsc_toml_check(&runsc_toml);
    checks.push(toml_check);
    let cfg = cfg.unwrap_or_default();
    let (runsc_check, binary) = runsc_binary(&cfg);
    checks.push(runsc_check);
    if let Some(binary) = &binary {
        checks.push(runsc_flags(binary, &cfg, &runsc_toml));
    }
    checks.push(platform(&cfg));
    checks.push(cgroups(&cfg));
    checks.push(shim_on_path(&opts.path_var));
    if opts.smoke {
        if let Some(binary) = &binary {
            checks.push(smoke(binary, &cfg));
        }
    }
    checks.push(debug_logs(&cfg));
    checks.push(network(&cfg));
    checks.push(volumes(&cfg, handler.as_ref()));
    checks
}

fn flag(cfg: &ShimConfig, key: &str) -> Option<String> {
    cfg.runsc_config.get(key).map(|v| match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// containerd's config has the handler with the right runtime type and options.
fn containerd_handler(opts: &Options) -> (Check, Option<nodecfg::HandlerView>) {
    const NAME: &str = "containerd handler";
    let cfg = opts.config.display();
    let h = &opts.handler;
    let install = format!(
        "run scripts/install.sh (or `{SHIM_NAME} config-runtime --config {cfg} --runsc-toml \
         {}`), then restart containerd (systemctl restart containerd)",
        opts.runsc_toml
            .as_deref()
            .unwrap_or(Path::new(DEFAULT_RUNSC_TOML))
            .display()
    );
    let text = match fs::read_to_string(&opts.config) {
        Ok(t) => t,
        Err(e) => {
            return (
                Check::fail(
                    NAME,
                    format!("cannot read containerd config {cfg}: {e}"),
                    format!("pass containerd's config with --config, or {install}"),
                ),
                None,
            )
        }
    };
    let found = match nodecfg::inspect(&text, &cfg.to_string(), h) {
        Ok(f) => f,
        Err(e) => {
            return (
                Check::fail(
                    NAME,
                    e.to_string(),
                    format!("fix {cfg} by hand, then {install}"),
                ),
                None,
            )
        }
    };
    let header = found.version.handler_header(h);
    let Some(view) = found.handler else {
        return (
            Check::fail(
                NAME,
                format!(
                    "{cfg} ({}) has no runtime handler {h:?} (handlers: {}): pods with a \
                     RuntimeClass whose handler is {h:?} fail with \"RuntimeClass not found\" or \
                     \"no runtime for {h:?} is configured\"",
                    found.version,
                    if found.handlers.is_empty() {
                        "none".into()
                    } else {
                        found.handlers.join(", ")
                    }
                ),
                format!(
                    "install runsc and this shim on the node and add [{header}]: {install}; create \
                     the RuntimeClass (integration/manifests/runtimeclass.yaml) and label the \
                     node gvisor.io/enabled=true"
                ),
            ),
            None,
        );
    };
    let mut wrong = Vec::new();
    let mut expect = |what: &str, got: &Option<String>, want: &str| {
        if got.as_deref() != Some(want) {
            wrong.push(format!(
                "{what} is {} (want {want:?})",
                got.as_ref()
                    .map_or("missing".to_string(), |g| format!("{g:?}"))
            ));
        }
    };
    expect("runtime_type", &view.runtime_type, nodecfg::RUNTIME_TYPE);
    expect("options.TypeUrl", &view.type_url, nodecfg::TYPE_URL);
    match (&opts.runsc_toml, &view.config_path) {
        (Some(want), got) => expect("options.ConfigPath", got, &want.display().to_string()),
        (None, None) => wrong.push("options.ConfigPath is missing".into()),
        (None, Some(_)) => {}
    }
    if wrong.is_empty() {
        let detail = format!(
            "[{header}] runs {} with ConfigPath {} ({}; containerd must have been restarted \
             since it changed)",
            nodecfg::RUNTIME_TYPE,
            view.config_path.as_deref().unwrap_or_default(),
            found.version
        );
        (Check::pass(NAME, detail), Some(view))
    } else {
        (
            Check::fail(
                NAME,
                format!(
                    "[{header}] in {cfg}: {}; with a misconfigured handler pods stay in \
                     ContainerCreating",
                    wrong.join("; ")
                ),
                format!(
                    "set runtime_type = \"{}\", options.TypeUrl = \"{}\" and options.ConfigPath: \
                     {install}; then `crictl pods` / `kubectl describe pod` show the next error",
                    nodecfg::RUNTIME_TYPE,
                    nodecfg::TYPE_URL
                ),
            ),
            Some(view),
        )
    }
}

/// runsc.toml parses with the shim's own rules.
fn runsc_toml_check(path: &Path) -> (Check, Option<ShimConfig>) {
    const NAME: &str = "runsc.toml";
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return (
                Check::fail(
                    NAME,
                    format!("cannot read {}: {e}", path.display()),
                    "write it (scripts/install.sh writes a documented one) or point the \
                     handler's options.ConfigPath and --runsc-toml at it",
                ),
                None,
            )
        }
    };
    match ShimConfig::parse(&text, &path.display().to_string()) {
        Ok(cfg) => {
            let ignored = cfg.ignored_keys();
            let mut detail = format!(
                "{} parses ({} runsc flag(s))",
                path.display(),
                cfg.runsc_config.len()
            );
            if !ignored.is_empty() {
                detail.push_str(&format!(
                    "; keys without effect in this shim: {}",
                    ignored.join(", ")
                ));
            }
            (Check::pass(NAME, detail), Some(cfg))
        }
        Err(e) => (
            Check::fail(
                NAME,
                format!("{e}; every container on this handler fails to be created"),
                "fix the file: top-level keys are binary_name, root, log_level, log_path, \
                 cgroup_metrics, kubelet_root; runsc flags go in [runsc_config] (see README)",
            ),
            None,
        ),
    }
}

/// runsc is there and runs.
fn runsc_binary(cfg: &ShimConfig) -> (Check, Option<PathBuf>) {
    const NAME: &str = "runsc";
    let name = if cfg.binary_name.is_empty() {
        config::DEFAULT_BINARY
    } else {
        &cfg.binary_name
    };
    let install = "install gVisor's runsc (Debian/Ubuntu: apt-get install runsc, or gVisor's apt \
                   repository) or set binary_name in runsc.toml";
    let binary = match config::find_binary(name) {
        Ok(b) => b,
        Err(e) => return (Check::fail(NAME, e.to_string(), install), None),
    };
    match output(
        Command::new(&binary).arg("--version"),
        Duration::from_secs(20),
    ) {
        Ok((true, out, _)) => {
            let version = out.lines().next().unwrap_or_default().trim().to_string();
            (
                Check::pass(NAME, format!("{} ({version})", binary.display())),
                Some(binary),
            )
        }
        Ok((false, out, err)) | Err((out, err)) => (
            Check::fail(
                NAME,
                format!(
                    "`{} --version` failed: {}",
                    binary.display(),
                    last_line(&format!("{out}\n{err}"))
                ),
                install,
            ),
            None,
        ),
    }
}

/// Names of the flags this runsc knows, from `runsc flags`.
pub fn known_flags(listing: &str) -> Vec<String> {
    listing
        .lines()
        .filter_map(|l| l.strip_prefix("  -"))
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect()
}

/// Every `[runsc_config]` key is a flag of this runsc.
fn runsc_flags(binary: &Path, cfg: &ShimConfig, runsc_toml: &Path) -> Check {
    const NAME: &str = "runsc flags";
    let listing = match output(Command::new(binary).arg("flags"), Duration::from_secs(20)) {
        Ok((true, out, err)) => format!("{out}\n{err}"),
        Ok((false, out, err)) | Err((out, err)) => {
            return Check::fail(
                NAME,
                format!(
                    "`{} flags` failed: {}",
                    binary.display(),
                    last_line(&format!("{out}\n{err}"))
                ),
                "install a working runsc",
            )
        }
    };
    let known = known_flags(&listing);
    let unknown: Vec<&String> = cfg
        .runsc_config
        .keys()
        .filter(|k| !known.contains(k))
        .collect();
    if unknown.is_empty() {
        let names: Vec<&str> = cfg.runsc_config.keys().map(String::as_str).collect();
        Check::pass(
            NAME,
            format!(
                "[runsc_config] flags known to {}: {}",
                binary.display(),
                if names.is_empty() {
                    "(none set)".into()
                } else {
                    names.join(", ")
                }
            ),
        )
    } else {
        let list: Vec<String> = unknown.iter().map(|k| format!("{k:?}")).collect();
        Check::fail(
            NAME,
            format!(
                "[runsc_config] in {} sets flag(s) this runsc does not know: {}; runsc refuses \
                 them, so containers on this handler fail to start (pods stuck in \
                 ContainerCreating)",
                runsc_toml.display(),
                list.join(", ")
            ),
            format!(
                "remove or rename them (`{} flags` lists the known ones), or install a runsc \
                 that has them",
                binary.display()
            ),
        )
    }
}

/// The configured platform can work here.
fn platform(cfg: &ShimConfig) -> Check {
    platform_with(
        cfg,
        Path::new("/dev/kvm"),
        Path::new("/proc/sys/kernel/yama/ptrace_scope"),
    )
}

fn platform_with(cfg: &ShimConfig, kvm: &Path, ptrace_scope: &Path) -> Check {
    const NAME: &str = "platform";
    let platform = flag(cfg, "platform").unwrap_or_else(|| "ptrace".into());
    match platform.as_str() {
        "ptrace" => match fs::read_to_string(ptrace_scope).map(|s| s.trim().to_string()) {
            Ok(scope) if scope == "3" => Check::fail(
                NAME,
                format!(
                    "platform ptrace, but {} is 3 (ptrace disabled)",
                    ptrace_scope.display()
                ),
                "allow ptrace (sysctl kernel.yama.ptrace_scope=1 needs a reboot from 3) or use \
                 platform = \"kvm\" (with /dev/kvm) in [runsc_config]",
            ),
            _ => Check::pass(
                NAME,
                "ptrace (works everywhere; kvm is faster where /dev/kvm exists)",
            ),
        },
        "kvm" => match fs::OpenOptions::new().read(true).write(true).open(kvm) {
            Ok(_) => Check::pass(NAME, format!("kvm ({} is usable)", kvm.display())),
            Err(e) => Check::fail(
                NAME,
                format!("platform kvm, but {} cannot be opened: {e}", kvm.display()),
                "load the kvm module (modprobe kvm_intel or kvm_amd; in a VM enable nested \
                 virtualization) or set platform = \"ptrace\" in [runsc_config]",
            ),
        },
        "systrap" => Check::pass(
            NAME,
            "systrap (needs a runsc from 2023 or later; the smoke run proves it)",
        ),
        other => Check::fail(
            NAME,
            format!("unknown platform {other:?} in [runsc_config]"),
            "use platform = \"ptrace\", \"kvm\" or \"systrap\"",
        ),
    }
}

/// The host's cgroup mode.
pub fn cgroup_mode(root: &Path) -> Option<&'static str> {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, TMPFS_MAGIC};
    let fs = statfs(root).ok()?;
    if fs.filesystem_type() == CGROUP2_SUPER_MAGIC {
        return Some("v2");
    }
    if fs.filesystem_type() != TMPFS_MAGIC {
        return None;
    }
    match statfs(&root.join("unified")) {
        Ok(u) if u.filesystem_type() == CGROUP2_SUPER_MAGIC => Some("hybrid"),
        _ => Some("v1"),
    }
}

fn cgroups(cfg: &ShimConfig) -> Check {
    const NAME: &str = "cgroups";
    match cgroup_mode(Path::new("/sys/fs/cgroup")) {
        Some(mode) => {
            let metrics = cfg
                .cgroup_metrics
                .clone()
                .unwrap_or_else(|| if mode == "v2" { "v2" } else { "v1" }.into());
            Check::pass(
                NAME,
                format!(
                    "cgroup {mode}; task metrics are reported as cgroup {metrics} stats{}",
                    if mode == "v2" {
                        ""
                    } else {
                        "; kubelet and containerd must use the same cgroup driver"
                    }
                ),
            )
        }
        None => Check::fail(
            NAME,
            "no cgroup filesystem at /sys/fs/cgroup",
            "mount cgroups (systemd does this at boot); runsc needs them for sandbox limits",
        ),
    }
}

/// The shim can be found on `path_var` (containerd's PATH).
fn shim_on_path(path_var: &str) -> Check {
    const NAME: &str = "shim on PATH";
    let found = std::env::split_paths(path_var)
        .map(|d| d.join(SHIM_NAME))
        .find(|p| {
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        });
    match found {
        Some(p) => {
            let same = match (fs::canonicalize(&p), std::env::current_exe()) {
                (Ok(a), Ok(b)) => fs::canonicalize(b).map(|b| a == b).unwrap_or(false),
                _ => false,
            };
            Check::pass(
                NAME,
                format!(
                    "{}{}",
                    p.display(),
                    if same {
                        " (this binary)"
                    } else {
                        " (not this binary: make sure it is the version you expect)"
                    }
                ),
            )
        }
        None => Check::fail(
            NAME,
            format!(
                "{SHIM_NAME} is not in PATH ({path_var}); containerd runs runtime_type {} as \
                 that binary from its PATH, so pods stay in ContainerCreating with \"failed to \
                 start shim\"",
                nodecfg::RUNTIME_TYPE
            ),
            "install it: scripts/install.sh (puts it in /usr/local/bin), or copy \
             target/release/containerd-shim-runsc-v1 to a directory on containerd's PATH",
        ),
    }
}

/// A real sandbox prints its /proc/version.
fn smoke(binary: &Path, cfg: &ShimConfig) -> Check {
    const NAME: &str = "smoke run";
    if !nix::unistd::geteuid().is_root() {
        return Check::fail(NAME, "not running as root", "run `check` as root");
    }
    let tmp = match tempfile::Builder::new().prefix("runsc-check-").tempdir() {
        Ok(t) => t,
        Err(e) => return Check::fail(NAME, format!("cannot create a temp dir: {e}"), "free /tmp"),
    };
    let root = tmp.path().join("root");
    let id = format!("check-{}", std::process::id());
    let flags: Vec<String> = match cfg.resolve("check", &id, &id, tmp.path()) {
        Ok(r) => r
            .runsc
            .flags
            .iter()
            // Log files would be left behind: the smoke run needs none.
            .filter(|(k, _)| !(k.ends_with("log") || k.starts_with("profile") || k == "trace"))
            .map(|(k, v)| format!("--{k}={v}"))
            .collect(),
        Err(e) => return Check::fail(NAME, e.to_string(), "fix runsc.toml"),
    };
    let mut cmd = Command::new(binary);
    cmd.arg(format!("--root={}", root.display()))
        .args(&flags)
        .args(["do", "cat", "/proc/version"])
        .current_dir("/");
    let shown = format!(
        "{} --root={} {} do cat /proc/version",
        binary.display(),
        root.display(),
        flags.join(" ")
    );
    let result = output(&mut cmd, SMOKE_TIMEOUT);
    cleanup_sandboxes(binary, &root);
    let host = fs::read_to_string("/proc/version").unwrap_or_default();
    let fix = format!(
        "run `{shown}` by hand to see runsc's error. Network errors (veth, netlink, \
         \"cannot set up network\"): runsc 20221219 cannot set up its network on kernels >= \
         6.10 (gVisor issue 10704), set network = \"none\" or \"host\" in [runsc_config]. A hang \
         or platform error: set platform = \"ptrace\". More detail: {DEBUG_HINT}"
    );
    match result {
        Ok((true, out, _)) if out.starts_with("Linux version") && out != host => {
            Check::pass(NAME, format!("a gVisor sandbox printed: {}", out.trim()))
        }
        Ok((true, out, _)) => Check::fail(
            NAME,
            format!(
                "the sandbox printed {:?}, not a gVisor kernel's /proc/version",
                out.trim()
            ),
            fix,
        ),
        Ok((false, out, err)) => Check::fail(
            NAME,
            format!("`runsc do` failed: {}", last_line(&format!("{out}\n{err}"))),
            fix,
        ),
        Err((_, err)) => Check::fail(NAME, format!("`runsc do` {}", last_line(&err)), fix),
    }
}

/// Force-deletes whatever a smoke run left under `root`.
fn cleanup_sandboxes(binary: &Path, root: &Path) {
    if !root.exists() {
        return;
    }
    let root_arg = format!("--root={}", root.display());
    if let Ok((_, out, _)) = output(
        Command::new(binary).args([&root_arg, "list", "--quiet"]),
        Duration::from_secs(20),
    ) {
        for id in out.split_whitespace() {
            let _ = output(
                Command::new(binary).args([&root_arg, "delete", "--force", id]),
                Duration::from_secs(20),
            );
        }
    }
}

/// Where an app failing in gVisor can be debugged.
fn debug_logs(cfg: &ShimConfig) -> Check {
    const NAME: &str = "debug logs";
    let debug = flag(cfg, "debug").is_some_and(|d| d == "true");
    match (debug, flag(cfg, "debug-log")) {
        (true, Some(dir)) => Check::pass(
            NAME,
            format!(
                "runsc debug logs go to {dir}: an app failing in gVisor shows \"Unsupported \
                 syscall\" there (some apps need runc); turn debug off when done, it is slow"
            ),
        ),
        _ => Check::pass(
            NAME,
            format!(
                "runsc debug logging is off. If an app fails in gVisor (unsupported syscall), \
                 {DEBUG_HINT}; some apps need runc"
            ),
        ),
    }
}

/// The network mode and what it means for performance.
fn network(cfg: &ShimConfig) -> Check {
    const NAME: &str = "network";
    let mode = flag(cfg, "network").unwrap_or_else(|| "sandbox".into());
    let detail = match mode.as_str() {
        "sandbox" => "sandbox (gVisor's netstack: full isolation, slower than native; for \
                      network-heavy pods network = \"host\" passes the host network through, \
                      with less isolation; runsc 20221219 on kernels >= 6.10 needs \"none\" or \
                      \"host\")"
            .to_string(),
        "host" => "host (host network passthrough: native speed, reduced isolation)".to_string(),
        "none" => "none (sandboxes have only loopback: pods get no network; use \"sandbox\" or \
                   \"host\" where networking is needed)"
            .to_string(),
        other => {
            return Check::fail(
                NAME,
                format!("unknown network mode {other:?}"),
                "set network = \"sandbox\", \"host\" or \"none\" in [runsc_config]",
            )
        }
    };
    Check::pass(NAME, detail)
}

/// Volume and overlay settings.
fn volumes(cfg: &ShimConfig, handler: Option<&nodecfg::HandlerView>) -> Check {
    const NAME: &str = "volumes";
    let mut notes = Vec::new();
    if let Some(h) = handler {
        if let Some(s) = &h.snapshotter {
            notes.push(format!("snapshotter {s}"));
        }
        if h.pod_annotations
            .iter()
            .any(|a| a == nodecfg::POD_ANNOTATIONS)
        {
            notes.push("mount hints on (dev.gvisor.* pod annotations reach the shim)".into());
        } else {
            notes.push(
                "mount hints off: add pod_annotations = [\"dev.gvisor.*\"] to the handler to \
                 share emptyDir volumes as tmpfs (dev.gvisor.spec.mount.<volume>.*)"
                    .into(),
            );
        }
    }
    let overlay = flag(cfg, "overlay2").or_else(|| flag(cfg, "overlay"));
    notes.push(match overlay {
        Some(o) => format!("overlay {o} (root filesystem writes stay in the sandbox)"),
        None => "runsc's default overlay".into(),
    });
    let kubelet_root = cfg.kubelet_root();
    if cfg.kubelet_root.is_some() && !kubelet_root.is_dir() {
        return Check::fail(
            NAME,
            format!("kubelet_root {} is not a directory", kubelet_root.display()),
            "set kubelet_root in runsc.toml to kubelet's --root-dir",
        );
    }
    notes.push(
        "volume mount issues: gVisor serves volumes through its gofer; check the storage \
         driver's gVisor compatibility and the sandbox's debug log"
            .into(),
    );
    Check::pass(NAME, notes.join("; "))
}

fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .trim()
        .to_string()
}

type Output = std::result::Result<(bool, String, String), (String, String)>;

/// Runs `cmd` with a deadline: (success, stdout, stderr), or an error (the
/// process is killed on timeout).
fn output(cmd: &mut Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| (String::new(), format!("cannot be run: {e}")))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    match status {
        Some(s) => Ok((
            s.success(),
            out_reader.join().unwrap_or_default(),
            err_reader.join().unwrap_or_default(),
        )),
        // Descendants may still hold the pipes: do not wait for the readers.
        None => Err((String::new(), format!("timed out after {timeout:?}"))),
    }
}

#[cfg(test)]
mod tests;
