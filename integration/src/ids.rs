//! Names that are unique on this host, where several containerd instances (and
//! their cgroups `/<namespace>/<id>`) coexist.

use std::sync::atomic::{AtomicU64, Ordering};

/// A container id `<prefix>-<pid>-<n>`, unique among the ids of this process.
pub fn unique_id(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_differ() {
        assert_ne!(unique_id("a"), unique_id("a"));
        assert!(unique_id("echo").starts_with(&format!("echo-{}-", std::process::id())));
    }
}
