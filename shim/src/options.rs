//! Decoding of the runtime options containerd hands to the shim.
//!
//! CRI sends a protobuf `Any` holding `runtimeoptions.v1.Options`
//! (`type_url` = 1, `config_path` = 2, `config_body` = 3 on newer
//! containerd); `ctr --runtime-config-path` sends the same message with an
//! empty inner `type_url`. No options at all is also valid.

use containerd_shim::protos::protobuf::{
    rt::skip_field_for_tag, well_known_types::any::Any, CodedInputStream,
};

use crate::error::{Error, Result};

/// The value CRI configs put in `TypeUrl` for this runtime.
pub const RUNSC_OPTIONS_TYPE: &str = "io.containerd.runsc.v1.options";

/// Message names accepted as the `Any`'s type (containerd ≥1.5 and ≤1.4).
const ACCEPTED_TYPES: [&str; 2] = ["runtimeoptions.v1.Options", "cri.runtimeoptions.v1.Options"];

/// The decoded `runtimeoptions.v1.Options`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RuntimeOptions {
    /// Inner type tag: empty (ctr) or [`RUNSC_OPTIONS_TYPE`] (CRI).
    pub type_url: String,
    /// Path of the runsc.toml to read.
    pub config_path: String,
    /// Inline TOML, used instead of `config_path` when present.
    pub config_body: Vec<u8>,
}

/// Decodes the options `Any`. `Ok(None)` means no options were sent.
pub fn decode(any: Option<&Any>) -> Result<Option<RuntimeOptions>> {
    let Some(any) = any else { return Ok(None) };
    if any.type_url.is_empty() && any.value.is_empty() {
        return Ok(None);
    }
    let name = any.type_url.rsplit('/').next().unwrap_or_default();
    if !ACCEPTED_TYPES.contains(&name) {
        return Err(Error::InvalidArgument(format!(
            "unsupported runtime options type {:?}: io.containerd.runsc.v1 accepts \
             runtimeoptions.v1.Options (TypeUrl and ConfigPath in the CRI runtime's options, \
             or ctr --runtime-config-path)",
            any.type_url
        )));
    }
    let opts = parse_fields(&any.value)
        .map_err(|e| Error::InvalidArgument(format!("malformed runtimeoptions.v1.Options: {e}")))?;
    if !opts.type_url.is_empty() && opts.type_url != RUNSC_OPTIONS_TYPE {
        return Err(Error::InvalidArgument(format!(
            "runtime options TypeUrl is {:?}; io.containerd.runsc.v1 expects {:?} (or none)",
            opts.type_url, RUNSC_OPTIONS_TYPE
        )));
    }
    Ok(Some(opts))
}

fn parse_fields(bytes: &[u8]) -> std::result::Result<RuntimeOptions, String> {
    let mut input = CodedInputStream::from_bytes(bytes);
    let mut opts = RuntimeOptions::default();
    while !input.eof().map_err(|e| e.to_string())? {
        let tag = input.read_raw_tag_or_eof().map_err(|e| e.to_string())?;
        let Some(tag) = tag else { break };
        let (field, wire_type) = (tag >> 3, tag & 7);
        match (field, wire_type) {
            (1, 2) => opts.type_url = input.read_string().map_err(|e| e.to_string())?,
            (2, 2) => opts.config_path = input.read_string().map_err(|e| e.to_string())?,
            (3, 2) => opts.config_body = input.read_bytes().map_err(|e| e.to_string())?,
            _ => skip_field_for_tag(tag, &mut input).map_err(|e| e.to_string())?,
        }
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(out: &mut Vec<u8>, num: u8, value: &[u8]) {
        out.push((num << 3) | 2);
        out.push(value.len() as u8);
        out.extend_from_slice(value);
    }

    fn any(type_url: &str, value: Vec<u8>) -> Any {
        Any {
            type_url: type_url.into(),
            value,
            ..Default::default()
        }
    }

    #[test]
    fn none_and_empty_any_mean_no_options() {
        assert_eq!(decode(None).unwrap(), None);
        assert_eq!(decode(Some(&Any::default())).unwrap(), None);
    }

    #[test]
    fn cri_options_with_type_url() {
        let mut v = Vec::new();
        field(&mut v, 1, RUNSC_OPTIONS_TYPE.as_bytes());
        field(&mut v, 2, b"/etc/containerd/runsc.toml");
        let got = decode(Some(&any("runtimeoptions.v1.Options", v)))
            .unwrap()
            .unwrap();
        assert_eq!(got.type_url, RUNSC_OPTIONS_TYPE);
        assert_eq!(got.config_path, "/etc/containerd/runsc.toml");
    }

    #[test]
    fn ctr_options_without_type_url_and_with_prefix() {
        let mut v = Vec::new();
        field(&mut v, 2, b"/tmp/r.toml");
        let got = decode(Some(&any(
            "type.googleapis.com/runtimeoptions.v1.Options",
            v,
        )))
        .unwrap()
        .unwrap();
        assert_eq!(got.type_url, "");
        assert_eq!(got.config_path, "/tmp/r.toml");
    }

    #[test]
    fn config_body_and_unknown_fields() {
        let mut v = Vec::new();
        field(&mut v, 3, b"log_level = \"debug\"");
        v.extend_from_slice(&[(9 << 3), 42]); // unknown varint field 9
        let got = decode(Some(&any("cri.runtimeoptions.v1.Options", v)))
            .unwrap()
            .unwrap();
        assert_eq!(got.config_body, b"log_level = \"debug\"");
    }

    #[test]
    fn unknown_any_type_is_rejected_with_its_name() {
        let err = decode(Some(&any("containerd.runc.v1.Options", vec![8, 1]))).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)));
        assert!(
            err.to_string().contains("containerd.runc.v1.Options"),
            "{err}"
        );
    }

    #[test]
    fn wrong_inner_type_url_is_rejected() {
        let mut v = Vec::new();
        field(&mut v, 1, b"io.containerd.kata.v2");
        let err = decode(Some(&any("runtimeoptions.v1.Options", v))).unwrap_err();
        assert!(err.to_string().contains("io.containerd.kata.v2"), "{err}");
    }

    #[test]
    fn truncated_message_is_rejected() {
        let err = decode(Some(&any(
            "runtimeoptions.v1.Options",
            vec![0x12, 10, b'a'],
        )))
        .unwrap_err();
        assert!(err.to_string().contains("malformed"), "{err}");
    }
}
