//! The `Dockerd` fixture: a private Docker Engine (Debian's docker.io, with
//! its managed containerd 2.x) whose files all live in one short directory
//! `/tmp/rsd-XXXXXX`, configured the way an operator would: daemon.json gets
//! a runtime [`RUNTIME`] of the shim under test from `containerd-shim-runsc-v1
//! config-docker`. Dropping the fixture tears everything down, also when a
//! test panics.
//!
//! ```no_run
//! use harness::dockerd::{self, Dockerd};
//!
//! let binaries = match dockerd::fetch() {
//!     Ok(b) => b,
//!     Err(e) => return harness::report_skip("docker", &e.to_string()),
//! };
//! let docker = Dockerd::start(&binaries).unwrap();
//! let name = docker.new_name("hello");
//! let out = docker.run(&name, &["--rm"], &["cat", "/proc/version"]);
//! assert!(out.success(), "{out}");
//! docker.assert_no_leaks();
//! ```

mod files;
mod leaks;
mod teardown;

use std::fs;
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

pub use files::DockerLayout;

use crate::command::{self, CmdOutput};
use crate::config;
use crate::error::{Context, Error, Result};
use crate::fetch;
use crate::ids::unique_id;
use crate::images::{self, BUSYBOX_IMAGE};
use crate::locate::{self, SHIM_NAME};
use crate::procfs;

use leaks::{Container, Known};

/// The Docker Engine version the fixture runs (Debian's docker.io).
pub const DOCKER_VERSION: &str = "28.5.2";

/// The containerd dockerd manages (docker.io 28 depends on containerd 2.x).
pub const DOCKERD_CONTAINERD_VERSION: &str = "2.1.9";

/// The runtime name daemon.json gives the shim (`docker run --runtime gvisor`,
/// `config-docker`'s default).
pub const RUNTIME: &str = "gvisor";

/// The containerd namespace dockerd puts its containers in.
pub const DOCKER_NAMESPACE: &str = "moby";

/// How long a docker command may take by default.
pub const DOCKER_TIMEOUT: Duration = Duration::from_secs(90);

/// How long dockerd may take to answer `docker version`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long leak checks wait for asynchronous cleanup (shims exit after their
/// last container is deleted).
const LEAK_GRACE: Duration = Duration::from_secs(10);

/// Directories holding the Docker and containerd binaries the fixture runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerBinaries {
    /// `dockerd`, `docker`, `docker-init` and `docker-proxy`.
    pub docker_dir: PathBuf,
    /// `containerd` (and `containerd-shim-runc-v2`) for dockerd's PATH.
    pub containerd_dir: PathBuf,
}

/// Fetches Docker [`DOCKER_VERSION`] and containerd
/// [`DOCKERD_CONTAINERD_VERSION`] through `scripts/versions.sh` (cached after
/// the first run). An error (offline, gone from the archive) says why; tests
/// skip on it.
pub fn fetch() -> Result<DockerBinaries> {
    let dirs = fetch::fetch(&[
        ("docker", DOCKER_VERSION),
        ("containerd", DOCKERD_CONTAINERD_VERSION),
    ])?;
    Ok(DockerBinaries {
        docker_dir: dirs[0].clone(),
        containerd_dir: dirs[1].clone(),
    })
}

/// A private dockerd; see the module docs.
pub struct Dockerd {
    layout: DockerLayout,
    docker: PathBuf,
    child: Mutex<Option<Child>>,
    containers: Mutex<Vec<Container>>,
    baseline_mounts: Vec<PathBuf>,
    created_run_docker: bool,
}

