//! The bundle's `config.json`, edited as JSON before runsc reads it, so
//! that fields the shim does not know stay as containerd wrote them.

use std::{fs, path::Path};

use serde_json::Value;

use crate::error::{Error, Result};

/// Reads `<bundle>/config.json`, lets `edit` change it and writes it back
/// if `edit` says it changed.
pub fn edit_spec(bundle: &Path, edit: impl FnOnce(&mut Value) -> Result<bool>) -> Result<()> {
    let path = bundle.join("config.json");
    let text = fs::read_to_string(&path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let mut spec: Value = serde_json::from_str(&text)
        .map_err(|e| Error::InvalidArgument(format!("invalid OCI spec {}: {e}", path.display())))?;
    if edit(&mut spec)? {
        let out = serde_json::to_vec(&spec)
            .map_err(|e| Error::Other(format!("encoding {}: {e}", path.display())))?;
        fs::write(&path, out).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_only_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        fs::write(&path, r#"{"ociVersion": "1.0.2", "x-unknown": {"a": 1}}"#).unwrap();
        edit_spec(dir.path(), |_| Ok(false)).unwrap();
        assert!(fs::read_to_string(&path)
            .unwrap()
            .contains(r#""ociVersion": "1.0.2""#));
        edit_spec(dir.path(), |s| {
            s["hostname"] = "h".into();
            Ok(true)
        })
        .unwrap();
        let v: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["hostname"], "h");
        assert_eq!(v["x-unknown"]["a"], 1);
        fs::write(&path, "{").unwrap();
        let err = edit_spec(dir.path(), |_| Ok(false))
            .unwrap_err()
            .to_string();
        assert!(err.contains("config.json"), "{err}");
    }
}
