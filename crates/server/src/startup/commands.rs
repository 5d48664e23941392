//! The commands that run over the composed backend without serving HTTP: `flashforge worker`,
//! `flashforge kb reconcile` and `flashforge kb reindex`.

use std::sync::Arc;

use flashforge_domain::Services;

use super::application::{metrics_listener, wait_for_signal};
use super::compose::compose;
use super::error::StartupError;
use super::services::{background_worker, service_settings};
use crate::metrics::ProcessMetrics;
use crate::settings::{Settings, VectorProvider};

/// Runs only the background worker until SIGTERM/SIGINT (`flashforge worker`).
pub async fn run_worker(settings: Settings) -> Result<(), StartupError> {
    crate::metrics::install();
    let backend = compose(&settings).await?;
    let services = Arc::new(Services::new(
        backend.ports.clone(),
        service_settings(&settings),
    ));
    let worker = background_worker(&services, backend.ports.knowledge.index.clone(), &settings);
    tracing::info!(tasks = worker.task_count(), "worker started");
    let running = worker.start();
    let heartbeat = crate::healthcheck::heartbeat_file(&settings)
        .map(|path| crate::healthcheck::spawn_heartbeat(path.to_path_buf()));
    let metrics = metrics_listener(
        &settings,
        Arc::new(ProcessMetrics {
            services: services.clone(),
            database: backend.database.clone(),
        }),
    )?
    .map(|(server, _)| {
        let handle = server.handle();
        (tokio::spawn(server), handle)
    });
    wait_for_signal().await;
    if let Some((task, handle)) = metrics {
        handle.stop(true).await;
        let _ = task.await;
    }
    tracing::info!("shutdown signal received: stopping the worker");
    if let Some(heartbeat) = heartbeat {
        heartbeat.abort();
    }
    running.shutdown(settings.shutdown_timeout()).await;
    if let Some(db) = backend.database {
        let _ = db.close().await;
    }
    Ok(())
}

/// `flashforge kb reconcile`.
pub async fn reconcile(
    settings: Settings,
) -> Result<flashforge_domain::knowledge::ReconcileReport, StartupError> {
    let backend = compose(&settings).await?;
    let services = Services::new(backend.ports.clone(), service_settings(&settings));
    let report = services
        .knowledge
        .reconcile()
        .await
        .map_err(StartupError::KnowledgeService)?;
    if let Some(db) = backend.database {
        let _ = db.close().await;
    }
    Ok(report)
}

/// `flashforge kb reindex`: embeds every chunk with the configured model into a new index
/// generation and switches to it when done. The old index keeps serving until the switch.
pub async fn reindex(settings: Settings) -> Result<u64, StartupError> {
    let fail = |e: String| StartupError::Knowledge(e);
    let embedder = crate::knowledge::embedder(&settings).map_err(fail)?;
    let model = embedder.model().clone();
    // The current index may hold another model: open the database side only.
    let mut for_services = settings.clone();
    for_services.vector.provider = VectorProvider::Memory;
    let backend = compose(&for_services).await?;
    let services = Services::new(backend.ports.clone(), service_settings(&settings));
    let written = match settings.vector.provider {
        VectorProvider::Memory => {
            return Err(fail(
                "vector.provider is memory: there is no index to rebuild".into(),
            ));
        }
        VectorProvider::Embedded => {
            let _lock = crate::knowledge::lock_index_dir(&settings.vector.dir).map_err(fail)?;
            let dir = settings.vector.dir.clone();
            let target = tokio::task::spawn_blocking(move || {
                flashforge_vector::EdgeVectorIndex::create_generation(&dir, &model)
            })
            .await
            .map_err(StartupError::KnowledgeTask)?
            .map_err(fail)?;
            let written = services
                .knowledge
                .reindex_into(embedder.as_ref(), &target)
                .await
                .map_err(StartupError::KnowledgeService)?;
            target.activate().map_err(fail)?;
            written
        }
        VectorProvider::Qdrant => {
            let v = &settings.vector;
            let target = flashforge_vector::QdrantVectorIndex::create_generation(
                &v.qdrant_url,
                v.qdrant_api_key.as_ref().map(|k| k.expose().to_string()),
                &v.collection,
                &model,
            )
            .await
            .map_err(fail)?;
            let written = services
                .knowledge
                .reindex_into(embedder.as_ref(), &target)
                .await
                .map_err(StartupError::KnowledgeService)?;
            target.activate().await.map_err(fail)?;
            written
        }
    };
    if let Some(db) = backend.database {
        let _ = db.close().await;
    }
    Ok(written)
}
