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

    // ---- data: dataset sources, long-tail splits, samplers, augmentation (src/data/) ----
    /// One record of a dataset file is bad: a truncated record, a label outside the class range,
    /// a list entry whose image is missing or unreadable. `location` is "line 17", "record 3",
    /// "image id 42" and so on.
    #[error("{path}: {location}: {message}\n  fix: {fix}")]
    DataRecord { path: PathBuf, location: String, message: String, fix: String },

    /// A dataset file or folder as a whole is missing or malformed (bad magic number, wrong size,
    /// no images, an empty class).
    #[error("{path}: {message}\n  fix: {fix}")]
    DataFile { path: PathBuf, message: String, fix: String },

    /// Two results, or a lock file and a dataset, come from different long-tail splits.
    #[error("long-tail split mismatch: {message}\n  fix: {fix}")]
    SplitMismatch { message: String, fix: String },

    // ---- pipeline files: parsing, lowering, graph checks (src/spec/, src/plan/) ----
    /// A pipeline file is malformed or inconsistent: where (file:line:column, the key path),
    /// what, the line itself and the fix. Boxed to keep `Result`s small.
    #[error("{0}")]
    Spec(Box<crate::spec::diagnostic::Diagnostic>),

    // ---- running: the stage store, run state (src/store/layout.rs, src/runner/) ----
    /// The store under `.ssdlt/` cannot be used as needed (a missing input output, a reserved
    /// file name, an unwritable folder).
    #[error("{path}: {message}\n  fix: {fix}")]
    Store { path: PathBuf, message: String, fix: String },

    /// A stage failed while running; `error` says how (shown in this message, so it is not
    /// also chained as a source).
    #[error("stage `{stage}` ({fingerprint}) failed: {error}")]
    Stage { stage: String, fingerprint: String, error: Box<Error> },
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
        matches!(
            self,
            Error::NoAdapter { .. }
                | Error::Invalid { .. }
                | Error::File { .. }
                | Error::DataRecord { .. }
                | Error::DataFile { .. }
                | Error::SplitMismatch { .. }
                | Error::Spec(_)
        ) || matches!(self, Error::Stage { error, .. } if error.is_usage())
    }

    /// A bad record of a dataset file (data section).
    pub fn data_record(
        path: impl Into<PathBuf>,
        location: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Error::DataRecord { path: path.into(), location: location.into(), message: message.into(), fix: fix.into() }
    }

    /// A bad dataset file or folder (data section).
    pub fn data_file(path: impl Into<PathBuf>, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Error::DataFile { path: path.into(), message: message.into(), fix: fix.into() }
    }
}
