//! OOM kills in a sandbox's memory cgroup, reported as TaskOOM. The kill
//! count is read when the container's sandbox exits (so that TaskOOM comes
//! before TaskExit) and, on cgroup v1, whenever the kernel signals an OOM
//! through an eventfd (for kills that do not end the container).

use std::{
    fs,
    io::Write,
    os::fd::{AsRawFd, OwnedFd},
    path::{Path, PathBuf},
};

use nix::sys::eventfd::{EfdFlags, EventFd};

/// Where a cgroup counts its OOM kills.
#[derive(Debug)]
pub struct OomCounter {
    file: PathBuf,
    last: u64,
}

impl OomCounter {
    /// The counter of the memory cgroup process `pid` is in (cgroup v1
    /// `memory.oom_control`, or v2 `memory.events` on a unified host).
    pub fn for_pid(pid: i32) -> Option<Self> {
        let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let file = counter_file(&text, Path::new("/sys/fs/cgroup"))?;
        let last = read_kills(&file).unwrap_or(0);
        Some(Self { file, last })
    }

    /// Whether the cgroup still exists.
    pub fn exists(&self) -> bool {
        self.file.exists()
    }

    /// Whether the kill count grew since the last call.
    pub fn new_kills(&mut self) -> bool {
        match read_kills(&self.file) {
            Some(n) if n > self.last => {
                self.last = n;
                true
            }
            _ => false,
        }
    }

    /// The cgroup directory.
    fn dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("/"))
    }

    /// On cgroup v1, an eventfd the kernel signals on every OOM in the
    /// cgroup (and when the cgroup goes away).
    pub fn eventfd(&self) -> Option<OwnedFd> {
        if !self.file.ends_with("memory.oom_control") {
            return None;
        }
        let efd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK).ok()?;
        let control = fs::File::open(&self.file).ok()?;
        let mut reg = fs::OpenOptions::new()
            .write(true)
            .open(self.dir().join("cgroup.event_control"))
            .ok()?;
        reg.write_all(format!("{} {}", efd.as_raw_fd(), control.as_raw_fd()).as_bytes())
            .ok()?;
        Some(efd.into())
    }
}

/// The counter file for a `/proc/<pid>/cgroup` text under `root`.
fn counter_file(proc_cgroup: &str, root: &Path) -> Option<PathBuf> {
    let mut unified = None;
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let rel = path.trim_start_matches('/');
        if controllers.split(',').any(|c| c == "memory") {
            return Some(root.join("memory").join(rel).join("memory.oom_control"));
        }
        if controllers.is_empty() {
            unified = Some(root.join(rel).join("memory.events"));
        }
    }
    unified.filter(|f| f.exists())
}

fn read_kills(file: &Path) -> Option<u64> {
    let text = fs::read_to_string(file).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_memory_controller_wins() {
        let text = "9:name=systemd:/default/c\n4:memory:/default/c\n0::/\n";
        assert_eq!(
            counter_file(text, Path::new("/sys/fs/cgroup")).unwrap(),
            Path::new("/sys/fs/cgroup/memory/default/c/memory.oom_control")
        );
    }

    #[test]
    fn v2_uses_memory_events_when_present() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("kubepods/pod1")).unwrap();
        fs::write(
            dir.path().join("kubepods/pod1/memory.events"),
            "oom 0\noom_kill 0\n",
        )
        .unwrap();
        assert_eq!(
            counter_file("0::/kubepods/pod1\n", dir.path()).unwrap(),
            dir.path().join("kubepods/pod1/memory.events")
        );
        assert_eq!(counter_file("0::/other\n", dir.path()), None);
    }

    #[test]
    fn kills_are_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("memory.oom_control");
        fs::write(&file, "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n").unwrap();
        let mut c = OomCounter {
            file: file.clone(),
            last: 0,
        };
        assert!(!c.new_kills());
        fs::write(&file, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n").unwrap();
        assert!(c.new_kills());
        assert!(!c.new_kills(), "the same kills are not reported twice");
        fs::remove_file(&file).unwrap();
        assert!(!c.new_kills(), "a removed cgroup reports nothing");
    }
}
