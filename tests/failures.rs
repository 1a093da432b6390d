//! Containers that fail inside runsc still report a clear error and are
//! removed without leaving anything behind.

use e2e::{gvisor_containerd, runtime, FAIL_FAST};
use harness::Run;

#[test]
fn failed_start_is_reported_and_removed_by_run_rm() {
    let Some(containerd) = gvisor_containerd("failed_start_is_reported_and_removed_by_run_rm")
    else {
        return;
    };
    let ctr = containerd.namespace("badstart").unwrap();
    let id = ctr.new_id("nx");
    let out = ctr.run(&Run::new(runtime(), &id, &["/nonexistent-binary"]).timeout(FAIL_FAST));
    assert!(!out.success() && !out.timed_out, "{out}");
    assert!(
        out.stderr.contains("/nonexistent-binary") && out.stderr.contains("runsc start failed"),
        "the error should carry runsc's own message: {out}"
    );
    // The shim stops the sandbox of a failed start, so `ctr run --rm`
    // removes the task and the container by itself.
    let listed = ctr.ctr(&["containers", "ls", "-q"]);
    assert!(
        !listed.stdout.contains(&id),
        "container left behind: {listed}"
    );
    containerd.assert_no_leaks();
}

/// Ids that would be paths are refused before anything is created; the
/// longest id containerd allows still runs (the shim's socket path is a
/// fixed-length hash, so it cannot overflow).
#[test]
fn path_like_ids_are_refused_and_long_ids_work() {
    let Some(containerd) = gvisor_containerd("path_like_ids_are_refused_and_long_ids_work") else {
        return;
    };
    let ctr = containerd.namespace("ids").unwrap();
    for bad in ["a/b", "..", "../x"] {
        let out = ctr.run(&Run::new(runtime(), bad, &["true"]).timeout(FAIL_FAST));
        assert!(!out.success() && !out.timed_out, "{bad}: {out}");
        assert!(
            out.stderr.contains("invalid") || out.stderr.contains("identifier"),
            "{bad}: {out}"
        );
    }
    let prefix = ctr.new_id("long");
    let long = format!("{prefix}{}", "x".repeat(76 - prefix.len()));
    let out = ctr.run(&Run::new(runtime(), &long, &["echo", "long-ok"]));
    assert!(out.success() && out.stdout == "long-ok\n", "{out}");
    containerd.assert_no_leaks();
}

/// A logging binary that does not exist: a clear error, nothing left.
#[test]
fn missing_logging_binary_fails_naming_it() {
    let Some(containerd) = gvisor_containerd("missing_logging_binary_fails_naming_it") else {
        return;
    };
    let ctr = containerd.namespace("nologger").unwrap();
    let id = ctr.new_id("nl");
    let run = Run::new(runtime(), &id, &["true"])
        .detach()
        .log_uri("binary:///nonexistent/logger")
        .timeout(FAIL_FAST);
    let out = ctr.run(&run);
    assert!(!out.success() && !out.timed_out, "{out}");
    assert!(out.stderr.contains("/nonexistent/logger"), "{out}");
    e2e::remove_leftovers(&ctr, &id);
    containerd.assert_no_leaks();
}
