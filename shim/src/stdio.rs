//! Container stdio. The shim hands file descriptors straight to runsc (and
//! so to the sandbox): containerd's fifos, a log file, or pipes to a logging
//! binary. No bytes of container output pass through the shim.

use std::{
    fs::{File, OpenOptions},
    io::Read,
    os::{
        fd::{AsRawFd, OwnedFd},
        unix::{fs::OpenOptionsExt, process::CommandExt},
    },
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use nix::{
    fcntl::{fcntl, FcntlArg, OFlag},
    unistd::pipe2,
};
use runsc::ProcessIo;

use crate::{
    console::Console,
    error::{Error, Result},
};

/// How long a logging binary may take to signal that it is ready.
const LOGGER_READY_TIMEOUT: Duration = Duration::from_secs(10);

/// The stdio a process was created with, as containerd names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StdioPaths {
    /// containerd's stdin fifo, or empty.
    pub stdin: String,
    /// stdout: a fifo path, `file://` or `binary://` URI, or empty.
    pub stdout: String,
    /// stderr: like stdout.
    pub stderr: String,
    /// Whether a terminal was requested.
    pub terminal: bool,
}

/// What the shim keeps after the descriptors went to runsc.
#[derive(Default)]
pub struct IoHandles {
    /// A write end of the stdin fifo held by the shim, so that the process
    /// sees EOF only after containerd's CloseIO, as with runc.
    stdin_keeper: Option<File>,
    /// The terminal, when the process has one.
    pub console: Option<Console>,
}

impl IoHandles {
    /// Handles for a process on a terminal.
    pub fn with_console(console: Console) -> Self {
        Self {
            stdin_keeper: None,
            console: Some(console),
        }
    }

    /// Lets the process see EOF on stdin once containerd's writer is gone.
    pub fn close_stdin(&mut self) {
        self.stdin_keeper = None;
        if let Some(c) = &mut self.console {
            c.close_stdin();
        }
    }
}

/// Where one output stream goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Dest {
    Null,
    Fifo(PathBuf),
    File(PathBuf),
    Binary { path: PathBuf, args: Vec<String> },
}

/// Opens the stdio of process `id` in `namespace` and returns the
/// descriptors for runsc plus what the shim must keep.
pub fn open(paths: &StdioPaths, namespace: &str, id: &str) -> Result<(ProcessIo, IoHandles)> {
    let mut io = ProcessIo::default();
    let mut handles = IoHandles::default();
    if !paths.stdin.is_empty() {
        let (reader, keeper) = open_stdin(Path::new(&paths.stdin))?;
        io.stdin = Some(reader);
        handles.stdin_keeper = Some(keeper);
    }
    let out = parse_dest(&paths.stdout)?;
    let err = parse_dest(&paths.stderr)?;
    match (&out, &err) {
        (Dest::Binary { path, args }, _) => {
            if err != out && err != Dest::Null {
                return Err(Error::InvalidArgument(format!(
                    "stdout is the logging binary {:?} but stderr is {:?}: both must name the \
                     same binary",
                    paths.stdout, paths.stderr
                )));
            }
            let (o, e) = start_logger(path, args, namespace, id)?;
            io.stdout = Some(o);
            io.stderr = Some(e);
        }
        (_, Dest::Binary { .. }) => {
            return Err(Error::InvalidArgument(format!(
                "stderr is a logging binary ({:?}) but stdout is not",
                paths.stderr
            )))
        }
        (Dest::File(a), Dest::File(b)) if a == b => {
            let f = open_log_file(a)?;
            io.stderr = Some(f.try_clone().map_err(|e| Error::io("dup log file", e))?);
            io.stdout = Some(f);
        }
        _ => {
            io.stdout = open_output(&out)?;
            io.stderr = open_output(&err)?;
        }
    }
    Ok((io, handles))
}

fn parse_dest(uri: &str) -> Result<Dest> {
    if uri.is_empty() {
        return Ok(Dest::Null);
    }
    let Some((scheme, rest)) = uri.split_once("://") else {
        return Ok(Dest::Fifo(PathBuf::from(uri)));
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if !matches!(scheme, "fifo" | "file" | "binary") {
        return Err(Error::InvalidArgument(format!(
            "unsupported stdio URI scheme {scheme:?} in {uri:?}: use a fifo path, file:// or \
             binary://"
        )));
    }
    let path = PathBuf::from(percent_decode(path)?);
    if !path.is_absolute() {
        return Err(Error::InvalidArgument(format!(
            "stdio URI {uri:?} must name an absolute path"
        )));
    }
    match scheme {
        "fifo" => Ok(Dest::Fifo(path)),
        "file" => Ok(Dest::File(path)),
        _ => {
            let mut args = Vec::new();
            for pair in query
                .unwrap_or_default()
                .split('&')
                .filter(|p| !p.is_empty())
            {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                args.push(percent_decode(k)?);
                if !v.is_empty() {
                    args.push(percent_decode(v)?);
                }
            }
            Ok(Dest::Binary { path, args })
        }
    }
}

fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    Error::InvalidArgument(format!("bad percent-encoding in stdio URI part {s:?}"))
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| Error::InvalidArgument(format!("stdio URI part {s:?} is not UTF-8")))
}

