//! Logging: JSON lines for log pipelines, readable lines for people, one global subscriber; and,
//! with `log.otlp_endpoint` set, spans exported over OTLP/HTTP to an OpenTelemetry collector.
//!
//! What never reaches the log: passwords, tokens, secrets. Request bodies, query strings and
//! authorization headers are not logged at all, SQL statements are not logged (their values may
//! hold hashes), and configuration secrets print as `[REDACTED]`.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing::level_filters::LevelFilter;
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::filter::FilterExt;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer};

use crate::settings::{LogFormat, LogSettings};

/// A subscriber writing to `writer`. `RUST_LOG`, when set, wins over the configured level.
pub fn subscriber<W>(settings: &LogSettings, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    subscriber_with_tracer(settings, writer, None)
}

/// As [`subscriber`], and with a tracer: spans are also handed to OpenTelemetry.
fn subscriber_with_tracer<W>(
    settings: &LogSettings,
    writer: W,
    tracer: Option<SdkTracer>,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    match tracer {
        // One filter for the whole subscriber, as before tracing export existed.
        None => Box::new(
            tracing_subscriber::registry()
                .with(log_filter(settings))
                .with(fmt_layer(settings.format, writer)),
        ),
        // Each layer with its own filter: the log keeps its level, while spans at info and above
        // are exported even when the log is quieter (test and production logs often run at
        // `warn`). Events reach the exporter (as span events) only when the log shows them.
        Some(tracer) => {
            // A `FilterFn` is decided once per callsite, so quiet callsites stay free.
            let info_spans = tracing_subscriber::filter::filter_fn(info_span)
                .with_max_level_hint(LevelFilter::INFO);
            let exported = log_filter(settings).or(info_spans);
            Box::new(
                tracing_subscriber::registry()
                    .with(
                        tracing_opentelemetry::layer()
                            .with_tracer(tracer)
                            .with_filter(exported),
                    )
                    .with(fmt_layer(settings.format, writer).with_filter(log_filter(settings))),
            )
        }
    }
}

/// A span at info level or above.
fn info_span(metadata: &Metadata<'_>) -> bool {
    metadata.is_span() && *metadata.level() <= Level::INFO
}

/// `RUST_LOG` when set and valid, else `log.level`, else `info`.
fn log_filter(settings: &LogSettings) -> EnvFilter {
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|rust_log| EnvFilter::try_new(rust_log).ok())
        .or_else(|| EnvFilter::try_new(&settings.level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"))
}

fn fmt_layer<S, W>(format: LogFormat, writer: W) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    match format {
        LogFormat::Json => Box::new(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .with_writer(writer),
        ),
        LogFormat::Pretty => Box::new(
            tracing_subscriber::fmt::layer()
                .with_target(true)
                .with_ansi(false)
                .with_writer(writer),
        ),
    }
}

/// Keeps span export running; dropping it (or [`TelemetryGuard::shutdown`]) flushes the spans
/// still buffered and stops the exporter. Hold it until the process exits.
#[must_use = "dropping the guard stops span export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Whether spans are exported (`log.otlp_endpoint` is set).
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Flushes buffered spans and stops the exporter (waits up to 5 s for the endpoint).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            // The global subscriber outlives the guard; the log still works.
            tracing::error!("OTLP span export: flushing at shutdown failed: {e}");
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Installs the global subscriber (stdout) and a panic hook that logs panics as errors. With
/// `log.otlp_endpoint` set, spans are also exported over OTLP/HTTP by a background thread; the
/// returned guard flushes them when dropped. Unset, nothing else runs.
pub fn init(settings: &LogSettings) -> Result<TelemetryGuard, String> {
    let provider = settings
        .otlp_endpoint()
        .map(|endpoint| tracer_provider(endpoint, &settings.otlp_service_name))
        .transpose()?;
    let tracer = provider.as_ref().map(|provider| {
        provider.tracer_with_scope(
            opentelemetry::InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        )
    });
    tracing::subscriber::set_global_default(subscriber_with_tracer(
        settings,
        std::io::stdout,
        tracer,
    ))
    .map_err(|e| format!("cannot install the logger: {e}"))?;
    install_panic_hook();
    Ok(TelemetryGuard { provider })
}

/// Spans batched by the SDK's own thread and posted as protobuf with a blocking HTTP client
/// (the batch processor of opentelemetry_sdk 0.31 runs on a dedicated thread, not on tokio).
fn tracer_provider(endpoint: &str, service_name: &str) -> Result<SdkTracerProvider, String> {
    // reqwest is built without a default TLS provider; https endpoints need one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| format!("log.otlp_endpoint: cannot set up the OTLP exporter: {e}"))?;
    let resource = Resource::builder()
        .with_service_name(service_name.to_string())
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
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
