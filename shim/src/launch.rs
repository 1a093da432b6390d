//! The `start` action: start the shim daemon for a container (or find the
//! one already serving its group) and return its socket address. containerd
//! reads everything `start` prints as the address, so nothing else may be
//! printed.

use std::{
    env,
    io::Read,
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::Path,
    process::{Command, Stdio},
};

use containerd_shim::{
    asynchronous::util::write_str_to_file, protos::shim_async::Client, socket_address, StartOpts,
};

use crate::error::{Error, Result};

/// Highest oom_score_adj value.
const OOM_SCORE_ADJ_MAX: i64 = 1000;

/// Returns the address of the daemon serving `group` (a pod), starting one
/// for `opts` if none answers yet.
pub async fn start(opts: StartOpts, group: &str) -> Result<String> {
    let address = socket_address(&opts.address, &opts.namespace, group);
    if Client::connect(&address).await.is_ok() {
        write_str_to_file(Path::new("address"), &address).await?;
        return Ok(address);
    }
    let exe = env::current_exe().map_err(|e| Error::io("locating the shim binary", e))?;
    let mut cmd = Command::new(exe);
    cmd.args(["-namespace", &opts.namespace, "-id", &opts.id])
        .args(["-address", &opts.address, "-socket", &address])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0);
    if opts.debug {
        cmd.arg("-debug");
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::io("starting the shim daemon", e))?;
    adjust_oom_score(child.id());
    // The daemon closes its stdout once it serves (or found the group's
    // daemon already serving); wait for that.
    let mut stdout = child.stdout.take().expect("piped stdout");
    let waited = tokio::task::spawn_blocking(move || {
        let mut sink = Vec::new();
        stdout.read_to_end(&mut sink)
    })
    .await;
    if !matches!(waited, Ok(Ok(_))) {
        return Err(Error::Other("waiting for the shim daemon failed".into()));
    }
    if Client::connect(&address).await.is_err() {
        let status = child.try_wait().ok().flatten();
        return Err(Error::Other(format!(
            "the shim daemon did not come up on {address} (exit: {status:?}); see containerd's \
             log for the shim's own messages"
        )));
    }
    // Only root (containerd) may talk to the shim.
    let path = address.trim_start_matches("unix://");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io(format!("restricting {path}"), e))?;
    write_str_to_file(Path::new("address"), &address).await?;
    Ok(address)
}

/// Puts the daemon just above the `start` process (containerd's score + 1)
/// so that the OOM killer picks the shim before containerd. Lowering needs
/// CAP_SYS_RESOURCE, raising does not; failures are ignored.
fn adjust_oom_score(pid: u32) {
    let own = std::fs::read_to_string("/proc/self/oom_score_adj")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok());
    if let Some(score) = own.filter(|s| *s < OOM_SCORE_ADJ_MAX) {
        let _ = std::fs::write(
            format!("/proc/{pid}/oom_score_adj"),
            (score + 1).to_string(),
        );
    }
}
