//! Shared setup of the end-to-end tests in this directory (`lifecycle.rs`,
//! `stdio.rs`, `logging.rs`, `config.rs`): each test starts its own private
//! containerd whose `io.containerd.runsc.v1` runtime is the shim under test.
//!
//! The tests need root, containerd, ctr, runsc, a C compiler and busybox. Without
//! them a test prints `SKIP` and passes, except under CI (`CI` set), where a
//! missing requirement fails the test instead of hiding it.
//!
//! `E2E_RUNTIME` selects what `ctr run` uses, for checking the tests themselves:
//! `runsc` (default: the shim under test), `runsc-via-runc-shim` (containerd's runc
//! shim driving runsc), or `runc`. Checks that only hold in gVisor, or that need
//! the shim's runsc.toml, skip themselves under the others.

use std::time::Duration;

use harness::{report_skip as skip, Containerd, ContainerdBuilder, Ctr, Runtime};

/// The deadline for a container expected to fail quickly.
pub const FAIL_FAST: Duration = Duration::from_secs(10);

/// The runtime the tests run containers with (see the crate docs).
pub fn runtime() -> Runtime {
    match std::env::var("E2E_RUNTIME").as_deref() {
        Ok("runc") => Runtime::Runc,
        Ok("runsc-via-runc-shim") => Runtime::RunscViaRuncShim,
        Ok("runsc") | Ok("") | Err(_) => Runtime::Runsc,
        Ok(other) => panic!("unknown E2E_RUNTIME {other:?}"),
    }
}

/// Starts the private containerd for `test`, or returns `None` after printing
/// why the test is skipped.
pub fn containerd(test: &str) -> Option<Containerd> {
    containerd_from(test, Containerd::builder())
}

/// Like [`containerd`], with the instance `builder` describes.
fn containerd_from(test: &str, builder: ContainerdBuilder) -> Option<Containerd> {
    let missing = harness::missing_requirements();
    if !missing.is_empty() {
        let why = format!("this machine lacks {}", missing.join(", "));
        assert!(std::env::var_os("CI").is_none(), "{test}: {why}");
        skip(test, &why);
        return None;
    }
    let shim = harness::shim_binary();
    assert!(
        runtime() != Runtime::Runsc || shim.exists(),
        "{test}: shim binary {} does not exist: run `cargo build` first or set {}",
        shim.display(),
        harness::SHIM_BINARY_ENV
    );
    match builder.start() {
        Ok(containerd) => Some(containerd),
        Err(e) => panic!("{test}: cannot start containerd: {e}"),
    }
}

/// Like [`containerd`], but also skips (returning `None`) unless containers run
/// in gVisor, for checks of gVisor-specific behaviour.
pub fn gvisor_containerd(test: &str) -> Option<Containerd> {
    if !runtime().is_gvisor() {
        skip(
            test,
            &format!("needs gVisor, E2E_RUNTIME is {:?}", runtime()),
        );
        return None;
    }
    containerd(test)
}

/// Like [`containerd`], but also skips (returning `None`) unless the runtime is
/// the shim under test, for checks of the shim's own configuration.
pub fn shim_containerd(test: &str) -> Option<Containerd> {
    shim_containerd_with(test, "")
}

/// Like [`shim_containerd`], with `extra` (top-level TOML keys) added to the
/// instance's runsc.toml.
pub fn shim_containerd_with(test: &str, extra: &str) -> Option<Containerd> {
    if runtime() != Runtime::Runsc {
        skip(
            test,
            &format!("needs the runsc shim, E2E_RUNTIME is {:?}", runtime()),
        );
        return None;
    }
    containerd_from(test, Containerd::builder().runsc_extra(extra))
}

/// Removes what a failed or detached container left in `ctr`'s namespace and
/// checks that containerd lets it go: a task (if any) must delete, then the
/// container (if any) must delete.
pub fn remove_leftovers(ctr: &Ctr<'_>, id: &str) {
    if ctr.task(id).expect("ctr tasks ls").is_some() {
        let out = ctr.ctr(&["tasks", "delete", "-f", id]);
        assert!(out.success(), "task of {id} cannot be deleted: {out}");
    }
    let containers = ctr.ctr(&["containers", "ls", "-q"]);
    if containers.stdout.split_whitespace().any(|c| c == id) {
        let out = ctr.ctr(&["containers", "delete", id]);
        assert!(out.success(), "container {id} cannot be deleted: {out}");
    }
}

/// Runs `args` detached in container `id` and waits until its task is
/// RUNNING; panics with ctr's output otherwise.
pub fn run_detached(ctr: &Ctr<'_>, id: &str, args: &[&str]) {
    let out = ctr.run(&harness::Run::new(runtime(), id, args).detach());
    assert!(out.success(), "{out}");
    ctr.wait_for_status(id, "RUNNING", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{id} not RUNNING: {e}"));
}
