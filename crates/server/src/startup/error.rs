//! Why the process could not start (or a command over the composed backend could not run).

use flashforge_domain::error::InfraError;
use flashforge_sql::sea_orm::DbErr;

use crate::database::OpenError;
use crate::tls::TlsError;

/// Why start-up failed. The text names the part (`database: …`, `tls: …`) and says what went
/// wrong, the underlying error's own words included; that error, where there is one, is also
/// the [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(#[from] OpenError),
    #[error("database: migrations failed: {0}")]
    Migrations(#[source] DbErr),
    #[error("database: database.url names no supported database")]
    UnsupportedDatabase,
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("auth: {0}")]
    Auth(String),
    #[error("rate limits: {0}")]
    RateLimits(String),
    #[error("tls: {0}")]
    Tls(#[from] TlsError),
    #[error("llm: {0}")]
    Llm(String),
    #[error("knowledge base: {0}")]
    Knowledge(String),
    /// The knowledge service failed (a reconcile, a reindex); the text is the whole chain.
    #[error("knowledge base: {}", flashforge_domain::error::chain(.0))]
    KnowledgeService(#[source] InfraError),
    /// A reindex's blocking work ended without an answer.
    #[error("knowledge base: {0}")]
    KnowledgeTask(#[source] tokio::task::JoinError),
    #[error("cache: {0}")]
    Cache(String),
}
