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
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::layers::{Layer, PrefixLayer};

mod process;

/// Every metric's name starts with this (`flashforge_http_requests_total`): the code records
/// `http_requests_total` and the recorder adds the prefix, so no call site can forget it.
pub const PREFIX: &str = "flashforge";

/// Latency buckets (seconds) from a cached lookup to a slow model or a long request.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Buckets (seconds) for work that runs for minutes: a job, an ingestion stage (a long PDF is
/// extracted, embedded and indexed for up to ~30 min).
const LONG_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1200.0,
    1800.0, 3600.0,
];

/// The metrics timed with [`LONG_BUCKETS`].
const LONG_RUNNING: &[&str] = &["job_duration_seconds", "ingestion_stage_seconds"];

/// The commit the binary was built from: `FLASHFORGE_COMMIT` at build time (the Dockerfile and
/// CI pass it), else "unknown".
pub const COMMIT: &str = match option_env!("FLASHFORGE_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

/// The process's recorder. Installed at start-up by [`install`]; later calls return it.
pub fn handle() -> &'static PrometheusHandle {
    install()
}

/// Installs the process's recorder (once; later calls return the same handle), describes every
/// metric (`# HELP`), and sets `flashforge_build_info`. Call it before anything is recorded:
/// what is recorded before it is lost.
pub fn install() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        let prefixed = PrefixLayer::new(PREFIX).layer(recorder);
        if let Err(error) = metrics::set_global_recorder(prefixed) {
            tracing::warn!(%error, "a metrics recorder is already installed; metrics stay local");
        }
        describe();
        metrics::gauge!("build_info", "version" => env!("CARGO_PKG_VERSION"), "commit" => COMMIT)
            .set(1.0);
        handle
    })
}

fn builder() -> PrometheusBuilder {
    let configured = PrometheusBuilder::new()
        .set_buckets(BUCKETS)
        .and_then(|builder| {
            LONG_RUNNING.iter().try_fold(builder, |builder, name| {
                builder.set_buckets_for_metric(Matcher::Suffix((*name).to_string()), LONG_BUCKETS)
            })
        });
    // Fixed, non-empty bucket lists cannot be refused; were they, the defaults would do.
    configured.unwrap_or_else(|_| PrometheusBuilder::new())
}

/// `# HELP` for every metric the process records (names without the prefix).
fn describe() {
    use metrics::{Unit, describe_histogram as histogram};
    use metrics::{describe_counter as counter, describe_gauge as gauge};
    gauge!(
        "build_info",
        "Always 1; the labels name the running version and commit."
    );
    counter!(
        "http_requests_total",
        "HTTP requests answered, by method, route template and status."
    );
    histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency, by method, route and status."
    );
    gauge!("http_requests_in_flight", "HTTP requests being served now.");
    gauge!(
        "db_pool_connections",
        "Database pool connections, by state (idle, in_use), read at scrape time."
    );
    gauge!("db_pool_max_connections", "The database pool's size limit.");
    gauge!(
        "jobs",
        "Background jobs by state (queued, running, dead), read at scrape time."
    );
    gauge!(
        "jobs_oldest_queued_age_seconds",
        Unit::Seconds,
        "How long the oldest queued job has waited."
    );
    counter!(
        "jobs_finished_total",
        "Background job attempts finished, by kind and outcome."
    );
    histogram!(
        "job_duration_seconds",
        Unit::Seconds,
        "Background job run time, by kind."
    );
    histogram!(
        "ingestion_stage_seconds",
        Unit::Seconds,
        "Ingestion time by stage (extract, chunk, embed, index)."
    );
    histogram!(
        "embedding_request_duration_seconds",
        Unit::Seconds,
        "Embedding model latency, by outcome."
    );
    counter!(
        "embedding_texts_total",
        "Texts sent to the embedding model."
    );
    histogram!(
        "llm_request_duration_seconds",
        Unit::Seconds,
        "Language model latency (streams to their end), by operation and outcome."
    );
    counter!(
        "llm_tokens_total",
        "Language model tokens, by kind (prompt, completion)."
    );
    counter!(
        "rate_limit_rejections_total",
        "Requests refused by a rate limit (429), by policy."
    );
    counter!(
        "login_slowdowns_total",
        "Logins delayed after repeated failures."
    );
    counter!(
        "cache_requests_total",
        "Cache lookups, by cache and result (hit, miss, error)."
    );
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
        let mut text = handle.render();
        text.push_str(&process::render());
        text
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

    async fn check(&self) -> Result<(), LlmError> {
        self.0.check().await
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
