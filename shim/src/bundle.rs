//! The bundle's `config.json`, read once per Create in one go and edited as
//! JSON before runsc reads it, so that fields the shim does not know stay as
//! containerd wrote them.

use std::{collections::HashMap, fs, path::Path};

use serde_json::Value;

use crate::error::{Error, Result};

/// Reads `<bundle>/config.json`.
pub fn read_spec(bundle: &Path) -> Result<Value> {
    let path = bundle.join("config.json");
    let bytes = fs::read(&path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let spec: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::InvalidArgument(format!("invalid OCI spec {}: {e}", path.display())))?;
    if !spec.is_object() {
        return Err(Error::InvalidArgument(format!(
            "invalid OCI spec {}: not a JSON object",
            path.display()
        )));
    }
    Ok(spec)
}

/// Writes `spec` to `<bundle>/config.json`.
pub fn write_spec(bundle: &Path, spec: &Value) -> Result<()> {
    let path = bundle.join("config.json");
    let out = serde_json::to_vec(spec)
        .map_err(|e| Error::Other(format!("encoding {}: {e}", path.display())))?;
    fs::write(&path, out).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// The spec's string annotations (none when it has no `annotations`).
pub fn annotations(spec: &Value) -> HashMap<String, String> {
    spec.get("annotations")
        .and_then(Value::as_object)
        .map(|a| {
            a.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A process spec's `consoleSize`, as (height, width).
pub fn console_size(process: &Value) -> Option<(u16, u16)> {
    let size = process.get("consoleSize")?;
    let dim = |k: &str| size.get(k)?.as_u64().and_then(|n| u16::try_from(n).ok());
    Some((dim("height")?, dim("width")?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_survive_a_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        fs::write(&path, r#"{"ociVersion": "1.0.2", "x-unknown": {"a": 1}}"#).unwrap();
        let mut spec = read_spec(dir.path()).unwrap();
        spec["hostname"] = "h".into();
        write_spec(dir.path(), &spec).unwrap();
        let v: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["hostname"], "h");
        assert_eq!(v["x-unknown"]["a"], 1);
    }

    #[test]
    fn bad_specs_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_spec(dir.path()).unwrap_err().to_string();
        assert!(err.contains("config.json"), "{err}");
        for text in ["{", "[1]"] {
            fs::write(dir.path().join("config.json"), text).unwrap();
            let err = read_spec(dir.path()).unwrap_err().to_string();
            assert!(err.contains("invalid OCI spec"), "{text}: {err}");
        }
    }

    #[test]
    fn annotations_and_console_size() {
        let spec = json!({
            "annotations": {"a": "1", "n": 2},
            "process": {"consoleSize": {"height": 30, "width": 100}},
        });
        assert_eq!(
            annotations(&spec),
            HashMap::from([("a".into(), "1".into())])
        );
        assert!(annotations(&json!({})).is_empty());
        assert_eq!(console_size(&spec["process"]), Some((30, 100)));
        assert_eq!(console_size(&json!({})), None);
        assert_eq!(
            console_size(&json!({"consoleSize": {"height": 70000, "width": 1}})),
            None
        );
    }
}
