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
