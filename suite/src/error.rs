//! Error types with the context a fixture author or CI user needs to act on.
//!
//! Registry misbehaviour is *not* an error here: it is a [`crate::events::Outcome::Fail`].
//! These enums cover what keeps the harness itself from running a scenario.

use std::path::PathBuf;

/// Where in the fixtures a load problem sits: file, scenario, step.
#[derive(Debug, Clone, Default)]
pub struct Location {
    /// The scenario file.
    pub file: PathBuf,
    /// The scenario id, once it was read.
    pub scenario: Option<String>,
    /// The step, as `step 3 "name"` (nested `parallel` branches as `step 3 > branch 1`).
    pub step: Option<String>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(s) = &self.scenario {
            write!(f, ": scenario {s}")?;
        }
        if let Some(s) = &self.step {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

/// A fixture that cannot be loaded. The run still reports it (as an `error` outcome), so
/// a typo never silently removes a check.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The fixtures directory or a file in it could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The JSON is malformed or has an unknown field / wrong type.
    #[error("{at}: {message}")]
    Parse {
        /// Where.
        at: Location,
        /// serde's message (includes line and column).
        message: String,
    },
    /// The JSON is well-formed but says something impossible (unknown variable, blob, ...).
    #[error("{at}: {problem}")]
    Invalid {
        /// Where.
        at: Location,
        /// What is wrong.
        problem: String,
    },
}

impl LoadError {
    /// The file the problem is in.
    pub fn file(&self) -> &std::path::Path {
        match self {
            LoadError::Io { path, .. } => path,
            LoadError::Parse { at, .. } | LoadError::Invalid { at, .. } => &at.file,
        }
    }
}

/// A problem of the harness itself (not the registry's fault). Problems while preparing a
/// scenario become [`crate::events::Outcome::Error`] with their message.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}
