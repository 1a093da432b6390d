//! The shim's own log: logfmt lines to containerd's `log` fifo in the bundle
//! (containerd copies them into its log), plus an optional file named by
//! `log_path` in runsc.toml.

use std::{
    fs::{File, OpenOptions},
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::Path,
    sync::{Mutex, OnceLock},
};

use log::{LevelFilter, Log, Metadata, Record};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

struct ShimLogger {
    sinks: Mutex<Vec<File>>,
}

static LOGGER: OnceLock<ShimLogger> = OnceLock::new();

impl Log for ShimLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format_line(record);
        let mut sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        for sink in sinks.iter_mut() {
            // A full or closed fifo must never stall or kill the shim.
            let _ = sink.write_all(line.as_bytes());
        }
    }

    fn flush(&self) {}
}

fn format_line(record: &Record) -> String {
    let now = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default();
    let msg = record
        .args()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    format!(
        "time=\"{now}\" level={} msg=\"{msg}\" runtime=io.containerd.runsc.v1\n",
        record.level().as_str().to_lowercase()
    )
}

/// Installs the logger. It writes to the `log` fifo in the working directory
/// (the bundle) when containerd provides one, else to stderr.
pub fn init(debug: bool) {
    let sink = OpenOptions::new()
        .write(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open("log")
        .or_else(|_| std::fs::File::options().write(true).open("/dev/stderr"));
    let logger = LOGGER.get_or_init(|| ShimLogger {
        sinks: Mutex::new(sink.into_iter().collect()),
    });
    if log::set_logger(logger).is_ok() {
        log::set_max_level(if debug {
            LevelFilter::Debug
        } else {
            LevelFilter::Info
        });
    }
}

/// Applies `log_level` from runsc.toml.
pub fn set_level(level: LevelFilter) {
    log::set_max_level(level);
}

/// Adds a file that receives a copy of every line (runsc.toml `log_path`).
pub fn add_file(path: &Path) -> std::io::Result<()> {
    let Some(logger) = LOGGER.get() else {
        return Ok(());
    };
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)?;
    logger
        .sinks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(file);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_logfmt_with_escaped_message() {
        let line = format_line(
            &Record::builder()
                .level(log::Level::Warn)
                .args(format_args!("say \"hi\""))
                .build(),
        );
        assert!(line.starts_with("time=\""), "{line}");
        assert!(
            line.ends_with(" level=warn msg=\"say \\\"hi\\\"\" runtime=io.containerd.runsc.v1\n"),
            "{line}"
        );
    }
}
