//! `tty-relay -- PROGRAM [ARGS...]`: gives a container process a terminal
//! of gVisor's own (`/dev/pts/N` inside the sandbox) instead of the host
//! pty runsc passes in as a plain host file descriptor, on which `tty`
//! prints "not a tty" and `screen` fails.
//!
//! With `tty_relay = true` the shim bind-mounts this program (built
//! statically by the shim's build script, no dependencies but std and libc)
//! into every container and starts terminal processes through it. It opens
//! a pty pair in the sandbox, runs PROGRAM as a session leader on the slave
//! (its controlling terminal where gVisor lets a new session take one, as
//! runsc 20240729 does and 20221219 does not; only then do ^C and job
//! control work inside), and copies bytes between
//! the host terminal (its own stdin/stdout, put in raw mode) and the
//! master. It forwards signals to PROGRAM, follows the host terminal's
//! window size, reaps orphans (it may be the container's init) and exits
//! with PROGRAM's status, re-raising the signal that killed it.
//!
//! When its stdin is not a terminal or no pty can be opened, it runs
//! PROGRAM in its place, as if it were not there.

use std::{
    ffi::{c_char, c_int, c_ulong, c_void, CStr},
    io::{self, Write},
    os::unix::process::CommandExt,
    process::Command,
    sync::atomic::{AtomicI32, Ordering},
};

const O_RDWR: c_int = 2;
const O_NOCTTY: c_int = 0o400;
const O_NONBLOCK: c_int = 0o4000;
const O_CLOEXEC: c_int = 0o2000000;
const F_GETFL: c_int = 3;
const F_SETFL: c_int = 4;
const TIOCSCTTY: c_ulong = 0x540E;
const TIOCGWINSZ: c_ulong = 0x5413;
const TIOCSWINSZ: c_ulong = 0x5414;
const TCSANOW: c_int = 0;
const POLLIN: i16 = 1;
const POLLOUT: i16 = 4;
const WNOHANG: c_int = 1;
const SIG_BLOCK: c_int = 0;
const SIG_UNBLOCK: c_int = 1;
const SIG_SETMASK: c_int = 2;
const SIGCHLD: c_int = 17;
const SIGHUP: c_int = 1;
const PR_SET_PDEATHSIG: c_int = 1;
const SIGKILL: c_int = 9;
const EINTR: i32 = 4;
const EAGAIN: i32 = 11;
/// Signals passed on to PROGRAM (those a terminal user or a runtime sends).
const FORWARDED: [c_int; 10] = [1, 2, 3, 10, 12, 14, 15, 18, 21, 22];
/// How often the host terminal's window size is looked at (gVisor does not
/// pass the host's SIGWINCH on), in milliseconds.
const WINSIZE_POLL_MS: c_int = 100;
/// After PROGRAM exits, output still buffered in the pty is copied until
/// the pty stays quiet this long (background jobs may hold the slave).
const DRAIN_QUIET_MS: c_int = 50;

/// `struct termios` of glibc (60 bytes), treated as opaque.
#[repr(C, align(4))]
#[derive(Clone)]
struct Termios([u8; 64]);
/// `sigset_t` of glibc, treated as opaque.
#[repr(C)]
struct SigSet([u64; 16]);

#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Winsize {
    rows: u16,
    cols: u16,
    xpixel: u16,
    ypixel: u16,
}

#[repr(C)]
struct PollFd {
    fd: c_int,
    events: i16,
    revents: i16,
}

extern "C" {
    fn posix_openpt(flags: c_int) -> c_int;
    fn grantpt(fd: c_int) -> c_int;
    fn unlockpt(fd: c_int) -> c_int;
    fn ptsname_r(fd: c_int, buf: *mut c_char, len: usize) -> c_int;
    fn open(path: *const c_char, flags: c_int, ...) -> c_int;
    fn close(fd: c_int) -> c_int;
    fn read(fd: c_int, buf: *mut c_void, n: usize) -> isize;
    fn write(fd: c_int, buf: *const c_void, n: usize) -> isize;
    fn pipe2(fds: *mut c_int, flags: c_int) -> c_int;
    fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
    fn dup2(old: c_int, new: c_int) -> c_int;
    fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
    fn isatty(fd: c_int) -> c_int;
    fn tcgetattr(fd: c_int, t: *mut Termios) -> c_int;
    fn tcsetattr(fd: c_int, action: c_int, t: *const Termios) -> c_int;
    fn tcgetpgrp(fd: c_int) -> c_int;
    fn cfmakeraw(t: *mut Termios);
    fn poll(fds: *mut PollFd, n: c_ulong, timeout: c_int) -> c_int;
    fn setsid() -> c_int;
    fn prctl(option: c_int, arg2: c_ulong, ...) -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn kill(pid: c_int, sig: c_int) -> c_int;
    fn getpid() -> c_int;
    fn signal(sig: c_int, handler: usize) -> usize;
    fn sigemptyset(set: *mut SigSet) -> c_int;
    fn sigaddset(set: *mut SigSet, sig: c_int) -> c_int;
    fn sigprocmask(how: c_int, set: *const SigSet, old: *mut SigSet) -> c_int;
}

