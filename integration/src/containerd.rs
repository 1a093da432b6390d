//! The `Containerd` fixture: a private containerd 1.6 whose files all live in one
//! short directory, with the shim under test on its PATH. Dropping the fixture
//! tears everything down, also when a test panics.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::command;
use crate::config;
use crate::cri;
use crate::ctr::Ctr;
use crate::error::{Context, Error, Result};
use crate::ids::unique_id;
use crate::images;
use crate::layout::Layout;
use crate::leaks;
use crate::locate::{self, SHIM_NAME};
use crate::procfs;
use crate::ready;
use crate::teardown::{self, Daemon};
use crate::versions;

/// How long containerd may take to answer `ctr version`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long leak checks wait for asynchronous cleanup (shims exit after their last
/// container is deleted) before reporting what is left.
const LEAK_GRACE: Duration = Duration::from_secs(10);

/// Options for a [`Containerd`] fixture; see [`Containerd::builder`].
#[derive(Debug, Clone, Default)]
pub struct ContainerdBuilder {
    shim: Option<PathBuf>,
    runsc_extra: String,
    no_cni: bool,
}

impl ContainerdBuilder {
    /// Uses this shim binary instead of [`locate::shim_binary`].
    pub fn shim_binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.shim = Some(path.into());
        self
    }

    /// Adds raw TOML to runsc.toml, before its `[runsc_config]` table.
    pub fn runsc_extra(mut self, toml: &str) -> Self {
        self.runsc_extra = toml.to_string();
        self
    }

    /// Whether the CRI plugin gets a CNI bridge network (default: yes).
    pub fn cni(mut self, enabled: bool) -> Self {
        self.no_cni = !enabled;
        self
    }

    /// Starts containerd in a new unique directory `/tmp/rsc-XXXXXX`.
    pub fn start(self) -> Result<Containerd> {
        let dir = tempfile::Builder::new()
            .prefix("rsc-")
            .rand_bytes(6)
            .tempdir_in("/tmp")
            .context("creating the instance directory")?
            .keep();
        let started = self.start_in(&dir);
        // A failed start may leave the new directory behind (a started fixture's
        // teardown removes it itself); never recurse into mounts.
        if started.is_err() && dir.exists() && procfs::mounts_under(&dir).is_empty() {
            let _ = fs::remove_dir_all(&dir);
        }
        started
    }

    /// Starts containerd in `dir` (created if missing; must be absolute and short
    /// enough for unix socket paths).
    pub fn start_in(self, dir: &Path) -> Result<Containerd> {
        if !dir.is_absolute() {
            return Err(Error::msg(format!("{} is not absolute", dir.display())));
        }
        let layout = Layout::new(dir);
        if !layout.sockets_fit() {
            return Err(Error::msg(format!(
                "{} is too long: {} must fit in 107 bytes",
                dir.display(),
                layout.ttrpc_socket().display()
            )));
        }
        if let Some(pid) = running_daemon(&layout) {
            return Err(Error::msg(format!(
                "containerd {pid} already runs in {}",
                dir.display()
            )));
        }
        let shim = self.shim.clone().unwrap_or_else(locate::shim_binary);
        let shim = std::path::absolute(&shim).context(format!("locating {}", shim.display()))?;
        self.write_files(&layout, &shim)?;
        let child = spawn_containerd(&layout)?;
        let tag = dir
            .file_name()
            .map(|n| {
                let name = n.to_string_lossy();
                name.trim_start_matches("rsc-")
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
            })
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "x".to_string());
        let fixture = Containerd {
            layout,
            shim,
            tag,
            daemon: Mutex::new(Some(Daemon::Child(child))),
            namespaces: Mutex::new(Vec::new()),
            ids: Mutex::new(Vec::new()),
            next_namespace: AtomicUsize::new(0),
            cri_images: OnceLock::new(),
        };
        fixture.wait_ready()?;
        Ok(fixture)
    }

    fn write_files(&self, layout: &Layout, shim: &Path) -> Result<()> {
        for sub in [
            "root",
            "state",
            "opt",
            "bin",
            "runc-root",
            "runsc-root",
            "cni/net.d",
            "cni/ipam",
        ] {
            let path = layout.dir().join(sub);
            fs::create_dir_all(&path).context(format!("creating {}", path.display()))?;
        }
        write(&layout.config(), &config::containerd_config(layout))?;
        write(
            &layout.runsc_config(),
            &config::runsc_config(layout, &self.runsc_extra),
        )?;
        write(
            &layout.runsc_cli_config(),
            &config::runsc_config(
                layout,
                &format!("control_server = false\n{}", self.runsc_extra),
            ),
        )?;
        if !self.no_cni {
            let conflist = layout.cni_conf_dir().join("10-harness.conflist");
            write(&conflist, &config::cni_conflist(layout))?;
        }
        let wrapper = layout.runsc_wrapper();
        write(&wrapper, &config::runsc_via_runc_shim_wrapper())?;
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755))
            .context(format!("chmod {}", wrapper.display()))?;
        let link = layout.bin_dir().join(SHIM_NAME);
        let _ = fs::remove_file(&link);
        symlink(shim, &link).context(format!("linking {} to {}", link.display(), shim.display()))
    }
}

