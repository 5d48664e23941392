//! Blob storage through the `object_store` crate: a local folder by default, any S3-compatible
//! service when configured, or memory.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use flashforge_domain::InfraError;
use flashforge_domain::knowledge::{BlobStore, BlobStream};
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, WriteMultipart};
use tokio::io::AsyncReadExt;

/// Where blobs go.
#[derive(Debug, Clone)]
pub enum BlobSettings {
    /// A folder on this machine (created when missing).
    Local { root: std::path::PathBuf },
    /// An S3-compatible bucket (AWS, MinIO, R2, ...).
    S3 {
        bucket: String,
        region: String,
        endpoint: Option<String>,
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
        allow_http: bool,
    },
}

/// A [`BlobStore`] over any `object_store` backend.
#[derive(Clone)]
pub struct ObjectStoreBlobs {
    store: Arc<dyn ObjectStore>,
}

/// Pieces read from the spooled upload at a time.
const PIECE: usize = 1024 * 1024;

fn classify(error: object_store::Error) -> InfraError {
    match error {
        object_store::Error::Generic { .. } => InfraError::unavailable(error),
        other => InfraError::internal(other),
    }
}

impl ObjectStoreBlobs {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    /// Blobs in memory (for tests).
    pub fn in_memory() -> Self {
        Self::new(Arc::new(object_store::memory::InMemory::new()))
    }

    pub fn open_store(settings: &BlobSettings) -> Result<Self, String> {
        match settings {
            BlobSettings::Local { root } => {
                std::fs::create_dir_all(root)
                    .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(root)
                    .map_err(|e| format!("cannot open {}: {e}", root.display()))?
                    .with_automatic_cleanup(true);
                Ok(Self::new(Arc::new(store)))
            }
            BlobSettings::S3 {
                bucket,
                region,
                endpoint,
                access_key_id,
                secret_access_key,
                allow_http,
            } => {
                let mut builder = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_allow_http(*allow_http);
                if let Some(endpoint) = endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                if let Some(key) = access_key_id {
                    builder = builder.with_access_key_id(key);
                }
                if let Some(secret) = secret_access_key {
                    builder = builder.with_secret_access_key(secret);
                }
                let store = builder.build().map_err(|e| format!("S3: {e}"))?;
                Ok(Self::new(Arc::new(store)))
            }
        }
    }
}

impl ObjectStoreBlobs {
    /// Whether the store answers: a listing of one prefix. On S3 the bucket must exist and the
    /// credentials be allowed to list it.
    pub async fn check(&self) -> Result<(), String> {
        self.store
            .list_with_delimiter(Some(&ObjectPath::from("readiness")))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[async_trait]
impl BlobStore for ObjectStoreBlobs {
    async fn put_file(&self, key: &str, path: &Path) -> Result<(), InfraError> {
        let location = ObjectPath::from(key);
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(InfraError::internal)?;
        let upload = self
            .store
            .put_multipart(&location)
            .await
            .map_err(classify)?;
        let mut writer = WriteMultipart::new(upload);
        let mut buffer = vec![0u8; PIECE];
        loop {
            let read = match file.read(&mut buffer).await {
                Ok(read) => read,
                Err(error) => {
                    let _ = writer.abort().await;
                    return Err(InfraError::internal(error));
                }
            };
            if read == 0 {
                break;
            }
            if let Err(error) = writer.wait_for_capacity(4).await {
                return Err(classify(error));
            }
            writer.write(&buffer[..read]);
        }
        writer.finish().await.map_err(classify)?;
        Ok(())
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), InfraError> {
        self.store
            .put(&ObjectPath::from(key), bytes.into())
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, InfraError> {
        match self.store.get(&ObjectPath::from(key)).await {
            Ok(result) => Ok(Some(result.bytes().await.map_err(classify)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(classify(error)),
        }
    }

    async fn open(&self, key: &str) -> Result<Option<BlobStream>, InfraError> {
        match self.store.get(&ObjectPath::from(key)).await {
            Ok(result) => Ok(Some(result.into_stream().map_err(classify).boxed())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(classify(error)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), InfraError> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(classify(error)),
        }
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, InfraError> {
        let prefix = ObjectPath::from(prefix.trim_end_matches('/'));
        let locations: Vec<ObjectPath> = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(classify)?;
        let count = locations.len() as u64;
        for location in locations {
            match self.store.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(classify(error)),
            }
        }
        Ok(count)
    }
}
