//! The one error type of the core crate.

use std::path::PathBuf;

/// Everything that can go wrong before or during a simulation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is out of range or inconsistent; `key` names it as in the TOML file.
    #[error("config key `{key}`: {message}")]
    Config {
        /// The dotted key, `synapse.delay`.
        key: String,
        /// What is wrong with its value, and what would be accepted.
        message: String,
    },
    /// The TOML text could not be parsed or has unknown keys.
    #[error("config {origin}: {message}")]
    Parse {
        /// Where the text came from: a file's path, or `text`.
        origin: String,
        /// The parser's message, led by the offending key where there is one (clipped).
        message: String,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error (or invalid UTF-8, as `InvalidData`).
        #[source]
        source: std::io::Error,
    },
    /// A backend cannot run here (not compiled in, no device, not enough memory...).
    #[error("{backend} backend unavailable: {message}")]
    Unavailable {
        /// The registry's name of the backend: `opencl`, `mpi`.
        backend: String,
        /// Why, and where possible what would make it available.
        message: String,
    },
    /// A state handed to a backend does not fit its model (a checkpoint of another network...).
    #[error("state does not fit the model: {0}")]
    State(String),
    /// A run does not fit in the memory this process may use ([`crate::memory`]).
    #[error("not enough memory: {message}")]
    Memory {
        /// What needed the memory, how much, and what would need less.
        message: String,
    },
    /// A backend failed while running.
    #[error("{backend} backend failed: {message}")]
    Backend {
        /// The registry's name of the backend.
        backend: String,
        /// What was being done, and the device's or library's error.
        message: String,
    },
}

impl Error {
    /// Shorthand for [`Error::Config`].
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
