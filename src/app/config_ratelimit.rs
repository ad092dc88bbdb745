//! The `RATELIMIT_*` settings and their checks, with `TRUSTED_PROXIES` (whose client address the
//! HTTP limits count by). The shared Redis connection's checks are in `config_redis.rs`.

use serde::{Deserialize, Serialize};

use super::{key_prefix, ConfigError, Settings};
use crate::adapters::http::client_ip::parse_trusted_proxies;
use crate::ports::Quota;

/// Where rate-limit budgets live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitBackend {
    /// In this process: budgets are per node.
    #[default]
    Local,
    /// In Redis: budgets are shared by every node (local budgets while Redis is unreachable).
    Redis,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub backend: RateLimitBackend,
    /// HTTP API: sustained requests per second per API key (or per client IP without one).
    pub http_requests_per_second: u32,
    /// HTTP API: requests allowed at once.
    pub http_burst_size: u32,
    /// `GET /ws` and `GET /sse`: new connections per minute per client IP.
    pub ws_connections_per_minute: u32,
    /// Keys are `<prefix>:<burst>/<interval_us>:<client>`; one trailing `:` is dropped, as from every
    /// key prefix.
    #[serde(deserialize_with = "key_prefix")]
    pub redis_key_prefix: String,
    /// How often the local limiter forgets keys whose budget is full again.
    pub cleanup_interval_seconds: u64,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            backend: RateLimitBackend::Local,
            http_requests_per_second: 100,
            http_burst_size: 200,
            ws_connections_per_minute: 10,
            redis_key_prefix: "ara:ratelimit".into(),
            cleanup_interval_seconds: 60,
        }
    }
}

impl RateLimitSettings {
    /// The HTTP API budget; `None` only for values that `validate` refuses.
    pub fn http_quota(&self) -> Option<Quota> {
        Quota::per_second(self.http_requests_per_second, self.http_burst_size)
    }

    /// The connection budget; `None` only for values that `validate` refuses.
    pub fn connection_quota(&self) -> Option<Quota> {
        Quota::per_minute(self.ws_connections_per_minute)
    }
}

