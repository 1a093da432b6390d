//! What Create records in the bundle so that the `delete` action, run by
//! containerd after a shim died, can clean up with the same runsc options:
//! `runsc delete --force`, then unmount the rootfs.
//!
//! containerd also runs the `delete` action after every orderly task
//! delete (its "cleanup after shim disconnected"). The record is removed
//! once the shim deleted the runsc container itself, so that action then
//! costs no `runsc delete` (~20 ms on the path of every `ctr run --rm`).

use std::{
    os::unix::{
        fs::{FileTypeExt, OpenOptionsExt},
        net::UnixStream,
    },
    path::{Path, PathBuf},
    sync::Arc,
    time::SystemTime,
};

use containerd_shim::api::DeleteResponse;
use log::warn;
use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Result},
    mounts,
    spawner::ReaperSpawner,
    typeurl,
};

/// File in the bundle holding [`Saved`].
const STATE_FILE: &str = "runsc-shim.json";
/// Exit status reported for a container whose shim died (128 + SIGKILL).
const KILLED: u32 = 137;

/// runsc's global options, as saved in the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    binary: PathBuf,
    root: PathBuf,
    log: Option<PathBuf>,
    flags: Vec<(String, String)>,
}

impl From<&runsc::GlobalOptions> for Saved {
    fn from(o: &runsc::GlobalOptions) -> Self {
        Self {
            binary: o.binary.clone(),
            root: o.root.clone(),
            log: o.log.clone(),
            flags: o.flags.clone(),
        }
    }
}

impl From<Saved> for runsc::GlobalOptions {
    fn from(s: Saved) -> Self {
        Self {
            binary: s.binary,
            root: s.root,
            log: s.log,
            flags: s.flags,
        }
    }
}

/// Records the options of a container about to be created.
pub fn save(bundle: &Path, opts: &runsc::GlobalOptions) -> Result<()> {
    let json = serde_json::to_vec(&Saved::from(opts))
        .map_err(|e| Error::Other(format!("encoding shim state: {e}")))?;
    let err = |e| Error::io(format!("writing {STATE_FILE} in {}", bundle.display()), e);
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(bundle.join(STATE_FILE))
        .and_then(|mut f| std::io::Write::write_all(&mut f, &json))
        .map_err(err)
}

/// Drops the record once runsc no longer knows the container: nothing is
/// left for the `delete` action to ask runsc for.
pub fn forget(bundle: &Path) {
    match std::fs::remove_file(bundle.join(STATE_FILE)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => warn!("removing {STATE_FILE} in {}: {e}", bundle.display()),
    }
}

fn load(bundle: &Path) -> Option<runsc::GlobalOptions> {
    let data = std::fs::read(bundle.join(STATE_FILE)).ok()?;
    serde_json::from_slice::<Saved>(&data).ok().map(Into::into)
}

/// The `delete` action: removes what is left of container `id` whose
/// bundle is `bundle` and reports it killed.
pub async fn delete_action(id: &str, bundle: &Path) -> DeleteResponse {
    if let Some(opts) = load(bundle) {
        let runsc = runsc::Runsc::new(opts, Arc::new(ReaperSpawner));
        match runsc.delete(id, true).await {
            Ok(()) => {}
            Err(e) if e.is_gone() => {}
            Err(e) => warn!("cleanup of {id}: {e}"),
        }
        remove_state_root(&runsc.options().root);
    }
    if let Err(e) = mounts::unmount_all(bundle).await {
        warn!("cleanup of {id}: {e}");
    }
    remove_dead_socket(bundle);
    DeleteResponse {
        pid: 0,
        exit_status: KILLED,
        exited_at: Some(typeurl::timestamp(SystemTime::now())).into(),
        ..Default::default()
    }
}

/// Removes a pod's (or lone container's) runsc state root once runsc left
/// it empty.
pub fn remove_state_root(root: &Path) {
    match std::fs::remove_dir(root) {
        Ok(()) => {}
        // Other containers of the pod still have their state there.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::DirectoryNotEmpty
            ) => {}
        Err(e) => warn!("removing runsc state root {}: {e}", root.display()),
    }
}

/// Removes the socket named in `<bundle>/address` when no shim answers on
/// it any more (a shim killed by a signal cannot remove its own).
fn remove_dead_socket(bundle: &Path) {
    let Ok(address) = std::fs::read_to_string(bundle.join("address")) else {
        return;
    };
    let path = Path::new(address.trim().trim_start_matches("unix://"));
    let is_socket = path
        .metadata()
        .map(|m| m.file_type().is_socket())
        .unwrap_or(false);
    if is_socket && UnixStream::connect(path).is_err() {
        if let Err(e) = std::fs::remove_file(path) {
            warn!("removing dead shim socket {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_options_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let opts = runsc::GlobalOptions {
            binary: "/usr/bin/runsc".into(),
            root: "/run/containerd/runsc/default".into(),
            log: Some(dir.path().join("log.json")),
            flags: vec![("network".into(), "none".into())],
        };
        save(dir.path(), &opts).unwrap();
        assert_eq!(
            load(dir.path()).map(|o| Saved::from(&o)),
            Some(Saved::from(&opts))
        );
        assert_eq!(load(&dir.path().join("missing")), None);
        forget(dir.path());
        assert_eq!(load(dir.path()).map(|o| Saved::from(&o)), None);
        forget(dir.path());
    }

    #[test]
    fn dead_socket_is_removed_live_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("s");
        std::fs::write(
            dir.path().join("address"),
            format!("unix://{}", sock.display()),
        )
        .unwrap();
        let live = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        remove_dead_socket(dir.path());
        assert!(sock.exists(), "a serving socket stays");
        drop(live);
        remove_dead_socket(dir.path());
        assert!(!sock.exists(), "a dead socket goes");
    }
}