/// PROGRAM's pid, for the signal handlers.
static CHILD: AtomicI32 = AtomicI32::new(0);
/// Write end of the self-pipe that wakes the loop on SIGCHLD.
static WAKE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn forward(sig: c_int) {
    let child = CHILD.load(Ordering::Relaxed);
    if child > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { kill(child, sig) };
    }
}

extern "C" fn child_exited(_: c_int) {
    let fd = WAKE.load(Ordering::Relaxed);
    // SAFETY: write is async-signal-safe; a full pipe already wakes the loop.
    unsafe { write(fd, b"x".as_ptr().cast(), 1) };
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// What an exit status means for the relay's own exit.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    Code(i32),
    Signal(i32),
}

impl Ending {
    fn from_wait_status(status: c_int) -> Self {
        if status & 0x7f == 0 {
            Ending::Code((status >> 8) & 0xff)
        } else {
            Ending::Signal(status & 0x7f)
        }
    }
}

/// Splits `tty-relay -- PROGRAM ARGS...` into PROGRAM ARGS.
fn command_of(args: &[String]) -> Option<&[String]> {
    match args {
        [_, sep, rest @ ..] if sep == "--" && !rest.is_empty() => Some(rest),
        _ => None,
    }
}

/// Runs `argv` in the relay's place; returns only on failure.
fn exec_directly(argv: &[String]) -> ! {
    let err = Command::new(&argv[0]).args(&argv[1..]).exec();
    fail_to_run(&argv[0], &err)
}

fn fail_to_run(program: &str, err: &io::Error) -> ! {
    let _ = writeln!(io::stderr(), "{program}: {err}");
    std::process::exit(if err.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    })
}

/// Opens the pty master and returns it with the slave's path.
fn open_pty() -> Option<(c_int, std::ffi::CString)> {
    // SAFETY: plain libc calls on descriptors this function owns.
    unsafe {
        let master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if master < 0 {
            return None;
        }
        let mut name = [0 as c_char; 128];
        if grantpt(master) != 0
            || unlockpt(master) != 0
            || ptsname_r(master, name.as_mut_ptr(), name.len()) != 0
        {
            close(master);
            return None;
        }
        Some((master, CStr::from_ptr(name.as_ptr()).to_owned()))
    }
}

fn winsize(fd: c_int) -> Option<Winsize> {
    let mut ws = Winsize::default();
    // SAFETY: TIOCGWINSZ fills a struct winsize.
    (unsafe { ioctl(fd, TIOCGWINSZ, &mut ws as *mut Winsize) } == 0).then_some(ws)
}

fn set_nonblocking(fd: c_int, on: bool) {
    // SAFETY: fcntl on a descriptor the relay holds.
    unsafe {
        let flags = fcntl(fd, F_GETFL);
        if flags >= 0 {
            let flags = if on {
                flags | O_NONBLOCK
            } else {
                flags & !O_NONBLOCK
            };
            fcntl(fd, F_SETFL, flags);
        }
    }
}

/// One direction of the copy: bytes read from `from` wait in `buf` until
/// `to` takes them.
struct Pipe {
    from: c_int,
    to: c_int,
    buf: Vec<u8>,
    open: bool,
}

impl Pipe {
    fn new(from: c_int, to: c_int) -> Self {
        Self {
            from,
            to,
            buf: Vec::with_capacity(16 * 1024),
            open: true,
        }
    }

    /// Reads what is there; returns whether anything came.
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        // SAFETY: reading into a local buffer of the given size.
        let n = unsafe { read(self.from, chunk.as_mut_ptr().cast(), chunk.len()) };
        if n > 0 {
            self.buf.extend_from_slice(&chunk[..n as usize]);
            return true;
        }
        if n == 0 || !matches!(errno(), EINTR | EAGAIN) {
            // EOF, or EIO once every holder of the slave is gone.
            self.open = false;
        }
        false
    }

    /// Writes what it can; output nobody takes any more is dropped.
    fn flush(&mut self) {
        while !self.buf.is_empty() {
            // SAFETY: writing from an owned buffer of the given length.
            let n = unsafe { write(self.to, self.buf.as_ptr().cast(), self.buf.len()) };
            if n > 0 {
                self.buf.drain(..n as usize);
            } else if n < 0 && matches!(errno(), EINTR | EAGAIN) {
                return;
            } else {
                self.buf.clear();
            }
        }
    }
}

