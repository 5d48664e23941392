//! What validation finds: every problem (each naming its key), the warnings, and the error that
//! lists them. Every section's `validate` adds to one [`Problems`].

use std::fmt;

/// Every problem found in the configuration, each naming its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    pub problems: Vec<(String, String)>,
}

impl SettingsError {
    pub(super) fn one(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            problems: vec![(key.into(), message.into())],
        }
    }
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "invalid configuration ({} problem(s)):",
            self.problems.len()
        )?;
        for (key, message) in &self.problems {
            writeln!(f, "  - {key}: {message}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SettingsError {}

/// What happened while loading that the operator should hear about once logging is up.
#[derive(Debug, Default, Clone)]
pub struct LoadNotes {
    pub warnings: Vec<String>,
    /// The configuration files read, in order.
    pub files: Vec<std::path::PathBuf>,
}

/// The problems found so far, each naming its key: what a [`SettingsError`] lists. Every
/// section's `validate` adds to one of these.
#[derive(Debug, Default)]
pub(super) struct Problems(Vec<(String, String)>);

impl Problems {
    /// Records that `key` is wrong, and why.
    pub(super) fn bad(&mut self, key: &str, message: impl Into<String>) {
        self.0.push((key.to_string(), message.into()));
    }

    /// The notes when nothing is wrong; else every problem, in the order found.
    pub(super) fn into_result(self, notes: LoadNotes) -> Result<LoadNotes, SettingsError> {
        if self.0.is_empty() {
            Ok(notes)
        } else {
            Err(SettingsError { problems: self.0 })
        }
    }
}

// Rules more than one section applies.

/// Whether `url` is an http(s) URL.
pub(super) fn is_http_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// Whether `url` names a Redis server.
pub(super) fn is_redis_url(url: &str) -> bool {
    url.starts_with("redis://") || url.starts_with("rediss://")
}
