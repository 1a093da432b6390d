//! Terminals with a pty of gVisor's own. runsc hands a terminal process the
//! host pty as a plain host file descriptor: `test -t 0` and `stty` work,
//! but `/proc/self/fd/0` is `host:[1]`, so `tty` prints "not a tty" and
//! `screen` cannot start. With `tty_relay = true` the shim bind-mounts
//! the terminal relay (`shim/tty-relay/relay.rs`, built statically by
//! `build.rs`) into every container, read-only at [`RELAY_IN_CONTAINER`],
//! and starts terminal processes (init and execs) as
//! `RELAY -- <args>`: the relay opens a `/dev/pts/N` in the sandbox, runs
//! the process on it and copies to and from the host pty. Every container
//! gets the mount so that a later `exec -t` finds it. Off by default: runsc
//! 20221219 cannot make that pty a controlling terminal (^C reaches nobody).

use std::{
    fs,
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// Where the relay appears inside containers (on gVisor's own /dev).
pub const RELAY_IN_CONTAINER: &str = "/dev/.runsc-tty-relay";

/// The relay program, built by `build.rs`.
const RELAY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tty-relay"));

/// Writes the relay into `dir` (the runsc state root) unless this build's
/// copy is there; returns its path. Concurrent shims write their own
/// temporary file and rename it into place.
pub fn install(dir: &Path) -> Result<PathBuf> {
    let path = dir.join(format!("tty-relay-{}", env!("TTY_RELAY_HASH")));
    if fs::metadata(&path).is_ok_and(|m| m.len() == RELAY.len() as u64) {
        return Ok(path);
    }
    let failed = |e| {
        Error::io(
            format!("installing the terminal relay {}", path.display()),
            e,
        )
    };
    fs::create_dir_all(dir).map_err(failed)?;
    let tmp = dir.join(format!(".tty-relay.{}", std::process::id()));
    let written = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o555)
        .open(&tmp)
        .and_then(|mut f| f.write_all(RELAY))
        .and_then(|()| fs::set_permissions(&tmp, fs::Permissions::from_mode(0o555)))
        .and_then(|()| fs::rename(&tmp, &path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(failed(e));
    }
    Ok(path)
}

/// Edits a container's `config.json`: mounts the relay at `host` into it
/// and, if its process has a terminal, starts that through the relay.
/// Returns whether the spec changed.
pub fn apply(spec: &mut Value, host: &Path) -> bool {
    let Some(root) = spec.as_object_mut() else {
        return false;
    };
    let mounts = root.entry("mounts").or_insert_with(|| json!([]));
    let Some(list) = mounts.as_array_mut() else {
        return false;
    };
    if list
        .iter()
        .any(|m| m.get("destination").and_then(Value::as_str) == Some(RELAY_IN_CONTAINER))
    {
        return false;
    }
    list.push(json!({
        "destination": RELAY_IN_CONTAINER,
        "type": "bind",
        "source": host.to_string_lossy(),
        "options": ["bind", "ro"],
    }));
    if let Some(process) = root.get_mut("process") {
        wrap(process);
    }
    true
}

/// Starts an exec's process spec (JSON) through the relay if it has a
/// terminal; other specs come back unchanged.
pub fn wrap_exec_spec(spec: &[u8]) -> Result<Vec<u8>> {
    let mut process: Value = serde_json::from_slice(spec)
        .map_err(|e| Error::InvalidArgument(format!("invalid exec process spec: {e}")))?;
    if !wrap(&mut process) {
        return Ok(spec.to_vec());
    }
    serde_json::to_vec(&process).map_err(|e| Error::Other(format!("encoding the exec spec: {e}")))
}

/// Prefixes a terminal process's args with the relay; returns whether it
/// did.
fn wrap(process: &mut Value) -> bool {
    if process.get("terminal").and_then(Value::as_bool) != Some(true) {
        return false;
    }
    let Some(args) = process.get_mut("args").and_then(Value::as_array_mut) else {
        return false;
    };
    if args.is_empty() || args[0].as_str() == Some(RELAY_IN_CONTAINER) {
        return false;
    }
    args.splice(0..0, [json!(RELAY_IN_CONTAINER), json!("--")]);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_init_runs_through_the_mounted_relay() {
        let mut spec = json!({
            "process": {"terminal": true, "args": ["sh", "-c", "tty"]},
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        });
        assert!(apply(&mut spec, Path::new("/run/r/tty-relay-1")));
        assert_eq!(
            spec["process"]["args"],
            json!([RELAY_IN_CONTAINER, "--", "sh", "-c", "tty"])
        );
        let mounts = spec["mounts"].as_array().unwrap();
        assert_eq!(mounts.len(), 2);
        assert_eq!(mounts[1]["source"], "/run/r/tty-relay-1");
        assert_eq!(mounts[1]["options"], json!(["bind", "ro"]));
        // A second pass (a restarted create) changes nothing.
        assert!(!apply(&mut spec, Path::new("/run/r/tty-relay-1")));
        assert_eq!(spec["process"]["args"].as_array().unwrap().len(), 5);
    }

    #[test]
    fn other_containers_only_get_the_mount() {
        let mut spec = json!({"process": {"args": ["sleep", "1"]}});
        assert!(apply(&mut spec, Path::new("/r")));
        assert_eq!(spec["process"]["args"], json!(["sleep", "1"]));
        assert_eq!(spec["mounts"][0]["destination"], RELAY_IN_CONTAINER);
    }

    #[test]
    fn exec_specs_are_wrapped_only_with_a_terminal() {
        let tty = br#"{"terminal":true,"args":["sh"],"cwd":"/"}"#;
        let wrapped: Value = serde_json::from_slice(&wrap_exec_spec(tty).unwrap()).unwrap();
        assert_eq!(wrapped["args"], json!([RELAY_IN_CONTAINER, "--", "sh"]));
        assert_eq!(wrapped["cwd"], "/");
        let plain = br#"{"args":["true"]}"#;
        assert_eq!(wrap_exec_spec(plain).unwrap(), plain.to_vec());
        assert!(wrap_exec_spec(b"{").is_err());
    }

    #[test]
    fn install_writes_one_executable_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = install(&dir.path().join("root")).unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), RELAY.len() as u64);
        assert_eq!(meta.permissions().mode() & 0o777, 0o555);
        assert_eq!(install(&dir.path().join("root")).unwrap(), path);
        assert_eq!(fs::read_dir(dir.path().join("root")).unwrap().count(), 1);
    }
}
