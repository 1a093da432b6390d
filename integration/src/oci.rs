//! Writing single-layer OCI image archives that `ctr images import` accepts, with
//! deterministic content (fixed owners and mtimes) so equal inputs give equal digests.

use serde_json::{json, Value};

use crate::error::{Context, Result};
use crate::layout::hex_sha256;

/// One entry of an image layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A directory with the given mode.
    Dir(String, u32),
    /// A regular file with the given mode and content.
    File(String, u32, Vec<u8>),
    /// A symbolic link to the given target.
    Symlink(String, String),
}

/// What goes into an image besides its layer.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSpec {
    /// The image name `ctr images import` registers (`io.containerd.image.name`).
    pub reference: String,
    /// Extra keys of the image config's `config` object (`Cmd`, `Entrypoint`, ...).
    pub config: Value,
}

/// Builds an uncompressed layer tarball from `entries`, owned by root, mtime 0.
pub fn layer(entries: &[Entry]) -> Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(0);
        let added = match entry {
            Entry::Dir(path, mode) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(*mode);
                tar.append_data(&mut header, path, std::io::empty())
            }
            Entry::File(path, mode, data) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(data.len() as u64);
                tar.append_data(&mut header, path, data.as_slice())
            }
            Entry::Symlink(path, target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                tar.append_link(&mut header, path, target)
            }
        };
        added.context(format!("adding {entry:?} to a layer"))?;
    }
    tar.into_inner().context("finishing a layer")
}

/// Builds an OCI image layout archive (oci-layout, index.json, blobs/sha256/*)
/// holding one image made of `layer`, for the machine's architecture.
pub fn image_archive(spec: &ImageSpec, layer: Vec<u8>) -> Result<Vec<u8>> {
    let arch = oci_arch();
    let mut blobs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add_blob = |data: Vec<u8>| {
        let digest = format!("sha256:{}", hex_sha256(&data));
        let size = data.len();
        blobs.push((digest.clone(), data));
        (digest, size)
    };

    let (layer_digest, layer_size) = add_blob(layer);
    let mut config = json!({
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    });
    if let (Some(base), Some(extra)) = (config.as_object_mut(), spec.config.as_object()) {
        base.extend(extra.clone());
    }
    let image_config = json!({
        "architecture": arch,
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created_by": "containerd-shim-runsc-v1 test harness"}],
    });
    let (config_digest, config_size) = add_blob(to_bytes(&image_config));
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer_digest,
            "size": layer_size,
        }],
    });
    let (manifest_digest, manifest_size) = add_blob(to_bytes(&manifest));
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "platform": {"architecture": arch, "os": "linux"},
            "annotations": {
                // ctr import names the image after this annotation, verbatim.
                "io.containerd.image.name": spec.reference,
                "org.opencontainers.image.ref.name": tag_of(&spec.reference),
            },
        }],
    });

    let mut files = vec![
        Entry::File(
            "oci-layout".into(),
            0o644,
            to_bytes(&json!({"imageLayoutVersion": "1.0.0"})),
        ),
        Entry::File("index.json".into(), 0o644, to_bytes(&index)),
        Entry::Dir("blobs".into(), 0o755),
        Entry::Dir("blobs/sha256".into(), 0o755),
    ];
    for (digest, data) in blobs {
        let hex = digest.trim_start_matches("sha256:");
        files.push(Entry::File(format!("blobs/sha256/{hex}"), 0o644, data));
    }
    self::layer(&files)
}

/// The OCI name of the machine's architecture.
pub fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The tag of an image reference (`latest` if it has none).
fn tag_of(reference: &str) -> &str {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    last.split_once(':').map_or("latest", |(_, tag)| tag)
}

fn to_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON values serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_tar(data: &[u8]) -> Vec<(String, tar::EntryType, Vec<u8>)> {
        let mut archive = tar::Archive::new(data);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().display().to_string();
                let kind = e.header().entry_type();
                let mut body = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut body).unwrap();
                (path, kind, body)
            })
            .collect()
    }

    #[test]
    fn tags() {
        assert_eq!(tag_of("docker.io/library/busybox:local"), "local");
        assert_eq!(tag_of("localhost:5000/x"), "latest");
    }

    #[test]
    fn archive_index_points_at_manifest_blob() {
        let layer = layer(&[
            Entry::Dir("bin".into(), 0o755),
            Entry::Symlink("bin/sh".into(), "busybox".into()),
        ])
        .unwrap();
        let spec = ImageSpec {
            reference: "example.org/x:t".into(),
            config: json!({"Cmd": ["sh"]}),
        };
        let archive = image_archive(&spec, layer).unwrap();
        let files = read_tar(&archive);
        let index: Value =
            serde_json::from_slice(&files.iter().find(|f| f.0 == "index.json").unwrap().2).unwrap();
        let m = &index["manifests"][0];
        assert_eq!(
            m["annotations"]["io.containerd.image.name"],
            "example.org/x:t"
        );
        let blob = format!(
            "blobs/sha256/{}",
            m["digest"].as_str().unwrap().trim_start_matches("sha256:")
        );
        let manifest = files.iter().find(|f| f.0 == blob).expect("manifest blob");
        assert_eq!(manifest.2.len() as u64, m["size"].as_u64().unwrap());
        assert_eq!(
            format!("sha256:{}", hex_sha256(&manifest.2)),
            m["digest"].as_str().unwrap()
        );
    }

    #[test]
    fn layers_are_deterministic_and_typed() {
        let entries = [
            Entry::Dir("tmp".into(), 0o1777),
            Entry::File(
                "etc/passwd".into(),
                0o644,
                b"root:x:0:0::/:/bin/sh\n".to_vec(),
            ),
            Entry::Symlink("bin/ls".into(), "busybox".into()),
        ];
        let a = layer(&entries).unwrap();
        assert_eq!(a, layer(&entries).unwrap());
        let kinds: Vec<_> = read_tar(&a).into_iter().map(|f| (f.0, f.1)).collect();
        assert_eq!(
            kinds,
            vec![
                ("tmp".to_string(), tar::EntryType::Directory),
                ("etc/passwd".to_string(), tar::EntryType::Regular),
                ("bin/ls".to_string(), tar::EntryType::Symlink),
            ]
        );
    }
}
