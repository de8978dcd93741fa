//! The one error type of the core crate.

use std::path::PathBuf;

/// Everything that can go wrong before or during a simulation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is out of range or inconsistent; `key` names it as in the TOML file.
    #[error("config key `{key}`: {message}")]
    Config { key: String, message: String },
    /// The TOML text could not be parsed or has unknown keys.
    #[error("config {origin}: {message}")]
    Parse { origin: String, message: String },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A backend cannot run here (not compiled in, no device, not enough memory...).
    #[error("{backend} backend unavailable: {message}")]
    Unavailable { backend: String, message: String },
    /// A state handed to a backend does not fit its model (a checkpoint of another network...).
    #[error("state does not fit the model: {0}")]
    State(String),
    /// A run does not fit in the memory this process may use ([`crate::memory`]).
    #[error("not enough memory: {message}")]
    Memory { message: String },
    /// A backend failed while running.
    #[error("{backend} backend failed: {message}")]
    Backend { backend: String, message: String },
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
