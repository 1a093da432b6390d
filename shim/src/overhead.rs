//! What a gVisor sandbox costs on the host beyond what its containers use
//! inside it: the host cgroup's usage (sentry, gofer, page cache) minus the
//! containers' in-sandbox usage. Reported as the pod sandbox (pause)
//! container's stats, so that pod = containers + pause adds up to the host
//! usage, and logged, so that operators can check the RuntimeClass overhead.

use std::{fs, path::Path};

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

fn usage_from(proc_cgroup: &str, root: &Path) -> Option<Usage> {
    let path_of = |controller: &str| {
        proc_cgroup.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
            ctrls
                .split(',')
                .any(|c| c == controller)
                .then(|| path.trim_start_matches('/').to_owned())
        })
    };
    let read = |p: &Path| fs::read_to_string(p).ok();
    if let (Some(mem), Some(cpu)) = (path_of("memory"), path_of("cpuacct")) {
        let memory = read(&root.join("memory").join(mem).join("memory.usage_in_bytes"))?;
        let cpu = read(&root.join("cpuacct").join(cpu).join("cpuacct.usage"))?;
        return Some(Usage {
            memory: memory.trim().parse().ok()?,
            cpu_ns: cpu.trim().parse().ok()?,
        });
    }
    // Unified hierarchy: "0::/path".
    let path = proc_cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = root.join(path.trim_start_matches('/'));
    let memory = read(&dir.join("memory.current"))?.trim().parse().ok()?;
    let usec: u64 = read(&dir.join("cpu.stat"))?
        .lines()
        .find_map(|l| l.strip_prefix("usage_usec "))?
        .trim()
        .parse()
        .ok()?;
    Some(Usage {
        memory,
        cpu_ns: usec * 1000,
    })
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
}