fn open_output(dest: &Dest) -> Result<Option<OwnedFd>> {
    match dest {
        Dest::Null => Ok(None),
        // Read-write: never blocks, and keeps a reader on the fifo so that the
        // container does not get EPIPE while containerd restarts.
        Dest::Fifo(p) => OpenOptions::new()
            .read(true)
            .write(true)
            .open(p)
            .map(|f| Some(f.into()))
            .map_err(|e| Error::io(format!("opening stdio fifo {}", p.display()), e)),
        Dest::File(p) => open_log_file(p).map(Some),
        Dest::Binary { .. } => unreachable!("handled by open"),
    }
}

fn open_log_file(path: &Path) -> Result<OwnedFd> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating log directory {}", dir.display()), e))?;
    }
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
        .map(Into::into)
        .map_err(|e| Error::io(format!("opening log file {}", path.display()), e))
}

fn open_stdin(path: &Path) -> Result<(OwnedFd, File)> {
    let err = |e| Error::io(format!("opening stdin fifo {}", path.display()), e);
    let reader = OpenOptions::new()
        .read(true)
        .custom_flags(libc_nonblock())
        .open(path)
        .map_err(err)?;
    set_blocking(&reader).map_err(err)?;
    let keeper = OpenOptions::new()
        .write(true)
        .custom_flags(libc_nonblock())
        .open(path)
        .map_err(err)?;
    Ok((reader.into(), keeper))
}

fn libc_nonblock() -> i32 {
    OFlag::O_NONBLOCK.bits()
}

fn set_blocking(f: &impl AsRawFd) -> std::io::Result<()> {
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(f.as_raw_fd()) };
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags - OFlag::O_NONBLOCK))?;
    Ok(())
}