/// A private containerd instance; see the crate docs.
pub struct Containerd {
    layout: Layout,
    shim: PathBuf,
    tag: String,
    daemon: Mutex<Option<Daemon>>,
    namespaces: Mutex<Vec<String>>,
    ids: Mutex<Vec<(String, String)>>,
    next_namespace: AtomicUsize,
    cri_images: OnceLock<Result<()>>,
}

impl Containerd {
    /// Options for a new instance.
    pub fn builder() -> ContainerdBuilder {
        ContainerdBuilder::default()
    }

    /// Starts an instance with default options in a new `/tmp/rsc-XXXXXX`.
    pub fn start() -> Result<Containerd> {
        Self::builder().start()
    }

    /// The instance's file layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The instance's directory.
    pub fn dir(&self) -> &Path {
        self.layout.dir()
    }

    /// containerd's grpc socket.
    pub fn socket(&self) -> PathBuf {
        self.layout.socket()
    }

    /// The runsc.toml every runsc container uses by default.
    pub fn runsc_config(&self) -> PathBuf {
        self.layout.runsc_config()
    }

    /// The shim binary containerd runs for `io.containerd.runsc.v1`.
    pub fn shim_binary(&self) -> &Path {
        &self.shim
    }

    /// Creates a namespace unique on this host (`<prefix>-<instance tag>-<n>`) with
    /// the busybox image imported, and returns `ctr` bound to it.
    pub fn namespace(&self, prefix: &str) -> Result<Ctr<'_>> {
        let n = self.next_namespace.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}-{}-{n}", self.tag);
        self.namespaces.lock().unwrap().push(name.clone());
        let ctr = Ctr::new(self, &name);
        ctr.import(&images::archives()?.busybox)?;
        Ok(ctr)
    }

    /// `ctr` bound to an existing namespace (e.g. `default`), without importing.
    pub fn ctr(&self, namespace: &str) -> Ctr<'_> {
        Ctr::new(self, namespace)
    }

    /// Writes `contents` to `<dir>/<name>` with file mode `mode` (e.g. another
    /// runsc.toml, or a logger script) and returns its path.
    pub fn write_file(&self, name: &str, contents: &str, mode: u32) -> Result<PathBuf> {
        let path = self.dir().join(name);
        write(&path, contents)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))
            .context(format!("chmod {}", path.display()))?;
        Ok(path)
    }

    /// The last `lines` lines of containerd's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = fs::read_to_string(self.layout.log()).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// What this instance's containers have on the host right now: shim and runsc
    /// processes, mounts, shim sockets, cgroups, task bundles, runsc state files,
    /// and tasks or containers containerd still lists in the fixture's namespaces.
    pub fn leaks(&self) -> Vec<String> {
        let ids = self.ids.lock().unwrap().clone();
        let mut found = leaks::find(&self.layout, &ids);
        let mut namespaces = self.namespaces.lock().unwrap().clone();
        if self.layout.cri_pod_cgroups().exists() {
            namespaces.push(cri::CRI_NAMESPACE.to_string());
        }
        for ns in &namespaces {
            let ctr = self.ctr(ns);
            for (what, args) in [
                ("task", ["tasks", "ls", "-q"]),
                ("container", ["containers", "ls", "-q"]),
            ] {
                let out = ctr.ctr(&args);
                found.extend(
                    out.stdout
                        .split_whitespace()
                        .map(|id| format!("{what} {ns}/{id} still known to containerd")),
                );
            }
        }
        found
    }

    /// [`Containerd::leaks`] once cleanup has had up to 10 s to finish (shims exit
    /// asynchronously after their last container is deleted); empty when nothing
    /// leaked.
    pub fn leaks_after_grace(&self) -> Vec<String> {
        let deadline = Instant::now() + LEAK_GRACE;
        loop {
            let found = self.leaks();
            if found.is_empty() || Instant::now() >= deadline {
                return found;
            }
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// Panics with a precise list if anything leaked (see
    /// [`Containerd::leaks_after_grace`]). Call it after deleting the test's
    /// containers, before the fixture drops.
    pub fn assert_no_leaks(&self) {
        let found = self.leaks_after_grace();
        assert!(
            found.is_empty(),
            "leaked by containers of {}:\n  - {}\ncontainerd log tail:\n{}",
            self.dir().display(),
            found.join("\n  - "),
            self.log_tail(20)
        );
    }

    /// StopPodSandbox and RemovePodSandbox of every CRI pod, then removal of
    /// the pods' empty cgroups (what teardown does first); returns what failed.
    pub fn remove_cri_pods(&self) -> Vec<String> {
        cri::remove_all_pods(&self.layout)
    }

    /// Stops the daemon (SIGTERM, as an operator's restart would; its shims
    /// and containers keep running), runs `while_down`, then starts it again
    /// on the same directory and waits until it answers.
    pub fn restart(&self, while_down: impl FnOnce()) -> Result<()> {
        {
            let mut daemon = self.daemon.lock().unwrap();
            let Some(Daemon::Child(child)) = daemon.as_mut() else {
                return Err(Error::msg(
                    "only a containerd this process started can restart",
                ));
            };
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            child.wait().context("waiting for containerd to stop")?;
            *daemon = None;
        }
        while_down();
        let child = spawn_containerd(&self.layout)?;
        *self.daemon.lock().unwrap() = Some(Daemon::Child(child));
        self.wait_ready()
    }

    /// Leaves containerd running and the directory in place (for `harness up`);
    /// `harness down <dir>` cleans up later.
    pub fn detach(self) -> Layout {
        self.daemon.lock().unwrap().take();
        self.layout.clone()
    }

    pub(crate) fn register_id(&self, namespace: &str, prefix: &str) -> String {
        let id = unique_id(prefix);
        self.ids
            .lock()
            .unwrap()
            .push((namespace.to_string(), id.clone()));
        id
    }

    /// Registers an id the CRI plugin chose (namespace `k8s.io`), for leak checks.
    pub(crate) fn register_cri_id(&self, namespace: &str, id: &str) {
        self.ids
            .lock()
            .unwrap()
            .push((namespace.to_string(), id.to_string()));
    }

    /// Runs `import` once per instance (later calls get its first result).
    pub(crate) fn cri_images_imported(&self, import: impl FnOnce() -> Result<()>) -> Result<()> {
        self.cri_images.get_or_init(import).clone()
    }

    fn wait_ready(&self) -> Result<()> {
        ready::wait_until_answering(
            &format!("containerd in {}", self.dir().display()),
            READY_TIMEOUT,
            Duration::from_millis(100),
            || {
                let mut version = Command::new(versions::ctr_binary());
                version.arg("--address").arg(self.socket()).arg("version");
                Ok(command::run(version, Duration::from_secs(5))?.success())
            },
            || match self.daemon.lock().unwrap().as_mut() {
                Some(Daemon::Child(child)) => child.try_wait().ok().flatten(),
                _ => None,
            },
            || self.log_tail(30),
        )
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let Some(daemon) = self.daemon.lock().unwrap().take() else {
            return;
        };
        let ids = self.ids.lock().unwrap().clone();
        let namespaces = self.namespaces.lock().unwrap().clone();
        for problem in teardown::run(&self.layout, Some(daemon), &ids, &namespaces) {
            eprintln!("harness teardown of {}: {problem}", self.dir().display());
        }
    }
}

/// The pid of a containerd already running with the layout's config, if any.
fn running_daemon(layout: &Layout) -> Option<i32> {
    let pid = fs::read_to_string(layout.pid_file())
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let config = layout.config().display().to_string();
    procfs::process(pid)
        .filter(|p| p.args.contains(&config))
        .map(|p| p.pid)
}

fn spawn_containerd(layout: &Layout) -> Result<Child> {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(layout.log())
        .context(format!("opening {}", layout.log().display()))?;
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    // The shim under test first, then the selected containerd's own shims
    // (containerd-shim-runc-v2 of the same package).
    let mut search = vec![layout.bin_dir()];
    search.extend(versions::containerd_dir());
    search.extend(std::env::split_paths(&path));
    let mut cmd = Command::new(versions::containerd_binary());
    cmd.arg("--config")
        .arg(layout.config())
        .env(
            "PATH",
            std::env::join_paths(search).context("building PATH")?,
        )
        .stdin(Stdio::null())
        .stdout(log.try_clone().context("duplicating the log fd")?)
        .stderr(log);
    // SAFETY: setsid(2) is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    let child = cmd.spawn().context("starting containerd")?;
    write(&layout.pid_file(), &format!("{}\n", child.id()))?;
    Ok(child)
}

fn write(path: &Path, contents: &str) -> Result<()> {
    fs::write(path, contents).context(format!("writing {}", path.display()))
}