impl Dockerd {
    /// Starts dockerd in a new `/tmp/rsd-XXXXXX` with the shim under test as
    /// runtime [`RUNTIME`], and loads the busybox image.
    pub fn start(binaries: &DockerBinaries) -> Result<Dockerd> {
        let dir = tempfile::Builder::new()
            .prefix("rsd-")
            .rand_bytes(6)
            .tempdir_in("/tmp")
            .context("creating the instance directory")?
            .keep();
        let layout = DockerLayout::new(&dir);
        if !layout.sockets_fit() {
            let _ = fs::remove_dir_all(&dir);
            return Err(Error::msg(format!("{} is too long", dir.display())));
        }
        let created_run_docker = !Path::new("/run/docker").exists();
        let child = match prepare(&layout).and_then(|()| spawn(&layout, binaries)) {
            Ok(child) => child,
            Err(e) => {
                if procfs::mounts_under(&dir).is_empty() {
                    let _ = fs::remove_dir_all(&dir);
                }
                return Err(e);
            }
        };
        let mut fixture = Dockerd {
            docker: binaries.docker_dir.join("docker"),
            layout,
            child: Mutex::new(Some(child)),
            containers: Mutex::new(Vec::new()),
            baseline_mounts: Vec::new(),
            created_run_docker,
        };
        fixture.wait_ready()?;
        let busybox = images::archives()?.busybox;
        let loaded = fixture.docker(&["load", "-i", &busybox.display().to_string()]);
        if !loaded.success() {
            return Err(Error::msg(format!("loading {BUSYBOX_IMAGE}: {loaded}")));
        }
        fixture.baseline_mounts = procfs::mounts_under(fixture.layout.dir());
        Ok(fixture)
    }

    /// The instance's file layout.
    pub fn layout(&self) -> &DockerLayout {
        &self.layout
    }

    /// The instance's directory.
    pub fn dir(&self) -> &Path {
        self.layout.dir()
    }

    /// `docker <args>` against this dockerd, with [`DOCKER_TIMEOUT`].
    pub fn docker(&self, args: &[&str]) -> CmdOutput {
        self.docker_with_timeout(args, DOCKER_TIMEOUT)
    }

    /// `docker <args>` with a deadline.
    pub fn docker_with_timeout(&self, args: &[&str], timeout: Duration) -> CmdOutput {
        self.docker_input(args, None, timeout)
    }

