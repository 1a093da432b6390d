//! What runsc prints as JSON.
//!
//! Every field has a default: runsc omits empty values and 0.0~20221219
//! fills in only part of the statistics.

use std::collections::HashMap;

use serde::Deserialize;

/// `runsc state <id>`: the OCI state of a container.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct State {
    /// OCI runtime spec version, e.g. `1.0.2-dev`.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// `created`, `running`, `paused` or `stopped`.
    pub status: String,
    /// Host pid of the sandbox process; -1 once stopped.
    pub pid: i32,
    /// Bundle directory.
    pub bundle: String,
    /// The spec's annotations (absent when there are none).
    pub annotations: HashMap<String, String>,
}

/// `runsc wait <id>`: how a container's root process or an exec'd process
/// ended.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WaitStatus {
    /// Container id.
    #[serde(default)]
    pub id: String,
    /// Exit code, or 128 + signal number when killed by a signal.
    pub exit_status: i32,
}

/// `runsc events --stats <id>`: one runc-style statistics event.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct StatsEvent {
    /// Event type, `stats`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Container id.
    pub id: String,
    /// The statistics.
    pub data: Stats,
}

/// Resource usage of a container.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Stats {
    /// CPU time.
    pub cpu: Cpu,
    /// Memory.
    pub memory: Memory,
    /// Number of tasks.
    pub pids: Pids,
}

/// CPU statistics.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Cpu {
    /// CPU time consumed.
    pub usage: CpuUsage,
    /// CFS throttling.
    pub throttling: Throttling,
}

/// CPU time consumed, in nanoseconds.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct CpuUsage {
    /// Total CPU time (the only value runsc 0.0~20221219 reports).
    pub total: u64,
    /// Time in kernel mode.
    pub kernel: u64,
    /// Time in user mode.
    pub user: u64,
    /// Total time per CPU.
    pub percpu: Vec<u64>,
}

/// CFS throttling statistics.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct Throttling {
    /// Enforcement periods elapsed.
    pub periods: u64,
    /// Periods in which the container was throttled.
    pub throttled_periods: u64,
    /// Total time throttled, in nanoseconds.
    pub throttled_time: u64,
}

/// Memory statistics, in bytes.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Memory {
    /// Page cache.
    pub cache: u64,
    /// Memory usage (runsc 0.0~20221219 reports only `usage.usage`).
    pub usage: MemoryEntry,
    /// Memory plus swap.
    pub swap: MemoryEntry,
    /// Kernel memory.
    pub kernel: MemoryEntry,
    /// Kernel TCP buffers.
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// Raw cgroup counters by name.
    pub raw: HashMap<String, u64>,
}

/// Usage and limit of one kind of memory.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct MemoryEntry {
    /// Limit, 0 when none is reported.
    pub limit: u64,
    /// Current usage.
    pub usage: u64,
    /// Peak usage.
    pub max: u64,
    /// How often the limit was hit.
    pub failcnt: u64,
}

/// Task statistics.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Pids {
    /// Tasks running now.
    pub current: u64,
    /// Task limit, 0 when none is reported.
    pub limit: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_as_printed_by_runsc_20221219() {
        let printed = r#"{
  "ociVersion": "1.0.2-dev",
  "id": "s1",
  "status": "created",
  "pid": 8152,
  "bundle": "/tmp/rsmanual.X8Ec/s",
  "annotations": {
    "io.kubernetes.cri.container-type": "container",
    "io.kubernetes.cri.sandbox-id": "c2"
  }
}"#;
        let state: State = serde_json::from_str(printed).unwrap();
        assert_eq!(state.oci_version, "1.0.2-dev");
        assert_eq!(state.id, "s1");
        assert_eq!(state.status, "created");
        assert_eq!(state.pid, 8152);
        assert_eq!(state.bundle, "/tmp/rsmanual.X8Ec/s");
        assert_eq!(
            state.annotations["io.kubernetes.cri.sandbox-id"].as_str(),
            "c2"
        );

        let stopped: State =
            serde_json::from_str(r#"{"id":"c1","status":"stopped","pid":-1}"#).unwrap();
        assert_eq!(stopped.pid, -1);
        assert!(stopped.annotations.is_empty());
        assert_eq!(stopped.bundle, "");
    }

    #[test]
    fn wait_status() {
        let status: WaitStatus = serde_json::from_str(r#"{"id":"c1","exitStatus":137}"#).unwrap();
        assert_eq!(
            status,
            WaitStatus {
                id: "c1".into(),
                exit_status: 137
            }
        );
        assert!(serde_json::from_str::<WaitStatus>(r#"{"id":"c1"}"#).is_err());
    }

    #[test]
    fn stats_as_printed_by_runsc_20221219() {
        let printed = r#"{"type":"stats","id":"s1","data":{"cpu":{"usage":{"total":118415829}},"memory":{"usage":{"limit":0,"usage":4562944,"failcnt":0},"swap":{"limit":0,"failcnt":0},"kernel":{"limit":0,"failcnt":0},"kernelTCP":{"limit":0,"failcnt":0}},"pids":{"current":3}}}"#;
        let event: StatsEvent = serde_json::from_str(printed).unwrap();
        assert_eq!(event.kind, "stats");
        assert_eq!(event.id, "s1");
        let mut expected = Stats::default();
        expected.cpu.usage.total = 118_415_829;
        expected.memory.usage.usage = 4_562_944;
        expected.pids.current = 3;
        assert_eq!(event.data, expected);
    }

    #[test]
    fn stats_with_every_field() {
        let printed = r#"{"type":"stats","id":"c1","data":{
            "cpu":{"usage":{"total":10,"kernel":4,"user":6,"percpu":[7,3]},
                   "throttling":{"periods":5,"throttledPeriods":2,"throttledTime":900}},
            "memory":{"cache":11,"usage":{"limit":100,"usage":50,"max":60,"failcnt":1},
                      "swap":{"limit":200,"usage":70,"max":80,"failcnt":2},
                      "kernel":{"usage":3},"kernelTCP":{"usage":4},"raw":{"rss":12}},
            "pids":{"current":2,"limit":64},
            "blkio":{},"hugetlb":{}}}"#;
        let data = serde_json::from_str::<StatsEvent>(printed).unwrap().data;
        assert_eq!(data.cpu.usage.percpu, vec![7, 3]);
        assert_eq!(data.cpu.usage.kernel, 4);
        assert_eq!(data.cpu.usage.user, 6);
        assert_eq!(data.cpu.throttling.throttled_periods, 2);
        assert_eq!(data.cpu.throttling.throttled_time, 900);
        assert_eq!(data.memory.cache, 11);
        assert_eq!(data.memory.usage.max, 60);
        assert_eq!(data.memory.swap.failcnt, 2);
        assert_eq!(data.memory.kernel.usage, 3);
        assert_eq!(data.memory.kernel_tcp.usage, 4);
        assert_eq!(data.memory.raw["rss"], 12);
        assert_eq!(data.pids.limit, 64);
    }
}
