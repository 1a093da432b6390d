//! [`Runsc`] against a fake runsc: a shell script that records its argv and
//! then does what each test tells it (print canned output, append to the
//! JSON log, exit with some status, hang).

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runsc::{
    CreateOpts, DirectSpawner, Error, ExecOpts, GlobalOptions, KillOpts, ProcessIo, Runsc,
};
use tempfile::TempDir;

/// `errno` of exec'ing a file that some process still has open for writing.
const ETXTBSY: i32 = 26;

/// A fake runsc in a temporary directory.
struct Fake {
    dir: TempDir,
    runsc: Runsc,
}

impl Fake {
    /// A fake runsc that records its arguments, one per line, to `argv` and
    /// then runs the shell code `body`, in which `$DIR` is its directory and
    /// `$LOG` its `--log` file.
    fn new(body: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("runsc");
        let script = format!(
            "#!/bin/sh\n\
             [ -n \"$FAKE_RUNSC_WARMUP\" ] && exit 0\n\
             DIR='{dir}'\n\
             LOG=\"$DIR/log.json\"\n\
             printf '%s\\n' \"$@\" > \"$DIR/argv\"\n\
             {body}\n",
            dir = dir.path().display(),
        );
        fs::write(&binary, script).unwrap();
        fs::set_permissions(&binary, fs::Permissions::from_mode(0o755)).unwrap();
        warm_up(&binary);
        let options = GlobalOptions {
            binary,
            root: dir.path().join("root"),
            log: Some(dir.path().join("log.json")),
            flags: vec![
                ("network".into(), "none".into()),
                ("debug-log".into(), "/tmp/runsc/%ID%/".into()),
            ],
        };
        let runsc = Runsc::new(options, Arc::new(DirectSpawner));
        Self { dir, runsc }
    }

