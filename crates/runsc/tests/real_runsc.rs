//! [`Runsc`] driving the real `/usr/bin/runsc` through a whole container
//! lifecycle, in a temporary bundle with a static busybox as its rootfs.
//! Skipped (and passing) unless running as root with runsc and a static
//! busybox installed.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use runsc::{CreateOpts, DirectSpawner, ExecOpts, GlobalOptions, KillOpts, ProcessIo, Runsc};
use serde_json::{json, Value};
use tempfile::TempDir;

const RUNSC: &str = "/usr/bin/runsc";
/// Statically linked, so it runs alone in the rootfs (Debian's busybox-static).
const BUSYBOX: &str = "/bin/busybox";
const ID: &str = "c1";
const SIGKILL: i32 = 9;

/// Why the test cannot run here, if it cannot.
fn skip_reason() -> Option<String> {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1));
    if euid != Some("0") {
        return Some("runsc needs root".into());
    }
    for needed in [RUNSC, BUSYBOX] {
        if !Path::new(needed).exists() {
            return Some(format!("{needed} is missing"));
        }
    }
    None
}

/// A temporary state root and bundle. Dropping it force-deletes the
/// container, SIGKILLs any process still running from this directory and
/// removes the directory.
struct Scratch {
    dir: TempDir,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("runsc-crate-test.")
            .tempdir()
            .unwrap();
        Self { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A bundle whose busybox rootfs runs `args` without a terminal.
    fn make_bundle(&self, args: &[&str]) {
        let bin = self.bundle().join("rootfs/bin");
        fs::create_dir_all(&bin).unwrap();
        fs::copy(BUSYBOX, bin.join("busybox")).unwrap();
        for applet in ["sh", "sleep", "echo"] {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
        let status = Command::new(RUNSC)
            .arg("spec")
            .arg("--bundle")
            .arg(self.bundle())
            .status()
            .unwrap();
        assert!(status.success(), "runsc spec: {status}");
        let config_path = self.bundle().join("config.json");
        let mut config: Value = serde_json::from_slice(&fs::read(&config_path).unwrap()).unwrap();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(args);
        fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    }

    /// Pids of processes whose command line mentions this directory.
    fn leftovers(&self) -> Vec<u32> {
        let needle = self.dir.path().to_string_lossy().into_owned();
        let Ok(entries) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|cmdline| String::from_utf8_lossy(&cmdline).contains(&needle))
                    .unwrap_or(false)
            })
            .collect()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = Command::new(RUNSC)
            .arg(format!("--root={}", self.root().display()))
            .args(["delete", "--force", ID])
            .status();
        for pid in self.leftovers() {
            eprintln!("killing leftover runsc process {pid}");
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

/// Waits until `path` contains `text`.
async fn wait_for_text(path: &Path, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let content = fs::read_to_string(path).unwrap_or_default();
        if content.contains(text) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} never contained {text:?}: {content:?}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_with_real_runsc() {
    if let Some(reason) = skip_reason() {
        println!("skipping the real runsc test: {reason}");
        return;
    }
    let scratch = Scratch::new();
    scratch.make_bundle(&[
        "/bin/sh",
        "-c",
        "echo hello from the container; exec sleep 1000",
    ]);
    let options = GlobalOptions {
        binary: RUNSC.into(),
        root: scratch.root(),
        log: Some(scratch.bundle().join("log.json")),
        flags: vec![("network".into(), "none".into())],
    };
    let runsc = Runsc::new(options, Arc::new(DirectSpawner));

    let version = runsc.version().await.unwrap();
    assert!(version.starts_with("runsc version "), "{version}");
    assert!(runsc.has_subcommand("state").await.unwrap());
    assert!(!runsc.has_subcommand("no-such-subcommand").await.unwrap());
    println!(
        "{version}; update subcommand: {}",
        runsc.has_subcommand("update").await.unwrap()
    );

    // create: the sandbox gets the container's stdout.
    let stdout_path = scratch.path("stdout");
    let stdout = fs::File::create(&stdout_path).unwrap();
    let io = ProcessIo {
        stdout: Some(OwnedFd::from(stdout)),
        ..ProcessIo::default()
    };
    let opts = CreateOpts {
        bundle: scratch.bundle(),
        pid_file: scratch.path("sandbox.pid"),
        ..CreateOpts::default()
    };
    runsc.create(ID, &opts, io).await.unwrap();
    let state = runsc.state(ID).await.unwrap();
    assert_eq!(state.id, ID);
    assert_eq!(state.status, "created");
    let pid_file = fs::read_to_string(scratch.path("sandbox.pid")).unwrap();
    assert_eq!(state.pid.to_string(), pid_file.trim());
    assert_eq!(Path::new(&state.bundle), scratch.bundle());

    let err = runsc
        .kill(ID, SIGKILL, KillOpts::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("in state created"), "{err}");
    assert!(!err.is_gone());

    // start, then look at it.
    runsc.start(ID, ProcessIo::default()).await.unwrap();
    assert_eq!(runsc.state(ID).await.unwrap().status, "running");
    wait_for_text(&stdout_path, "hello from the container\n").await;
    assert_eq!(runsc.ps(ID).await.unwrap(), [1]);
    let stats = runsc.stats(ID).await.unwrap();
    assert_eq!(stats.kind, "stats");
    assert_eq!(stats.id, ID);
    assert_eq!(stats.data.pids.current, 1);
    assert!(stats.data.memory.usage.usage > 0, "{stats:?}");

    runsc.pause(ID).await.unwrap();
    assert_eq!(runsc.state(ID).await.unwrap().status, "paused");
    runsc.resume(ID).await.unwrap();
    assert_eq!(runsc.state(ID).await.unwrap().status, "running");

    // exec a process and wait for it by its pid inside the sandbox.
    let process = json!({
        "args": ["/bin/sh", "-c", "sleep 1; exit 7"],
        "cwd": "/",
        "env": ["PATH=/bin"],
        "user": {"uid": 0, "gid": 0},
    });
    let process_json = scratch.path("process.json");
    fs::write(&process_json, process.to_string()).unwrap();
    let exec = ExecOpts {
        pid_file: scratch.path("exec.pid"),
        internal_pid_file: scratch.path("exec.internal-pid"),
        console_socket: None,
    };
    runsc
        .exec(ID, &process_json, &exec, ProcessIo::default())
        .await
        .unwrap();
    let internal: i32 = fs::read_to_string(&exec.internal_pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(internal > 1);
    let exited = runsc.wait(ID, Some(internal)).await.unwrap();
    assert_eq!(exited.exit_status, 7);

    // kill the root container while waiting for it.
    let waiter = {
        let runsc = runsc.clone();
        tokio::spawn(async move { runsc.wait(ID, None).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    runsc.kill(ID, SIGKILL, KillOpts::default()).await.unwrap();
    let status = waiter.await.unwrap().unwrap();
    assert_eq!(status.id, ID);
    assert_eq!(status.exit_status, 128 + SIGKILL);

    // Once the sandbox is gone, runsc says so.
    let deadline = Instant::now() + Duration::from_secs(20);
    while runsc.state(ID).await.unwrap().status != "stopped" {
        assert!(Instant::now() < deadline, "never stopped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let err = runsc
        .kill(ID, SIGKILL, KillOpts::default())
        .await
        .unwrap_err();
    assert!(err.is_gone(), "{err}");
    assert_eq!(
        err.to_string(),
        "runsc kill failed (exit status 128): sandbox is not running"
    );

    runsc.delete(ID, false).await.unwrap();
    let err = runsc.state(ID).await.unwrap_err();
    assert!(err.is_gone(), "{err}");
    let err = runsc.delete(ID, false).await.unwrap_err();
    assert!(err.is_gone(), "{err}");
    runsc.delete(ID, true).await.unwrap();

    // Nothing keeps running once the container is deleted.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !scratch.leftovers().is_empty() {
        assert!(
            Instant::now() < deadline,
            "left running: {:?}",
            scratch.leftovers()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