    /// `docker <args>` fed `stdin` (then closed), or `/dev/null` for `None`.
    pub fn docker_input(
        &self,
        args: &[&str],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> CmdOutput {
        let cmd = self.command(args);
        let described = command::describe(&cmd);
        match command::spawn(cmd, stdin.map(<[u8]>::to_vec)) {
            Ok(running) => running.wait(timeout),
            Err(e) => CmdOutput::not_started(described, &e),
        }
    }

    /// `docker <args>` on a terminal of its own (`script`) of `(rows, cols)`;
    /// the terminal's output (with `\r\n` line ends) is stdout.
    pub fn docker_in_pty(&self, args: &[&str], size: (u16, u16), timeout: Duration) -> CmdOutput {
        let inner = self.command(args);
        let line = std::iter::once(self.docker.display().to_string())
            .chain(args.iter().map(|a| shell_quote(a)))
            .collect::<Vec<_>>()
            .join(" ");
        let line = format!("stty rows {} cols {}; {line}", size.0, size.1);
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"]);
        for (key, value) in inner.get_envs() {
            if let Some(value) = value {
                cmd.env(key, value);
            }
        }
        let described = command::describe(&cmd);
        match command::spawn(cmd, None) {
            Ok(running) => running.wait(timeout),
            Err(e) => CmdOutput::not_started(described, &e),
        }
    }

    /// A container name unique on this host (`<prefix>-<pid>-<n>`), recorded
    /// for leak checks and teardown.
    pub fn new_name(&self, prefix: &str) -> String {
        let name = unique_id(prefix);
        let _ = fs::create_dir_all(self.layout.cid_file(&name).parent().expect("cids/"));
        self.containers.lock().unwrap().push(Container {
            name: name.clone(),
            id: None,
        });
        name
    }

    /// The arguments `docker run` of container `name` needs before the
    /// image: `--name`, `--cidfile` (for leak checks), the runtime and
    /// `--network none` (runsc 20221219 cannot set up a sandbox network on
    /// this kernel), then `flags`.
    pub fn run_args<'a>(&self, name: &'a str, flags: &[&'a str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "run",
            "--name",
            name,
            "--cidfile",
            &self.layout.cid_file(name).display().to_string(),
            "--runtime",
            RUNTIME,
            "--network",
            "none",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(flags.iter().map(|s| s.to_string()));
        args
    }

    /// `docker run <run_args> busybox <cmd>`.
    pub fn run(&self, name: &str, flags: &[&str], cmd: &[&str]) -> CmdOutput {
        self.run_input(name, flags, cmd, None)
    }

    /// [`Dockerd::run`] fed `stdin` (use `-i` in `flags` to pass it on).
    pub fn run_input(
        &self,
        name: &str,
        flags: &[&str],
        cmd: &[&str],
        stdin: Option<&[u8]>,
    ) -> CmdOutput {
        let mut args = self.run_args(name, flags);
        args.push(BUSYBOX_IMAGE.to_string());
        args.extend(cmd.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.docker_input(&args, stdin, DOCKER_TIMEOUT)
    }

    /// Adds runtime `name` with `runsc_toml` as its runsc.toml to daemon.json
    /// (`config-docker`, as an operator would) and has dockerd reload it
    /// (SIGHUP); returns once `docker info` lists the runtime.
    pub fn add_runtime(&self, name: &str, runsc_toml: &Path) -> Result<()> {
        configure_runtime(&self.layout, name, runsc_toml)?;
        if let Some(child) = self.child.lock().unwrap().as_ref() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP)
                .context("sending SIGHUP to dockerd")?;
        }
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let info = self.docker(&["info", "--format", "{{json .Runtimes}}"]);
            if info.stdout.contains(&format!("\"{name}\"")) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::msg(format!(
                    "dockerd did not load runtime {name}: {info}"
                )));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last `lines` lines of dockerd's (and its containerd's) log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = fs::read_to_string(self.layout.log()).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// What the containers of this fixture left on the host: containers
    /// dockerd still lists, shim and runsc processes, mounts, shim sockets
    /// and cgroups of removed containers, and orphans of any container.
    pub fn leaks(&self) -> Vec<String> {
        let recorded = self.recorded();
        let known = self.known();
        leaks::find(&self.layout, &self.baseline_mounts, &known, &recorded)
    }

    /// Panics with a precise list if anything leaked, after up to 10 s for
    /// asynchronous cleanup. Call it once the test's containers are removed.
    pub fn assert_no_leaks(&self) {
        let deadline = Instant::now() + LEAK_GRACE;
        let found = loop {
            let found = self.leaks();
            if found.is_empty() || Instant::now() >= deadline {
                break found;
            }
            thread::sleep(Duration::from_millis(200));
        };
        assert!(
            found.is_empty(),
            "leaked by containers of {}:\n  - {}\ndockerd log tail:\n{}",
            self.dir().display(),
            found.join("\n  - "),
            self.log_tail(20)
        );
    }

    /// The containers created so far, with the ids their cid files hold.
    fn recorded(&self) -> Vec<Container> {
        let mut containers = self.containers.lock().unwrap();
        for c in containers.iter_mut().filter(|c| c.id.is_none()) {
            c.id = fs::read_to_string(self.layout.cid_file(&c.name))
                .ok()
                .map(|id| id.trim().to_string())
                .filter(|id| !id.is_empty());
        }
        containers.clone()
    }

    /// The containers dockerd lists now (none when it does not answer).
    fn known(&self) -> Known {
        let listed = self.docker(&["ps", "-aq", "--no-trunc"]);
        let ids: Vec<&str> = listed.stdout.split_whitespace().collect();
        if ids.is_empty() {
            return Known::default();
        }
        let mut args = vec![
            "inspect",
            "--format",
            "{{.Id}} {{.Name}} {{.NetworkSettings.SandboxKey}}",
        ];
        args.extend(&ids);
        Known::parse(&self.docker(&args).stdout)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.docker);
        cmd.args(args)
            .env(
                "DOCKER_HOST",
                format!("unix://{}", self.layout.socket().display()),
            )
            .env("DOCKER_CONFIG", self.layout.cli_config())
            .env_remove("DOCKER_CONTEXT");
        cmd
    }

    fn wait_ready(&self) -> Result<()> {
        crate::ready::wait_until_answering(
            &format!("dockerd in {}", self.dir().display()),
            READY_TIMEOUT,
            Duration::from_millis(200),
            || {
                Ok(self
                    .docker_with_timeout(&["version"], Duration::from_secs(10))
                    .success())
            },
            || {
                self.child
                    .lock()
                    .unwrap()
                    .as_mut()
                    .and_then(|child| child.try_wait().ok().flatten())
            },
            || self.log_tail(30),
        )
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let Some(child) = self.child.lock().unwrap().take() else {
            return;
        };
        let recorded = self.recorded();
        for problem in teardown::run(self, child, &recorded, self.created_run_docker) {
            eprintln!("harness teardown of {}: {problem}", self.dir().display());
        }
    }
}