    /// The fake's directory.
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The arguments of the last invocation.
    fn argv(&self) -> Vec<String> {
        fs::read_to_string(self.path("argv"))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The global flags every subcommand gets, followed by `rest`.
    fn expect(&self, rest: &[&str]) -> Vec<String> {
        let mut argv = vec![
            format!("--root={}", self.path("root").display()),
            format!("--log={}", self.path("log.json").display()),
            "--log-format=json".to_owned(),
            "--network=none".to_owned(),
            "--debug-log=/tmp/runsc/%ID%/".to_owned(),
        ];
        argv.extend(rest.iter().map(|arg| (*arg).to_owned()));
        argv
    }
}

/// Runs `binary` once until the kernel lets it be exec'd: a process forked
/// by another test thread while the script was open for writing keeps it
/// "busy" until that process calls exec.
fn warm_up(binary: &Path) {
    for _ in 0..100 {
        match std::process::Command::new(binary)
            .env("FAKE_RUNSC_WARMUP", "1")
            .status()
        {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            result => {
                assert!(result.unwrap().success());
                return;
            }
        }
    }
    panic!("{} stayed busy", binary.display());
}

/// Path of `name` in `fake`'s directory, as a string.
fn at(fake: &Fake, name: &str) -> String {
    fake.path(name).display().to_string()
}

#[tokio::test]
async fn create_argv() {
    let fake = Fake::new("exit 0");
    let opts = CreateOpts {
        bundle: fake.path("bundle"),
        pid_file: fake.path("pid"),
        console_socket: Some(fake.path("pty.sock")),
        user_log: Some(fake.path("user.log")),
    };
    fake.runsc
        .create("c1", &opts, ProcessIo::default())
        .await
        .unwrap();
    let (bundle, pid, sock, user_log) = (
        at(&fake, "bundle"),
        at(&fake, "pid"),
        at(&fake, "pty.sock"),
        at(&fake, "user.log"),
    );
    assert_eq!(
        fake.argv(),
        fake.expect(&[
            "create",
            "--bundle",
            &bundle,
            "--pid-file",
            &pid,
            "--console-socket",
            &sock,
            "--user-log",
            &user_log,
            "c1"
        ])
    );

    let plain = CreateOpts {
        bundle: fake.path("bundle"),
        pid_file: fake.path("pid"),
        ..CreateOpts::default()
    };
    fake.runsc
        .create("c2", &plain, ProcessIo::default())
        .await
        .unwrap();
    assert_eq!(
        fake.argv(),
        fake.expect(&["create", "--bundle", &bundle, "--pid-file", &pid, "c2"])
    );
}

#[tokio::test]
async fn exec_argv() {
    let fake = Fake::new("exit 0");
    let opts = ExecOpts {
        pid_file: fake.path("exec.pid"),
        internal_pid_file: fake.path("exec.ipid"),
        console_socket: Some(fake.path("pty.sock")),
    };
    let process = fake.path("process.json");
    fake.runsc
        .exec("c1", &process, &opts, ProcessIo::default())
        .await
        .unwrap();
    let (process, sock, pid, ipid) = (
        at(&fake, "process.json"),
        at(&fake, "pty.sock"),
        at(&fake, "exec.pid"),
        at(&fake, "exec.ipid"),
    );
    assert_eq!(
        fake.argv(),
        fake.expect(&[
            "exec",
            "--process",
            &process,
            "--console-socket",
            &sock,
            "--detach",
            "--pid-file",
            &pid,
            "--internal-pid-file",
            &ipid,
            "c1"
        ])
    );

    let no_tty = ExecOpts {
        console_socket: None,
        ..opts
    };
    fake.runsc
        .exec(
            "c1",
            fake.path("process.json").as_path(),
            &no_tty,
            ProcessIo::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        fake.argv(),
        fake.expect(&[
            "exec",
            "--process",
            &process,
            "--detach",
            "--pid-file",
            &pid,
            "--internal-pid-file",
            &ipid,
            "c1"
        ])
    );
}

#[tokio::test]
async fn simple_subcommands_argv() {
    let fake = Fake::new("exit 0");
    let runsc = &fake.runsc;

    runsc.start("c1", ProcessIo::default()).await.unwrap();
    assert_eq!(fake.argv(), fake.expect(&["start", "c1"]));

    runsc.kill("c1", 9, KillOpts::default()).await.unwrap();
    assert_eq!(fake.argv(), fake.expect(&["kill", "c1", "9"]));
    let all = KillOpts {
        all: true,
        pid: None,
    };
    runsc.kill("c1", 15, all).await.unwrap();
    assert_eq!(fake.argv(), fake.expect(&["kill", "--all", "c1", "15"]));
    let one = KillOpts {
        all: false,
        pid: Some(7),
    };
    runsc.kill("c1", 2, one).await.unwrap();
    assert_eq!(fake.argv(), fake.expect(&["kill", "--pid", "7", "c1", "2"]));

    runsc.delete("c1", false).await.unwrap();
    assert_eq!(fake.argv(), fake.expect(&["delete", "c1"]));
    runsc.delete("c1", true).await.unwrap();
    assert_eq!(fake.argv(), fake.expect(&["delete", "--force", "c1"]));

    runsc.pause("c1").await.unwrap();
    assert_eq!(fake.argv(), fake.expect(&["pause", "c1"]));
    runsc.resume("c1").await.unwrap();
    assert_eq!(fake.argv(), fake.expect(&["resume", "c1"]));

    let res = fake.path("res.json");
    runsc.update("c1", &res).await.unwrap();
    let res = at(&fake, "res.json");
    assert_eq!(
        fake.argv(),
        fake.expect(&["update", "--resources", &res, "c1"])
    );
}

#[tokio::test]
async fn state_parses_runsc_json() {
    let fake = Fake::new(
        r#"cat <<'EOF'
{
  "ociVersion": "1.0.2-dev",
  "id": "c1",
  "status": "running",
  "pid": 7687,
  "bundle": "/tmp/b"
}
EOF"#,
    );
    let state = fake.runsc.state("c1").await.unwrap();
    assert_eq!(fake.argv(), fake.expect(&["state", "c1"]));
    assert_eq!(state.id, "c1");
    assert_eq!(state.status, "running");
    assert_eq!(state.pid, 7687);
    assert_eq!(state.bundle, "/tmp/b");
    assert!(state.annotations.is_empty());
}

#[tokio::test]
async fn wait_parses_exit_status_and_has_no_deadline() {
    let fake = Fake::new(r#"sleep 1; printf '{"id":"c1","exitStatus":7}'"#);
    let runsc = fake
        .runsc
        .clone()
        .with_timeout(Duration::from_millis(200), Duration::from_millis(200));

    let status = runsc.wait("c1", Some(2)).await.unwrap();
    assert_eq!(fake.argv(), fake.expect(&["wait", "--pid", "2", "c1"]));
    assert_eq!(status.id, "c1");
    assert_eq!(status.exit_status, 7);

    runsc.wait("c1", None).await.unwrap();
    assert_eq!(fake.argv(), fake.expect(&["wait", "c1"]));
}

#[tokio::test]
async fn ps_parses_pids_and_null() {
    let fake = Fake::new(r#"cat "$DIR/ps.out""#);
    fs::write(fake.path("ps.out"), "[1,2,3]\n").unwrap();
    assert_eq!(fake.runsc.ps("c1").await.unwrap(), [1, 2, 3]);
    assert_eq!(fake.argv(), fake.expect(&["ps", "--format", "json", "c1"]));

    fs::write(fake.path("ps.out"), "null\n").unwrap();
    assert!(fake.runsc.ps("c1").await.unwrap().is_empty());
}

#[tokio::test]
async fn stats_parses_runsc_20221219_output() {
    // Printed by runsc 0.0~20221219 for a running `sleep`.
    let fake = Fake::new(
        r#"printf '%s\n' '{"type":"stats","id":"c1","data":{"cpu":{"usage":{"total":66938549}},"memory":{"usage":{"limit":0,"usage":2027520,"failcnt":0},"swap":{"limit":0,"failcnt":0},"kernel":{"limit":0,"failcnt":0},"kernelTCP":{"limit":0,"failcnt":0}},"pids":{"current":1}}}'"#,
    );
    let event = fake.runsc.stats("c1").await.unwrap();
    assert_eq!(fake.argv(), fake.expect(&["events", "--stats", "c1"]));
    assert_eq!(event.kind, "stats");
    assert_eq!(event.id, "c1");
    assert_eq!(event.data.cpu.usage.total, 66_938_549);
    assert_eq!(event.data.memory.usage.usage, 2_027_520);
    assert_eq!(event.data.memory.usage.limit, 0);
    assert_eq!(event.data.pids.current, 1);
}

#[tokio::test]
async fn unparsable_output_is_a_parse_error() {
    let fake = Fake::new("echo 'this is not json'");
    let err = fake.runsc.state("c1").await.unwrap_err();
    assert!(
        matches!(&err, Error::Parse { subcommand, .. } if subcommand == "state"),
        "{err:?}"
    );
    assert!(err
        .to_string()
        .starts_with("could not parse the output of runsc state: "));
}

#[tokio::test]
async fn version_runs_without_global_flags() {
    let fake = Fake::new(r#"printf 'runsc version 0.0~20221219.0\nspec: 1.0.2-dev\n'"#);
    assert_eq!(
        fake.runsc.version().await.unwrap(),
        "runsc version 0.0~20221219.0"
    );
    assert_eq!(fake.argv(), ["--version"]);
}

#[tokio::test]
async fn has_subcommand_asks_runsc_help() {
    // What runsc 0.0~20221219 does for `runsc help update`.
    let fake = Fake::new(
        r#"if [ "$1" = help ] && [ "$2" = update ]; then
    printf 'Subcommand update not understood\nhelp [<subcommand>]:\n' >&2
    exit 128
fi
echo 'state [flags] <container id> - get the state of a container'"#,
    );
    assert!(!fake.runsc.has_subcommand("update").await.unwrap());
    assert_eq!(fake.argv(), ["help", "update"]);
    assert!(fake.runsc.has_subcommand("state").await.unwrap());
    assert_eq!(fake.argv(), ["help", "state"]);

    let broken = Fake::new("echo 'segmentation fault' >&2; exit 139");
    let err = broken.runsc.has_subcommand("state").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "runsc help failed (exit status 139): segmentation fault"
    );
}

#[tokio::test]
async fn error_message_is_the_last_error_logged_during_the_call() {
    let fake = Fake::new(
        r#"printf '%s' '{"msg":"noise","level":"debug","time":"t"}{"msg":"sandbox is not running","level":"error","time":"t"}{"msg":"bye","level":"info","time":"t"}' >> "$LOG"
echo 'sandbox is not running (stderr)' >&2
exit 128"#,
    );
    fs::write(
        fake.path("log.json"),
        r#"{"msg":"an earlier call failed","level":"error","time":"t"}"#,
    )
    .unwrap();
    let err = fake
        .runsc
        .kill("c1", 9, KillOpts::default())
        .await
        .unwrap_err();
    match &err {
        Error::Command {
            subcommand,
            status,
            message,
        } => {
            assert_eq!(subcommand, "kill");
            assert_eq!(*status, 128);
            assert_eq!(message, "sandbox is not running");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.is_gone());
    assert_eq!(
        err.to_string(),
        "runsc kill failed (exit status 128): sandbox is not running"
    );
}

#[tokio::test]
async fn error_message_falls_back_to_stderr_then_exit_status() {
    let fake = Fake::new(
        r#"printf 'warming up\nflag provided but not defined: -bogus\n\n' >&2
exit 2"#,
    );
    fs::write(
        fake.path("log.json"),
        r#"{"msg":"an earlier call failed","level":"error","time":"t"}"#,
    )
    .unwrap();
    let err = fake.runsc.state("c1").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "runsc state failed (exit status 2): flag provided but not defined: -bogus"
    );
    assert!(!err.is_gone());

    // Go's flag package: the error first, then the usage text.
    let usage = Fake::new(
        r#"printf 'flag provided but not defined: -no-such-flag\nUsage: runsc <flags>\nUse "runsc flags" for a list\n' >&2
exit 2"#,
    );
    let err = usage.runsc.check_global_flags().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "runsc help failed (exit status 2): flag provided but not defined: -no-such-flag"
    );

    let silent = Fake::new("exit 3");
    let err = silent.runsc.pause("c1").await.unwrap_err();
    assert!(
        matches!(&err, Error::Command { status: 3, message, .. } if message == "exit status 3"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "runsc pause failed (exit status 3)");
}

#[tokio::test]
async fn create_hands_its_stdio_to_runsc_and_reads_errors_from_the_log() {
    let fake = Fake::new(
        r#"echo "to the container's stdout"
echo "to the container's stderr" >&2
printf '%s' '{"msg":"reading spec: error opening spec file","level":"error","time":"t"}' >> "$LOG"
exit 128"#,
    );
    let out = fs::File::create(fake.path("out")).unwrap();
    let io = ProcessIo {
        stdin: None,
        stdout: Some(OwnedFd::from(out.try_clone().unwrap())),
        stderr: Some(OwnedFd::from(out)),
    };
    let opts = CreateOpts {
        bundle: fake.path("bundle"),
        pid_file: fake.path("pid"),
        ..CreateOpts::default()
    };
    let err = fake.runsc.create("c1", &opts, io).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "runsc create failed (exit status 128): reading spec: error opening spec file"
    );
    assert_eq!(
        fs::read_to_string(fake.path("out")).unwrap(),
        "to the container's stdout\nto the container's stderr\n"
    );

    // stderr is not captured for create, so only the exit status is left.
    let silent = Fake::new("echo 'lost on /dev/null' >&2; exit 1");
    let err = silent
        .runsc
        .create("c1", &opts, ProcessIo::default())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "runsc create failed (exit status 1)");
}

#[tokio::test]
async fn hanging_runsc_is_killed_at_the_deadline() {
    let fake = Fake::new(r#"echo $$ > "$DIR/pid"; exec sleep 30"#);
    let runsc = fake
        .runsc
        .clone()
        .with_timeout(Duration::from_millis(300), Duration::from_millis(600));

    let started = Instant::now();
    let err = runsc.state("c1").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(&err, Error::Timeout { subcommand, after } if subcommand == "state" && *after == Duration::from_millis(300)),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "runsc state timed out after 300ms");
    let pid = fs::read_to_string(fake.path("pid")).unwrap();
    assert!(
        !Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "the fake runsc (pid {pid}) is still there"
    );

    let err = runsc
        .create("c1", &CreateOpts::default(), ProcessIo::default())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "runsc create timed out after 600ms");
}

#[tokio::test]
async fn missing_binary_is_a_spawn_error() {
    let options = GlobalOptions {
        binary: "/nope/runsc".into(),
        ..GlobalOptions::default()
    };
    let runsc = Runsc::new(options, Arc::new(DirectSpawner));
    let err = runsc.state("c1").await.unwrap_err();
    assert!(
        matches!(&err, Error::Spawn { binary, source } if binary == "/nope/runsc" && source.raw_os_error() == Some(2)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        r#"runsc binary "/nope/runsc" could not be started: No such file or directory (os error 2)"#
    );
}

#[tokio::test]
async fn non_executable_binary_is_a_spawn_error() {
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("runsc");
    fs::write(&binary, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&binary, fs::Permissions::from_mode(0o644)).unwrap();
    let options = GlobalOptions {
        binary: binary.clone(),
        ..GlobalOptions::default()
    };
    let runsc = Runsc::new(options, Arc::new(DirectSpawner));
    let err = runsc.start("c1", ProcessIo::default()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Spawn { source, .. } if source.raw_os_error() == Some(13)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "runsc binary {:?} could not be started: Permission denied (os error 13)",
            binary.display().to_string()
        )
    );
}
