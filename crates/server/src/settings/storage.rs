//! `[storage]`: where uploaded originals are kept (a folder, S3, or memory).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::problems::Problems;
use super::secret::Secret;

/// Where original files are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobBackend {
    Local,
    S3,
    Memory,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    pub blobs: BlobBackend,
    pub blob_dir: PathBuf,
    #[serde(default)]
    pub s3_bucket: String,
    #[serde(default)]
    pub s3_region: String,
    #[serde(default)]
    pub s3_endpoint: Option<String>,
    #[serde(default)]
    pub s3_access_key_id: Option<String>,
    #[serde(default)]
    pub s3_secret_access_key: Option<Secret>,
    #[serde(default)]
    pub s3_allow_http: bool,
}

impl StorageSettings {
    /// The rules of `storage.*`.
    pub(super) fn validate(&self, problems: &mut Problems) {
        if self.blobs == BlobBackend::S3 && self.s3_bucket.trim().is_empty() {
            problems.bad(
                "storage.s3_bucket",
                "must name the bucket when storage.blobs is s3",
            );
        }
    }
}
