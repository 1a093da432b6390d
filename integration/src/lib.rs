//! Test harness for `containerd-shim-runsc-v1`: a private containerd (1.6 by default;
//! another containerd and runsc with `E2E_CONTAINERD` and `E2E_RUNSC`) per test,
//! offline OCI images, `ctr` helpers and leak checks.
//!
//! ```no_run
//! use harness::{Containerd, Run, Runtime};
//!
//! let containerd = Containerd::start().unwrap();      // /tmp/rsc-XXXXXX
//! let ctr = containerd.namespace("echo").unwrap();    // unique ns, busybox imported
//! let id = ctr.new_id("echo");
//! let out = ctr.run(&Run::new(Runtime::Runsc, &id, &["echo", "hello"]));
//! assert!(out.success(), "{out}");
//! containerd.assert_no_leaks();                       // before the fixture drops
//! ```
//!
//! [`Containerd::cri`] drives the same instance through containerd's CRI plugin
//! the way kubelet does (pods, containers, ExecSync, CRI logs); see [`Cri`].
//! [`dockerd::Dockerd`] is a private Docker Engine with the shim as a runtime.
//!
//! Everything an instance creates lives under its directory, except what
//! containerd 1.6 puts elsewhere by design: shim sockets in `/run/containerd/s/`,
//! cgroups `/<namespace>/<id>` and, for CRI pods, `/kubepods/burstable/pod<uid>`. Namespaces and ids are unique per instance and
//! process, and only processes tied to the instance are ever signalled, so tests
//! can run in parallel next to other containerd instances on the same host.

mod command;
mod config;
mod containerd;
pub mod cri;
mod ctr;
pub mod dockerd;
mod error;
mod fetch;
mod ids;
mod images;
mod layout;
mod leaks;
mod locate;
mod oci;
mod preflight;
mod procfs;
mod ready;
mod teardown;
mod versions;

pub use command::{CmdOutput, Running};
pub use config::{PAUSE_IMAGE, RUNSC_BINARY, RUNSC_RUNTIME_TYPE};
pub use containerd::{Containerd, ContainerdBuilder};
pub use cri::{
    api as cri_api, parse_log, ContainerSpec, ContainerState, ContainerStats, Cri, ExecOutput,
    LogLine, Pod, PodSpec, State, CRI_NAMESPACE, CRI_TIMEOUT, POD_NAMESPACE,
};
pub use ctr::{Ctr, Run, Runtime, TaskInfo, CTR_TIMEOUT};
pub use error::{Error, Result};
pub use images::{archives, ImageArchives, BUSYBOX_IMAGE};
pub use layout::Layout;
pub use locate::{shim_binary, target_dir, SHIM_BINARY_ENV, SHIM_NAME};
pub use preflight::{missing_requirements, report_skip};
pub use teardown::down;
pub use versions::{
    containerd_binary, containerd_dir, containerd_major, containerd_version, ctr_binary,
    runsc_binary, runsc_platform, CONTAINERD_DIR_ENV, RUNSC_ENV, RUNSC_PLATFORM_ENV,
};
