//! Logging: JSON lines for log pipelines, readable lines for people, one global subscriber.
//!
//! What never reaches the log: passwords, tokens, secrets. Request bodies, query strings and
//! authorization headers are not logged at all, SQL statements are not logged (their values may
//! hold hashes), and configuration secrets print as `[REDACTED]`.

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

use crate::settings::{LogFormat, LogSettings};

/// A subscriber writing to `writer`. `RUST_LOG`, when set, wins over the configured level.
pub fn subscriber<W>(settings: &LogSettings, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|rust_log| EnvFilter::try_new(rust_log).ok())
        .or_else(|| EnvFilter::try_new(&settings.level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    match settings.format {
        LogFormat::Json => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(writer),
            ),
        ),
        LogFormat::Pretty => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .with_target(true)
                    .with_ansi(false)
                    .with_writer(writer),
            ),
        ),
    }
}

/// Installs the global subscriber (stdout) and a panic hook that logs panics as errors.
pub fn init(settings: &LogSettings) -> Result<(), String> {
    tracing::subscriber::set_global_default(subscriber(settings, std::io::stdout))
        .map_err(|e| format!("cannot install the logger: {e}"))?;
    install_panic_hook();
    Ok(())
}

/// Panics are logged through tracing (with the request span, when there is one) instead of
/// printed raw to stderr.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-text panic payload".into());
        tracing::error!(%location, panic = %message, "panic");
    }));
}
