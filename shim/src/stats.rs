//! `runsc events --stats` turned into the cgroup metrics containerd expects:
//! `io.containerd.cgroups.v1.Metrics` on cgroup v1 (and hybrid) hosts,
//! `io.containerd.cgroups.v2.Metrics` on unified cgroup v2 hosts.

use containerd_shim::protos::{
    cgroups::metrics as v1,
    cgroups_v2::metrics as v2,
    protobuf::{well_known_types::any::Any, MessageField},
};
use runsc::StatsEvent;

use crate::{error::Result, typeurl};

/// Which metrics message to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// cgroup v1 or hybrid hierarchy.
    V1,
    /// Unified cgroup v2 hierarchy.
    V2,
}

impl CgroupMode {
    /// Detects the host's mode from the filesystem at /sys/fs/cgroup.
    pub fn detect() -> Self {
        match nix::sys::statfs::statfs("/sys/fs/cgroup") {
            Ok(fs) if fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => Self::V2,
            _ => Self::V1,
        }
    }
}

/// Converts runsc's stats into the metrics `Any` for `mode`.
pub fn to_any(event: &StatsEvent, mode: CgroupMode) -> Result<Any> {
    match mode {
        CgroupMode::V1 => typeurl::pack(&to_v1(event)),
        CgroupMode::V2 => typeurl::pack(&to_v2(event)),
    }
}

fn to_v1(event: &StatsEvent) -> v1::Metrics {
    let s = &event.data;
    let entry = |e: &runsc::MemoryEntry| {
        MessageField::some(v1::MemoryEntry {
            limit: e.limit,
            usage: e.usage,
            max: e.max,
            failcnt: e.failcnt,
            ..Default::default()
        })
    };
    v1::Metrics {
        cpu: MessageField::some(v1::CPUStat {
            usage: MessageField::some(v1::CPUUsage {
                total: s.cpu.usage.total,
                kernel: s.cpu.usage.kernel,
                user: s.cpu.usage.user,
                per_cpu: s.cpu.usage.percpu.clone(),
                ..Default::default()
            }),
            throttling: MessageField::some(v1::Throttle {
                periods: s.cpu.throttling.periods,
                throttled_periods: s.cpu.throttling.throttled_periods,
                throttled_time: s.cpu.throttling.throttled_time,
                ..Default::default()
            }),
            ..Default::default()
        }),
        memory: MessageField::some(v1::MemoryStat {
            cache: s.memory.cache,
            usage: entry(&s.memory.usage),
            swap: entry(&s.memory.swap),
            kernel: entry(&s.memory.kernel),
            kernel_tcp: entry(&s.memory.kernel_tcp),
            ..Default::default()
        }),
        pids: MessageField::some(v1::PidsStat {
            current: s.pids.current,
            limit: s.pids.limit,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn to_v2(event: &StatsEvent) -> v2::Metrics {
    let s = &event.data;
    v2::Metrics {
        cpu: MessageField::some(v2::CPUStat {
            usage_usec: s.cpu.usage.total / 1000,
            user_usec: s.cpu.usage.user / 1000,
            system_usec: s.cpu.usage.kernel / 1000,
            nr_periods: s.cpu.throttling.periods,
            nr_throttled: s.cpu.throttling.throttled_periods,
            throttled_usec: s.cpu.throttling.throttled_time / 1000,
            ..Default::default()
        }),
        memory: MessageField::some(v2::MemoryStat {
            usage: s.memory.usage.usage,
            usage_limit: s.memory.usage.limit,
            max_usage: s.memory.usage.max,
            swap_usage: s.memory.swap.usage,
            swap_limit: s.memory.swap.limit,
            swap_max_usage: s.memory.swap.max,
            file: s.memory.cache,
            slab: s.memory.kernel.usage,
            ..Default::default()
        }),
        pids: MessageField::some(v2::PidsStat {
            current: s.pids.current,
            limit: s.pids.limit,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Output of `runsc events --stats` (runsc 20221219) for a busybox sleep.
    const SAMPLE: &str = r#"{"type":"stats","id":"c1","data":{"cpu":{"usage":{"total":123456789,"kernel":1000,"user":2000}},"memory":{"cache":4096,"usage":{"limit":268435456,"usage":2240512,"max":3000000,"failcnt":0},"swap":{"usage":0},"kernel":{"usage":8192},"kernelTCP":{}},"pids":{"current":2}}}"#;

    fn sample() -> StatsEvent {
        serde_json::from_str(SAMPLE).unwrap()
    }

    #[test]
    fn v1_carries_cpu_memory_and_pids() {
        let m = to_v1(&sample());
        assert_eq!(m.cpu.usage.total, 123456789);
        assert_eq!(m.memory.usage.usage, 2240512);
        assert_eq!(m.memory.usage.limit, 268435456);
        assert_eq!(m.memory.cache, 4096);
        assert_eq!(m.pids.current, 2);
        let any = to_any(&sample(), CgroupMode::V1).unwrap();
        assert_eq!(any.type_url, "io.containerd.cgroups.v1.Metrics");
    }

    #[test]
    fn v2_uses_microseconds() {
        let m = to_v2(&sample());
        assert_eq!(m.cpu.usage_usec, 123456);
        assert_eq!(m.cpu.user_usec, 2);
        assert_eq!(m.memory.usage, 2240512);
        assert_eq!(m.memory.slab, 8192);
        assert_eq!(m.pids.current, 2);
        let any = to_any(&sample(), CgroupMode::V2).unwrap();
        assert_eq!(any.type_url, "io.containerd.cgroups.v2.Metrics");
    }
}
