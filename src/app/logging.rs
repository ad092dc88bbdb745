//! Log output: pretty for people, JSON for collectors; `RUST_LOG` overrides the configured filter.
//!
//! Log lines carry the fields of the spans they happen in, so everything logged while handling an
//! HTTP request names its `request_id` (JSON: under `span` and `spans`).

use std::sync::OnceLock;

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter, Layer};

use super::config::{LogFormat, LogSettings};

/// Installs a log-only global subscriber once; later calls (tests build many apps) are no-ops.
/// `ara serve` uses [`super::telemetry::init`], which adds span export when it is enabled.
pub fn init(settings: &LogSettings) {
    let (logs, level) = layer(settings, std::io::stdout);
    // Already installed: keep the first one.
    if tracing_subscriber::registry().with(logs).try_init().is_ok() {
        install_level(level);
    }
}

/// Changes the log filter of the installed subscriber (a reload of `LOG_LEVEL`).
pub type LevelSetter = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

static LEVEL: OnceLock<LevelSetter> = OnceLock::new();

/// Keeps the setter of the subscriber that was installed (the first one).
pub fn install_level(setter: LevelSetter) {
    let _ = LEVEL.set(setter);
}

/// Puts `filter` (validated like `LOG_LEVEL`) in force for every later log line.
pub fn set_level(filter: &str) -> Result<(), String> {
    match LEVEL.get() {
        Some(set) => set(filter),
        None => Err("no log subscriber of Ara's is installed".into()),
    }
}

/// The log layer, filtered by `RUST_LOG` or else `LOG_LEVEL`, writing to `writer`, and the setter
/// that changes its filter. The filter is the layer's own, so it does not decide which spans are
/// exported.
pub fn layer<S, W>(settings: &LogSettings, writer: W) -> (Box<dyn Layer<S> + Send + Sync>, LevelSetter)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let rust_log = super::log_filter::from_rust_log();
    let overridden = rust_log.is_some();
    let (filter, handle) = reload::Layer::new(rust_log.unwrap_or_else(|| EnvFilter::new(&settings.level)));
    let setter: LevelSetter = Box::new(move |level: &str| {
        if overridden {
            return Err("RUST_LOG is set and takes precedence over LOG_LEVEL".into());
        }
        handle.reload(EnvFilter::new(level)).map_err(|e| e.to_string())
    });
    let layer = match settings.format {
        LogFormat::Json => fmt::layer().json().with_current_span(true).with_writer(writer).with_filter(filter).boxed(),
        LogFormat::Pretty => fmt::layer().with_writer(writer).with_filter(filter).boxed(),
    };
    (layer, setter)
}
