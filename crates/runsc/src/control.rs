//! An in-process client of a running sandbox's control server, so that
//! waiting for a container needs no `runsc wait` process (~17 MB each).
//!
//! The server speaks gVisor's urpc over a SOCK_STREAM unix socket: a call is
//! the JSON value `{"method": M, "arg": A}`, a reply `{"success": bool,
//! "err": String, "result": R}`, back to back without framing. Where it
//! listens differs by release: runsc 20240729 records a socket path as
//! `sandbox.controlSocketPath` in the sandbox's state file in the runsc
//! root; runsc 20221219 uses the abstract name `runsc-sandbox.<sandbox id>`
//! (with the trailing NUL Go puts in abstract socket addresses).
//! This is runsc's internal interface: callers fall back to the CLI when
//! [`ControlClient::connect`] fails.

use std::{
    collections::HashMap,
    io,
    os::{
        fd::AsRawFd,
        linux::net::SocketAddrExt,
        unix::{
            fs::OpenOptionsExt,
            net::{SocketAddr, UnixStream as StdUnixStream},
        },
    },
    path::{Path, PathBuf},
    time::Duration,
};

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::UnixStream,
};

use crate::StatsEvent;

/// Where a sandbox's control server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlAddress {
    /// A filesystem socket (runsc 20240729 and later).
    Path(PathBuf),
    /// An abstract socket name, without the leading NUL (runsc 20221219;
    /// its name ends in a NUL byte).
    Abstract(String),
}

/// A connection-per-call client of one sandbox's control server.
#[derive(Debug, Clone)]
pub struct ControlClient {
    address: ControlAddress,
    deadline: Option<Duration>,
}

#[derive(Serialize)]
struct Call<'a, A> {
    method: &'a str,
    arg: &'a A,
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    success: bool,
    #[serde(default)]
    err: String,
    #[serde(default)]
    result: Value,
}

impl ControlClient {
    /// The control server of sandbox `sandbox_id` whose state lives in the
    /// runsc root `root`; nothing is checked until a call.
    pub fn locate(root: &Path, sandbox_id: &str) -> Self {
        Self {
            address: find_address(root, sandbox_id),
            deadline: None,
        }
    }

    /// Bounds every call but [`ControlClient::wait`] by `deadline`: a
    /// frozen sandbox then fails the call with [`io::ErrorKind::TimedOut`].
    pub fn with_deadline(self, deadline: Duration) -> Self {
        Self {
            deadline: Some(deadline),
            ..self
        }
    }

    /// Like [`ControlClient::locate`], and checks that the server accepts
    /// connections.
    pub async fn connect(root: &Path, sandbox_id: &str) -> io::Result<Self> {
        let client = Self::locate(root, sandbox_id);
        client.open().await.map(drop)?;
        Ok(client)
    }

    /// Where the server listens.
    pub fn address(&self) -> &ControlAddress {
        &self.address
    }

    async fn open(&self) -> io::Result<UnixStream> {
        let std = match &self.address {
            ControlAddress::Path(p) => connect_path(p)?,
            ControlAddress::Abstract(name) => {
                StdUnixStream::connect_addr(&SocketAddr::from_abstract_name(name.as_bytes())?)?
            }
        };
        std.set_nonblocking(true)?;
        UnixStream::from_std(std)
    }

    /// Calls `method` with `arg`; an error reply becomes an
    /// [`io::ErrorKind::Other`] error carrying the server's message.
    pub async fn call<A: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        arg: &A,
    ) -> io::Result<R> {
        match self.deadline {
            Some(d) => tokio::time::timeout(d, self.call_unbounded(method, arg))
                .await
                .unwrap_or_else(|_| {
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("{method} timed out after {d:?}"),
                    ))
                }),
            None => self.call_unbounded(method, arg).await,
        }
    }

    async fn call_unbounded<A: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        arg: &A,
    ) -> io::Result<R> {
        let mut stream = self.open().await?;
        let request = serde_json::to_vec(&Call { method, arg })?;
        stream.write_all(&request).await?;
        let reply: Reply = read_value(&mut stream).await?;
        if !reply.success {
            return Err(io::Error::other(format!("{method}: {}", reply.err)));
        }
        serde_json::from_value(reply.result).map_err(io::Error::other)
    }

    /// Waits for container `cid`'s init to exit; returns its exit status
    /// (128 + signal when killed). An error means the sandbox went away.
    pub async fn wait(&self, cid: &str) -> io::Result<i32> {
        let status: u32 = self.call_unbounded("containerManager.Wait", &cid).await?;
        Ok(exit_code(status))
    }
}