/// Starts a logging binary the containerd way: the container's stdout on its
/// fd 3, stderr on fd 4, and fd 5 a pipe it closes once ready. Returns the
/// write ends for the container.
fn start_logger(bin: &Path, args: &[String], ns: &str, id: &str) -> Result<(OwnedFd, OwnedFd)> {
    let (out_r, out_w) =
        pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::io("creating stdout pipe", e.into()))?;
    let (err_r, err_w) =
        pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::io("creating stderr pipe", e.into()))?;
    let (ready_r, ready_w) =
        pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::io("creating ready pipe", e.into()))?;
    // Move the child's ends above fd 5 so that the dup2 calls below cannot
    // overwrite one another.
    let high = |fd: &OwnedFd| -> Result<OwnedFd> {
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd.as_raw_fd()) };
        let raw = fcntl(borrowed, FcntlArg::F_DUPFD_CLOEXEC(10))
            .map_err(|e| Error::io("duplicating logger descriptors", e.into()))?;
        // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that we own.
        Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) })
    };
    let child_fds = [high(&out_r)?, high(&err_r)?, high(&ready_w)?];
    drop((out_r, err_r, ready_w));
    let raw: Vec<i32> = child_fds.iter().map(|f| f.as_raw_fd()).collect();
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env("CONTAINER_ID", id)
        .env("CONTAINER_NAMESPACE", ns)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    unsafe {
        cmd.pre_exec(move || {
            for (target, fd) in (3..).zip(&raw) {
                if libc_dup2(*fd, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd.spawn().map_err(|e| {
        Error::InvalidArgument(format!(
            "cannot start logging binary {}: {e}",
            bin.display()
        ))
    })?;
    drop(child_fds);
    wait_ready(File::from(ready_r), bin)?;
    Ok((out_w, err_w))
}

fn libc_dup2(fd: i32, target: i32) -> i32 {
    // SAFETY: plain dup2(2) on descriptors owned by the forked child.
    unsafe { nix::libc::dup2(fd, target) }
}

/// Waits until the logging binary closes its ready pipe (or exits).
fn wait_ready(mut ready: File, bin: &Path) -> Result<()> {
    let fd = ready.as_raw_fd();
    let mut pfd = nix::libc::pollfd {
        fd,
        events: nix::libc::POLLIN,
        revents: 0,
    };
    let timeout = LOGGER_READY_TIMEOUT.as_millis() as i32;
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { nix::libc::poll(&mut pfd, 1, timeout) };
    if n <= 0 {
        return Err(Error::Other(format!(
            "logging binary {} did not signal readiness within {}s",
            bin.display(),
            LOGGER_READY_TIMEOUT.as_secs()
        )));
    }
    let mut sink = [0u8; 64];
    while ready
        .read(&mut sink)
        .map_err(|e| Error::io("reading ready pipe", e))?
        > 0
    {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_scheme() {
        assert_eq!(parse_dest("").unwrap(), Dest::Null);
        assert_eq!(
            parse_dest("/run/x/stdout").unwrap(),
            Dest::Fifo("/run/x/stdout".into())
        );
        assert_eq!(
            parse_dest("file:///var/log/a%20b.log").unwrap(),
            Dest::File("/var/log/a b.log".into())
        );
        assert_eq!(
            parse_dest("binary:///usr/bin/logger?id=1&verbose&x=a%2Fb").unwrap(),
            Dest::Binary {
                path: "/usr/bin/logger".into(),
                args: vec![
                    "id".into(),
                    "1".into(),
                    "verbose".into(),
                    "x".into(),
                    "a/b".into()
                ]
            }
        );
    }

    #[test]
    fn rejects_bad_uris_by_name() {
        for (uri, want) in [
            ("http://x/y", "unsupported stdio URI scheme \"http\""),
            ("file://relative", "absolute"),
            ("file:///a%zz", "percent-encoding"),
        ] {
            let err = parse_dest(uri).unwrap_err().to_string();
            assert!(err.contains(want), "{uri}: {err}");
        }
    }

    #[test]
    fn no_stdio_gives_no_descriptors() {
        let (io, handles) = open(&StdioPaths::default(), "ns", "id").unwrap();
        assert!(io.stdin.is_none() && io.stdout.is_none() && io.stderr.is_none());
        assert!(handles.stdin_keeper.is_none());
    }

    #[test]
    fn same_file_is_shared_by_stdout_and_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.log");
        let uri = format!("file://{}", path.display());
        let paths = StdioPaths {
            stdout: uri.clone(),
            stderr: uri,
            ..Default::default()
        };
        let (io, _) = open(&paths, "ns", "id").unwrap();
        let mut out = File::from(io.stdout.unwrap());
        let mut err = File::from(io.stderr.unwrap());
        use std::io::Write;
        out.write_all(b"one\n").unwrap();
        err.write_all(b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
    }

    #[test]
    fn fifos_open_without_a_peer_and_stdin_sees_eof_only_after_close() {
        let dir = tempfile::tempdir().unwrap();
        let mk = |n: &str| {
            let p = dir.path().join(n);
            nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits(0o600).unwrap()).unwrap();
            p.to_string_lossy().into_owned()
        };
        let paths = StdioPaths {
            stdin: mk("in"),
            stdout: mk("out"),
            stderr: mk("err"),
            terminal: false,
        };
        let (io, mut handles) = open(&paths, "ns", "id").unwrap();
        let mut stdin = File::from(io.stdin.unwrap());
        // A writer of our own: the data arrives, and EOF only after both the
        // writer and the shim's keeper are gone.
        let mut writer = OpenOptions::new().write(true).open(&paths.stdin).unwrap();
        use std::io::Write;
        writer.write_all(b"line\n").unwrap();
        drop(writer);
        let mut buf = [0u8; 5];
        stdin.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"line\n");
        set_nonblocking_for_test(&stdin);
        assert_eq!(
            stdin.read(&mut buf).unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock,
            "stdin must stay open while the shim keeps its writer"
        );
        handles.close_stdin();
        assert_eq!(stdin.read(&mut buf).unwrap(), 0, "EOF after CloseIO");
    }

    fn set_nonblocking_for_test(f: &File) {
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(f.as_raw_fd()) };
        let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL).unwrap());
        fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).unwrap();
    }

    #[test]
    fn logging_binary_gets_both_streams() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("logger.sh");
        let out = dir.path().join("captured");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nexec 5>&-\n(cat <&3 > {o}.out) & (cat <&4 > {o}.err) & \
                 echo \"$CONTAINER_NAMESPACE/$CONTAINER_ID $*\" > {o}.env; wait\n",
                o = out.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let uri = format!("binary://{}?tag=t1", script.display());
        let paths = StdioPaths {
            stdout: uri.clone(),
            stderr: uri,
            ..Default::default()
        };
        let (io, _) = open(&paths, "ns1", "c1").unwrap();
        use std::io::Write;
        File::from(io.stdout.unwrap())
            .write_all(b"hello\n")
            .unwrap();
        File::from(io.stderr.unwrap()).write_all(b"oops\n").unwrap();
        let read = |ext: &str| {
            let p = PathBuf::from(format!("{}.{ext}", out.display()));
            for _ in 0..100 {
                match std::fs::read_to_string(&p) {
                    Ok(s) if !s.is_empty() => return s,
                    _ => std::thread::sleep(Duration::from_millis(50)),
                }
            }
            panic!("{} never written", p.display());
        };
        assert_eq!(read("out"), "hello\n");
        assert_eq!(read("err"), "oops\n");
        assert_eq!(read("env"), "ns1/c1 tag t1\n");
    }
}