/// Copies between the host terminal and the master until PROGRAM is gone
/// and its output is out; returns PROGRAM's wait status.
fn relay(master: c_int, wake: c_int, child: c_int) -> c_int {
    let mut input = Pipe::new(0, master);
    let mut output = Pipe::new(master, 1);
    let mut size = winsize(0);
    // Whether the pty has shown the host's size once: until then the size
    // is set again on every tick (gVisor sometimes drops the first setting
    // as PROGRAM opens the slave); after that only host changes are passed
    // on, so that a size PROGRAM sets itself stays.
    let mut settled = false;
    let mut status = None;
    loop {
        let mut fds = [
            PollFd {
                fd: if input.open && input.buf.is_empty() {
                    0
                } else {
                    -1
                },
                events: POLLIN,
                revents: 0,
            },
            PollFd {
                // Once every holder of the slave is gone the master only
                // reports a hangup: stop asking it.
                fd: if output.open || !input.buf.is_empty() {
                    master
                } else {
                    -1
                },
                events: if output.buf.is_empty() { POLLIN } else { 0 }
                    | if input.buf.is_empty() { 0 } else { POLLOUT },
                revents: 0,
            },
            PollFd {
                fd: if output.buf.is_empty() { -1 } else { 1 },
                events: POLLOUT,
                revents: 0,
            },
            PollFd {
                fd: wake,
                events: POLLIN,
                revents: 0,
            },
        ];
        let timeout = if status.is_some() {
            DRAIN_QUIET_MS
        } else {
            WINSIZE_POLL_MS
        };
        // SAFETY: a local array of pollfd of the given length.
        let ready = unsafe { poll(fds.as_mut_ptr(), fds.len() as c_ulong, timeout) };
        if ready == 0 && status.is_some() {
            break;
        }
        if fds[0].revents != 0 {
            input.fill();
        }
        if fds[1].revents != 0 {
            output.fill();
            input.flush();
        }
        output.flush();
        if fds[3].revents != 0 {
            let mut sink = [0u8; 64];
            // SAFETY: draining the self-pipe into a local buffer.
            unsafe { read(wake, sink.as_mut_ptr().cast(), sink.len()) };
        }
        if status.is_none() {
            status = reap(child);
            if status.is_some() {
                hang_up(master, child);
            }
        }
        if status.is_some() && !output.open && output.buf.is_empty() {
            break;
        }
        let now = winsize(0);
        if !settled && status.is_none() {
            settled = size.is_none() || winsize(master) == size;
        }
        if now != size || !settled {
            if let Some(ws) = now {
                // SAFETY: TIOCSWINSZ with a valid struct winsize; the kernel
                // sends SIGWINCH to the pty's foreground process group.
                unsafe { ioctl(master, TIOCSWINSZ, &ws as *const Winsize) };
            }
            size = now;
        }
    }
    match status {
        Some(s) => s,
        None => wait_for(child),
    }
}

/// Does what Linux does when a session leader exits and gVisor does not:
/// sends SIGHUP to the terminal's foreground process group (PROGRAM's own
/// group unless it handed the terminal to a job), so that jobs left on the
/// terminal go with it.
fn hang_up(master: c_int, child: c_int) {
    // SAFETY: tcgetpgrp only reads the pty's foreground group; kill of a
    // process group the relay's session owns.
    unsafe {
        let group = tcgetpgrp(master);
        kill(-(if group > 0 { group } else { child }), SIGHUP);
    }
}

/// Reaps every exited child (the relay may be init); returns PROGRAM's
/// status once it is among them.
fn reap(child: c_int) -> Option<c_int> {
    let mut found = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a local status word.
        let pid = unsafe { waitpid(-1, &mut status, WNOHANG) };
        if pid <= 0 {
            return found;
        }
        if pid == child {
            found = Some(status);
        }
    }
}

fn wait_for(child: c_int) -> c_int {
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a local status word.
        let pid = unsafe { waitpid(-1, &mut status, 0) };
        if pid == child || (pid < 0 && errno() != EINTR) {
            return status;
        }
    }
}

fn signal_set(signals: &[c_int]) -> SigSet {
    let mut set = SigSet([0; 16]);
    // SAFETY: sigemptyset/sigaddset on a local sigset_t-sized buffer.
    unsafe {
        sigemptyset(&mut set);
        for s in signals {
            sigaddset(&mut set, *s);
        }
    }
    set
}

