//! Composing the knowledge base's adapters from configuration: blob storage, the file parsers and OCR,
//! the embedder, the vector index, and the document and job stores of the chosen database.

use std::sync::Arc;
use std::time::Duration;

use std::path::Path;

use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::health::HealthCheck;
use flashforge_domain::knowledge::{
    BlobStore, ChunkId, ChunkSettings, DocumentRepository, Embedder, EmbeddingModel,
    ExtractionLimits, IndexedChunk, JobQueue, KnowledgePorts, KnowledgeSettings, Scope,
    ScoredChunk, VectorIndex, VectorPoint, VectorQuery,
};
use flashforge_embed::{MiniLmEmbedder, OpenAiEmbedder, OpenAiEmbedderSettings};
use flashforge_files::{
    BlobSettings, ChildLimits, Extractors, IsolatedExtractor, Isolation, ObjectStoreBlobs, Ocr,
    OcrSettings,
};
use flashforge_memory::{ExactVectorIndex, HashEmbedder, InMemoryBlobStore};
use flashforge_vector::{EdgeVectorIndex, QdrantVectorIndex};

use crate::readiness::{BlobStoreHealth, OcrHealth, VectorIndexHealth};
use crate::settings::{BlobBackend, EmbeddingProvider, PdfIsolation, Settings, VectorProvider};

/// The service settings of the `knowledge` section.
pub fn knowledge_settings(settings: &Settings) -> KnowledgeSettings {
    let k = &settings.knowledge;
    KnowledgeSettings {
        max_upload_bytes: k.max_upload_mb * 1024 * 1024,
        chunking: ChunkSettings {
            max_tokens: k.chunk_tokens,
            overlap_tokens: k.chunk_overlap_tokens,
        },
        embed_batch: k.embed_batch,
        embed_concurrency: k.embed_concurrency,
        max_attempts: k.max_attempts,
        lease: Duration::from_secs(k.lease_secs),
        retry_backoff: Duration::from_secs(k.retry_backoff_secs),
        limits: ExtractionLimits {
            max_pages: k.max_pages,
            max_chars: k.max_chars,
            max_page_chars: k.max_page_chars,
            max_chunks: k.max_chunks,
            max_unpacked_bytes: k.max_unpacked_mb * 1024 * 1024,
        },
        ..KnowledgeSettings::default()
    }
}

/// The configured embedder.
pub fn embedder(settings: &Settings) -> Result<Arc<dyn Embedder>, String> {
    let e = &settings.embedding;
    Ok(match e.provider {
        EmbeddingProvider::Local => Arc::new(MiniLmEmbedder::load(&e.model_dir)?),
        EmbeddingProvider::Openai => Arc::new(OpenAiEmbedder::new(OpenAiEmbedderSettings {
            base_url: e.base_url.clone(),
            api_key: e.api_key.as_ref().map(|k| k.expose().to_string()),
            model: e.model.clone(),
            dimension: e.dimension(),
            batch_size: e.batch_size,
            timeout: Duration::from_secs(e.timeout_secs),
            max_retries: e.max_retries,
            retry_base_delay: Duration::from_millis(500),
        })?),
        EmbeddingProvider::Hash => Arc::new(HashEmbedder::new(e.dimension())),
    })
}

/// The configured vector index, checked against the embedder's model.
pub async fn vector_index(
    settings: &Settings,
    embedder: &dyn Embedder,
) -> Result<Arc<dyn VectorIndex>, String> {
    let v = &settings.vector;
    let model = embedder.model().clone();
    Ok(match v.provider {
        VectorProvider::Memory => Arc::new(ExactVectorIndex::new(model)),
        VectorProvider::Embedded => {
            let lock = lock_index_dir(&v.dir)?;
            let dir = v.dir.clone();
            let index = tokio::task::spawn_blocking(move || EdgeVectorIndex::open(&dir, &model))
                .await
                .map_err(|e| e.to_string())??;
            Arc::new(LockedIndex { index, _lock: lock })
        }
        VectorProvider::Qdrant => Arc::new(
            QdrantVectorIndex::connect(
                &v.qdrant_url,
                v.qdrant_api_key.as_ref().map(|k| k.expose().to_string()),
                &v.collection,
                &model,
            )
            .await?,
        ),
    })
}

/// A blob store and its readiness check (none for memory).
pub type BlobsWithCheck = (Arc<dyn BlobStore>, Option<Arc<dyn HealthCheck>>);

/// The configured blob store, and its readiness check.
pub fn blob_store(settings: &Settings) -> Result<BlobsWithCheck, String> {
    let s = &settings.storage;
    Ok(match s.blobs {
        BlobBackend::Memory => (Arc::new(InMemoryBlobStore::new()), None),
        BlobBackend::Local => {
            let store = ObjectStoreBlobs::open_store(&BlobSettings::Local {
                root: s.blob_dir.clone(),
            })?;
            let health = BlobStoreHealth::Local(s.blob_dir.clone());
            (Arc::new(store), Some(Arc::new(health)))
        }
        BlobBackend::S3 => {
            let store = ObjectStoreBlobs::open_store(&BlobSettings::S3 {
                bucket: s.s3_bucket.clone(),
                region: s.s3_region.clone(),
                endpoint: s.s3_endpoint.clone(),
                access_key_id: s.s3_access_key_id.clone(),
                secret_access_key: s
                    .s3_secret_access_key
                    .as_ref()
                    .map(|k| k.expose().to_string()),
                allow_http: s.s3_allow_http,
            })?;
            let health = BlobStoreHealth::Bucket(store.clone());
            (Arc::new(store), Some(Arc::new(health)))
        }
    })
}

