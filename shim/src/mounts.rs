//! The container's root filesystem: the mounts containerd passes at Create
//! go onto `<bundle>/rootfs`, and come off at Delete (or in the `delete`
//! action after a crash).

use std::path::{Path, PathBuf};

use containerd_shim::{
    asynchronous::util::{asyncify, mount_rootfs},
    mount::umount_recursive,
    protos::types::mount::Mount,
};

use crate::error::{Error, Result};

/// `<bundle>/rootfs`.
pub fn rootfs_dir(bundle: &Path) -> PathBuf {
    bundle.join("rootfs")
}

/// Mounts every entry of `mounts` on `<bundle>/rootfs`; on failure nothing
/// stays mounted.
pub async fn mount_all(bundle: &Path, mounts: &[Mount]) -> Result<()> {
    if mounts.is_empty() {
        return Ok(());
    }
    let target = rootfs_dir(bundle);
    tokio::fs::create_dir_all(&target)
        .await
        .map_err(|e| Error::io(format!("creating {}", target.display()), e))?;
    for m in mounts {
        if let Err(e) = mount_rootfs(m, &target).await {
            let _ = unmount_all(bundle).await;
            return Err(Error::Other(format!(
                "mounting {} {:?} on {}: {e}",
                m.type_,
                m.source,
                target.display()
            )));
        }
    }
    Ok(())
}

/// Unmounts everything at or below `<bundle>/rootfs`.
pub async fn unmount_all(bundle: &Path) -> Result<()> {
    let target = rootfs_dir(bundle).to_string_lossy().into_owned();
    asyncify(move || umount_recursive(Some(&target), 0))
        .await
        .map_err(|e| Error::Other(format!("unmounting rootfs: {e}")))
}