#[cfg_attr(test, allow(dead_code))]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(argv) = command_of(&args) else {
        let _ = writeln!(io::stderr(), "usage: tty-relay -- PROGRAM [ARGS...]");
        std::process::exit(127);
    };
    // SAFETY: isatty only inspects the descriptor.
    if unsafe { isatty(0) } != 1 {
        exec_directly(argv);
    }
    let Some((master, slave)) = open_pty() else {
        exec_directly(argv);
    };
    let mut wake = [-1; 2];
    // SAFETY: pipe2 fills a local pair of descriptors.
    if unsafe { pipe2(wake.as_mut_ptr(), O_CLOEXEC | O_NONBLOCK) } != 0 {
        exec_directly(argv);
    }
    WAKE.store(wake[1], Ordering::Relaxed);
    let mut host = Termios([0; 64]);
    // SAFETY: tcgetattr fills a termios-sized buffer.
    let have_host_mode = unsafe { tcgetattr(0, &mut host) } == 0;
    // The pty inside starts in the mode the host terminal has.
    let inner = have_host_mode.then(|| host.clone());
    let size = winsize(0);
    if let Some(ws) = size {
        // SAFETY: TIOCSWINSZ with a valid struct winsize. On the master:
        // gVisor ignores it on the slave before PROGRAM runs.
        unsafe { ioctl(master, TIOCSWINSZ, &ws as *const Winsize) };
    }

    let blocked = signal_set(&[&FORWARDED[..], &[SIGCHLD]].concat());
    // SAFETY: signal dispositions and mask of this single-threaded program;
    // the handlers only make async-signal-safe calls.
    unsafe {
        sigprocmask(SIG_BLOCK, &blocked, std::ptr::null_mut());
        for s in FORWARDED {
            signal(s, forward as extern "C" fn(c_int) as usize);
        }
        signal(SIGCHLD, child_exited as extern "C" fn(c_int) as usize);
    }
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    let unblocked = signal_set(&[]);
    // SAFETY: between fork and exec only async-signal-safe calls are made.
    unsafe {
        cmd.pre_exec(move || {
            // PROGRAM starts with no signal blocked, whatever the relay
            // blocks while it starts.
            sigprocmask(SIG_SETMASK, &unblocked, std::ptr::null_mut());
            if setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = open(slave.as_ptr(), O_RDWR);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            ioctl(fd, TIOCSCTTY, 0);
            if let Some(mode) = &inner {
                tcsetattr(fd, TCSANOW, mode);
            }
            for target in 0..3 {
                if dup2(fd, target) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            if fd > 2 {
                close(fd);
            }
            // PROGRAM goes when the relay is killed (SIGKILL cannot be
            // forwarded), as an exec'd process would.
            prctl(PR_SET_PDEATHSIG, SIGKILL as c_ulong);
            Ok(())
        });
    }
    let child = match cmd.spawn() {
        Ok(child) => child.id() as c_int,
        Err(err) => fail_to_run(&argv[0], &err),
    };
    CHILD.store(child, Ordering::Relaxed);
    if have_host_mode {
        let mut raw = host.clone();
        // SAFETY: switching the host terminal to raw mode: the pty inside
        // now does the line discipline.
        unsafe {
            cfmakeraw(&mut raw);
            tcsetattr(0, TCSANOW, &raw);
        }
    }
    set_nonblocking(master, true);
    set_nonblocking(0, true);
    set_nonblocking(1, true);
    // SAFETY: unblocking the signals blocked above.
    unsafe { sigprocmask(SIG_UNBLOCK, &blocked, std::ptr::null_mut()) };
    let status = relay(master, wake[0], child);
    set_nonblocking(0, false);
    set_nonblocking(1, false);
    if have_host_mode {
        // SAFETY: restoring the mode the host terminal had.
        unsafe { tcsetattr(0, TCSANOW, &host) };
    }
    match Ending::from_wait_status(status) {
        Ending::Code(code) => std::process::exit(code),
        Ending::Signal(sig) => {
            // SAFETY: dying of the same signal as PROGRAM.
            unsafe {
                signal(sig, 0);
                sigprocmask(SIG_UNBLOCK, &signal_set(&[sig]), std::ptr::null_mut());
                kill(getpid(), sig);
            }
            std::process::exit(128 + sig)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_follows_the_separator() {
        let args: Vec<String> = ["relay", "--", "sh", "-c", "tty"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(command_of(&args).unwrap(), &args[2..]);
        let bare: Vec<String> = vec!["relay".into(), "--".into()];
        assert_eq!(command_of(&bare), None);
        let missing: Vec<String> = vec!["relay".into(), "sh".into()];
        assert_eq!(command_of(&missing), None);
    }

    #[test]
    fn wait_status_decoding() {
        assert_eq!(Ending::from_wait_status(4 << 8), Ending::Code(4));
        assert_eq!(Ending::from_wait_status(0), Ending::Code(0));
        assert_eq!(Ending::from_wait_status(9), Ending::Signal(9));
        assert_eq!(Ending::from_wait_status(15 | 0x80), Ending::Signal(15));
    }
}
