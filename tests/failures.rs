//! Containers that fail inside runsc still report a clear error and can be
//! removed without leaving anything behind.

use e2e::{gvisor_containerd, runtime, FAIL_FAST};
use harness::Run;

#[test]
fn failed_start_is_reported_and_deletable() {
    let Some(containerd) = gvisor_containerd("failed_start_is_reported_and_deletable") else {
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
    // `ctr run --rm` leaves the task CREATED after a failed start; it must
    // still be killable and deletable.
    let del = ctr.ctr(&["tasks", "delete", "-f", &id]);
    assert!(del.success(), "{del}");
    let rm = ctr.ctr(&["containers", "delete", &id]);
    assert!(rm.success(), "{rm}");
    containerd.assert_no_leaks();
}
