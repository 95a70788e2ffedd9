//! Logging into the host's `tracing` output, inside the host's span for the run and the person.
//!
//! Never log a credential, and no personal field that is not needed to diagnose.

use crate::host::{self, Level};

/// Logs at debug level.
pub fn debug(message: &str) {
    host::log(Level::Debug, message)
}

/// Logs at info level.
pub fn info(message: &str) {
    host::log(Level::Info, message)
}

/// Logs at warn level.
pub fn warn(message: &str) {
    host::log(Level::Warn, message)
}

/// Logs at error level.
pub fn error(message: &str) {
    host::log(Level::Error, message)
}
