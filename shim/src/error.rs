//! The shim's error type and its mapping onto ttrpc status codes.

use containerd_shim::protos::ttrpc::{self, Code};

/// Everything a Task API call can fail with. The variant decides the ttrpc
/// code containerd sees; the message is what the user reads.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request or configuration value is malformed.
    #[error("{0}")]
    InvalidArgument(String),
    /// The container, exec or process does not exist (any more).
    #[error("{0}")]
    NotFound(String),
    /// An object with that id already exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// The object is in the wrong state for the call.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The call is not supported by this shim or by the runsc at hand.
    #[error("{0}")]
    Unimplemented(String),
    /// runsc failed; its own message is kept.
    #[error(transparent)]
    Runsc(#[from] runsc::Error),
    /// Anything else, with context.
    #[error("{0}")]
    Other(String),
}

/// Shorthand used throughout the shim.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps an I/O error with a description of what was being done.
    pub fn io(context: impl std::fmt::Display, err: std::io::Error) -> Self {
        Error::Other(format!("{context}: {err}"))
    }

    fn code(&self) -> Code {
        match self {
            Error::InvalidArgument(_) => Code::INVALID_ARGUMENT,
            Error::NotFound(_) => Code::NOT_FOUND,
            Error::AlreadyExists(_) => Code::ALREADY_EXISTS,
            Error::FailedPrecondition(_) => Code::FAILED_PRECONDITION,
            Error::Unimplemented(_) => Code::UNIMPLEMENTED,
            Error::Runsc(runsc::Error::Timeout { .. }) => Code::DEADLINE_EXCEEDED,
            Error::Runsc(_) | Error::Other(_) => Code::UNKNOWN,
        }
    }
}

impl From<Error> for ttrpc::Error {
    fn from(e: Error) -> Self {
        ttrpc::Error::RpcStatus(ttrpc::get_status(e.code(), e.to_string()))
    }
}

impl From<containerd_shim::Error> for Error {
    fn from(e: containerd_shim::Error) -> Self {
        Error::Other(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_variants() {
        let cases = [
            (Error::NotFound("x".into()), Code::NOT_FOUND),
            (Error::AlreadyExists("x".into()), Code::ALREADY_EXISTS),
            (
                Error::FailedPrecondition("x".into()),
                Code::FAILED_PRECONDITION,
            ),
            (Error::InvalidArgument("x".into()), Code::INVALID_ARGUMENT),
            (Error::Unimplemented("x".into()), Code::UNIMPLEMENTED),
            (Error::Other("x".into()), Code::UNKNOWN),
        ];
        for (err, code) in cases {
            match ttrpc::Error::from(err) {
                ttrpc::Error::RpcStatus(s) => {
                    assert_eq!(s.code(), code);
                    assert_eq!(s.message(), "x");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}