impl ControlClient {
    /// Waits for the process with sandbox pid `pid` of container `cid` to
    /// exit (an exec, or any process of the container); returns its exit
    /// status. Fails at once when there is no such process any more.
    pub async fn wait_pid(&self, cid: &str, pid: i32) -> io::Result<i32> {
        #[derive(Serialize)]
        struct WaitPidArgs<'a> {
            #[serde(rename = "PID")]
            pid: i32,
            #[serde(rename = "CID")]
            cid: &'a str,
        }
        let status: u32 = self
            .call_unbounded("containerManager.WaitPID", &WaitPidArgs { pid, cid })
            .await?;
        Ok(exit_code(status))
    }

    /// Sandbox pids of container `cid`'s processes (like `runsc ps`).
    pub async fn processes(&self, cid: &str) -> io::Result<Vec<i32>> {
        #[derive(Deserialize)]
        struct Process {
            pid: i32,
        }
        let list: Option<Vec<Process>> = self.call("containerManager.Processes", &cid).await?;
        Ok(list
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.pid)
            .collect())
    }

    /// Sends `signo` to container `cid`'s init, to the process with sandbox
    /// pid `pid`, or with `all` to every process of the container (like
    /// `runsc kill [--all] [--pid]`).
    pub async fn signal(
        &self,
        cid: &str,
        signo: i32,
        pid: Option<i32>,
        all: bool,
    ) -> io::Result<()> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct SignalArgs<'a> {
            #[serde(rename = "CID")]
            cid: &'a str,
            signo: i32,
            #[serde(rename = "PID")]
            pid: i32,
            /// 0: one process, 1: all processes of the container.
            mode: i32,
        }
        let args = SignalArgs {
            cid,
            signo,
            pid: pid.unwrap_or(0),
            mode: i32::from(all),
        };
        self.call::<_, Value>("containerManager.Signal", &args)
            .await
            .map(drop)
    }
}

/// One `containerManager.Event` answer: runc-style statistics plus each
/// container's CPU time as the sentry counts it, which runsc scales to the
/// host cgroup's CPU time before printing (see [`SandboxEvent::stats`]).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SandboxEvent {
    /// The statistics as runsc would print them, CPU aside.
    pub event: StatsEvent,
    /// CPU time per container id, in nanoseconds (absent when the sandbox
    /// reads it from its own cgroups).
    #[serde(rename = "containerUsage")]
    pub container_usage: Option<HashMap<String, u64>>,
}

impl SandboxEvent {
    /// What `runsc events --stats <cid>` prints for this answer: with a
    /// per-container CPU breakdown, container `cid`'s share of the sandbox's
    /// host CPU time `host_cpu_ns` (the sentry's own count when the host's
    /// is unknown), split in proportion to the sentry's counts, or evenly
    /// when the sentry counted nothing.
    pub fn stats(self, cid: &str, host_cpu_ns: Option<u64>) -> StatsEvent {
        let mut event = self.event;
        if event.id.is_empty() {
            event.id = cid.to_owned();
        }
        let usage = self.container_usage.unwrap_or_default();
        if usage.is_empty() {
            return event;
        }
        let mut mine = usage.get(cid).copied().unwrap_or_default();
        let mut all: u64 = usage.values().sum();
        event.data.cpu.usage.total = match host_cpu_ns {
            None => mine,
            Some(host) => {
                if all == 0 {
                    all = host;
                    mine = host / usage.len() as u64;
                }
                // Floats: the product of two CPU times overflows a u64.
                (mine as f64 * (host as f64 / all as f64)) as u64
            }
        };
        event
    }
}

impl ControlClient {
    /// Statistics of container `cid` (like `runsc events --stats`, before
    /// the CPU scaling of [`SandboxEvent::stats`]). runsc 20221219, whose
    /// server listens on an abstract name, takes no argument and answers
    /// for the whole sandbox; later releases take the container id.
    pub async fn event(&self, cid: &str) -> io::Result<SandboxEvent> {
        const METHOD: &str = "containerManager.Event";
        match self.address {
            ControlAddress::Abstract(_) => self.call(METHOD, &Value::Null).await,
            ControlAddress::Path(_) => self.call(METHOD, &cid).await,
        }
    }
}

