//! The dependencies `/health/ready` checks beyond the database and Redis: the blob store, the
//! vector index, OCR and the language model provider. The last two are optional: readiness
//! reports them, but they never make the process unready.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use flashforge_domain::accounts::UserId;
use flashforge_domain::assistant::LanguageModel;
use flashforge_domain::health::HealthCheck;
use flashforge_domain::knowledge::{Scope, VectorIndex};
use flashforge_files::{ObjectStoreBlobs, Ocr, OcrStatus};

/// The blob store: a local folder must take a new file, an S3 bucket must answer a listing with
/// the configured credentials (a missing bucket or a refused key is down).
pub enum BlobStoreHealth {
    Local(PathBuf),
    Bucket(ObjectStoreBlobs),
}

#[async_trait]
impl HealthCheck for BlobStoreHealth {
    fn name(&self) -> &str {
        "blob_store"
    }

    async fn check(&self) -> Result<(), String> {
        match self {
            BlobStoreHealth::Local(dir) => {
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || {
                    // A `#` in the name: backups take it for an upload being written, and skip it.
                    tempfile::Builder::new()
                        .prefix(".ready#")
                        .tempfile_in(&dir)
                        .map(drop)
                        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))
                })
                .await
                .map_err(|e| format!("the blob folder's check failed: {e}"))?
            }
            BlobStoreHealth::Bucket(store) => store.check().await,
        }
    }
}

/// The vector index: a scoped count that every adapter answers cheaply.
pub struct VectorIndexHealth(pub Arc<dyn VectorIndex>);

#[async_trait]
impl HealthCheck for VectorIndexHealth {
    fn name(&self) -> &str {
        "vector_index"
    }

    async fn check(&self) -> Result<(), String> {
        // A fresh id owns nothing: the count is 0, and the call proves the index answers.
        let nobody = UserId::new();
        self.0
            .count(Scope::user(nobody))
            .await
            .map(|_| ())
            .map_err(|e| flashforge_domain::error::chain(&e))
    }
}

/// OCR: optional; down when it is switched off or cannot run.
pub struct OcrHealth(pub Arc<Ocr>);

#[async_trait]
impl HealthCheck for OcrHealth {
    fn name(&self) -> &str {
        "ocr"
    }

    fn required(&self) -> bool {
        false
    }

    async fn check(&self) -> Result<(), String> {
        match self.0.status() {
            OcrStatus::Ready { .. } => Ok(()),
            OcrStatus::Disabled => Err("OCR is switched off (knowledge.ocr_enabled)".into()),
            OcrStatus::Unavailable { reason } => Err(reason.clone()),
        }
    }
}

/// The language model provider: optional. Without it the assistant and generation answer 503,
/// while everything else (material, search, cards, reviews) goes on.
pub struct LanguageModelHealth(pub Arc<dyn LanguageModel>);

#[async_trait]
impl HealthCheck for LanguageModelHealth {
    fn name(&self) -> &str {
        "language_model"
    }

    fn required(&self) -> bool {
        false
    }

    async fn check(&self) -> Result<(), String> {
        self.0.check().await.map_err(|e| e.to_string())
    }
}
