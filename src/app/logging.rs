//! Log output: pretty for people, JSON for collectors; `RUST_LOG` overrides the configured filter.

use tracing_subscriber::{fmt, EnvFilter};

use super::config::{LogFormat, LogSettings};

/// Installs the global subscriber once; later calls (tests build many apps) are no-ops.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.level));
    let result = match settings.format {
        LogFormat::Json => fmt().json().with_current_span(true).with_env_filter(filter).try_init(),
        LogFormat::Pretty => fmt().with_env_filter(filter).try_init(),
    };
    // Already installed: keep the first one.
    let _ = result;
}