/// The configured file parsers: a child process of this very binary by default.
pub fn file_parsers(settings: &Settings) -> Result<IsolatedExtractor, String> {
    let timeout = Duration::from_secs(settings.knowledge.pdf_timeout_secs);
    let isolation = match settings.knowledge.pdf_isolation {
        PdfIsolation::Thread => Isolation::Thread,
        PdfIsolation::Process => Isolation::Process {
            program: match &settings.knowledge.pdf_extractor_program {
                Some(program) => program.clone(),
                None => std::env::current_exe().map_err(|e| {
                    format!("cannot find this program to run the file extractor: {e}")
                })?,
            },
            args: vec!["extract-pdf".into()],
            limits: ChildLimits {
                memory_bytes: settings.knowledge.pdf_max_memory_mb * 1024 * 1024,
                cpu_secs: settings.knowledge.pdf_max_cpu_secs,
            },
        },
    };
    Ok(IsolatedExtractor::new(isolation, timeout))
}

/// OCR as configured, probed: the programs found and the languages installed.
pub async fn ocr(settings: &Settings) -> Ocr {
    let k = &settings.knowledge;
    Ocr::probe(OcrSettings {
        enabled: k.ocr_enabled,
        tesseract: k.ocr_tesseract.clone(),
        pdftoppm: k.ocr_pdftoppm.clone(),
        languages: k.ocr_languages.clone(),
        dpi: k.ocr_dpi,
        page_timeout: Duration::from_secs(k.ocr_page_timeout_secs),
        max_pages: k.ocr_max_pages,
        resources: ChildLimits {
            memory_bytes: k.ocr_max_memory_mb * 1024 * 1024,
            cpu_secs: k.ocr_page_timeout_secs.saturating_mul(2),
        },
    })
    .await
}

/// Everything but the database stores, which come from the chosen database, and the readiness
/// checks of what it chose: the blob store, OCR and the vector index.
pub async fn knowledge_ports(
    settings: &Settings,
    documents: Arc<dyn DocumentRepository>,
    jobs: Arc<dyn JobQueue>,
    embedder_override: Option<Arc<dyn Embedder>>,
) -> Result<(KnowledgePorts, Vec<Arc<dyn HealthCheck>>), String> {
    let embedder = match embedder_override {
        Some(embedder) => embedder,
        None => embedder(settings)?,
    };
    let index = vector_index(settings, embedder.as_ref()).await?;
    let ocr = Arc::new(ocr(settings).await);
    let extractor = Extractors::new(Arc::new(file_parsers(settings)?), ocr.clone());
    let (blobs, blob_health) = blob_store(settings)?;
    let mut checks: Vec<Arc<dyn HealthCheck>> = blob_health.into_iter().collect();
    checks.push(Arc::new(OcrHealth(ocr)));
    checks.push(Arc::new(VectorIndexHealth(index.clone())));
    let ports = KnowledgePorts {
        documents,
        jobs,
        blobs,
        embedder,
        index,
        extractor: Arc::new(extractor),
    };
    Ok((ports, checks))
}

/// Takes the embedded index's folder for this process: the engine is not safe to share
/// between processes, so a second one gets a clear error instead of a corrupt index.
pub fn lock_index_dir(dir: &Path) -> Result<std::fs::File, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "the embedded vector index in {} is in use by another process; it serves one process \
             (run the worker inside `flashforge serve`, or use vector.provider = \"qdrant\" to run several)",
            dir.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}

/// The embedded index with its folder's lock, released when the index is dropped.
struct LockedIndex {
    index: EdgeVectorIndex,
    _lock: std::fs::File,
}

#[async_trait::async_trait]
impl VectorIndex for LockedIndex {
    fn model(&self) -> &EmbeddingModel {
        self.index.model()
    }
    async fn upsert(&self, points: Vec<VectorPoint>) -> Result<(), InfraError> {
        self.index.upsert(points).await
    }
    async fn search(
        &self,
        scope: Scope,
        query: VectorQuery,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, InfraError> {
        self.index.search(scope, query, limit).await
    }
    async fn delete(&self, scope: Scope) -> Result<(), InfraError> {
        self.index.delete(scope).await
    }
    async fn delete_chunks(&self, owner: UserId, ids: &[ChunkId]) -> Result<(), InfraError> {
        self.index.delete_chunks(owner, ids).await
    }
    async fn retrieve(&self, owner: UserId, ids: &[ChunkId]) -> Result<Vec<ChunkId>, InfraError> {
        self.index.retrieve(owner, ids).await
    }
    async fn count(&self, scope: Scope) -> Result<u64, InfraError> {
        self.index.count(scope).await
    }
    async fn scan(
        &self,
        after: Option<ChunkId>,
        limit: usize,
    ) -> Result<Vec<IndexedChunk>, InfraError> {
        self.index.scan(after, limit).await
    }
    async fn at_rest(
        &self,
        work: flashforge_domain::knowledge::AtRestWork,
    ) -> Result<(), InfraError> {
        self.index.at_rest(work).await
    }
}
