//! Metrics in Prometheus text: the recorder (one per process), the decorators that time the
//! language model and the embedder, the gauges read when scraped (the database pool, the job
//! queue), and the metrics listener for the private network.
//!
//! What is recorded where: HTTP requests in the http crate's middleware; job outcomes,
//! ingestion stages, rate-limit rejections and cache hits in the domain; the rest here.

use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use async_trait::async_trait;
use flashforge_domain::InfraError;
use flashforge_domain::Services;
use flashforge_domain::assistant::{
    Completion, LanguageModel, LlmError, Prompt, StreamEvent, Usage,
};
use flashforge_domain::knowledge::{Embedder, EmbeddingModel, TokenCounter};
use flashforge_http::metrics::{CONTENT_TYPE, MetricsSource};
use flashforge_sql::DatabaseConnection;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Latency buckets (seconds) from a cached lookup to a slow model.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The process's recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = || {
            PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new())
        };
        match builder().install_recorder() {
            Ok(handle) => handle,
            Err(error) => {
                tracing::warn!(%error, "a metrics recorder is already installed; metrics stay local");
                builder().build_recorder().handle()
            }
        }
    })
}

/// What a scrape reads: the recorded metrics plus gauges of the pool and the queue.
pub struct ProcessMetrics {
    pub services: Arc<Services>,
    pub database: Option<DatabaseConnection>,
}

#[async_trait]
impl MetricsSource for ProcessMetrics {
    async fn render(&self) -> String {
        if let Some((open, idle, max)) = self.database.as_ref().and_then(flashforge_sql::pool_stats)
        {
            metrics::gauge!("db_pool_connections", "state" => "idle").set(f64::from(idle));
            metrics::gauge!("db_pool_connections", "state" => "in_use")
                .set(f64::from(open.saturating_sub(idle)));
            metrics::gauge!("db_pool_max_connections").set(f64::from(max));
        }
        match self.services.jobs.stats().await {
            Ok(stats) => {
                metrics::gauge!("jobs", "state" => "queued").set(stats.queued as f64);
                metrics::gauge!("jobs", "state" => "running").set(stats.running as f64);
                metrics::gauge!("jobs", "state" => "dead").set(stats.dead as f64);
                let age = stats
                    .oldest_queued_at
                    .map(|at| (chrono::Utc::now() - at).num_milliseconds().max(0) as f64 / 1e3)
                    .unwrap_or(0.0);
                metrics::gauge!("jobs_oldest_queued_age_seconds").set(age);
            }
            Err(error) => {
                tracing::warn!(error = %flashforge_domain::error::chain(&error), "queue stats unavailable");
            }
        }
        let handle = handle();
        handle.run_upkeep();
        handle.render()
    }
}

/// A listener serving only `GET /metrics`, without authentication: bind it to a private
/// address. Returns the server (to run) and its port.
pub fn listener(bind: &str, source: Arc<dyn MetricsSource>) -> std::io::Result<(Server, u16)> {
    let listener = TcpListener::bind(bind)?;
    let port = listener.local_addr()?.port();
    let source = web::Data::from(source);
    let server = HttpServer::new(move || {
        App::new().app_data(source.clone()).route(
            "/metrics",
            web::get().to(|source: web::Data<dyn MetricsSource>| async move {
                HttpResponse::Ok()
                    .content_type(CONTENT_TYPE)
                    .body(source.render().await)
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok((server, port))
}

fn outcome<T>(result: &Result<T, LlmError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(LlmError::Timeout) => "timeout",
        Err(LlmError::Unavailable(_)) => "unavailable",
        Err(LlmError::Rejected(_)) => "rejected",
    }
}

fn record_llm(operation: &'static str, outcome: &'static str, started: Instant) {
    metrics::histogram!("llm_request_duration_seconds", "operation" => operation, "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
}

fn record_tokens(usage: &Usage) {
    metrics::counter!("llm_tokens_total", "kind" => "prompt")
        .increment(u64::from(usage.prompt_tokens));
    metrics::counter!("llm_tokens_total", "kind" => "completion")
        .increment(u64::from(usage.completion_tokens));
}

/// The language model, timed (`llm_request_duration_seconds`) and its tokens counted
/// (`llm_tokens_total`). A stream is timed to its end.
pub struct MeteredModel(pub Arc<dyn LanguageModel>);

#[async_trait]
impl LanguageModel for MeteredModel {
    fn default_model(&self) -> &str {
        self.0.default_model()
    }

    async fn models(&self) -> Result<Vec<String>, LlmError> {
        self.0.models().await
    }

    async fn complete(&self, prompt: &Prompt) -> Result<Completion, LlmError> {
        let started = Instant::now();
        let result = self.0.complete(prompt).await;
        record_llm("complete", outcome(&result), started);
        if let Ok(completion) = &result {
            record_tokens(&completion.usage);
        }
        result
    }

    async fn stream(
        &self,
        prompt: &Prompt,
    ) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError> {
        let started = Instant::now();
        let stream = match self.0.stream(prompt).await {
            Ok(stream) => stream,
            Err(error) => {
                record_llm("stream", outcome::<()>(&Err(error.clone())), started);
                return Err(error);
            }
        };
        Ok(stream
            .inspect(move |event| match event {
                Ok(StreamEvent::Done { usage, .. }) => {
                    record_llm("stream", "ok", started);
                    record_tokens(usage);
                }
                Ok(StreamEvent::Delta(_)) => {}
                Err(error) => record_llm("stream", outcome::<()>(&Err(error.clone())), started),
            })
            .boxed())
    }

    async fn complete_structured(
        &self,
        prompt: &Prompt,
        schema_name: &str,
        schema: &serde_json::Value,
    ) -> Result<(serde_json::Value, Usage), LlmError> {
        let started = Instant::now();
        let result = self
            .0
            .complete_structured(prompt, schema_name, schema)
            .await;
        record_llm("structured", outcome(&result), started);
        if let Ok((_, usage)) = &result {
            record_tokens(usage);
        }
        result
    }
}

/// The embedder, timed (`embedding_request_duration_seconds`) with the texts it embeds counted
/// (`embedding_texts_total`).
pub struct MeteredEmbedder(pub Arc<dyn Embedder>);

#[async_trait]
impl Embedder for MeteredEmbedder {
    fn model(&self) -> &EmbeddingModel {
        self.0.model()
    }

    fn token_counter(&self) -> Arc<dyn TokenCounter> {
        self.0.token_counter()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, InfraError> {
        let started = Instant::now();
        let result = self.0.embed(texts).await;
        let outcome = if result.is_ok() { "ok" } else { "error" };
        metrics::histogram!("embedding_request_duration_seconds", "outcome" => outcome)
            .record(started.elapsed().as_secs_f64());
        metrics::counter!("embedding_texts_total").increment(texts.len() as u64);
        result
    }
}
