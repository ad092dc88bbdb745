//! The process-wide `tracing` subscriber: the log layer, plus — with `OTEL_ENABLED=true` — a
//! `tracing-opentelemetry` layer whose spans go through a batch span processor to an OTLP/gRPC
//! collector. Sampling is `ParentBased(TraceIdRatioBased(OTEL_SAMPLING_RATIO))`: a caller's
//! `traceparent` decides for its own trace, the ratio for new ones.
//!
//! `init` runs once per process (`ara serve`, or a test binary that needs the globals); the guard it
//! returns flushes what is still buffered when the server stops.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use thiserror::Error;
use tracing::Subscriber;
use tracing_subscriber::filter::FilterFn;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use super::config::{OtelSettings, Settings};
use super::logging;

/// How long one export may take before the collector counts as unreachable.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Error)]
pub enum TelemetryError {
    #[error("cannot set up the OTLP exporter for OTEL_ENDPOINT: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
    #[error("span export failed: {0}")]
    Export(#[from] opentelemetry_sdk::error::OTelSdkError),
}

/// Keeps the span pipeline; [`TelemetryGuard::shutdown`] (or dropping it) flushes what is buffered.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Whether spans are exported.
    pub fn is_exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports every finished span now. Blocks: from async code, call it through `spawn_blocking`.
    pub fn force_flush(&self) -> Result<(), TelemetryError> {
        match &self.provider {
            Some(provider) => Ok(provider.force_flush()?),
            None => Ok(()),
        }
    }

    /// Flushes and stops the exporter without blocking the runtime's workers.
    pub async fn shutdown(mut self) {
        if let Some(provider) = self.provider.take() {
            let stopped = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            if let Ok(Err(e)) = stopped {
                tracing::warn!(error = %e, "could not flush the last spans");
            }
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global subscriber: logs to stdout, and spans to the collector when enabled.
///
/// # Errors
/// [`TelemetryError::Exporter`] for an endpoint the exporter refuses, [`TelemetryError::AlreadyInstalled`]
/// when this process has a global subscriber already. An unreachable collector is not an error: exports
/// fail (and are logged) until it answers.
pub fn init(settings: &Settings) -> Result<TelemetryGuard, TelemetryError> {
    init_with_writer(settings, std::io::stdout)
}

/// [`init`] with logs written to `writer` (tests capture them).
pub fn init_with_writer<W>(settings: &Settings, writer: W) -> Result<TelemetryGuard, TelemetryError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let (logs, level) = logging::layer(&settings.log, writer);
    let (spans, guard) = match settings.otel.enabled {
        true => {
            let (layer, guard) = span_layer(&settings.otel)?;
            (Some(layer), guard)
        }
        false => (None, TelemetryGuard { provider: None }),
    };
    tracing_subscriber::registry().with(logs).with(spans).try_init().map_err(|_| TelemetryError::AlreadyInstalled)?;
    logging::install_level(level);
    if guard.is_exporting() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        tracing::info!(
            endpoint = %settings.otel.endpoint,
            sampling_ratio = settings.otel.sampling_ratio,
            "exporting spans over OTLP/gRPC"
        );
    }
    Ok(guard)
}

/// The `tracing-opentelemetry` layer and its pipeline. It sees all of Ara's own spans (the per-send
/// ones are DEBUG, so that they cost nothing while neither export nor debug logs want them) and Ara's
/// events at INFO and above, whatever the log filter says; never the exporter's own, which would feed
/// on themselves.
/// Must be called inside a Tokio runtime: the gRPC channel spawns its connection task there.
pub fn span_layer<S>(settings: &OtelSettings) -> Result<(impl Layer<S>, TelemetryGuard), TelemetryError>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(settings.endpoint.clone())
        .with_timeout(EXPORT_TIMEOUT)
        .build()?;
    let resource = Resource::builder()
        .with_service_name(settings.service_name.clone())
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(settings.sampling_ratio))))
        .with_resource(resource)
        .build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("ara"))
        .with_tracked_inactivity(false)
        // `code.*` attributes say where a span comes from; thread and target would only repeat it.
        .with_threads(false)
        .with_target(false)
        .with_filter(
            FilterFn::new(|meta| {
                let ours = meta.target() == "ara" || meta.target().starts_with("ara::");
                ours && (meta.is_span() || *meta.level() <= tracing::Level::INFO)
            })
            .with_max_level_hint(tracing::Level::DEBUG),
        );
    Ok((layer, TelemetryGuard { provider: Some(provider) }))
}
