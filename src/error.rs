//! The library's error type. Messages name the file, record or setting at fault and the fix.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable wgpu adapter for `--device wgpu` (or a hardware-only request).
    #[error(
        "no usable GPU adapter: {detail}.\n\
         fix: install a Vulkan driver (Debian/Ubuntu: `apt-get install mesa-vulkan-drivers` gives the \
         lavapipe software adapter), or run with `--device cpu` (the native CPU path, faster than a \
         software adapter)"
    )]
    NoAdapter { detail: String },

    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },

    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },

    #[error("invalid {what}: {message}")]
    Invalid { what: String, message: String },
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub fn invalid(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid { what: what.into(), message: message.into() }
    }

    /// Whether the error comes from the user's input or setup (exit code 2) rather than a failed run.
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::NoAdapter { .. } | Error::Invalid { .. } | Error::File { .. })
    }
}
