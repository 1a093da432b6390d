//! The harness's error type: a message that says what failed and why.

use std::fmt;

/// An error from the harness, carrying a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

/// Result alias used throughout the harness.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Creates an error from a message.
    pub fn msg(msg: impl Into<String>) -> Self {
        Error(msg.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Adds a description of what was being done to any displayable error.
pub trait Context<T> {
    /// Prefixes the error with `what` ("what: cause").
    fn context(self, what: impl fmt::Display) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error(format!("{what}: {e}")))
    }
}
