//! The `OTEL_*` settings: whether spans are exported over OTLP/gRPC, where to, under which service
//! name, and which share of new traces is sampled.

use serde::{Deserialize, Serialize};

use super::{string_like, ConfigError, Settings};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OtelSettings {
    /// Export spans; off by default, and then tracing costs what the log filter asks for, no more.
    pub enabled: bool,
    /// The OTLP/gRPC collector, e.g. `http://localhost:4317`.
    #[serde(deserialize_with = "string_like")]
    pub endpoint: String,
    /// `service.name` on every exported span.
    #[serde(deserialize_with = "string_like")]
    pub service_name: String,
    /// Share of new traces that are sampled (0.0 to 1.0); a caller's `traceparent` decides for its own.
    pub sampling_ratio: f64,
}

impl Default for OtelSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            endpoint: "http://localhost:4317".into(),
            service_name: "ara".into(),
            sampling_ratio: 1.0,
        }
    }
}

pub(super) fn validate(s: &Settings) -> Result<(), ConfigError> {
    let invalid =
        |setting: &str, message: &str| Err(ConfigError::Invalid { setting: setting.into(), message: message.into() });
    let o = &s.otel;
    if !(0.0..=1.0).contains(&o.sampling_ratio) {
        return invalid("OTEL_SAMPLING_RATIO", "must be between 0.0 and 1.0");
    }
    if o.service_name.trim().is_empty() {
        return invalid("OTEL_SERVICE_NAME", "must not be empty");
    }
    if o.enabled {
        // Only plaintext gRPC is built in: an https endpoint would fail at every export, quietly.
        if o.endpoint.starts_with("https://") {
            return invalid(
                "OTEL_ENDPOINT",
                "TLS to the collector is not supported; point it at a local collector or agent (http://...)",
            );
        }
        let rest = o.endpoint.strip_prefix("http://").unwrap_or_default();
        if rest.is_empty() || rest.starts_with('/') {
            return invalid(
                "OTEL_ENDPOINT",
                "must be an http:// URL of an OTLP/gRPC collector, e.g. http://localhost:4317",
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::app::Settings;

    #[test]
    fn defaults_are_off_local_and_fully_sampled() {
        let s = Settings::from_pairs([]).unwrap();
        assert!(!s.otel.enabled);
        assert_eq!(s.otel.endpoint, "http://localhost:4317");
        assert_eq!(s.otel.service_name, "ara");
        assert_eq!(s.otel.sampling_ratio, 1.0);
    }

    #[test]
    fn values_are_read_and_checked() {
        let s = Settings::from_pairs([
            ("OTEL_ENABLED", "true"),
            ("OTEL_ENDPOINT", "http://collector:4317"),
            ("OTEL_SERVICE_NAME", "ara-eu"),
            ("OTEL_SAMPLING_RATIO", "0.25"),
        ])
        .unwrap();
        assert!(s.otel.enabled);
        assert_eq!(s.otel.endpoint, "http://collector:4317");
        assert_eq!(s.otel.service_name, "ara-eu");
        assert_eq!(s.otel.sampling_ratio, 0.25);
        assert_eq!(Settings::from_pairs([("OTEL_SAMPLING_RATIO", "0")]).unwrap().otel.sampling_ratio, 0.0);
        for (key, value) in [
            ("OTEL_SAMPLING_RATIO", "1.5"),
            ("OTEL_SAMPLING_RATIO", "-0.1"),
            ("OTEL_SERVICE_NAME", " "),
            ("OTEL_ENDPOINT", "https://collector:4317"),
            ("OTEL_ENDPOINT", "collector:4317"),
        ] {
            let err = Settings::from_pairs([("OTEL_ENABLED", "true"), (key, value)]).unwrap_err().to_string();
            assert!(err.contains(key), "{key}={value}: {err}");
        }
    }
}
