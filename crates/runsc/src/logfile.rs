//! Reading runsc's own error messages back from its `--log` file.
//!
//! With `--log-format=json` runsc appends one JSON object per message, such as
//! `{"msg":"sandbox is not running","level":"error","time":"..."}`. runsc
//! 0.0~20221219 writes them back to back with no newline in between, so the
//! file is a stream of concatenated objects. The file is shared by every
//! invocation for a bundle, so only what one invocation appended is read.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// The end of a log file at some moment, to read what was appended later.
#[derive(Debug)]
pub(crate) struct LogCursor {
    path: PathBuf,
    offset: u64,
}

impl LogCursor {
    /// Remembers the current length of `path` (0 when it does not exist yet).
    pub(crate) async fn at_end(path: &Path) -> Self {
        let offset = tokio::fs::metadata(path).await.map_or(0, |m| m.len());
        Self {
            path: path.to_owned(),
            offset,
        }
    }

    /// The last error message appended since the cursor was taken. The log is
    /// only a diagnostic aid, so a file that cannot be read yields `None`. A
    /// file that shrank in the meantime is read from its start.
    pub(crate) async fn last_error(&self) -> Option<String> {
        let mut file = tokio::fs::File::open(&self.path).await.ok()?;
        let len = file.metadata().await.ok()?.len();
        let start = if len < self.offset { 0 } else { self.offset };
        file.seek(SeekFrom::Start(start)).await.ok()?;
        let mut appended = Vec::new();
        file.read_to_end(&mut appended).await.ok()?;
        last_error(&appended)
    }
}

/// One message of runsc's JSON log.
#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    msg: String,
    #[serde(default)]
    level: String,
}

/// The message of the last entry of level `error` or `fatal` in `log`, a
/// stream of JSON objects that may be concatenated or separated by
/// whitespace. Anything that is not such an object is skipped.
fn last_error(mut log: &[u8]) -> Option<String> {
    let mut last = None;
    loop {
        let mut entries = serde_json::Deserializer::from_slice(log).into_iter::<Entry>();
        match entries.next() {
            None => return last,
            Some(Ok(entry)) => {
                let level = entry.level.to_ascii_lowercase();
                if level == "error" || level == "fatal" {
                    last = Some(entry.msg.trim().to_owned());
                }
                log = &log[entries.byte_offset()..];
            }
            Some(Err(_)) => {
                // Resynchronise on the next object, if any.
                match log.iter().skip(1).position(|&b| b == b'{') {
                    Some(next) => log = &log[next + 1..],
                    None => return last,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two entries exactly as runsc 0.0~20221219 appended them.
    const RUNSC_LOG: &str = concat!(
        r#"{"msg":"sandbox is not running","level":"error","time":"2026-12-03T17:33:23.32695708Z"}"#,
        r#"{"msg":"waiting on container \"c1\": sandbox no longer running and its exit status is unavailable","level":"error","time":"2026-12-03T17:33:23.378887099Z"}"#,
    );

    #[test]
    fn takes_the_last_error_of_concatenated_entries() {
        assert_eq!(
            last_error(RUNSC_LOG.as_bytes()).as_deref(),
            Some("waiting on container \"c1\": sandbox no longer running and its exit status is unavailable")
        );
    }

    #[test]
    fn ignores_other_levels_and_accepts_newlines() {
        let log = concat!(
            r#"{"msg":"first","level":"error"}"#,
            "\n",
            r#"{"msg":"boom","level":"fatal"}"#,
            "\n",
            r#"{"msg":"just saying","level":"info"}"#,
            "\n",
        );
        assert_eq!(last_error(log.as_bytes()).as_deref(), Some("boom"));
        assert_eq!(last_error(br#"{"msg":"hello","level":"warning"}"#), None);
        assert_eq!(last_error(b""), None);
    }

    #[test]
    fn skips_garbage_between_entries() {
        let log = concat!(
            r#"{"msg":"old","level":"error"}"#,
            "not json at all [1,2] ",
            r#"{"msg":"cut"#,
            r#"{"msg":"new","level":"error"}"#,
            "trailing {",
        );
        assert_eq!(last_error(log.as_bytes()).as_deref(), Some("new"));
    }

    #[tokio::test]
    async fn reads_only_what_was_appended_after_the_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.json");

        let missing = LogCursor::at_end(&path).await;
        assert_eq!(missing.last_error().await, None);

        std::fs::write(&path, r#"{"msg":"earlier call","level":"error"}"#).unwrap();
        assert_eq!(missing.last_error().await.as_deref(), Some("earlier call"));

        let cursor = LogCursor::at_end(&path).await;
        assert_eq!(cursor.last_error().await, None);

        let mut log = std::fs::read_to_string(&path).unwrap();
        log.push_str(r#"{"msg":"this call","level":"error"}"#);
        std::fs::write(&path, &log).unwrap();
        assert_eq!(cursor.last_error().await.as_deref(), Some("this call"));

        std::fs::write(&path, r#"{"msg":"rotated","level":"error"}"#).unwrap();
        assert_eq!(cursor.last_error().await.as_deref(), Some("rotated"));
    }
}
