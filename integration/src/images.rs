//! The two test images, built offline and cached by content:
//! `docker.io/library/busybox:local` (busybox-static plus one symlink per applet)
//! and `localhost/pause:local` (a static C pause binary, the CRI sandbox image).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::json;

use crate::command;
use crate::config::PAUSE_IMAGE;
use crate::error::{Context, Error, Result};
use crate::layout::hex_sha256;
use crate::locate::target_dir;
use crate::oci::{image_archive, layer, oci_arch, Entry, ImageSpec};

/// Reference of the busybox image.
pub const BUSYBOX_IMAGE: &str = "docker.io/library/busybox:local";

/// Source of the pause binary, compiled with `cc -static`.
const PAUSE_C: &str = include_str!("../pause.c");

/// Bumped whenever the image content produced here changes.
const FORMAT: &str = "harness-images-v1";

/// Where the image archives of one build are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageArchives {
    /// OCI archive of [`BUSYBOX_IMAGE`].
    pub busybox: PathBuf,
    /// OCI archive of the pause image (`localhost/pause:local`).
    pub pause: PathBuf,
}

/// Returns the image archives, building them on first use. They are cached under
/// `<target dir>/harness-images/<content key>/`, so a test run builds them once and
/// later runs reuse them until busybox or the pause source changes.
pub fn archives() -> Result<ImageArchives> {
    static CACHE: OnceLock<Result<ImageArchives>> = OnceLock::new();
    CACHE
        .get_or_init(|| build_cached(&target_dir().join("harness-images")))
        .clone()
}

fn build_cached(cache_root: &Path) -> Result<ImageArchives> {
    let busybox_bin = busybox_binary()?;
    let busybox = fs::read(&busybox_bin).context(format!("reading {}", busybox_bin.display()))?;
    let key_input = [
        FORMAT.as_bytes(),
        oci_arch().as_bytes(),
        PAUSE_C.as_bytes(),
        &busybox,
    ]
    .concat();
    let dir = cache_root.join(&hex_sha256(&key_input)[..16]);
    let archives = ImageArchives {
        busybox: dir.join("busybox.oci.tar"),
        pause: dir.join("pause.oci.tar"),
    };
    if archives.busybox.exists() && archives.pause.exists() {
        return Ok(archives);
    }
    fs::create_dir_all(&dir).context(format!("creating {}", dir.display()))?;
    let applets = busybox_applets(&busybox_bin)?;
    write_atomically(&archives.busybox, &busybox_image(busybox, &applets)?)?;
    write_atomically(&archives.pause, &pause_image(&compile_pause()?)?)?;
    Ok(archives)
}

/// busybox-static's binary: /bin/busybox, else the first `busybox` on PATH.
fn busybox_binary() -> Result<PathBuf> {
    let default = PathBuf::from("/bin/busybox");
    if default.exists() {
        return Ok(default);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("busybox"))
        .find(|p| p.exists())
        .ok_or_else(|| Error::msg("busybox not found (apt-get install busybox-static)"))
}

fn busybox_applets(busybox: &Path) -> Result<Vec<String>> {
    let mut cmd = Command::new(busybox);
    cmd.arg("--list");
    let out = command::run(cmd, Duration::from_secs(10))?;
    if !out.success() {
        return Err(Error::msg(format!("listing busybox applets failed: {out}")));
    }
    let mut applets: Vec<String> = out
        .stdout
        .split_whitespace()
        .filter(|a| *a != "busybox")
        .map(str::to_string)
        .collect();
    applets.sort();
    applets.dedup();
    Ok(applets)
}

fn busybox_image(busybox: Vec<u8>, applets: &[String]) -> Result<Vec<u8>> {
    let mut entries: Vec<Entry> = [
        "bin", "dev", "etc", "proc", "root", "run", "sbin", "sys", "usr", "usr/bin", "var",
    ]
    .iter()
    .map(|d| Entry::Dir(d.to_string(), 0o755))
    .collect();
    entries.push(Entry::Dir("tmp".into(), 0o1777));
    entries.push(Entry::File("bin/busybox".into(), 0o755, busybox));
    entries.extend(
        applets
            .iter()
            .map(|a| Entry::Symlink(format!("bin/{a}"), "busybox".into())),
    );
    entries.push(Entry::File(
        "etc/passwd".into(),
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
            .to_vec(),
    ));
    entries.push(Entry::File(
        "etc/group".into(),
        0o644,
        b"root:x:0:\nnogroup:x:65534:\n".to_vec(),
    ));
    let spec = ImageSpec {
        reference: BUSYBOX_IMAGE.into(),
        config: json!({"Cmd": ["sh"]}),
    };
    image_archive(&spec, layer(&entries)?)
}

fn pause_image(pause: &[u8]) -> Result<Vec<u8>> {
    let mut entries: Vec<Entry> = ["dev", "etc", "proc", "sys"]
        .iter()
        .map(|d| Entry::Dir(d.to_string(), 0o755))
        .collect();
    entries.push(Entry::File("pause".into(), 0o755, pause.to_vec()));
    let spec = ImageSpec {
        reference: PAUSE_IMAGE.into(),
        config: json!({"Entrypoint": ["/pause"]}),
    };
    image_archive(&spec, layer(&entries)?)
}

/// Compiles pause.c with `cc -static` and returns the binary.
fn compile_pause() -> Result<Vec<u8>> {
    let work = tempfile::tempdir().context("creating a temp dir for pause.c")?;
    let source = work.path().join("pause.c");
    let binary = work.path().join("pause");
    fs::write(&source, PAUSE_C).context("writing pause.c")?;
    let mut cmd = Command::new("cc");
    cmd.args(["-static", "-Os", "-s", "-o"])
        .arg(&binary)
        .arg(&source);
    let out = command::run(cmd, Duration::from_secs(120))?;
    if !out.success() {
        return Err(Error::msg(format!(
            "building the static pause binary failed (apt-get install gcc libc6-dev): {out}"
        )));
    }
    fs::read(&binary).context("reading the pause binary")
}

/// Writes via a unique temp file and rename, so concurrent builders never see a
/// partial archive.
fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp =
        tempfile::NamedTempFile::new_in(dir).context(format!("temp file in {}", dir.display()))?;
    fs::write(tmp.path(), data).context(format!("writing {}", tmp.path().display()))?;
    tmp.persist(path)
        .context(format!("renaming to {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_both_archives_once_per_content() {
        let cache = tempfile::tempdir().unwrap();
        let first = build_cached(cache.path()).unwrap();
        let modified = fs::metadata(&first.busybox).unwrap().modified().unwrap();
        let second = build_cached(cache.path()).unwrap();
        assert_eq!(first, second);
        assert_eq!(
            modified,
            fs::metadata(&second.busybox).unwrap().modified().unwrap()
        );
        assert!(fs::metadata(&first.pause).unwrap().len() > 1000);
    }
}