pub(super) fn validate(s: &Settings) -> Result<(), ConfigError> {
    let invalid = |setting: &str, message: String| Err(ConfigError::Invalid { setting: setting.into(), message });
    let r = &s.ratelimit;
    if r.enabled {
        if r.http_requests_per_second == 0 || r.http_requests_per_second > 1_000_000 {
            return invalid("RATELIMIT_HTTP_REQUESTS_PER_SECOND", "must be between 1 and 1000000".into());
        }
        for (name, value) in [
            ("RATELIMIT_HTTP_BURST_SIZE", r.http_burst_size),
            ("RATELIMIT_WS_CONNECTIONS_PER_MINUTE", r.ws_connections_per_minute),
            ("RATELIMIT_CLEANUP_INTERVAL_SECONDS", u32::from(r.cleanup_interval_seconds > 0)),
        ] {
            if value == 0 {
                return invalid(name, "must be greater than 0".into());
            }
        }
        if r.backend == RateLimitBackend::Redis && s.redis_url().is_none() {
            return invalid("REDIS_URL", "must be set when RATELIMIT_BACKEND is redis".into());
        }
    }
    if let Some(raw) = &s.trusted_proxies {
        if let Err(message) = parse_trusted_proxies(raw) {
            return invalid("TRUSTED_PROXIES", message);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Settings;
    use super::RateLimitBackend;

    fn error(pairs: &[(&str, &str)]) -> String {
        Settings::from_pairs(pairs.iter().copied()).unwrap_err().to_string()
    }

    #[test]
    fn defaults_limit_locally_without_pubsub() {
        let s = Settings::from_pairs([]).unwrap();
        assert!(s.ratelimit.enabled && s.ratelimit.backend == RateLimitBackend::Local);
        let http = s.ratelimit.http_quota().unwrap();
        assert_eq!((http.burst.get(), http.interval.as_millis()), (200, 10));
        assert_eq!(s.ratelimit.connection_quota().unwrap().burst.get(), 10);
        assert!(!s.redis.pubsub_enabled);
        assert_eq!(s.redis.channel_list(), ["ara:notifications"]);
        assert_eq!(s.redis.pubsub_keepalive_ms, 15_000);
        assert!(s.trusted_proxies.is_none());
    }

    #[test]
    fn redis_cluster_takes_a_seed_list_and_refuses_hash_tags_in_prefixes() {
        let seeds = "redis://10.0.0.1:7000,redis://10.0.0.2:7000";
        let s = Settings::from_pairs([("REDIS_CLUSTER", "true"), ("REDIS_URL", seeds)]).unwrap();
        assert!(s.redis.cluster);
        assert_eq!(s.redis_url(), Some(seeds));
        assert!(!Settings::from_pairs([]).unwrap().redis.cluster);
        let e = error(&[("REDIS_CLUSTER", "true"), ("QUEUE_REDIS_KEY_PREFIX", "{ara}:queue")]);
        assert!(e.contains("QUEUE_REDIS_KEY_PREFIX") && e.contains("hash tags"), "{e}");
        // Without REDIS_CLUSTER a prefix may hold braces, as before.
        assert!(Settings::from_pairs([("QUEUE_REDIS_KEY_PREFIX", "{ara}:queue")]).is_ok());
    }

    #[test]
    fn env_names_map_to_settings() {
        let s = Settings::from_pairs([
            ("RATELIMIT_BACKEND", "redis"),
            ("RATELIMIT_HTTP_REQUESTS_PER_SECOND", "5"),
            ("RATELIMIT_WS_CONNECTIONS_PER_MINUTE", "2"),
            ("REDIS_PUBSUB_ENABLED", "true"),
            ("REDIS_CHANNELS", "a, b,"),
            ("REDIS_BREAKER_OPEN_MS", "250"),
            ("REDIS_PUBSUB_KEEPALIVE_MS", "200"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"),
        ])
        .unwrap();
        assert_eq!(s.ratelimit.backend, RateLimitBackend::Redis);
        assert_eq!(s.ratelimit.http_requests_per_second, 5);
        assert_eq!(s.ratelimit.ws_connections_per_minute, 2);
        assert_eq!(s.redis.channel_list(), ["a", "b"]);
        assert_eq!(s.redis.breaker_open_ms, 250);
        assert_eq!(s.redis.pubsub_keepalive_ms, 200);
        assert_eq!(s.trusted_proxies.as_deref(), Some("10.0.0.0/8, 127.0.0.1"));
    }

    #[test]
    fn invalid_values_are_named() {
        assert!(error(&[("RATELIMIT_HTTP_BURST_SIZE", "0")]).contains("RATELIMIT_HTTP_BURST_SIZE"));
        assert!(error(&[("RATELIMIT_HTTP_REQUESTS_PER_SECOND", "0")]).contains("RATELIMIT_HTTP_REQUESTS_PER_SECOND"));
        assert!(error(&[("TRUSTED_PROXIES", "proxy.local")]).contains("TRUSTED_PROXIES"));
        assert!(error(&[("REDIS_PUBSUB_ENABLED", "true"), ("REDIS_CHANNELS", " , ")]).contains("REDIS_CHANNELS"));
        assert!(error(&[("RATELIMIT_BACKEND", "redis"), ("REDIS_URL", "")]).contains("REDIS_URL"));
        assert!(error(&[("REDIS_TIMEOUT_MS", "0")]).contains("REDIS_TIMEOUT_MS"));
        // A zero keep-alive would be a busy loop of PINGs.
        assert!(error(&[("REDIS_PUBSUB_KEEPALIVE_MS", "0")]).contains("REDIS_PUBSUB_KEEPALIVE_MS"));
        assert!(error(&[("RATELIMIT_BACKEND", "memcached")]).contains("RATELIMIT_BACKEND"));
        // Limits are not checked while rate limiting is off.
        assert!(Settings::from_pairs([("RATELIMIT_ENABLED", "false"), ("RATELIMIT_HTTP_BURST_SIZE", "0")]).is_ok());
    }
}
