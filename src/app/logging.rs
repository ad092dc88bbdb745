//! Log output: pretty for people, JSON for collectors; `RUST_LOG` overrides the configured filter.
//!
//! Log lines carry the fields of the spans they happen in, so everything logged while handling an
//! HTTP request names its `request_id` (JSON: under `span` and `spans`).

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

use super::config::{LogFormat, LogSettings};

/// Installs a log-only global subscriber once; later calls (tests build many apps) are no-ops.
/// `ara serve` uses [`super::telemetry::init`], which adds span export when it is enabled.
pub fn init(settings: &LogSettings) {
    // Already installed: keep the first one.
    let _ = tracing_subscriber::registry().with(layer(settings, std::io::stdout)).try_init();
}

/// The log layer, filtered by `RUST_LOG` or else `LOG_LEVEL`, writing to `writer`. The filter is the
/// layer's own, so it does not decide which spans are exported.
pub fn layer<S, W>(settings: &LogSettings, writer: W) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = super::log_filter::from_rust_log().unwrap_or_else(|| EnvFilter::new(&settings.level));
    match settings.format {
        LogFormat::Json => fmt::layer().json().with_current_span(true).with_writer(writer).with_filter(filter).boxed(),
        LogFormat::Pretty => fmt::layer().with_writer(writer).with_filter(filter).boxed(),
    }
}