/// Connects to a socket path, also one longer than a sockaddr can hold (a
/// runsc root deep in a pod's directory gives such paths): then through
/// `/proc/self/fd` of an `O_PATH` descriptor, as runsc does.
fn connect_path(path: &Path) -> io::Result<StdUnixStream> {
    /// sun_path's size, including the terminating NUL.
    const SUN_PATH_MAX: usize = 108;
    if path.as_os_str().len() < SUN_PATH_MAX {
        return StdUnixStream::connect(path);
    }
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_PATH)
        .open(path)?;
    StdUnixStream::connect(format!("/proc/self/fd/{}", handle.as_raw_fd()))
}

/// Reads one JSON value from `stream` (values arrive without framing).
async fn read_value<T: DeserializeOwned>(stream: &mut UnixStream) -> io::Result<T> {
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the sandbox closed the control connection",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut values = serde_json::Deserializer::from_slice(&buf).into_iter::<T>();
        match values.next() {
            Some(Ok(v)) => return Ok(v),
            Some(Err(e)) if e.is_eof() => continue,
            Some(Err(e)) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            None => continue,
        }
    }
}

/// The control address of a sandbox: the path its state file records, else
/// runsc 20221219's abstract name.
fn find_address(root: &Path, sandbox_id: &str) -> ControlAddress {
    let state = root.join(format!("{sandbox_id}_sandbox:{sandbox_id}.state"));
    std::fs::read(state)
        .ok()
        .and_then(|data| serde_json::from_slice::<Value>(&data).ok())
        .and_then(|v| {
            v.pointer("/sandbox/controlSocketPath")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
        })
        .map(ControlAddress::Path)
        // Go's sockaddr for an abstract name keeps a trailing NUL.
        .unwrap_or_else(|| ControlAddress::Abstract(format!("runsc-sandbox.{sandbox_id}\0")))
}

