//! Reading processes and mount points from /proc.

use std::fs;
use std::path::{Path, PathBuf};

/// A live process and its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Process id.
    pub pid: i32,
    /// argv (empty for kernel threads and zombies, which are skipped).
    pub args: Vec<String>,
}

impl Process {
    /// The command line joined by spaces, for messages.
    pub fn cmdline(&self) -> String {
        self.args.join(" ")
    }

    /// The value of a Go-style flag: `-name value`, `--name value`, `-name=value`
    /// or `--name=value`.
    pub fn flag(&self, name: &str) -> Option<&str> {
        let forms = [format!("-{name}"), format!("--{name}")];
        let mut args = self.args.iter();
        while let Some(arg) = args.next() {
            for form in &forms {
                if arg == form {
                    return args.next().map(String::as_str);
                }
                if let Some(value) = arg
                    .strip_prefix(form.as_str())
                    .and_then(|r| r.strip_prefix('='))
                {
                    return Some(value);
                }
            }
        }
        None
    }

    /// The base name of argv[0].
    pub fn program(&self) -> &str {
        let argv0 = self.args.first().map(String::as_str).unwrap_or("");
        argv0.rsplit('/').next().unwrap_or(argv0)
    }

    /// Whether any argument is `dir` or a path below it.
    pub fn mentions_dir(&self, dir: &Path) -> bool {
        let dir = dir.to_string_lossy();
        let below = format!("{dir}/");
        let as_value = format!("={dir}");
        self.args
            .iter()
            .any(|a| a == dir.as_ref() || a.ends_with(&as_value) || a.contains(&below))
    }

    /// The process group id (field 5 of /proc/PID/stat).
    pub fn pgid(&self) -> Option<i32> {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // "pid (comm) state ppid pgrp ...": comm may contain spaces and ')'.
        let rest = &stat[stat.rfind(')')? + 1..];
        rest.split_whitespace().nth(2)?.parse().ok()
    }
}

/// All processes with a non-empty command line.
pub fn processes() -> Vec<Process> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(process)
        .collect()
}

/// The process `pid`, if it is alive and has a command line.
pub fn process(pid: i32) -> Option<Process> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    (!args.is_empty()).then_some(Process { pid, args })
}

/// Mount points at or below `dir` in this mount namespace, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_mount_path(field)))
        .filter(|mount| mount.starts_with(dir))
        .collect();
    found.sort_by_key(|m| std::cmp::Reverse(m.as_os_str().len()));
    found.dedup();
    found
}

/// Undoes the octal escapes (`\040` for space, ...) of /proc/self/mountinfo.
fn unescape_mount_path(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(args: &[&str]) -> Process {
        Process {
            pid: 1,
            args: args.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn flags_in_all_go_forms() {
        let p = proc(&[
            "/x/containerd-shim-runsc-v1",
            "-namespace",
            "n1",
            "-address",
            "/t/c.sock",
        ]);
        assert_eq!(p.flag("address"), Some("/t/c.sock"));
        assert_eq!(p.flag("namespace"), Some("n1"));
        assert_eq!(p.flag("id"), None);
        assert_eq!(p.program(), "containerd-shim-runsc-v1");
        let q = proc(&["runsc-sandbox", "--root=/t/runsc-root/n1", "boot"]);
        assert_eq!(q.flag("root"), Some("/t/runsc-root/n1"));
    }

    #[test]
    fn mentions_dir_needs_a_path_boundary() {
        let p = proc(&["runsc-gofer", "--root=/tmp/rsc-ab/runsc-root/n"]);
        assert!(p.mentions_dir(Path::new("/tmp/rsc-ab")));
        assert!(!p.mentions_dir(Path::new("/tmp/rsc-a")));
    }

    #[test]
    fn own_process_is_listed_with_a_group() {
        let me = std::process::id() as i32;
        let p = processes().into_iter().find(|p| p.pid == me).unwrap();
        assert!(p.pgid().is_some());
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mount_path(r"/a\040b/c\134d"), r"/a b/c\d");
        assert_eq!(unescape_mount_path(r"/plain"), "/plain");
    }
}
