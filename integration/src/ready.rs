//! Waiting for a daemon the harness started to answer.

use std::process::ExitStatus;
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Polls every `interval` until `answers()` holds; fails once `exited()`
/// reports the daemon's exit or `timeout` passes, naming `what` and adding
/// `log_tail()` to the error.
pub(crate) fn wait_until_answering(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut answers: impl FnMut() -> Result<bool>,
    mut exited: impl FnMut() -> Option<ExitStatus>,
    log_tail: impl Fn() -> String,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if answers()? {
            return Ok(());
        }
        let exited = exited();
        if exited.is_some() || Instant::now() >= deadline {
            let why = exited.map_or(format!("did not answer within {timeout:?}"), |s| {
                format!("exited ({s})")
            });
            return Err(Error::msg(format!(
                "{what} {why}; log tail:\n{}",
                log_tail()
            )));
        }
        thread::sleep(interval);
    }
}
