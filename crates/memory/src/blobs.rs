//! A blob store in memory.

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;
use bytes::Bytes;
use flashforge_domain::InfraError;
use flashforge_domain::knowledge::{BlobStore, BlobStream};
use parking_lot::RwLock;

/// Blobs in a map.
#[derive(Default)]
pub struct InMemoryBlobStore {
    blobs: RwLock<BTreeMap<String, Bytes>>,
}

impl InMemoryBlobStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl BlobStore for InMemoryBlobStore {
    async fn put_file(&self, key: &str, path: &Path) -> Result<(), InfraError> {
        let bytes = tokio::fs::read(path).await.map_err(InfraError::internal)?;
        self.blobs
            .write()
            .insert(key.to_string(), Bytes::from(bytes));
        Ok(())
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), InfraError> {
        self.blobs.write().insert(key.to_string(), bytes);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, InfraError> {
        Ok(self.blobs.read().get(key).cloned())
    }

    async fn open(&self, key: &str) -> Result<Option<BlobStream>, InfraError> {
        let bytes = self.blobs.read().get(key).cloned();
        Ok(bytes.map(|b| Box::pin(futures_util::stream::once(async move { Ok(b) })) as BlobStream))
    }

    async fn delete(&self, key: &str) -> Result<(), InfraError> {
        self.blobs.write().remove(key);
        Ok(())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, InfraError> {
        let mut blobs = self.blobs.write();
        let before = blobs.len();
        blobs.retain(|key, _| !key.starts_with(prefix));
        Ok((before - blobs.len()) as u64)
    }
}
