//! What a gVisor sandbox costs on the host beyond what its containers use
//! inside it: the host cgroup's usage (sentry, gofer, page cache) minus the
//! containers' in-sandbox usage. Reported as the pod sandbox (pause)
//! container's stats, so that pod = containers + pause adds up to the host
//! usage, and logged, so that operators can check the RuntimeClass overhead.

use std::{
    fs,
    path::{Path, PathBuf},
};

/// Usage of a cgroup on the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Memory in bytes.
    pub memory: u64,
    /// CPU time in nanoseconds.
    pub cpu_ns: u64,
}

impl Usage {
    /// What `self` (the host) has beyond `inside`, never below zero.
    pub fn minus(self, inside: Usage) -> Usage {
        Usage {
            memory: self.memory.saturating_sub(inside.memory),
            cpu_ns: self.cpu_ns.saturating_sub(inside.cpu_ns),
        }
    }
}

/// The host usage of the cgroups process `pid` (the sandbox) is in.
pub fn host_usage(pid: i32) -> Option<Usage> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    usage_from(&text, Path::new("/sys/fs/cgroup"))
}

/// The memory limit of the cgroup process `pid` (the sandbox) is in, in
/// bytes, as the cgroup states it: an unlimited cgroup v1 reports its huge
/// default, cgroup v2's `max` is `u64::MAX` (what runc's metrics carry too).
pub fn memory_limit(pid: i32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    limit_from(&text, Path::new("/sys/fs/cgroup"))
}

/// The directory of `controller` (cgroup v1) in `/proc/<pid>/cgroup` text.
fn v1_dir(proc_cgroup: &str, root: &Path, controller: &str) -> Option<PathBuf> {
    proc_cgroup.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        ctrls
            .split(',')
            .any(|c| c == controller)
            .then(|| root.join(controller).join(path.trim_start_matches('/')))
    })
}

/// The unified (cgroup v2) directory in `/proc/<pid>/cgroup` text.
fn v2_dir(proc_cgroup: &str, root: &Path) -> Option<PathBuf> {
    let path = proc_cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(root.join(path.trim_start_matches('/')))
}

fn read_u64(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn usage_from(proc_cgroup: &str, root: &Path) -> Option<Usage> {
    if let (Some(mem), Some(cpu)) = (
        v1_dir(proc_cgroup, root, "memory"),
        v1_dir(proc_cgroup, root, "cpuacct"),
    ) {
        return Some(Usage {
            memory: read_u64(&mem.join("memory.usage_in_bytes"))?,
            cpu_ns: read_u64(&cpu.join("cpuacct.usage"))?,
        });
    }
    let dir = v2_dir(proc_cgroup, root)?;
    let usec: u64 = fs::read_to_string(dir.join("cpu.stat"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("usage_usec "))?
        .trim()
        .parse()
        .ok()?;
    Some(Usage {
        memory: read_u64(&dir.join("memory.current"))?,
        cpu_ns: usec * 1000,
    })
}

fn limit_from(proc_cgroup: &str, root: &Path) -> Option<u64> {
    if let Some(mem) = v1_dir(proc_cgroup, root, "memory") {
        return read_u64(&mem.join("memory.limit_in_bytes"));
    }
    let max = fs::read_to_string(v2_dir(proc_cgroup, root)?.join("memory.max")).ok()?;
    match max.trim() {
        "max" => Some(u64::MAX),
        n => n.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_reads_memory_and_cpuacct() {
        let root = tempfile::tempdir().unwrap();
        let mem = root.path().join("memory/kubepods/podU");
        let cpu = root.path().join("cpuacct/kubepods/podU");
        fs::create_dir_all(&mem).unwrap();
        fs::create_dir_all(&cpu).unwrap();
        fs::write(mem.join("memory.usage_in_bytes"), "1000\n").unwrap();
        fs::write(cpu.join("cpuacct.usage"), "5000\n").unwrap();
        let text = "4:memory:/kubepods/podU\n2:cpu,cpuacct:/kubepods/podU\n";
        let host = usage_from(text, root.path()).unwrap();
        assert_eq!(
            host,
            Usage {
                memory: 1000,
                cpu_ns: 5000
            }
        );
        let inside = Usage {
            memory: 400,
            cpu_ns: 6000,
        };
        assert_eq!(
            host.minus(inside),
            Usage {
                memory: 600,
                cpu_ns: 0
            }
        );
    }

    #[test]
    fn v2_reads_memory_current_and_cpu_stat() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("kubepods/podU");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("memory.current"), "2048\n").unwrap();
        fs::write(dir.join("cpu.stat"), "usage_usec 7\nuser_usec 5\n").unwrap();
        let host = usage_from("0::/kubepods/podU\n", root.path()).unwrap();
        assert_eq!(
            host,
            Usage {
                memory: 2048,
                cpu_ns: 7000
            }
        );
    }

    #[test]
    fn memory_limit_of_v1_and_v2() {
        let root = tempfile::tempdir().unwrap();
        let mem = root.path().join("memory/moby/c1");
        fs::create_dir_all(&mem).unwrap();
        fs::write(mem.join("memory.limit_in_bytes"), "268435456\n").unwrap();
        assert_eq!(
            limit_from("5:memory:/moby/c1\n", root.path()),
            Some(268435456)
        );
        let dir = root.path().join("pod");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("memory.max"), "max\n").unwrap();
        assert_eq!(limit_from("0::/pod\n", root.path()), Some(u64::MAX));
        fs::write(dir.join("memory.max"), "1048576\n").unwrap();
        assert_eq!(limit_from("0::/pod\n", root.path()), Some(1048576));
        assert_eq!(limit_from("0::/gone\n", root.path()), None);
    }
}
