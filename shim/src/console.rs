//! Terminals: runsc sends the pty master over a console socket; the shim
//! copies containerd's stdin fifo into it and its output into the stdout
//! fifo, and resizes it on request.

use std::{
    fs::OpenOptions,
    io::IoSliceMut,
    os::{
        fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd},
        unix::fs::OpenOptionsExt,
    },
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use log::warn;
use nix::{
    fcntl::{fcntl, FcntlArg, OFlag},
    pty::Winsize,
    sys::socket::{recvmsg, ControlMessageOwned, MsgFlags},
};
use tokio::{
    io::{unix::AsyncFd, AsyncReadExt, AsyncWriteExt},
    net::{unix::pipe, UnixListener},
};

use crate::{
    error::{Error, Result},
    stdio::StdioPaths,
};

/// How long runsc may take to send the pty master.
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(30);

nix::ioctl_write_ptr_bad!(set_winsize, nix::libc::TIOCSWINSZ, Winsize);

/// A listening socket for runsc's `--console-socket`, in a private
/// directory that goes away with it.
pub struct ConsoleSocket {
    dir: tempfile::TempDir,
    listener: UnixListener,
}

impl ConsoleSocket {
    /// Binds a new socket.
    pub fn new() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("runsc-pty")
            .tempdir()
            .map_err(|e| Error::io("creating console socket directory", e))?;
        let listener = UnixListener::bind(dir.path().join("pty.sock"))
            .map_err(|e| Error::io("binding console socket", e))?;
        Ok(Self { dir, listener })
    }

    /// Where runsc must connect.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("pty.sock")
    }

    /// Accepts runsc's connection and takes the pty master it sends.
    pub async fn receive(self) -> Result<OwnedFd> {
        let accept = tokio::time::timeout(RECEIVE_TIMEOUT, self.listener.accept());
        let (stream, _) = accept
            .await
            .map_err(|_| Error::Other("runsc did not send the terminal in time".into()))?
            .map_err(|e| Error::io("accepting on the console socket", e))?;
        let stream = stream
            .into_std()
            .map_err(|e| Error::io("console socket", e))?;
        stream
            .set_nonblocking(false)
            .map_err(|e| Error::io("console socket", e))?;
        tokio::task::spawn_blocking(move || receive_fd(stream.as_raw_fd()))
            .await
            .map_err(|e| Error::Other(format!("receiving the terminal: {e}")))?
    }
}

fn receive_fd(sock: RawFd) -> Result<OwnedFd> {
    let mut buf = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(|e| Error::io("receiving the terminal", e.into()))?;
    for cmsg in msg
        .cmsgs()
        .map_err(|e| Error::io("receiving the terminal", e.into()))?
    {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just installed this descriptor for us.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err(Error::Other(
        "runsc sent no terminal over the console socket".into(),
    ))
}

/// A running terminal: the master, and the shim's hold on stdin.
pub struct Console {
    master: Arc<AsyncFd<OwnedFd>>,
    stdin_keeper: Option<std::fs::File>,
}

impl Console {
    /// Starts copying between `master` and the fifos of `stdio`, after
    /// applying the initial window size.
    pub fn start(master: OwnedFd, stdio: &StdioPaths, size: Option<(u16, u16)>) -> Result<Self> {
        let flags = OFlag::from_bits_truncate(
            fcntl(master.as_fd(), FcntlArg::F_GETFL).map_err(|e| Error::io("pty", e.into()))?,
        );
        fcntl(master.as_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))
            .map_err(|e| Error::io("pty", e.into()))?;
        // SAFETY: the master is an owned descriptor, registered once and
        // closed only when the AsyncFd is dropped.
        let master = unsafe { AsyncFd::register(master) }
            .map_err(|e| Error::io("registering the terminal", e.into()))?;
        let master = Arc::new(master);
        let console = Self {
            master: master.clone(),
            stdin_keeper: None,
        };
        if let Some((height, width)) = size {
            console.resize(width as u32, height as u32)?;
        }
        let mut console = console;
        if !stdio.stdout.is_empty() {
            let out = open_fifo(&stdio.stdout, true)?;
            let out = pipe::Sender::from_file(out).map_err(|e| Error::io("stdout fifo", e))?;
            tokio::spawn(copy_out(master.clone(), out));
        }
        if !stdio.stdin.is_empty() {
            let input = open_fifo(&stdio.stdin, false)?;
            console.stdin_keeper = Some(
                OpenOptions::new()
                    .write(true)
                    .custom_flags(nix::libc::O_NONBLOCK)
                    .open(&stdio.stdin)
                    .map_err(|e| Error::io("stdin fifo", e))?,
            );
            let input = pipe::Receiver::from_file(input).map_err(|e| Error::io("stdin fifo", e))?;
            tokio::spawn(copy_in(input, master));
        }
        Ok(console)
    }

    /// Sets the window size.
    pub fn resize(&self, width: u32, height: u32) -> Result<()> {
        let ws = Winsize {
            ws_row: height as u16,
            ws_col: width as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ with a valid winsize on a pty master we own.
        unsafe { set_winsize(self.master.get_ref().as_raw_fd(), &ws) }
            .map(drop)
            .map_err(|e| Error::io("resizing the terminal", e.into()))
    }

    /// Lets the copy see EOF on stdin once containerd's writer is gone.
    pub fn close_stdin(&mut self) {
        self.stdin_keeper = None;
    }
}

fn open_fifo(path: &str, write: bool) -> Result<std::fs::File> {
    OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(Path::new(path))
        .map_err(|e| Error::io(format!("opening fifo {path}"), e))
}

async fn copy_out(master: Arc<AsyncFd<OwnedFd>>, mut out: pipe::Sender) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match master
            .readable()
            .await
            .map(|mut guard| guard.try_io(|fd| read_fd(fd.get_ref(), &mut buf)))
        {
            Ok(Ok(Ok(n))) => n,
            Ok(Err(_would_block)) => continue,
            // EIO: the last holder of the slave side is gone.
            Ok(Ok(Err(_))) | Err(_) => break,
        };
        if n == 0 || out.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

async fn copy_in(mut input: pipe::Receiver, master: Arc<AsyncFd<OwnedFd>>) {
    let mut buf = vec![0u8; 8 * 1024];
    loop {
        let n = match input.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut data = &buf[..n];
        while !data.is_empty() {
            let written = match master
                .writable()
                .await
                .map(|mut guard| guard.try_io(|fd| write_fd(fd.get_ref(), data)))
            {
                Ok(Ok(Ok(w))) => w,
                Ok(Err(_would_block)) => continue,
                Ok(Ok(Err(e))) | Err(e) => {
                    warn!("writing to the terminal: {e}");
                    return;
                }
            };
            data = &data[written..];
        }
    }
}

fn read_fd(fd: &OwnedFd, buf: &mut [u8]) -> std::io::Result<usize> {
    nix::unistd::read(fd, buf).map_err(std::io::Error::from)
}

fn write_fd(fd: &OwnedFd, buf: &[u8]) -> std::io::Result<usize> {
    nix::unistd::write(fd, buf).map_err(std::io::Error::from)
}