/// A unix wait status as an exit code: the status of an exit, or 128 + the
/// signal that killed the process.
fn exit_code(wait_status: u32) -> i32 {
    let signal = wait_status & 0x7f;
    if signal == 0 {
        ((wait_status >> 8) & 0xff) as i32
    } else {
        128 + signal as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_become_exit_codes() {
        assert_eq!(exit_code(0), 0);
        assert_eq!(exit_code(3 << 8), 3);
        assert_eq!(exit_code(9), 137);
        assert_eq!(exit_code(15), 143);
    }

    #[test]
    fn address_from_the_state_file_or_the_abstract_name() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            find_address(dir.path(), "p1"),
            ControlAddress::Abstract("runsc-sandbox.p1\0".into())
        );
        std::fs::write(
            dir.path().join("p1_sandbox:p1.state"),
            r#"{"sandbox": {"id": "p1", "controlSocketPath": "/run/x/p1.sock"}}"#,
        )
        .unwrap();
        assert_eq!(
            find_address(dir.path(), "p1"),
            ControlAddress::Path("/run/x/p1.sock".into())
        );
    }

    #[tokio::test]
    async fn signal_and_processes_speak_runscs_argument_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctl.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let server = tokio::spawn(async move {
            let mut calls = Vec::new();
            for reply in [
                r#"{"success":true,"err":"","result":null}"#,
                r#"{"success":true,"err":"","result":[{"pid":1,"cmd":"sleep"},{"pid":7}]}"#,
                r#"{"success":true,"err":"","result":1792}"#,
            ] {
                let (mut s, _) = listener.accept().await.unwrap();
                calls.push(read_value::<Value>(&mut s).await.unwrap());
                s.write_all(reply.as_bytes()).await.unwrap();
            }
            calls
        });
        let client = ControlClient {
            address: ControlAddress::Path(path),
            deadline: None,
        };
        client.signal("c1", 15, Some(7), false).await.unwrap();
        assert_eq!(client.processes("c1").await.unwrap(), [1, 7]);
        assert_eq!(client.wait_pid("c1", 7).await.unwrap(), 7);
        let calls = server.await.unwrap();
        assert_eq!(
            calls[0],
            serde_json::json!({"method": "containerManager.Signal",
                               "arg": {"CID": "c1", "Signo": 15, "PID": 7, "Mode": 0}})
        );
        assert_eq!(calls[1]["method"], "containerManager.Processes");
        assert_eq!(
            calls[2],
            serde_json::json!({"method": "containerManager.WaitPID",
                               "arg": {"PID": 7, "CID": "c1"}})
        );
    }

    #[test]
    fn event_cpu_is_scaled_to_the_host_like_runsc_does() {
        // As runsc 20221219's server answers: no id, whole-sandbox memory.
        let answer = r#"{"event":{"type":"stats","id":"","data":{"cpu":{"usage":{}},
            "memory":{"usage":{"limit":0,"usage":4096,"failcnt":0}},"pids":{"current":3}}},
            "containerUsage":{"pod":100,"c1":300}}"#;
        let parse = || serde_json::from_str::<SandboxEvent>(answer).unwrap();
        let scaled = parse().stats("c1", Some(800));
        assert_eq!(scaled.id, "c1");
        assert_eq!(scaled.kind, "stats");
        assert_eq!(scaled.data.cpu.usage.total, 600);
        assert_eq!(scaled.data.memory.usage.usage, 4096);
        assert_eq!(scaled.data.pids.current, 3);
        // Without the host's count: the sentry's.
        assert_eq!(parse().stats("c1", None).data.cpu.usage.total, 300);
        // An unknown container has used nothing.
        assert_eq!(parse().stats("c9", Some(800)).data.cpu.usage.total, 0);
        // The sentry counted nothing: the host's time split evenly.
        let idle = r#"{"event":{"type":"stats","data":{}},"containerUsage":{"a":0,"b":0}}"#;
        let idle: SandboxEvent = serde_json::from_str(idle).unwrap();
        assert_eq!(idle.stats("a", Some(1000)).data.cpu.usage.total, 500);
        // A server that reads CPU from cgroups (later releases) is kept as is.
        let later = r#"{"event":{"type":"stats","id":"c1","data":{"cpu":{"usage":{"total":77}}}},
            "containerUsage":null}"#;
        let later: SandboxEvent = serde_json::from_str(later).unwrap();
        assert_eq!(later.stats("c1", Some(1000)).data.cpu.usage.total, 77);
    }

    #[tokio::test]
    async fn event_argument_follows_the_server_generation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctl.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let call: Value = read_value(&mut s).await.unwrap();
            s.write_all(
                br#"{"success":true,"err":"","result":{"event":{"type":"stats","id":"c1"}}}"#,
            )
            .await
            .unwrap();
            call
        });
        let client = ControlClient {
            address: ControlAddress::Path(path),
            deadline: None,
        };
        let event = client.event("c1").await.unwrap();
        assert_eq!(event.event.id, "c1");
        let call = server.await.unwrap();
        assert_eq!(
            call,
            serde_json::json!({"method": "containerManager.Event", "arg": "c1"})
        );
    }

    #[tokio::test]
    async fn long_socket_paths_are_reached_through_proc() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("d".repeat(60)).join("e".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        let path = deep.join("ctl.sock");
        assert!(path.as_os_str().len() > 108);
        // bind(2) has the same limit: bind through the directory's descriptor.
        let dir_handle = std::fs::File::open(&deep).unwrap();
        let short = format!("/proc/self/fd/{}/ctl.sock", dir_handle.as_raw_fd());
        let std_listener = std::os::unix::net::UnixListener::bind(short).unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::UnixListener::from_std(std_listener).unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let _: Value = read_value(&mut s).await.unwrap();
            s.write_all(br#"{"success":true,"err":"","result":0}"#)
                .await
                .unwrap();
        });
        let client = ControlClient {
            address: ControlAddress::Path(path),
            deadline: None,
        };
        assert_eq!(client.wait("c1").await.unwrap(), 0);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn calls_and_replies_over_a_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctl.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let server = tokio::spawn(async move {
            for reply in [
                r#"{"success":true,"err":"","result":768}"#,
                r#"{"success":false,"err":"no such container","result":null}"#,
            ] {
                let (mut s, _) = listener.accept().await.unwrap();
                let call: Value = read_value(&mut s).await.unwrap();
                assert_eq!(call["method"], "containerManager.Wait");
                assert_eq!(call["arg"], "c1");
                // Split the reply to exercise reassembly.
                let (a, b) = reply.split_at(7);
                s.write_all(a.as_bytes()).await.unwrap();
                s.write_all(b.as_bytes()).await.unwrap();
            }
        });
        let client = ControlClient {
            address: ControlAddress::Path(path),
            deadline: None,
        };
        assert_eq!(client.wait("c1").await.unwrap(), 3);
        let err = client.wait("c1").await.unwrap_err().to_string();
        assert!(err.contains("no such container"), "{err}");
        server.await.unwrap();
    }
}