/// Writes the instance's files: the shim on dockerd's PATH, runsc.toml, and
/// daemon.json with the runtime added by the shim's own `config-docker`.
fn prepare(layout: &DockerLayout) -> Result<()> {
    let shim_layout = layout.shim();
    for dir in [
        shim_layout.bin_dir(),
        shim_layout.runsc_root(),
        layout.cli_config(),
    ] {
        fs::create_dir_all(&dir).context(format!("creating {}", dir.display()))?;
    }
    let shim = locate::shim_binary();
    let shim = std::path::absolute(&shim).context(format!("locating {}", shim.display()))?;
    symlink(&shim, shim_layout.bin_dir().join(SHIM_NAME))
        .context(format!("linking {}", shim.display()))?;
    let runsc_toml = layout.runtime_config(RUNTIME);
    write(&runsc_toml, &config::runsc_config(&shim_layout, ""))?;
    write(&layout.daemon_json(), &files::daemon_json(layout))?;
    configure_runtime(layout, RUNTIME, &runsc_toml)
}

/// Adds runtime `name` of the shim on dockerd's PATH to daemon.json with
/// the shim's `config-docker`.
fn configure_runtime(layout: &DockerLayout, name: &str, runsc_toml: &Path) -> Result<()> {
    let mut cmd = Command::new(layout.shim().bin_dir().join(SHIM_NAME));
    cmd.arg("config-docker")
        .arg("--daemon-json")
        .arg(layout.daemon_json())
        .arg("--runsc-toml")
        .arg(runsc_toml)
        .args(["--runtime", name]);
    let out = command::run(cmd, Duration::from_secs(10))?;
    if !out.success() {
        return Err(Error::msg(format!(
            "adding runtime {name} to daemon.json: {out}"
        )));
    }
    Ok(())
}

/// The shim's environment variable naming the runsc.toml it reads when the
/// runtime options name none (its `config::CONFIG_ENV`).
const SHIM_CONFIG_ENV: &str = "RUNSC_SHIM_CONFIG";

/// Starts dockerd in its own session, the shim and Docker's and containerd's
/// binaries first on its PATH, its output in the instance's log.
fn spawn(layout: &DockerLayout, binaries: &DockerBinaries) -> Result<Child> {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(layout.log())
        .context(format!("opening {}", layout.log().display()))?;
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    let mut search = vec![
        layout.shim().bin_dir(),
        binaries.docker_dir.clone(),
        binaries.containerd_dir.clone(),
    ];
    search.extend(std::env::split_paths(&path));
    let mut cmd = Command::new(binaries.docker_dir.join("dockerd"));
    cmd.arg("--config-file")
        .arg(layout.daemon_json())
        .current_dir(layout.dir())
        .env(
            "PATH",
            std::env::join_paths(search).context("building PATH")?,
        )
        // For `--runtime io.containerd.runsc.v1` (no options): the
        // instance's runsc.toml, not the host's /etc/containerd/runsc.toml.
        .env(SHIM_CONFIG_ENV, layout.runtime_config(RUNTIME))
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
    cmd.spawn().context("starting dockerd")
}

fn write(path: &Path, contents: &str) -> Result<()> {
    fs::write(path, contents).context(format!("writing {}", path.display()))
}

/// `arg` quoted for `sh`.
fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}
