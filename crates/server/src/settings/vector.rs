//! `[vector]`: which vector index holds the embeddings.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::problems::Problems;
use super::secret::Secret;

/// Which vector index holds the embeddings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VectorProvider {
    /// The Qdrant engine in-process (qdrant-edge), persisted under `vector.dir`.
    Embedded,
    /// A Qdrant server over gRPC.
    Qdrant,
    /// Exact search in memory (lost on exit).
    Memory,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorSettings {
    pub provider: VectorProvider,
    pub dir: PathBuf,
    pub qdrant_url: String,
    #[serde(default)]
    pub qdrant_api_key: Option<Secret>,
    pub collection: String,
}

impl VectorSettings {
    /// The rules of `vector.*`.
    pub(super) fn validate(&self, problems: &mut Problems) {
        if self.provider == VectorProvider::Qdrant && self.qdrant_url.trim().is_empty() {
            problems.bad(
                "vector.qdrant_url",
                "must be set when vector.provider is qdrant",
            );
        }
        if self.collection.trim().is_empty()
            || !self
                .collection
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            problems.bad("vector.collection", "must be letters, digits, `_` or `-`");
        }
    }
}
