//! The error type of user functions.

use std::fmt;

/// Why a function could not handle a record, or could not start.
///
/// Returning an error for one record sends that record to the operator's error policy
/// (its dead-letter output, or a job failure); the function goes on with the next record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

/// The result type of user functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with this message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
        }
    }

    /// The message, as the dead-letter output and the job log show it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// This error with `context` in front of its message.
    pub fn context(self, context: impl fmt::Display) -> Self {
        Self {
            message: format!("{context}: {}", self.message),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Self::msg(format_args!("invalid JSON: {e}"))
    }
}

impl From<std::str::Utf8Error> for Error {
    fn from(e: std::str::Utf8Error) -> Self {
        Self::msg(format_args!("invalid UTF-8: {e}"))
    }
}

impl From<crate::state::StateError> for Error {
    fn from(e: crate::state::StateError) -> Self {
        Self::msg(format_args!("state: {e}"))
    }
}

impl From<crate::broadcast::BroadcastError> for Error {
    fn from(e: crate::broadcast::BroadcastError) -> Self {
        Self::msg(format_args!("broadcast state: {e}"))
    }
}

/// Returns early from a function with an [`Error`] built like `format!`.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return ::core::result::Result::Err($crate::Error::msg(::core::format_args!($($arg)*)))
    };
}

/// Adds context to errors, like `anyhow::Context`.
pub trait Context<T> {
    /// Prefixes the error with `context`.
    fn context(self, context: impl fmt::Display) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error::msg(format_args!("{context}: {e}")))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, context: impl fmt::Display) -> Result<T> {
        self.ok_or_else(|| Error::msg(context))
    }
}
