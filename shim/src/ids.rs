//! Validation of the identifiers containerd hands over, so that none can
//! escape the directories the shim builds paths from.

use crate::error::{Error, Result};

/// containerd's own limit on identifier length.
const MAX_LEN: usize = 76;

/// Accepts containerd identifiers: alphanumerics separated by single `.`,
/// `_` or `-`, at most 76 characters. `what` names the value in the error.
pub fn validate(what: &str, id: &str) -> Result<()> {
    let bytes = id.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= MAX_LEN
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes.windows(2).all(|w| {
            let sep = |c: u8| matches!(c, b'.' | b'_' | b'-');
            !(sep(w[0]) && sep(w[1]))
        })
        && bytes
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "invalid {what} {id:?}: must be 1-{MAX_LEN} letters or digits, optionally separated by \
             single '.', '_' or '-'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_containerd_identifiers() {
        for id in ["a", "default", "k8s.io", "c-1_x.y", &"a".repeat(76)] {
            validate("id", id).unwrap();
        }
    }

    #[test]
    fn rejects_paths_and_odd_shapes() {
        for id in [
            "",
            "../x",
            "a/b",
            "..",
            ".a",
            "a.",
            "a..b",
            "a b",
            "a\0",
            &"a".repeat(77),
        ] {
            let err = validate("container id", id).unwrap_err().to_string();
            assert!(err.contains("invalid container id"), "{id:?}: {err}");
        }
    }
}
